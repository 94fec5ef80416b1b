"""src/models/deepseek2.cpp: llama_model_deepseek2::graph (DeepSeek-V2/V3 layout, GLM-4.7-Flash, DeepSeek-Coder-V2).

With MLA (a file with key_length_mla / value_length_mla), the latent cache holds one K "head" of kv_lora_rank
+ rope values per token; the query's non-rope part is absorbed into the latent space (wk_b), attention runs as
MQA over the cache, and wv_b decompresses each head's value afterwards. A legacy file without those keys
(deepseek-coder-v2) decompresses K and V from the latent with one wkv_b before attention and keeps an ordinary
multi-head cache. The query comes straight from the hidden state (lite models) or through a compressed q_lora
projection. The leading dense blocks have a plain FFN, the rest routed experts plus shared ones.
"""

from __future__ import annotations

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.llm import ExpertGating, FfnGate, FfnOp, GraphContext, MoeOp, NormType

def build(g: GraphContext) -> None:
    ctx0, n_embd, n_head, n_tokens = g.ctx0, g.n_embd, g.n_head, g.n_tokens
    arch = g.arch
    is_mla = arch.is_mla
    kv_lora_rank = arch.kv_lora_rank if is_mla else arch.kv_lora_rank_mha
    n_embd_head_qk_rope = arch.key_length - kv_lora_rank if is_mla else arch.rope_dimension_count  # n_rot
    # the head sizes as MHA, or after decompression with wv_b for MLA
    n_embd_head_k = arch.key_length_mla if is_mla else arch.key_length
    n_embd_head_v = arch.value_length_mla if is_mla else arch.value_length
    n_embd_head_qk_nope = n_embd_head_k - n_embd_head_qk_rope
    q_lora_rank = arch.query_lora_rank
    n_expert, n_ff_exp = arch.expert_count, arch.expert_feed_forward_length
    n_ff_shexp = n_ff_exp * arch.expert_shared_count
    # routers with a selection bias (DeepSeek-V3, GLM-4.7-Flash) are sigmoid-gated, V2's softmax-gated
    # (load_arch_hparams); either is one in-place op over the logits, so the buffer is the same
    gating = ExpertGating.SIGMOID if arch.expert_selection_bias else ExpertGating.SOFTMAX

    build_attn_inp = g.build_attn_inp_k if is_mla else g.build_attn_inp_kv
    inpL, inp_pos, inp_attn, inp_out_ids = g.build_inputs(g.weight(n_embd, g.n_vocab), build_attn_inp)

    for il in g.each_layer():
        query = (dict(wq_a=(n_embd, q_lora_rank), attn_q_a_norm=(q_lora_rank,), wq_b=(q_lora_rank, n_head * n_embd_head_k))
                 if q_lora_rank else dict(wq=(n_embd, n_head * n_embd_head_k)))
        if il < arch.leading_dense_block_count:
            ffn = dict(ffn_gate=(n_embd, g.n_ff), ffn_down=(g.n_ff, n_embd), ffn_up=(n_embd, g.n_ff))
        else:
            ffn = dict(
                ffn_gate_inp=(n_embd, n_expert), ffn_exp_probs_b=(n_expert,) if arch.expert_selection_bias else None,
                **g.routed_experts(n_ff_exp), ffn_gate_shexp=(n_embd, n_ff_shexp),
                ffn_down_shexp=(n_ff_shexp, n_embd), ffn_up_shexp=(n_embd, n_ff_shexp),
            )
        decompress = (dict(wk_b=(n_embd_head_qk_nope, kv_lora_rank, n_head), wv_b=(kv_lora_rank, n_embd_head_v, n_head))
                      if is_mla else dict(wkv_b=(kv_lora_rank, n_head * (n_embd_head_qk_nope + n_embd_head_v))))
        layer = g.layer(
            attn_norm=(n_embd,), **query, wkv_a_mqa=(n_embd, kv_lora_rank + n_embd_head_qk_rope),
            attn_kv_a_norm=(kv_lora_rank,), **decompress, wo=(n_head * n_embd_head_v, n_embd), ffn_norm=(n_embd,), **ffn,
        )
        inpSA = inpL
        cur = g.build_norm(inpL, layer.attn_norm, None, NormType.RMS, il)
        g.cb(cur, "attn_norm", il)

        if q_lora_rank:
            q = ggml.mul_mat(ctx0, layer.wq_a, cur)
            g.cb(q, "q", il)
            q = g.build_norm(q, layer.attn_q_a_norm, None, NormType.RMS, il)
            g.cb(q, "q", il)
            q = ggml.mul_mat(ctx0, layer.wq_b, q)
            g.cb(q, "q", il)
        else:
            q = ggml.mul_mat(ctx0, layer.wq, cur)
            g.cb(q, "q", il)
        q = ggml.reshape_3d(ctx0, q, n_embd_head_k, n_head, n_tokens)  # {n_embd_head_k, n_head, n_tokens}
        g.cb(q, "q", il)

        kv_cmpr_pe = ggml.mul_mat(ctx0, layer.wkv_a_mqa, cur)
        g.cb(kv_cmpr_pe, "kv_cmpr_pe", il)
        row = ggml.row_size(kv_cmpr_pe.type, kv_lora_rank + n_embd_head_qk_rope)
        kv_cmpr = ggml.view_2d(ctx0, kv_cmpr_pe, kv_lora_rank, n_tokens, row, 0)
        g.cb(kv_cmpr, "kv_cmpr", il)
        k_pe = ggml.view_3d(ctx0, kv_cmpr_pe, n_embd_head_qk_rope, 1, n_tokens, row, row,
                            ggml.row_size(kv_cmpr_pe.type, kv_lora_rank))
        g.cb(k_pe, "k_pe", il)
        k_pe = ggml.rope_ext(ctx0, k_pe, inp_pos, None)
        g.cb(k_pe, "k_pe", il)
        kv_cmpr = g.build_norm(kv_cmpr, layer.attn_kv_a_norm, None, NormType.RMS, il)
        g.cb(kv_cmpr, "kv_cmpr", il)

        if is_mla:
            q_nope = ggml.view_3d(ctx0, q, n_embd_head_qk_nope, n_head, n_tokens, q.nb[1], q.nb[2], 0)
            g.cb(q_nope, "q_nope", il)
            q_pe = ggml.view_3d(ctx0, q, n_embd_head_qk_rope, n_head, n_tokens, q.nb[1], q.nb[2],
                                ggml.row_size(q.type, n_embd_head_qk_nope))
            g.cb(q_pe, "q_pe", il)
            q_pe = ggml.rope_ext(ctx0, q_pe, inp_pos, None)
            g.cb(q_pe, "q_pe", il)
            q_nope = ggml.permute(ctx0, q_nope, 0, 2, 1, 3)  # {n_embd_head_qk_nope, n_tokens, n_head}
            g.cb(q_nope, "q_nope_perm", il)
            q_nope_absorbed = ggml.mul_mat(ctx0, layer.wk_b, q_nope)  # {kv_lora_rank, n_tokens, n_head}
            g.cb(q_nope_absorbed, "q_nope_absorbed", il)
            q_nope_absorbed = ggml.permute(ctx0, q_nope_absorbed, 0, 2, 1, 3)
            g.cb(q_nope_absorbed, "q_nope_absorbed_perm", il)
            Qcur = ggml.concat(ctx0, q_nope_absorbed, q_pe, 0)  # {kv_lora_rank + rope, n_head, n_tokens}
            g.cb(Qcur, "Qcur", il)
            kv_cmpr = ggml.reshape_3d(ctx0, kv_cmpr, kv_lora_rank, 1, n_tokens)
            g.cb(kv_cmpr, "kv_cmpr_reshape", il)
            Kcur = ggml.concat(ctx0, kv_cmpr, k_pe, 0)  # {kv_lora_rank + rope, 1, n_tokens}
            g.cb(Kcur, "Kcur", il)
            Vcur = kv_cmpr
            g.cb(Vcur, "Vcur", il)
            # MLA with the absorption is MQA over the latent cache; wv_b decompresses each head's value
            cur = g.build_attn_k(inp_attn, layer.wo, None, Qcur, Kcur, Vcur, None, None, layer.wv_b, 1.0, il)
        else:
            kv = ggml.mul_mat(ctx0, layer.wkv_b, kv_cmpr)
            g.cb(kv, "kv", il)
            row = ggml.row_size(kv.type, n_embd_head_qk_nope + n_embd_head_v)
            k_nope = ggml.view_3d(ctx0, kv, n_embd_head_qk_nope, n_head, n_tokens, row, row * n_head, 0)
            g.cb(k_nope, "k_nope_view", il)
            Vcur = ggml.view_3d(ctx0, kv, n_embd_head_v, n_head, n_tokens, row, row * n_head,
                                ggml.row_size(kv.type, n_embd_head_qk_nope))
            g.cb(Vcur, "Vcur_view", il)
            Vcur = ggml.cont(ctx0, Vcur)
            g.cb(Vcur, "Vcur_cont", il)
            Qcur = ggml.rope_ext(ctx0, q, inp_pos, None)  # RoPE on the trailing dims only (ggml_rope_set_offset)
            g.cb(Qcur, "Qcur", il)
            Kcur = ggml.concat(ctx0, k_nope, ggml.repeat_4d(ctx0, k_pe, n_embd_head_qk_rope, n_head, n_tokens, 1), 0)
            g.cb(Kcur, "Kcur", il)
            # MLA without the absorption is MHA: a full multi-head cache
            cur = g.build_attn(inp_attn, layer.wo, None, Qcur, Kcur, Vcur, None, None, 1.0, il)

        cur, inpSA = g.out_rows(il, inp_out_ids, cur, inpSA)
        ffn_inp, cur = g.build_ffn_inp(cur, inpSA, layer.ffn_norm, il)
        if il < arch.leading_dense_block_count:
            cur = g.build_ffn(cur, layer.ffn_up, None, layer.ffn_gate, None, layer.ffn_down, None,
                              FfnOp.SILU, FfnGate.PAR, il)
            g.cb(cur, "ffn_out", il)
        else:
            moe_out = g.build_moe_ffn(cur, layer.ffn_gate_inp, layer.ffn_up_exps, layer.ffn_gate_exps,
                                      layer.ffn_down_exps, layer.ffn_exp_probs_b, n_expert, arch.expert_used_count,
                                      MoeOp.SILU, arch.expert_weights_norm, arch.expert_weights_scale, gating, il,
                                      None, layer.ffn_gate_up_exps)
            g.cb(moe_out, "ffn_moe_out", il)
            ffn_shexp = g.build_ffn(cur, layer.ffn_up_shexp, None, layer.ffn_gate_shexp, None, layer.ffn_down_shexp,
                                    None, FfnOp.SILU, FfnGate.PAR, il)
            g.cb(ffn_shexp, "ffn_shexp", il)
            cur = ggml.add(ctx0, moe_out, ffn_shexp)
            g.cb(cur, "ffn_out", il)
        cur = ggml.add(ctx0, cur, ffn_inp)
        g.cb(cur, "l_out", il)
        inpL = cur

    g.build_output(inpL, h_nextn=True)

"""src/models/laguna.cpp: llama_model_laguna::graph (Poolside Laguna: full and sliding-window layers with
their own head counts, QK-norm, a softplus gate per head on the attention output, a leading dense block,
then sigmoid-routed experts with a selection bias and one shared expert)."""

from __future__ import annotations

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.llm import ExpertGating, FfnGate, FfnOp, GraphContext, MoeOp, NormType, kq_scale
from fitadvisor.models.architecture import SLIDING


def build(g: GraphContext) -> None:
    ctx0, n_embd, n_embd_head = g.ctx0, g.n_embd, g.n_embd_head_v
    arch = g.arch
    n_expert, n_ff_exp, n_ff_shexp = arch.expert_count, arch.expert_feed_forward_length, arch.shared_expert_width
    has_swa = SLIDING in arch.layers  # XS.2 is hybrid; an all-full model (M.1) has the plain cache
    inpL, inp_pos, inp_attn, inp_out_ids = g.build_inputs(
        g.weight(n_embd, g.n_vocab), g.build_attn_inp_kv_iswa if has_swa else g.build_attn_inp_kv)

    for il in g.each_layer():
        n_head_il, n_head_kv_il = arch.heads(il), g.n_head_kv_l(il)
        if il >= arch.leading_dense_block_count:
            ffn = dict(
                ffn_gate_inp=(n_embd, n_expert), ffn_exp_probs_b=(n_expert,), ffn_gate_exps=(n_embd, n_ff_exp, n_expert),
                ffn_up_exps=(n_embd, n_ff_exp, n_expert), ffn_down_exps=(n_ff_exp, n_embd, n_expert),
                ffn_gate_shexp=(n_embd, n_ff_shexp), ffn_up_shexp=(n_embd, n_ff_shexp), ffn_down_shexp=(n_ff_shexp, n_embd),
            )
        else:
            ffn = dict(ffn_gate=(n_embd, g.n_ff), ffn_up=(n_embd, g.n_ff), ffn_down=(g.n_ff, n_embd))
        layer = g.layer(
            attn_norm=(n_embd,), wq=(n_embd, n_embd_head * n_head_il), wk=(n_embd, g.n_embd_k_gqa(il)),
            wv=(n_embd, g.n_embd_v_gqa(il)), wo=(n_embd_head * n_head_il, n_embd), attn_q_norm=(n_embd_head,),
            attn_k_norm=(n_embd_head,), wqkv_gate=(n_embd, n_head_il), ffn_norm=(n_embd,), **ffn,
        )
        inpSA = inpL
        cur = g.build_norm(inpL, layer.attn_norm, None, NormType.RMS, il)
        g.cb(cur, "attn_norm", il)

        attn_inp = cur  # the gate projection reads the same input as q/k/v
        Qcur, Kcur, Vcur = g.build_qkv(layer, cur, n_embd_head, n_head_il, n_head_kv_il, il)
        gate = g.build_lora_mm(layer.wqkv_gate, attn_inp)
        g.cb(gate, "attn_gate_proj", il)
        Qcur = g.build_norm(Qcur, layer.attn_q_norm, None, NormType.RMS, il)
        Kcur = g.build_norm(Kcur, layer.attn_k_norm, None, NormType.RMS, il)
        g.cb(Qcur, "Qcur_normed", il)
        g.cb(Kcur, "Kcur_normed", il)
        Qcur = ggml.rope_ext(ctx0, Qcur, inp_pos, None)
        Kcur = ggml.rope_ext(ctx0, Kcur, inp_pos, None)
        g.cb(Qcur, "Qcur_rope", il)
        g.cb(Kcur, "Kcur_rope", il)
        if has_swa:  # the output projection comes after the gate
            cur = g.build_attn_iswa(inp_attn, None, None, Qcur, Kcur, Vcur, None, None, kq_scale(n_embd_head), il)
        else:
            cur = g.build_attn(inp_attn, None, None, Qcur, Kcur, Vcur, None, None, kq_scale(n_embd_head), il)
        g.cb(cur, "attn_out", il)

        gate = ggml.softplus(ctx0, gate)
        g.cb(gate, "attn_gate_softplus", il)
        n_tokens = cur.ne[1]
        # XS.2's gate has one value per head (the weight's width says which: M.1's has one per element)
        cur = ggml.reshape_3d(ctx0, cur, n_embd_head, n_head_il, n_tokens)
        gate = ggml.reshape_3d(ctx0, gate, 1, n_head_il, n_tokens)
        cur = ggml.mul(ctx0, cur, gate)
        cur = ggml.reshape_2d(ctx0, cur, n_embd_head * n_head_il, n_tokens)
        g.cb(cur, "attn_gated", il)
        cur = g.build_lora_mm(layer.wo, cur)
        g.cb(cur, "attn_o_proj", il)

        cur, inpSA = g.out_rows(il, inp_out_ids, cur, inpSA)
        ffn_inp, cur = g.build_ffn_inp(cur, inpSA, layer.ffn_norm, il)
        if il >= arch.leading_dense_block_count:
            moe_out = g.build_moe_ffn(cur, layer.ffn_gate_inp, layer.ffn_up_exps, layer.ffn_gate_exps,
                                      layer.ffn_down_exps, layer.ffn_exp_probs_b, n_expert, arch.expert_used_count,
                                      MoeOp.SILU, arch.expert_weights_norm, arch.expert_weights_scale,
                                      ExpertGating.SIGMOID, il)
            g.cb(moe_out, "ffn_moe_out", il)
            ffn_shexp = g.build_ffn(cur, layer.ffn_up_shexp, None, layer.ffn_gate_shexp, None, layer.ffn_down_shexp,
                                    None, FfnOp.SILU, FfnGate.PAR, il)
            g.cb(ffn_shexp, "ffn_shexp", il)
            cur = ggml.add(ctx0, moe_out, ffn_shexp)
        else:
            cur = g.build_ffn(cur, layer.ffn_up, None, layer.ffn_gate, None, layer.ffn_down, None,
                              FfnOp.SILU, FfnGate.PAR, il)
        g.cb(cur, "ffn_out", il)
        cur = ggml.add(ctx0, cur, ffn_inp)
        g.cb(cur, "l_out", il)
        inpL = cur

    g.build_output(inpL)

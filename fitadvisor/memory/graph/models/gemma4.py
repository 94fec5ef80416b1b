"""src/models/gemma4.cpp: llama_model_gemma4::graph: sliding-window and full-attention layers, each with its own
head size and KV heads; full-attention layers of the 26B and 31B models have no V projection and attend with K
as V (attention_k_eq_v); 26B-A4B runs its experts beside the dense MLP, each normed; the E models' last layers
keep no cache and read an earlier layer's (shared_kv_layers), and every layer adds a per-layer token input; the
hidden state is cut to the output rows only after the final norm; the logits are soft-capped."""

from __future__ import annotations

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.ggml import Tensor
from fitadvisor.memory.graph.llm import ExpertGating, FfnGate, FfnOp, GraphContext, MoeOp, NormType
from fitadvisor.memory.graph.models.gemma3 import build_gelu_ffn
from fitadvisor.models.architecture import NO_CACHE


def build(g: GraphContext) -> None:
    ctx0, n_embd, arch = g.ctx0, g.n_embd, g.arch
    tok_embd = g.weight(n_embd, g.n_vocab)
    output = tok_embd if arch.tied_embeddings else None
    rope_freqs = g.weight(arch.key_length // 2)  # the full-attention layers' proportional rope

    inpL = g.build_inp_embd(tok_embd)
    inpL = ggml.scale(ctx0, inpL, n_embd**0.5)
    g.cb(inpL, "inp_scaled", -1)
    inp_pos = g.build_inp_pos()
    inp_attn = g.build_attn_inp_kv_iswa()
    inp_out_ids = g.build_inp_out_ids()

    inp_per_layer = None
    n_embd_per_layer = arch.embedding_length_per_layer
    if n_embd_per_layer:
        inp_per_layer = _build_inp_per_layer(g)
        ggml.build_forward_expand(g.gf, inp_per_layer)
        inp_per_layer = _project_per_layer_inputs(g, inpL, inp_per_layer)

    n_expert, n_ff_exp = arch.expert_count, arch.expert_feed_forward_length
    for il in g.each_layer():
        n_embd_head, n_head, n_head_kv = arch.key_width(il), arch.heads(il), arch.kv_heads(il)
        n_ff = arch.feed_forward_width(il)
        has_kv, swa = arch.layers[il] != NO_CACHE, arch.is_sliding(il)
        layer = g.layer(
            attn_norm=(n_embd,), wq=(n_embd, n_embd_head * n_head),
            wk=(n_embd, n_embd_head * n_head_kv) if has_kv else None,
            wv=(n_embd, n_embd_head * n_head_kv) if has_kv and (swa or not arch.value_from_key) else None,
            wo=(n_embd_head * n_head, n_embd), attn_q_norm=(n_embd_head,),
            attn_k_norm=(n_embd_head,) if has_kv else None, attn_post_norm=(n_embd,),
            ffn_norm=(n_embd,), ffn_gate=(n_embd, n_ff), ffn_up=(n_embd, n_ff), ffn_down=(n_ff, n_embd),
            ffn_post_norm=(n_embd,),
            ffn_gate_inp=(n_embd, n_expert) if n_expert else None, ffn_gate_inp_s=(n_embd,) if n_expert else None,
            ffn_pre_norm_2=(n_embd,) if n_expert else None, ffn_post_norm_1=(n_embd,) if n_expert else None,
            ffn_post_norm_2=(n_embd,) if n_expert else None,
            ffn_down_exps_s=(n_expert,) if n_expert else None,
            **(g.routed_experts(n_ff_exp) if n_expert else {}),
            per_layer_inp_gate=(n_embd, n_embd_per_layer) if n_embd_per_layer else None,
            per_layer_proj=(n_embd_per_layer, n_embd) if n_embd_per_layer else None,
            per_layer_post_norm=(n_embd,) if n_embd_per_layer else None,
        )
        cur = g.build_norm(inpL, layer.attn_norm, None, NormType.RMS, il)
        g.cb(cur, "attn_norm", il)
        freq_factors = None if swa else rope_freqs

        Qcur = g.build_lora_mm(layer.wq, cur)
        g.cb(Qcur, "Qcur", il)
        Qcur = ggml.reshape_3d(ctx0, Qcur, n_embd_head, n_head, g.n_tokens)
        Qcur = g.build_norm(Qcur, layer.attn_q_norm, None, NormType.RMS, il)
        g.cb(Qcur, "Qcur_normed", il)
        Qcur = ggml.rope_ext(ctx0, Qcur, inp_pos, freq_factors)
        g.cb(Qcur, "Qcur_pos", il)

        if has_kv:
            Kcur = g.build_lora_mm(layer.wk, cur)
            Vcur = g.build_lora_mm(layer.wv, cur) if layer.wv is not None else Kcur
            g.cb(Kcur, "Kcur", il)
            g.cb(Vcur, "Vcur", il)
            Kcur = ggml.reshape_3d(ctx0, Kcur, n_embd_head, n_head_kv, g.n_tokens)
            Vcur = ggml.reshape_3d(ctx0, Vcur, n_embd_head, n_head_kv, g.n_tokens)
            Kcur = g.build_norm(Kcur, layer.attn_k_norm, None, NormType.RMS, il)
            Vcur = ggml.rms_norm(ctx0, Vcur, 1e-6)
            g.cb(Kcur, "Kcur_normed", il)
            g.cb(Vcur, "Vcur_normed", il)
            Kcur = ggml.rope_ext(ctx0, Kcur, inp_pos, freq_factors)
            g.cb(Kcur, "Kcur_pos", il)
            cur = g.build_attn_iswa(inp_attn, layer.wo, None, Qcur, Kcur, Vcur, None, None, 1.0, il)
        else:  # reuse the cache of an earlier layer of this kind
            cur = g.build_attn_iswa(inp_attn, layer.wo, None, Qcur, None, None, None, None, 1.0, il)

        # the output rows are cut after the final norm (cparams.embeddings_nextn_masked is false)
        cur = g.build_norm(cur, layer.attn_post_norm, None, NormType.RMS, il)
        g.cb(cur, "attn_post_norm", il)
        attn_out = ggml.add(ctx0, cur, inpL)
        g.cb(attn_out, "attn_out", il)

        if arch.is_moe:  # the dense MLP (the shared expert) beside the routed experts
            cur_mlp = g.build_norm(attn_out, layer.ffn_norm, None, NormType.RMS, il)
            g.cb(cur_mlp, "ffn_norm_1", il)
            cur_mlp = g.build_ffn(cur_mlp, layer.ffn_up, None, layer.ffn_gate, None, layer.ffn_down, None,
                                  FfnOp.GELU, FfnGate.PAR, il)
            cur_mlp = g.build_norm(cur_mlp, layer.ffn_post_norm_1, None, NormType.RMS, il)
            g.cb(cur_mlp, "ffn_mlp", il)

            cur_moe = g.build_norm(attn_out, layer.ffn_pre_norm_2, None, NormType.RMS, il)
            g.cb(cur_moe, "ffn_norm_2", il)
            # the router reads attn_out, not the normed input
            tmp = ggml.rms_norm(ctx0, attn_out, 1e-6)
            tmp = ggml.scale(ctx0, tmp, 1.0 / n_embd**0.5)
            tmp = ggml.mul(ctx0, tmp, layer.ffn_gate_inp_s)
            logits = g.build_lora_mm(layer.ffn_gate_inp, tmp)  # [n_expert, n_tokens]
            g.cb(logits, "ffn_moe_logits", il)
            cur_moe = g.build_moe_ffn(cur_moe, None, layer.ffn_up_exps, layer.ffn_gate_exps, layer.ffn_down_exps, None,
                                      n_expert, arch.expert_used_count, MoeOp.GELU, True, 1.0, ExpertGating.SOFTMAX, il,
                                      logits, layer.ffn_gate_up_exps, down_exps_s=layer.ffn_down_exps_s)
            cur_moe = g.build_norm(cur_moe, layer.ffn_post_norm_2, None, NormType.RMS, il)
            g.cb(cur_moe, "ffn_moe", il)
            cur = ggml.add(ctx0, cur_mlp, cur_moe)
            g.cb(cur, "ffn_moe_combined", il)
        else:
            cur = build_gelu_ffn(g, attn_out, layer, il)
        cur = g.build_norm(cur, layer.ffn_post_norm, None, NormType.RMS, -1)
        g.cb(cur, "ffn_post_norm", il)
        cur = ggml.add(ctx0, cur, attn_out)

        if inp_per_layer is not None:
            pe_in = cur
            g.cb(cur, "pe_in", il)
            cur = g.build_lora_mm(layer.per_layer_inp_gate, cur)  # [n_embd_per_layer, n_tokens]
            cur = ggml.gelu(ctx0, cur)
            inp_this_layer = ggml.view_2d(ctx0, inp_per_layer, inp_per_layer.ne[0], inp_per_layer.ne[1],
                                          ggml.row_size(inp_per_layer.type, inp_per_layer.ne[0]),
                                          il * inp_per_layer.ne[0] * inp_per_layer.ne[1] * ggml.TYPE_SIZE["f32"][0])
            cur = ggml.mul(ctx0, cur, inp_this_layer)
            cur = g.build_lora_mm(layer.per_layer_proj, cur)  # [n_embd, n_tokens]
            cur = g.build_norm(cur, layer.per_layer_post_norm, None, NormType.RMS, il)
            g.cb(cur, "per_layer_embd_out", il)
            cur = ggml.add(ctx0, pe_in, cur)

        # layer_scalar, where the file has it, multiplies in place: no placement changes
        g.cb(cur, "l_out", il)
        inpL = cur

    # t_h_nextn is kept for a drafting context, so never freed; hparams.f_final_logit_softcapping is 30 unless
    # the file says otherwise (llama-hparams.h), and every Gemma 4 sets it
    g.build_output(inpL, output=output, inp_out_ids=inp_out_ids, logit_softcap=30.0)


def _build_inp_per_layer(g: GraphContext) -> Tensor:
    """build_inp_per_layer: each token's row of the per-layer table, [n_embd_per_layer, n_layer, n_tokens]."""
    ctx0, n_embd_per_layer = g.ctx0, g.arch.embedding_length_per_layer
    per_layer_tok_embd = g.weight(n_embd_per_layer * g.n_layer, g.n_vocab)
    tokens = g.new_input_1d("i32", g.n_tokens)
    inp_per_layer = ggml.get_rows(ctx0, per_layer_tok_embd, tokens)
    inp_per_layer = ggml.reshape_3d(ctx0, inp_per_layer, n_embd_per_layer, g.n_layer, g.n_tokens)
    inp_per_layer = ggml.scale(ctx0, inp_per_layer, n_embd_per_layer**0.5)
    g.cb(inp_per_layer, "inp_per_layer_selected", -1)
    return inp_per_layer


def _project_per_layer_inputs(g: GraphContext, inp_batch: Tensor, inp_per_layer: Tensor) -> Tensor:
    """project_per_layer_inputs: the hidden state's projection added to the table rows, [n_embd_per_layer,
    n_tokens, n_layer]."""
    ctx0, n_embd_per_layer = g.ctx0, g.arch.embedding_length_per_layer
    per_layer_model_proj = g.weight(g.n_embd, n_embd_per_layer * g.n_layer)
    per_layer_proj_norm = g.weight(n_embd_per_layer)
    per_layer_proj = ggml.mul_mat(ctx0, per_layer_model_proj, inp_batch)
    per_layer_proj = ggml.scale(ctx0, per_layer_proj, 1.0 / g.n_embd**0.5)
    per_layer_proj = ggml.reshape_3d(ctx0, per_layer_proj, n_embd_per_layer, g.n_layer, g.n_tokens)
    per_layer_proj = g.build_norm(per_layer_proj, per_layer_proj_norm, None, NormType.RMS, -1)
    g.cb(per_layer_proj, "per_layer_proj", -1)
    inp_per_layer = ggml.add(ctx0, per_layer_proj, inp_per_layer)
    inp_per_layer = ggml.scale(ctx0, inp_per_layer, 2.0**-0.5)
    g.cb(inp_per_layer, "inp_per_layer", -1)
    return ggml.cont(ctx0, ggml.permute(ctx0, inp_per_layer, 0, 2, 1, 3))

"""src/models/nemotron-h-moe.cpp: nemotron_h_moe runs nemotron_h's graph (models/nemotron_h.py); its own is graph_mtp,
the drafting context's: one block of attention and routed experts after the trunk."""

from __future__ import annotations

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.llm import ExpertGating, FfnGate, FfnOp, GraphContext, MoeOp, NormType, kq_scale
from fitadvisor.memory.graph.models import nemotron_h


def build(g: GraphContext) -> None:
    nemotron_h.build(g)


def build_mtp(g: GraphContext) -> None:
    """llama_model_nemotron_h_moe::graph_mtp: the drafted tokens' embeddings joined with the main model's last hidden
    state, attention without RoPE over the drafting context's cache, then the MoE block on the output rows alone
    (crop_before_ffn: the drafting context's nextn embeddings are masked, and off while it reserves)."""
    ctx0, n_embd, n_embd_head, arch = g.ctx0, g.n_embd, g.n_embd_head_v, g.arch
    il = g.n_layer - arch.draft_layers
    n_head = arch.heads(il)
    n_expert, n_ff_exp, n_ff_shexp = arch.expert_count, arch.expert_feed_forward_length, arch.shared_expert_width
    moe_n_embd = arch.expert_input_width
    tok_embd_w, output = g.weight(n_embd, g.n_vocab), g.weight(n_embd, g.n_vocab)
    layer = g.layer(
        enorm=(n_embd,), hnorm=(n_embd,), eh_proj=(2 * n_embd, n_embd), shared_head_norm=(n_embd,),
        attn_norm=(n_embd,), wq=(n_embd, n_embd_head * n_head), wk=(n_embd, g.n_embd_k_gqa(il)),
        wv=(n_embd, g.n_embd_v_gqa(il)), wo=(n_embd_head * n_head, n_embd), attn_post_norm=(n_embd,),
        ffn_gate_inp=(n_embd, n_expert), exp_probs_b=(n_expert,), **nemotron_h.latent_projections(g),
        ffn_up_exps=(moe_n_embd, n_ff_exp, n_expert), ffn_down_exps=(n_ff_exp, moe_n_embd, n_expert),
        ffn_up_shexp=(n_embd, n_ff_shexp), ffn_down_shexp=(n_ff_shexp, n_embd),
    )

    cur = g.build_inp_embd_h(tok_embd_w, layer, il)
    inp_out_ids = g.build_inp_out_ids()
    inp_attn = g.build_attn_inp_kv()
    inpSA = cur
    cur = g.build_norm(cur, layer.attn_norm, None, NormType.RMS, il)
    g.cb(cur, "mtp_attn_norm", il)
    Qcur, Kcur, Vcur = g.build_qkv(layer, cur, n_embd_head, n_head, g.n_head_kv_l(il), il)
    cur = g.build_attn(inp_attn, layer.wo, None, Qcur, Kcur, Vcur, None, None, kq_scale(n_embd_head), il)
    g.cb(cur, "mtp_attn_out", il)
    cur = ggml.add(ctx0, cur, inpSA)
    g.cb(cur, "mtp_attn_residual", il)
    cur = ggml.get_rows(ctx0, cur, inp_out_ids)

    ffn_residual = cur
    cur = g.build_norm(cur, layer.attn_post_norm, None, NormType.RMS, il)
    g.cb(cur, "mtp_attn_post_norm", il)
    router_logits = g.build_lora_mm(layer.ffn_gate_inp, cur)
    g.cb(router_logits, "mtp_ffn_moe_logits", il)
    ffn_shexp = g.build_ffn(cur, layer.ffn_up_shexp, None, None, None, layer.ffn_down_shexp, None,
                            FfnOp.RELU_SQR, FfnGate.PAR, il)
    g.cb(ffn_shexp, "mtp_ffn_shexp", il)
    if layer.ffn_latent_down is not None:
        cur = ggml.mul_mat(ctx0, layer.ffn_latent_down, cur)
    moe_out = g.build_moe_ffn(cur, layer.ffn_gate_inp, layer.ffn_up_exps, None, layer.ffn_down_exps, layer.exp_probs_b,
                              n_expert, arch.expert_used_count, MoeOp.RELU_SQR, arch.expert_weights_norm,
                              arch.expert_weights_scale, ExpertGating.SIGMOID, il, router_logits)
    g.cb(moe_out, "mtp_ffn_moe_out", il)
    if layer.ffn_latent_up is not None:
        moe_out = ggml.mul_mat(ctx0, layer.ffn_latent_up, moe_out)
    cur = ggml.add(ctx0, moe_out, ffn_shexp)
    g.cb(cur, "mtp_ffn_out", il)
    cur = ggml.add(ctx0, cur, ffn_residual)
    g.cb(cur, "mtp_post_ffn", il)
    cur = g.build_norm(cur, layer.shared_head_norm, None, NormType.NORM, -1)  # the head's own layer norm
    g.cb(cur, "h_nextn", -1)
    g.res.extra_outputs.append(cur)
    cur = g.build_lora_mm(output, cur)
    g.cb(cur, "result_output", -1)
    g.res.t_logits = cur
    ggml.build_forward_expand(g.gf, cur)

"""src/models/nemotron-h.cpp: llama_model_nemotron_h::graph, which nemotron_h_moe uses too. Each layer is one
of Mamba2, attention (no RoPE) or a feed-forward block: a ReLU-squared MLP, or routed experts (sigmoid router
with a selection bias) plus a shared expert; in a latent MoE (Nemotron 3 Super) the routed experts run between
ffn_latent_down and ffn_latent_up, at the latent width.
"""

from __future__ import annotations

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.ggml import Tensor
from fitadvisor.memory.graph.llm import ExpertGating, FfnGate, FfnOp, GraphContext, MoeOp, NormType, kq_scale
from fitadvisor.memory.graph.models.mamba_base import build_mamba2_layer
from fitadvisor.models.architecture import FULL, RECURRENT, SLIDING


def build(g: GraphContext) -> None:
    ctx0, n_embd = g.ctx0, g.n_embd
    inpL = g.build_inp_embd(g.weight(n_embd, g.n_vocab))
    ggml.build_forward_expand(g.gf, inpL)
    inp_attn, inp_rs = g.build_inp_mem_hybrid()
    inp_out_ids = g.build_inp_out_ids()

    for il in g.each_layer():
        inpSA = inpL
        cur = g.build_norm(inpL, g.weight(n_embd), None, NormType.RMS, il)
        g.cb(cur, "attn_norm", il)
        kind = g.arch.layers[il]
        if kind == RECURRENT:
            cur = build_mamba2_layer(g, inp_rs, cur, il)
        elif kind in (FULL, SLIDING):
            cur = build_attention_layer(g, cur, inp_attn, il)
        else:
            cur = build_ffn_layer(g, cur, il)
        cur = ggml.add(ctx0, cur, inpSA)
        g.cb(cur, "nemotron_h_block_out", il)
        inpL = cur

    g.build_output(inpL, inp_out_ids=inp_out_ids)


def build_attention_layer(g: GraphContext, cur: Tensor, inp_attn, il: int) -> Tensor:
    n_embd, n_embd_head = g.n_embd, g.n_embd_head_v
    n_head = g.arch.heads(il)
    layer = g.layer(wq=(n_embd, n_embd_head * n_head), wk=(n_embd, g.n_embd_k_gqa(il)), wv=(n_embd, g.n_embd_v_gqa(il)),
                    wo=(n_embd_head * n_head, n_embd))
    Qcur, Kcur, Vcur = g.build_qkv(layer, cur, n_embd_head, n_head, g.n_head_kv_l(il), il)
    cur = g.build_attn(inp_attn, layer.wo, None, Qcur, Kcur, Vcur, None, None, kq_scale(n_embd_head), il)
    g.cb(cur, "attn_out", il)
    return cur


def build_ffn_layer(g: GraphContext, cur: Tensor, il: int) -> Tensor:
    arch, n_embd = g.arch, g.n_embd
    if not arch.is_moe:
        n_ff = g.n_ff
        layer = g.layer(ffn_up=(n_embd, n_ff), ffn_down=(n_ff, n_embd))
        cur = g.build_ffn(cur, layer.ffn_up, None, None, None, layer.ffn_down, None, FfnOp.RELU_SQR, FfnGate.PAR, il)
        g.cb(cur, "ffn_out", il)
        g.cb(cur, "l_out", il)
        return cur
    n_expert, n_ff_exp, n_ff_shexp = arch.expert_count, arch.expert_feed_forward_length, arch.shared_expert_width
    moe_n_embd = arch.expert_input_width
    layer = g.layer(
        ffn_gate_inp=(n_embd, n_expert), exp_probs_b=(n_expert,) if arch.expert_selection_bias else None,
        **latent_projections(g), ffn_up_exps=(moe_n_embd, n_ff_exp, n_expert), ffn_down_exps=(n_ff_exp, moe_n_embd, n_expert),
        ffn_up_shexp=(n_embd, n_ff_shexp), ffn_down_shexp=(n_ff_shexp, n_embd),
    )
    inp_latent = cur
    if layer.ffn_latent_down is not None:
        inp_latent = ggml.mul_mat(g.ctx0, layer.ffn_latent_down, cur)
    router_logits = g.build_lora_mm(layer.ffn_gate_inp, cur)
    g.cb(router_logits, "ffn_moe_logits", il)
    moe_out = g.build_moe_ffn(inp_latent, layer.ffn_gate_inp, layer.ffn_up_exps, None, layer.ffn_down_exps,
                              layer.exp_probs_b, n_expert, arch.expert_used_count, MoeOp.RELU_SQR,
                              arch.expert_weights_norm, arch.expert_weights_scale, ExpertGating.SIGMOID, il, router_logits)
    g.cb(moe_out, "ffn_moe_out", il)
    if layer.ffn_latent_up is not None:
        moe_out = ggml.mul_mat(g.ctx0, layer.ffn_latent_up, moe_out)
    ffn_shexp = g.build_ffn(cur, layer.ffn_up_shexp, None, None, None, layer.ffn_down_shexp, None,
                            FfnOp.RELU_SQR, FfnGate.PAR, il)
    g.cb(ffn_shexp, "ffn_shexp", il)
    cur = ggml.add(g.ctx0, moe_out, ffn_shexp)
    g.cb(cur, "ffn_out", il)
    g.cb(cur, "l_out", il)
    return cur


def latent_projections(g: GraphContext) -> dict[str, tuple[int, int] | None]:
    """A latent MoE's projections into and out of the experts' width (absent where the file has none)."""
    latent = g.arch.moe_latent_size
    return dict(ffn_latent_down=(g.n_embd, latent) if latent else None, ffn_latent_up=(latent, g.n_embd) if latent else None)

"""src/models/granite-hybrid.cpp: llama_model_granite_hybrid::graph, Mamba2 and attention layers (a layer without
KV heads is Mamba2), each followed by an MoE FFN with a shared expert (or a dense FFN).

RoPE is on unless the file's `rope.scaling.finetuned` is false (Architecture.has_rope), as in granite-4.0-H files:
then the graph has no positions input and no RoPE ops. The multipliers a file carries
are ggml_scale ops: the embedding scale in llm.build_inp_embd, the residual scale on both branches of each layer
here, the logit scale in llm.build_output. Dense granite's graph (models/granite.py) is this decoder over a KV
cache alone (build_decoder).
"""

from __future__ import annotations

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.ggml import Tensor
from fitadvisor.memory.graph.llm import ExpertGating, FfnGate, FfnOp, GraphContext, MoeOp, NormType, kq_scale
from fitadvisor.memory.graph.models.mamba_base import build_mamba2_layer
from fitadvisor.models.architecture import RECURRENT


def build(g: GraphContext) -> None:
    build_decoder(g, hybrid=True)


def build_decoder(g: GraphContext, hybrid: bool) -> None:
    """The constructor's body. Dense granite's (granite.cpp, `hybrid` off) differs only in its inputs: a KV cache
    alone, no recurrent state."""
    n_embd = g.n_embd
    inp_rs = None
    if hybrid:
        inpL = g.build_inp_embd(g.weight(n_embd, g.n_vocab))
        inp_attn, inp_rs = g.build_inp_mem_hybrid()
        inp_out_ids = g.build_inp_out_ids()
        inp_pos = g.build_inp_pos() if g.arch.has_rope else None
    else:
        inpL, inp_pos, inp_attn, inp_out_ids = g.build_inputs(g.weight(n_embd, g.n_vocab), g.build_attn_inp_kv)

    for il in g.each_layer():
        inpSA = inpL
        cur = g.build_norm(inpL, g.weight(n_embd), None, NormType.RMS, il)
        g.cb(cur, "attn_norm", il)
        if g.arch.layers[il] == RECURRENT:
            cur = build_mamba2_layer(g, inp_rs, cur, il)
        else:
            cur = build_attention_layer(g, cur, inp_pos, inp_attn, il)
        cur, inpSA = g.out_rows(il, inp_out_ids, cur, inpSA)
        inpL = build_layer_ffn(g, cur, inpSA, il)

    g.build_output(inpL, logit_scale=g.arch.logit_scale)


def build_attention_layer(g: GraphContext, cur: Tensor, inp_pos: Tensor, inp_attn, il: int) -> Tensor:
    ctx0, n_embd, n_embd_head = g.ctx0, g.n_embd, g.n_embd_head_v
    n_head = g.arch.heads(il)
    layer = g.layer(wq=(n_embd, n_embd_head * n_head), wk=(n_embd, g.n_embd_k_gqa(il)), wv=(n_embd, g.n_embd_v_gqa(il)),
                    wo=(n_embd_head * n_head, n_embd))
    Qcur, Kcur, Vcur = g.build_qkv(layer, cur, n_embd_head, n_head, g.n_head_kv_l(il), il)
    if g.arch.has_rope:
        Qcur = ggml.rope_ext(ctx0, Qcur, inp_pos, None)
        Kcur = ggml.rope_ext(ctx0, Kcur, inp_pos, None)
    g.cb(Qcur, "Qcur", il)
    g.cb(Kcur, "Kcur", il)
    g.cb(Vcur, "Vcur", il)
    cur = g.build_attn(inp_attn, layer.wo, None, Qcur, Kcur, Vcur, None, None, kq_scale(n_embd_head), il)
    g.cb(cur, "attn_out", il)
    return cur


def build_layer_ffn(g: GraphContext, cur: Tensor, inpSA: Tensor, il: int) -> Tensor:
    ctx0, arch, n_embd = g.ctx0, g.arch, g.n_embd
    if arch.residual_scale:
        cur = ggml.scale(ctx0, cur, arch.residual_scale)
    ffn_inp, cur = g.build_ffn_inp(cur, inpSA, g.weight(n_embd), il)
    if not arch.is_moe:
        n_ff = g.n_ff
        layer = g.layer(ffn_gate=(n_embd, n_ff), ffn_down=(n_ff, n_embd), ffn_up=(n_embd, n_ff))
        cur = g.build_ffn(cur, layer.ffn_up, None, layer.ffn_gate, None, layer.ffn_down, None,
                          FfnOp.SILU, FfnGate.PAR, il)
        g.cb(cur, "ffn_out", il)
    else:
        n_expert, n_ff_exp, n_ff_shexp = arch.expert_count, arch.expert_feed_forward_length, arch.shared_expert_width
        layer = g.layer(
            ffn_gate_inp=(n_embd, n_expert), ffn_up_exps=(n_embd, n_ff_exp, n_expert),
            ffn_gate_exps=(n_embd, n_ff_exp, n_expert), ffn_down_exps=(n_ff_exp, n_embd, n_expert),
            ffn_up_shexp=(n_embd, n_ff_shexp), ffn_gate_shexp=(n_embd, n_ff_shexp), ffn_down_shexp=(n_ff_shexp, n_embd),
        )
        moe_out = g.build_moe_ffn(cur, layer.ffn_gate_inp, layer.ffn_up_exps, layer.ffn_gate_exps, layer.ffn_down_exps,
                                  None, n_expert, arch.expert_used_count, MoeOp.SILU, True, arch.expert_weights_scale,
                                  ExpertGating.SOFTMAX, il)
        g.cb(moe_out, "ffn_moe_out", il)
        if n_ff_shexp:
            ffn_shexp = g.build_ffn(cur, layer.ffn_up_shexp, None, layer.ffn_gate_shexp, None, layer.ffn_down_shexp,
                                    None, FfnOp.SILU, FfnGate.PAR, il)
            g.cb(ffn_shexp, "ffn_shexp", il)
            cur = ggml.add(ctx0, moe_out, ffn_shexp)
            g.cb(cur, "ffn_out", il)
        else:
            cur = moe_out
    if arch.residual_scale:
        cur = ggml.scale(ctx0, cur, arch.residual_scale)
    cur = ggml.add(ctx0, cur, ffn_inp)
    g.cb(cur, "ffn_out", il)
    g.cb(cur, "l_out", il)
    return cur

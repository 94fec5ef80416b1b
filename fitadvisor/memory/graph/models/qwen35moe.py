"""src/models/qwen35moe.cpp: llama_model_qwen35moe::graph, qwen35's layers with an MoE FFN and a gated shared expert."""

from __future__ import annotations

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.ggml import Tensor
from fitadvisor.memory.graph.llm import ExpertGating, FfnGate, FfnOp, GraphContext, MoeOp
from fitadvisor.memory.graph.models.qwen35 import build_drafting, build_hybrid


def build(g: GraphContext) -> None:
    build_hybrid(g, build_layer_ffn, n_pos_per_embd=4)  # interleaved M-RoPE: four positions per token


def build_mtp(g: GraphContext) -> None:
    """llama_model_qwen35moe::graph_mtp: qwen35's drafting layer with this feed-forward."""
    build_drafting(g, lambda g, cur, il: build_layer_ffn(g, cur, il, drafting=True))


def build_layer_ffn(g: GraphContext, cur: Tensor, il: int, drafting: bool = False) -> Tensor:
    """The routed experts (softmax, weights normalised), plus a shared expert gated by a sigmoid (qwen3next's too).

    The drafting layer's is the same, its tensors named after it (mtp_).
    """
    prefix = "mtp_" if drafting else ""
    arch, n_embd = g.arch, g.n_embd
    n_expert, n_ff_exp, n_ff_shexp = arch.expert_count, arch.expert_feed_forward_length, arch.shared_expert_width
    layer = g.layer(
        ffn_gate_inp=(n_embd, n_expert), **g.routed_experts(n_ff_exp),
        ffn_up_shexp=(n_embd, n_ff_shexp) if n_ff_shexp else None,
        ffn_gate_shexp=(n_embd, n_ff_shexp) if n_ff_shexp else None,
        ffn_down_shexp=(n_ff_shexp, n_embd) if n_ff_shexp else None, ffn_gate_inp_shexp=(n_embd,),
    )
    moe_out = g.build_moe_ffn(cur, layer.ffn_gate_inp, layer.ffn_up_exps, layer.ffn_gate_exps, layer.ffn_down_exps,
                              None, n_expert, arch.expert_used_count, MoeOp.SILU, True, arch.expert_weights_scale,
                              ExpertGating.SOFTMAX, il, None, layer.ffn_gate_up_exps)
    g.cb(moe_out, prefix + "ffn_moe_out", il)
    if layer.ffn_up_shexp is None:
        return moe_out
    ffn_shexp = g.build_ffn(cur, layer.ffn_up_shexp, None, layer.ffn_gate_shexp, None, layer.ffn_down_shexp, None,
                            FfnOp.SILU, FfnGate.PAR, il)
    g.cb(ffn_shexp, prefix + "ffn_shexp", il)
    shared_gate = g.build_lora_mm(layer.ffn_gate_inp_shexp, cur)
    if not drafting:
        g.cb(shared_gate, "shared_expert_gate", il)
    shared_gate = ggml.sigmoid(g.ctx0, shared_gate)
    g.cb(shared_gate, prefix + "shared_expert_gate_sigmoid", il)
    ffn_shexp = ggml.mul(g.ctx0, ffn_shexp, shared_gate)
    g.cb(ffn_shexp, prefix + "ffn_shexp_gated", il)
    cur = ggml.add(g.ctx0, moe_out, ffn_shexp)
    if not drafting:
        g.cb(cur, "ffn_out", il)
    return cur

"""src/models/qwen3moe.cpp: llama_model_qwen3moe::graph: qwen3's QK-norm decoder, every layer's
feed-forward block routed experts."""

from __future__ import annotations

from fitadvisor.memory.graph.ggml import Tensor
from fitadvisor.memory.graph.llm import ExpertGating, GraphContext, MoeOp
from fitadvisor.memory.graph.models.llama import dense_decoder


def build(g: GraphContext) -> None:
    dense_decoder(g, name_attn_out=False, qk_norm=True, feed_forward=routed_experts)


def routed_experts(g: GraphContext, cur: Tensor, il: int) -> Tensor:
    arch, n_embd = g.arch, g.n_embd
    n_expert, n_ff_exp = arch.expert_count, arch.expert_feed_forward_length
    layer = g.layer(
        ffn_gate_inp=(n_embd, n_expert), ffn_gate_exps=(n_embd, n_ff_exp, n_expert),
        ffn_down_exps=(n_ff_exp, n_embd, n_expert), ffn_up_exps=(n_embd, n_ff_exp, n_expert),
    )
    moe_out = g.build_moe_ffn(cur, layer.ffn_gate_inp, layer.ffn_up_exps, layer.ffn_gate_exps, layer.ffn_down_exps,
                              None, n_expert, arch.expert_used_count, MoeOp.SILU, True, arch.expert_weights_scale,
                              ExpertGating.SOFTMAX, il)
    g.cb(moe_out, "ffn_moe_out", il)
    return moe_out

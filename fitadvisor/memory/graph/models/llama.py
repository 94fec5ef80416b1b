"""src/models/llama.cpp: llama_model_llama::graph<false>, the dense decoder qwen2, qwen3 and mistral3 share.

Their constructors (src/models/qwen2.cpp, qwen3.cpp, mistral3.cpp) differ from llama's only where
`dense_decoder` takes an option; what none of them changes in the buffer is left out: rope frequency
factors and a llama-4 attention temperature (tiny inputs multiplied in place), an output bias, an MoE llama (not
in the catalog). Biases on Q, K and V (Qwen2's files) are built where the file has them (Architecture.attention_bias).
"""

from __future__ import annotations

from collections.abc import Callable

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.ggml import Tensor
from fitadvisor.memory.graph.llm import FfnGate, FfnOp, GraphContext, NormType, kq_scale

# A layer's feed-forward block after its norm: (graph, normed input, layer index) -> its output.
FeedForward = Callable[[GraphContext, Tensor, int], Tensor]


def build(g: GraphContext) -> None:
    dense_decoder(g, name_attn_out=True)


def dense_ffn(g: GraphContext, cur: Tensor, il: int) -> Tensor:
    """The gated SiLU feed-forward block (build_ffn with ffn_up, ffn_gate, ffn_down)."""
    n_embd = g.n_embd
    layer = g.layer(ffn_gate=(n_embd, g.n_ff), ffn_down=(g.n_ff, n_embd), ffn_up=(n_embd, g.n_ff))
    cur = g.build_ffn(cur, layer.ffn_up, None, layer.ffn_gate, None, layer.ffn_down, None, FfnOp.SILU, FfnGate.PAR, il)
    g.cb(cur, "ffn_out", il)
    return cur


def _qkv_biases(g: GraphContext, il: int) -> dict[str, tuple[int, ...] | None]:
    """The Q, K and V projections' biases (create_tensor_qkv's attn_q/k/v.bias), where the file has them."""
    if not g.arch.attention_bias:
        return {}
    return {"wq_b": (g.n_embd_head_v * g.n_head,), "wk_b": (g.n_embd_k_gqa(il),), "wv_b": (g.n_embd_v_gqa(il),)}


def dense_decoder(g: GraphContext, name_attn_out: bool, qk_norm: bool = False, feed_forward: FeedForward = dense_ffn) -> None:
    """The constructor's body. `name_attn_out`: the constructor names the attention output "attn_out"
    (llama, mistral3); `qk_norm`: Q and K are RMS-normed per head before RoPE (qwen3, qwen3moe);
    `feed_forward`: the block after the feed-forward norm (qwen3moe's routed experts)."""
    ctx0, n_embd, n_embd_head = g.ctx0, g.n_embd, g.n_embd_head_v
    inpL, inp_pos, inp_attn, inp_out_ids = g.build_inputs(g.weight(n_embd, g.n_vocab), g.build_attn_inp_kv)

    for il in g.each_layer():
        layer = g.layer(
            attn_norm=(n_embd,), wq=(n_embd, n_embd_head * g.n_head), wk=(n_embd, g.n_embd_k_gqa(il)),
            wv=(n_embd, g.n_embd_v_gqa(il)), wo=(n_embd_head * g.n_head, n_embd),
            attn_q_norm=(n_embd_head,) if qk_norm else None, attn_k_norm=(n_embd_head,) if qk_norm else None,
            ffn_norm=(n_embd,), **_qkv_biases(g, il),
        )
        inpSA = inpL
        cur = g.build_norm(inpL, layer.attn_norm, None, NormType.RMS, il)
        g.cb(cur, "attn_norm", il)

        Qcur, Kcur, Vcur = g.build_qkv(layer, cur, n_embd_head, g.n_head, g.n_head_kv, il)
        Qcur, Kcur, Vcur = g.build_rope_qk(Qcur, Kcur, Vcur, inp_pos, il, layer.attn_q_norm, layer.attn_k_norm)
        cur = g.build_attn(inp_attn, layer.wo, None, Qcur, Kcur, Vcur, None, None, kq_scale(n_embd_head), il)
        if name_attn_out:
            g.cb(cur, "attn_out", il)

        cur, inpSA = g.out_rows(il, inp_out_ids, cur, inpSA)
        ffn_inp, cur = g.build_ffn_inp(cur, inpSA, layer.ffn_norm, il)
        cur = feed_forward(g, cur, il)

        cur = ggml.add(ctx0, cur, ffn_inp)
        g.cb(cur, "l_out", il)
        inpL = cur

    g.build_output(inpL)

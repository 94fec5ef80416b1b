"""src/models/qwen3next.cpp: llama_model_qwen3next::graph, qwen35moe's layout before it: plain RoPE, a joint
beta/alpha projection, and query and key heads repeated to the value heads even with the fused delta rule.

Its GGUF holds the fused QKV and gate projections (attn_qkv, attn_gate), as llama.cpp's converter writes them;
the graph of older files with one ssm_in projection is not modelled.
"""

from __future__ import annotations

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.ggml import Tensor
from fitadvisor.memory.graph.llm import AttnInputKV, GraphContext, NormType, RsInput
from fitadvisor.memory.graph.models.qwen35 import (
    build_conv_qkv, build_drafting, build_gate, build_gated_attention, build_gated_output, build_gated_qkv, build_hybrid,
    build_qkvz, gdn_dims, gdn_weights,
)
from fitadvisor.memory.graph.models.qwen35moe import build_layer_ffn


def build(g: GraphContext) -> None:
    build_hybrid(g, build_layer_ffn, n_pos_per_embd=1, build_layer_attn=build_layer_attn,
                 build_layer_attn_linear=build_layer_attn_linear, embd_name="model.embed_tokens")


def build_mtp(g: GraphContext) -> None:
    """llama_model_qwen3next::graph_mtp: qwen35's drafting layer with plain RoPE and qwen3next's feed-forward."""
    build_drafting(g, lambda g, cur, il: build_layer_ffn(g, cur, il, drafting=True), mrope=False)


def build_layer_attn(g: GraphContext, inp: AttnInputKV, cur: Tensor, inp_pos: Tensor, il: int) -> Tensor:
    ctx0, n_head, n_embd_head, n_tokens = g.ctx0, g.n_head, g.n_embd_head_v, g.n_tokens
    layer, Qcur_full, Kcur, Vcur = build_gated_qkv(g, cur, il)
    Qcur_full = ggml.reshape_4d(ctx0, Qcur_full, n_embd_head * 2, n_head, n_tokens, 1)
    Qcur = ggml.view_4d(ctx0, Qcur_full, n_embd_head, n_head, n_tokens, 1, Qcur_full.nb[1], Qcur_full.nb[2],
                        Qcur_full.nb[3], 0)
    g.cb(Qcur, "Qcur_view", il)
    gate = ggml.view_4d(ctx0, Qcur_full, n_embd_head, n_head, n_tokens, 1, Qcur_full.nb[1], Qcur_full.nb[2],
                        Qcur_full.nb[3], n_embd_head * ggml.TYPE_SIZE[Qcur_full.type][0])
    g.cb(gate, "gate", il)
    Kcur = ggml.reshape_3d(ctx0, Kcur, n_embd_head, g.n_head_kv, n_tokens)
    Vcur = ggml.reshape_3d(ctx0, Vcur, n_embd_head, g.n_head_kv, n_tokens)
    Qcur = g.build_norm(Qcur, layer.attn_q_norm, None, NormType.RMS, il)
    g.cb(Qcur, "Qcur_normed", il)
    Kcur = g.build_norm(Kcur, layer.attn_k_norm, None, NormType.RMS, il)
    g.cb(Kcur, "Kcur_normed", il)
    Qcur = ggml.rope_ext(ctx0, Qcur, inp_pos, None)
    Kcur = ggml.rope_ext(ctx0, Kcur, inp_pos, None)
    gate = ggml.cont_2d(ctx0, gate, n_embd_head * n_head, n_tokens)  # built after the attention in the C++
    return build_gated_attention(g, inp, layer, Qcur, Kcur, Vcur, gate, il)


def build_layer_attn_linear(g: GraphContext, inp: RsInput, cur: Tensor, il: int) -> Tensor:
    ctx0, n_embd, n_seqs, n_seq_tokens = g.ctx0, g.n_embd, g.n_seqs, g.n_seq_tokens
    d = gdn_dims(g)
    layer = gdn_weights(g, d, ssm_beta_alpha=(n_embd, 2 * d.num_v_heads))
    qkv_mixed, z = build_qkvz(g, layer, cur, il)  # the fused path

    mixed_ba = g.build_lora_mm(layer.ssm_beta_alpha, cur)
    g.cb(mixed_ba, "linear_attn_mixed_ba", il)
    per_k_head = d.num_v_heads // d.num_k_heads
    mixed_ba_reshaped = ggml.reshape_4d(ctx0, mixed_ba, 2 * per_k_head, d.num_k_heads, n_seq_tokens, n_seqs)
    nb = mixed_ba_reshaped.nb
    b = ggml.view_4d(ctx0, mixed_ba_reshaped, per_k_head, d.num_k_heads, n_seq_tokens, n_seqs, nb[1], nb[2], nb[3], 0)
    g.cb(b, "b", il)
    a = ggml.view_4d(ctx0, mixed_ba_reshaped, per_k_head, d.num_k_heads, n_seq_tokens, n_seqs, nb[1], nb[2], nb[3],
                     per_k_head * ggml.TYPE_SIZE[mixed_ba_reshaped.type][0])
    g.cb(a, "a", il)
    b = ggml.cont(ctx0, b)
    beta = ggml.sigmoid(ctx0, b)
    alpha = ggml.cont_3d(ctx0, a, d.num_v_heads, n_seq_tokens, n_seqs)
    gate = build_gate(g, alpha, layer, il)
    beta = ggml.reshape_4d(ctx0, beta, 1, d.num_v_heads, n_seq_tokens, n_seqs)
    gate = ggml.reshape_4d(ctx0, gate, 1, d.num_v_heads, n_seq_tokens, n_seqs)

    q_conv, k_conv, v_conv, state = build_conv_qkv(g, inp, layer, qkv_mixed, d, il)
    if d.num_k_heads != d.num_v_heads:  # repeat interleave the query and key heads to the value heads
        q_conv, k_conv = (
            ggml.reshape_4d(ctx0, ggml.repeat_4d(
                ctx0, ggml.reshape_4d(ctx0, t, d.head_k_dim, 1, d.num_k_heads, n_seq_tokens * n_seqs),
                d.head_k_dim, per_k_head, d.num_k_heads, n_seq_tokens * n_seqs,
            ), d.head_k_dim, d.num_k_heads * per_k_head, n_seq_tokens, n_seqs)
            for t in (q_conv, k_conv)
        )
    return build_gated_output(g, inp, layer, q_conv, k_conv, v_conv, gate, beta, state, z, d, il)

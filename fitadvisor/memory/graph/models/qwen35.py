"""src/models/qwen35.cpp: llama_model_qwen35::graph, Gated DeltaNet layers with a gated full-attention layer
every `full_attention_interval`, each followed by a dense FFN (qwen35moe.cpp: the same with an MoE FFN).

The multi-token-prediction layers (nextn) are not run by the main context's graph.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.ggml import Tensor
from fitadvisor.memory.graph.llm import AttnInputKV, FfnGate, FfnOp, GraphContext, NormType, RsInput, kq_scale
from fitadvisor.memory.graph.models.delta_net_base import build_conv_state, build_gdn_l2_norm, build_recurrent_attn
from fitadvisor.models.architecture import RECURRENT


def build(g: GraphContext) -> None:
    build_hybrid(g, build_layer_ffn, n_pos_per_embd=4)  # M-RoPE: four positions per token


def build_hybrid(g: GraphContext, build_layer_ffn: Callable[[GraphContext, Tensor, int], Tensor],
                 n_pos_per_embd: int, build_layer_attn: Callable | None = None,
                 build_layer_attn_linear: Callable | None = None, embd_name: str = "model.input_embed") -> None:
    """The constructor, shared by qwen35, qwen35moe and qwen3next: only their layers' builders differ."""
    build_layer_attn = build_layer_attn or _build_layer_attn
    build_layer_attn_linear = build_layer_attn_linear or _build_layer_attn_linear
    ctx0, n_embd = g.ctx0, g.n_embd
    g.n_pos_per_embd = n_pos_per_embd
    inpL = g.build_inp_embd(g.weight(n_embd, g.n_vocab))
    g.cb(inpL, embd_name, -1)
    inp_attn, inp_rs = g.build_inp_mem_hybrid()
    inp_pos = g.build_inp_pos()
    inp_out_ids = g.build_inp_out_ids()

    for il in g.each_layer():
        inpSA = inpL
        cur = g.build_norm(inpL, g.weight(n_embd), None, NormType.RMS, il)
        g.cb(cur, "attn_norm", il)
        ggml.build_forward_expand(g.gf, cur)
        if g.arch.layers[il] == RECURRENT:
            cur = build_layer_attn_linear(g, inp_rs, cur, il)
        else:
            cur = build_layer_attn(g, inp_attn, cur, inp_pos, il)
        cur = ggml.add(ctx0, cur, inpSA)
        g.cb(cur, "attn_residual", il)
        ffn_residual = cur
        attn_post_norm = g.build_norm(cur, g.weight(n_embd), None, NormType.RMS, il)
        g.cb(attn_post_norm, "attn_post_norm", il)
        cur = build_layer_ffn(g, attn_post_norm, il)
        g.cb(cur, "ffn_out", il)
        cur = ggml.add(ctx0, cur, ffn_residual)
        g.cb(cur, "post_ffn", il)
        g.cb(cur, "l_out", il)
        inpL = cur

    g.build_output(inpL, inp_out_ids=inp_out_ids)


def gdn_dims(g: GraphContext) -> SimpleNamespace:
    """A Gated DeltaNet layer's sizes, from the hparams as load_arch_tensors derives them."""
    arch = g.arch
    num_v_heads = g.ssm_dt_rank()
    return SimpleNamespace(
        d_inner=arch.ssm_inner_size, head_k_dim=arch.ssm_state_size, num_k_heads=arch.ssm_group_count,
        num_v_heads=num_v_heads, head_v_dim=arch.ssm_inner_size // num_v_heads,
        conv_channels=arch.ssm_inner_size + 2 * arch.ssm_group_count * arch.ssm_state_size,
    )


def gdn_weights(g: GraphContext, d: SimpleNamespace, **beta_alpha: tuple[int, ...]) -> SimpleNamespace:
    """A Gated DeltaNet layer's weights, with its beta and alpha projections as the model names them."""
    n_embd, key_dim, value_dim = g.n_embd, d.head_k_dim * d.num_k_heads, d.head_v_dim * d.num_v_heads
    return g.layer(
        wqkv=(n_embd, key_dim * 2 + value_dim), wqkv_gate=(n_embd, value_dim),
        ssm_conv1d=(g.arch.ssm_conv_kernel, d.conv_channels), ssm_dt=(d.num_v_heads,), ssm_a=(d.num_v_heads,),
        ssm_norm=(d.head_v_dim,), ssm_out=(value_dim, n_embd), **beta_alpha,
    )


def build_qkvz(g: GraphContext, layer: SimpleNamespace, cur: Tensor, il: int) -> tuple[Tensor, Tensor]:
    """The fused projections: Q, K and V for the convolution, and z, the output's gate."""
    qkv_mixed = g.build_lora_mm(layer.wqkv, cur)
    qkv_mixed = ggml.reshape_3d(g.ctx0, qkv_mixed, qkv_mixed.ne[0], g.n_seq_tokens, g.n_seqs)
    g.cb(qkv_mixed, "linear_attn_qkv_mixed", il)
    z = g.build_lora_mm(layer.wqkv_gate, cur)
    g.cb(z, "z", il)
    return qkv_mixed, z


def build_norm_gated(g: GraphContext, input: Tensor, weights: Tensor, gate: Tensor, layer: int) -> Tensor:
    normalized = g.build_norm(input, weights, None, NormType.RMS, layer)
    gated_silu = ggml.silu(g.ctx0, gate)
    return ggml.mul(g.ctx0, normalized, gated_silu)


def _build_layer_attn(g: GraphContext, inp: AttnInputKV, cur: Tensor, inp_pos: Tensor, il: int) -> Tensor:
    """Full attention with a per-element output gate from the doubled query projection, M-RoPE."""
    ctx0, n_head, n_embd_head, n_tokens = g.ctx0, g.n_head, g.n_embd_head_v, g.n_tokens
    layer, Qcur_full, Kcur, Vcur = build_gated_qkv(g, cur, il)
    element_size = ggml.TYPE_SIZE[Qcur_full.type][0]
    Qcur = ggml.view_3d(ctx0, Qcur_full, n_embd_head, n_head, n_tokens, element_size * n_embd_head * 2,
                        element_size * n_embd_head * 2 * n_head, 0)
    g.cb(Qcur, "Qcur_reshaped", il)
    Qcur = g.build_norm(Qcur, layer.attn_q_norm, None, NormType.RMS, il)
    g.cb(Qcur, "Qcur_normed", il)
    Kcur = ggml.reshape_3d(ctx0, Kcur, n_embd_head, g.n_head_kv, n_tokens)
    Kcur = g.build_norm(Kcur, layer.attn_k_norm, None, NormType.RMS, il)
    g.cb(Kcur, "Kcur_normed", il)
    gate = ggml.view_3d(ctx0, Qcur_full, n_embd_head, n_head, n_tokens, element_size * n_embd_head * 2,
                        element_size * n_embd_head * 2 * n_head, element_size * n_embd_head)
    gate = ggml.cont_2d(ctx0, gate, n_embd_head * n_head, n_tokens)
    g.cb(gate, "gate_reshaped", il)
    Vcur = ggml.reshape_3d(ctx0, Vcur, n_embd_head, g.n_head_kv, n_tokens)
    Qcur = ggml.rope_multi(ctx0, Qcur, inp_pos, None)
    Kcur = ggml.rope_multi(ctx0, Kcur, inp_pos, None)
    return build_gated_attention(g, inp, layer, Qcur, Kcur, Vcur, gate, il)


def build_gated_qkv(g: GraphContext, cur: Tensor, il: int) -> tuple[SimpleNamespace, Tensor, Tensor, Tensor]:
    """A full-attention layer's weights and projections; the query's is twice as wide: query then gate per head."""
    n_embd, n_embd_head, n_head = g.n_embd, g.n_embd_head_v, g.n_head
    layer = g.layer(
        wq=(n_embd, n_embd_head * n_head * 2), wk=(n_embd, g.n_embd_k_gqa(il)), wv=(n_embd, g.n_embd_v_gqa(il)),
        wo=(n_embd_head * n_head, n_embd), attn_q_norm=(n_embd_head,), attn_k_norm=(n_embd_head,),
    )
    Qcur_full, Kcur, Vcur = g.build_qkv(layer, cur, n_embd_head, n_head, g.n_head_kv, il, reshape=False)
    g.cb(Qcur_full, "Qcur_full", il)
    g.cb(Kcur, "Kcur", il)
    g.cb(Vcur, "Vcur", il)
    return layer, Qcur_full, Kcur, Vcur


def build_gated_attention(g: GraphContext, inp: AttnInputKV, layer: SimpleNamespace, Qcur: Tensor, Kcur: Tensor,
                          Vcur: Tensor, gate: Tensor, il: int) -> Tensor:
    """Attention over the cache, its output gated by sigmoid(gate) and projected (qwen35's and qwen3next's)."""
    g.cb(Qcur, "Qcur", il)
    g.cb(Kcur, "Kcur", il)
    g.cb(Vcur, "Vcur", il)
    cur = g.build_attn(inp, None, None, Qcur, Kcur, Vcur, None, None, kq_scale(g.n_embd_head_v), il)
    g.cb(cur, "attn_pregate", il)
    gate_sigmoid = ggml.sigmoid(g.ctx0, gate)
    g.cb(gate_sigmoid, "gate_sigmoid", il)
    cur = ggml.mul(g.ctx0, cur, gate_sigmoid)
    g.cb(cur, "attn_gated", il)
    cur = g.build_lora_mm(layer.wo, cur)
    g.cb(cur, "attn_output", il)
    return cur


def _build_layer_attn_linear(g: GraphContext, inp: RsInput, cur: Tensor, il: int) -> Tensor:
    """A Gated DeltaNet layer: fused QKV and gate projections, separate beta and alpha projections."""
    ctx0, n_embd, n_seqs, n_seq_tokens = g.ctx0, g.n_embd, g.n_seqs, g.n_seq_tokens
    d = gdn_dims(g)
    layer = gdn_weights(g, d, ssm_beta=(n_embd, d.num_v_heads), ssm_alpha=(n_embd, d.num_v_heads))
    qkv_mixed, z = build_qkvz(g, layer, cur, il)

    beta = g.build_lora_mm(layer.ssm_beta, cur)
    beta = ggml.reshape_4d(ctx0, beta, 1, d.num_v_heads, n_seq_tokens, n_seqs)
    g.cb(beta, "beta", il)
    beta = ggml.sigmoid(ctx0, beta)
    g.cb(beta, "beta_sigmoid", il)
    alpha = g.build_lora_mm(layer.ssm_alpha, cur)
    alpha = ggml.reshape_3d(ctx0, alpha, d.num_v_heads, n_seq_tokens, n_seqs)
    g.cb(alpha, "alpha", il)
    gate = build_gate(g, alpha, layer, il)
    gate = ggml.reshape_4d(ctx0, gate, 1, d.num_v_heads, n_seq_tokens, n_seqs)
    # fused Gated DeltaNet on: query and key heads are not repeated to the value heads
    q_conv, k_conv, v_conv, conv_kernel_state = build_conv_qkv(g, inp, layer, qkv_mixed, d, il)
    return build_gated_output(g, inp, layer, q_conv, k_conv, v_conv, gate, beta, conv_kernel_state, z, d, il)


def build_gate(g: GraphContext, alpha: Tensor, layer: SimpleNamespace, il: int) -> Tensor:
    """The decay gate: -exp(A_log) * softplus(alpha + dt_bias)."""
    alpha_biased = ggml.add(g.ctx0, alpha, layer.ssm_dt)
    alpha_softplus = ggml.softplus(g.ctx0, alpha_biased)
    g.cb(alpha_softplus, "a_softplus", il)
    gate = ggml.mul(g.ctx0, alpha_softplus, layer.ssm_a)
    g.cb(gate, "gate", il)
    return gate


def build_conv_qkv(g: GraphContext, inp: RsInput, layer: SimpleNamespace, qkv_mixed: Tensor, d: SimpleNamespace,
                   il: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The short convolution over Q, K and V (with the cached columns), split and L2-normed; and the state."""
    ctx0, n_seqs, n_seq_tokens = g.ctx0, g.n_seqs, g.n_seq_tokens
    conv_states_all, ssm_states_all = g.rs_layer(il)
    conv_kernel = layer.ssm_conv1d
    conv_input = build_conv_state(g, inp, conv_states_all, qkv_mixed, conv_kernel.ne[0], d.conv_channels, il)
    state = g.build_rs(inp, ssm_states_all, g.n_embd_s(), n_seqs)
    state = ggml.reshape_4d(ctx0, state, d.head_v_dim, d.head_v_dim, d.num_v_heads, n_seqs)
    g.cb(state, "state_predelta", il)
    conv_output_proper = ggml.ssm_conv(ctx0, conv_input, conv_kernel)
    g.cb(conv_output_proper, "conv_output_raw", il)
    conv_qkv_mix = ggml.silu(ctx0, conv_output_proper)
    g.cb(conv_qkv_mix, "conv_output_silu", il)

    qkv_dim = d.head_k_dim * d.num_k_heads * 2 + d.head_v_dim * d.num_v_heads
    nb1_qkv = ggml.row_size(conv_qkv_mix.type, qkv_dim)
    row = ggml.row_size
    q_conv = ggml.view_4d(ctx0, conv_qkv_mix, d.head_k_dim, d.num_k_heads, n_seq_tokens, n_seqs,
                          row(conv_qkv_mix.type, d.head_k_dim), nb1_qkv, nb1_qkv * n_seq_tokens, 0)
    k_conv = ggml.view_4d(ctx0, conv_qkv_mix, d.head_k_dim, d.num_k_heads, n_seq_tokens, n_seqs,
                          row(conv_qkv_mix.type, d.head_k_dim), nb1_qkv, nb1_qkv * n_seq_tokens,
                          row(conv_qkv_mix.type, d.head_k_dim * d.num_k_heads))
    v_conv = ggml.view_4d(ctx0, conv_qkv_mix, d.head_v_dim, d.num_v_heads, n_seq_tokens, n_seqs,
                          row(conv_qkv_mix.type, d.head_v_dim), nb1_qkv, nb1_qkv * n_seq_tokens,
                          row(conv_qkv_mix.type, 2 * d.head_k_dim * d.num_k_heads))
    g.cb(q_conv, "q_conv", il)
    g.cb(k_conv, "k_conv", il)
    g.cb(v_conv, "v_conv", il)
    eps = 1e-6
    q_conv = build_gdn_l2_norm(ctx0, q_conv, eps)
    k_conv = build_gdn_l2_norm(ctx0, k_conv, eps)
    return q_conv, k_conv, v_conv, state


def build_gated_output(g: GraphContext, inp: RsInput, layer: SimpleNamespace, q_conv: Tensor, k_conv: Tensor,
                       v_conv: Tensor, gate: Tensor, beta: Tensor, state: Tensor, z: Tensor, d: SimpleNamespace,
                       il: int) -> Tensor:
    """The delta rule, its output normed and gated by z, projected back to n_embd."""
    ctx0, n_seqs, n_seq_tokens = g.ctx0, g.n_seqs, g.n_seq_tokens
    g.cb(q_conv, "q_conv_predelta", il)
    g.cb(k_conv, "k_conv_predelta", il)
    g.cb(v_conv, "v_conv_predelta", il)
    _, ssm_states_all = g.rs_layer(il)
    output = build_recurrent_attn(g, inp, ssm_states_all, q_conv, k_conv, v_conv, gate, beta, state, il)
    z_2d = ggml.reshape_4d(ctx0, z, d.head_v_dim, d.num_v_heads, n_seq_tokens, n_seqs)
    attn_out_norm = build_norm_gated(g, output, layer.ssm_norm, z_2d, il)
    final_output = ggml.reshape_3d(ctx0, attn_out_norm, d.head_v_dim * d.num_v_heads, n_seq_tokens, n_seqs)
    g.cb(final_output, "final_output", il)
    cur = g.build_lora_mm(layer.ssm_out, final_output)
    g.cb(cur, "linear_attn_out", il)
    return ggml.reshape_2d(ctx0, cur, g.n_embd, n_seq_tokens * n_seqs)


def build_layer_ffn(g: GraphContext, cur: Tensor, il: int) -> Tensor:
    n_embd, n_ff = g.n_embd, g.n_ff
    layer = g.layer(ffn_gate=(n_embd, n_ff), ffn_down=(n_ff, n_embd), ffn_up=(n_embd, n_ff))
    cur = g.build_ffn(cur, layer.ffn_up, None, layer.ffn_gate, None, layer.ffn_down, None, FfnOp.SILU, FfnGate.PAR, il)
    g.cb(cur, "ffn_out", il)
    return cur


def build_mtp(g: GraphContext) -> None:
    """llama_model_qwen35::graph_mtp: the drafting context's graph, its one multi-token-prediction layer."""
    build_drafting(g, build_mtp_ffn)


def build_mtp_ffn(g: GraphContext, cur: Tensor, il: int) -> Tensor:
    cur = build_layer_ffn(g, cur, il)
    g.cb(cur, "mtp_ffn_out", il)
    return cur


def build_drafting(g: GraphContext, build_ffn: Callable[[GraphContext, Tensor, int], Tensor], mrope: bool = True) -> None:
    """graph_mtp, shared by qwen35, qwen35moe and (`mrope` off) qwen3next; only the layer's feed-forward differs.

    It embeds the drafted tokens, joins them with the main model's last hidden state (an input), and runs
    a full-attention decoder layer over the drafting context's own cache of that layer. qwen3next's uses
    plain RoPE and picks the output rows before the residual (so its feed-forward runs on them alone).
    """
    ctx0, n_embd, n_head, n_embd_head, n_tokens = g.ctx0, g.n_embd, g.n_head, g.n_embd_head_v, g.n_tokens
    il = g.n_layer - g.arch.draft_layers  # the layer after the trunk
    g.n_pos_per_embd = 4 if mrope else 1
    tok_embd_w, output_norm, output = g.weight(n_embd, g.n_vocab), g.weight(n_embd), g.weight(n_embd, g.n_vocab)
    layer = g.layer(
        attn_norm=(n_embd,), attn_post_norm=(n_embd,), wq=(n_embd, n_embd_head * n_head * 2),
        wk=(n_embd, g.n_embd_k_gqa(il)), wv=(n_embd, g.n_embd_v_gqa(il)), wo=(n_embd_head * n_head, n_embd),
        attn_q_norm=(n_embd_head,), attn_k_norm=(n_embd_head,), eh_proj=(2 * n_embd, n_embd), enorm=(n_embd,),
        hnorm=(n_embd,),
    )

    cur = g.build_inp_embd_h(tok_embd_w, layer, il)
    inp_pos = g.build_inp_pos()
    inp_out_ids = g.build_inp_out_ids()
    inp_attn = g.build_attn_inp_kv()
    inpSA = cur
    cur = g.build_norm(cur, layer.attn_norm, None, NormType.RMS, il)
    g.cb(cur, "mtp_attn_norm", il)

    Qcur_full, Kcur, Vcur = g.build_qkv(layer, cur, n_embd_head, n_head, g.n_head_kv, il, reshape=False)
    g.cb(Qcur_full, "mtp_Qcur_full", il)
    element_size = ggml.TYPE_SIZE[Qcur_full.type][0]
    Qcur = ggml.view_3d(ctx0, Qcur_full, n_embd_head, n_head, n_tokens, element_size * n_embd_head * 2,
                        element_size * n_embd_head * 2 * n_head, 0)
    Qcur = g.build_norm(Qcur, layer.attn_q_norm, None, NormType.RMS, il)
    g.cb(Qcur, "mtp_Qcur_normed", il)
    gate = ggml.view_3d(ctx0, Qcur_full, n_embd_head, n_head, n_tokens, element_size * n_embd_head * 2,
                        element_size * n_embd_head * 2 * n_head, element_size * n_embd_head)
    gate = ggml.cont_2d(ctx0, gate, n_embd_head * n_head, n_tokens)  # qwen3next builds it after the attention
    g.cb(gate, "mtp_gate", il)
    Kcur = ggml.reshape_3d(ctx0, Kcur, n_embd_head, g.n_head_kv, n_tokens)
    Kcur = g.build_norm(Kcur, layer.attn_k_norm, None, NormType.RMS, il)
    g.cb(Kcur, "mtp_Kcur_normed", il)
    Vcur = ggml.reshape_3d(ctx0, Vcur, n_embd_head, g.n_head_kv, n_tokens)
    if mrope:
        g.cb(Vcur, "mtp_Vcur", il)
        Qcur = ggml.rope_multi(ctx0, Qcur, inp_pos, None)
        Kcur = ggml.rope_multi(ctx0, Kcur, inp_pos, None)
    else:
        Qcur = ggml.rope_ext(ctx0, Qcur, inp_pos, None)
        Kcur = ggml.rope_ext(ctx0, Kcur, inp_pos, None)
        for t, name in ((Qcur, "mtp_Qcur"), (Kcur, "mtp_Kcur"), (Vcur, "mtp_Vcur")):
            g.cb(t, name, il)
    cur = g.build_attn(inp_attn, None, None, Qcur, Kcur, Vcur, None, None, kq_scale(n_embd_head), il)
    g.cb(cur, "mtp_attn_pregate", il)
    cur = ggml.mul(ctx0, cur, ggml.sigmoid(ctx0, gate))
    cur = g.build_lora_mm(layer.wo, cur)
    g.cb(cur, "mtp_attn_out", il)
    if not mrope:
        cur = ggml.get_rows(ctx0, cur, inp_out_ids)
        inpSA = ggml.get_rows(ctx0, inpSA, inp_out_ids)
    cur = ggml.add(ctx0, cur, inpSA)
    g.cb(cur, "mtp_attn_residual", il)

    ffn_residual = cur
    cur = g.build_norm(cur, layer.attn_post_norm, None, NormType.RMS, il)
    g.cb(cur, "mtp_attn_post_norm", il)
    cur = build_ffn(g, cur, il)
    cur = ggml.add(ctx0, cur, ffn_residual)
    g.cb(cur, "mtp_post_ffn", il)
    cur = g.build_norm(cur, output_norm, None, NormType.RMS, -1)  # no shared_head_norm of its own: the model's
    g.cb(cur, "h_nextn", -1)
    g.res.extra_outputs.append(cur)
    if mrope:
        cur = ggml.get_rows(ctx0, cur, inp_out_ids)
        g.cb(cur, "mtp_shared_head_norm", -1)
    cur = g.build_lora_mm(output, cur)
    g.cb(cur, "result_output", -1)
    g.res.t_logits = cur
    ggml.build_forward_expand(g.gf, cur)

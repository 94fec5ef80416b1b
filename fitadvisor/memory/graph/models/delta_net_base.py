"""src/models/delta-net-base.cpp: llm_build_delta_net_base, the Gated DeltaNet layers of qwen3next and qwen35.

llama_context turns the fused Gated DeltaNet op on (`cparams.fused_gdn_ar` and `fused_gdn_ch` are set and
not probed in v0.5.0) and the CPU backend runs it, so `build_delta_net` is always the fused op here; the
chunked and autoregressive decompositions are what a backend without it would build.
"""

from __future__ import annotations

import math

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.ggml import Context, Tensor
from fitadvisor.memory.graph.llm import GraphContext, RsInput


def build_gdn_l2_norm(ctx: Context, x: Tensor, eps: float) -> Tensor:
    """models.h: an L2 norm as an RMS norm, scaled."""
    n = x.ne[0]
    return ggml.scale(ctx, ggml.rms_norm(ctx, x, eps / n), 1.0 / math.sqrt(n))


def build_delta_net(g: GraphContext, q: Tensor, k: Tensor, v: Tensor, gate: Tensor, b: Tensor, s: Tensor,
                    il: int) -> tuple[Tensor, Tensor]:
    """build_delta_net_fused: the output rows and the new state, two views of one result."""
    ctx0 = g.ctx0
    S_v, H_v, n_tokens, n_seqs = v.ne
    result = ggml.gated_delta_net(ctx0, q, k, v, gate, b, s, 1)
    output = ggml.view_4d(ctx0, result, S_v, H_v, n_tokens, n_seqs,
                          ggml.row_size(result.type, S_v),
                          ggml.row_size(result.type, S_v * H_v),
                          ggml.row_size(result.type, S_v * H_v * n_tokens), 0)
    new_state = ggml.view_4d(ctx0, result, S_v, S_v, H_v, n_seqs,
                             ggml.row_size(result.type, S_v),
                             ggml.row_size(result.type, S_v * S_v),
                             ggml.row_size(result.type, S_v * S_v * H_v),
                             ggml.row_size(result.type, S_v * H_v * n_tokens * n_seqs))
    return output, new_state


def build_conv_state(g: GraphContext, inp: RsInput, conv_states_all: Tensor, qkv_mixed: Tensor,
                     conv_kernel_size: int, conv_channels: int, il: int) -> Tensor:
    """The convolution's input: the cached last columns then this ubatch's; its last columns go back."""
    ctx0, gf = g.ctx0, g.gf
    kv_head, mem_size, n_seqs = inp.head, inp.mem_size, g.n_seqs

    conv_states = g.build_rs(inp, conv_states_all, g.n_embd_r(), n_seqs)
    g.cb(conv_states, "conv_states", il)
    conv_states = ggml.reshape_3d(ctx0, conv_states, conv_kernel_size - 1, conv_channels, n_seqs)
    g.cb(conv_states, "conv_states_reshaped", il)
    qkv_mixed = ggml.transpose(ctx0, qkv_mixed)
    g.cb(qkv_mixed, "qkv_mixed_transposed", il)
    conv_input = ggml.concat(ctx0, conv_states, qkv_mixed, 0)
    g.cb(conv_input, "conv_input", il)

    row_count = (conv_kernel_size - 1) * conv_channels
    row_size = ggml.row_size(conv_states_all.type, row_count)
    # [TAG_RECURRENT_ROLLBACK_SPLITS]: with snapshots, the last n_rs_seq + 1 columns each go to a slot
    K = g.n_rs_seq + 1
    slots = [(conv_input.ne[0] - conv_states.ne[0], 0)] if g.n_rs_seq == 0 else [
        (max(0, conv_input.ne[0] - conv_states.ne[0] - K + t), K - t) for t in range(1, K + 1)
    ]
    for s_idx, s_slot in slots:
        conv_state_last = ggml.view_3d(ctx0, conv_input, conv_kernel_size - 1, conv_channels, n_seqs,
                                       conv_input.nb[1], conv_input.nb[2], ggml.row_size(conv_input.type, s_idx))
        conv_state_update = ggml.view_2d(ctx0, conv_states_all, row_count, n_seqs, conv_states_all.nb[1],
                                         (s_slot * mem_size + kv_head) * row_size)
        if g.n_rs_seq == 0:
            g.cb(conv_state_last, "conv_state_last", il)
            g.cb(conv_state_update, "conv_state_update", il)
        ggml.build_forward_expand(gf, ggml.cpy(ctx0, conv_state_last, conv_state_update))
    return conv_input


def build_recurrent_attn(g: GraphContext, inp: RsInput, ssm_states_all: Tensor, q: Tensor, k: Tensor, v: Tensor,
                         gate: Tensor, b: Tensor, s: Tensor, il: int) -> Tensor:
    """The delta rule over the ubatch; the new state (or its last n_rs_seq + 1 snapshots) goes back."""
    ctx0, gf = g.ctx0, g.gf
    kv_head, mem_size = inp.head, inp.mem_size
    S_v, H_v, n_seqs = s.ne[0], s.ne[2], s.ne[3]
    n_seq_tokens = q.ne[2]
    n_embd_s = g.n_embd_s()
    element_size = ggml.TYPE_SIZE[ssm_states_all.type][0]

    if g.n_rs_seq == 0:
        output, new_state = build_delta_net(g, q, k, v, gate, b, s, il)
        g.cb(output, "attn_output", il)
        g.cb(new_state, "new_state", il)
        ggml.build_forward_expand(gf, ggml.cpy(ctx0, new_state, ggml.view_2d(
            ctx0, ssm_states_all, n_embd_s, n_seqs, ssm_states_all.nb[1], kv_head * n_embd_s * element_size)))
        return output

    D = S_v * S_v * H_v
    K = g.n_rs_seq + 1
    gdn_out = ggml.gated_delta_net(ctx0, q, k, v, gate, b, s, K)
    attn_score_elems = S_v * H_v * n_seq_tokens * n_seqs
    state_size_per_snap = S_v * S_v * H_v * n_seqs
    output = ggml.view_4d(ctx0, gdn_out, S_v, H_v, n_seq_tokens, n_seqs,
                          ggml.row_size(gdn_out.type, S_v),
                          ggml.row_size(gdn_out.type, S_v * H_v),
                          ggml.row_size(gdn_out.type, S_v * H_v * n_seq_tokens), 0)
    g.cb(output, "attn_output", il)
    row_size = n_embd_s * element_size
    n_written = min(n_seq_tokens, K)
    src = ggml.view_3d(ctx0, gdn_out, D, n_seqs, n_written,
                       ggml.row_size(gdn_out.type, D),
                       ggml.row_size(gdn_out.type, state_size_per_snap),
                       ggml.row_size(gdn_out.type, attn_score_elems))
    dst = ggml.view_3d(ctx0, ssm_states_all, D, n_seqs, n_written, ssm_states_all.nb[1], mem_size * row_size,
                       kv_head * row_size)
    ggml.build_forward_expand(gf, ggml.cpy(ctx0, src, dst))
    return output

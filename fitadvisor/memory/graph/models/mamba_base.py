"""src/models/mamba-base.cpp: llm_build_mamba_base::build_mamba2_layer, the Mamba2 layers of granitehybrid and
nemotron_h."""

from __future__ import annotations

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.ggml import Context, Tensor
from fitadvisor.memory.graph.llm import GraphContext, NormType, RsInput


def build_mamba2_layer(g: GraphContext, inp: RsInput, cur: Tensor, il: int) -> Tensor:
    ctx0, gf, arch = g.ctx0, g.gf, g.arch
    kv_head, mem_size = inp.head, inp.mem_size
    d_conv, d_inner, d_state = arch.ssm_conv_kernel, arch.ssm_inner_size, arch.ssm_state_size
    n_head = g.ssm_dt_rank()
    head_dim = d_inner // n_head
    n_group = arch.ssm_group_count
    n_seqs, n_seq_tokens = g.n_seqs, g.n_seq_tokens
    K = g.n_rs_seq + 1
    conv_dim = d_inner + 2 * n_group * d_state
    layer = g.layer(
        ssm_in=(g.n_embd, 2 * d_inner + 2 * n_group * d_state + n_head), ssm_conv1d=(d_conv, conv_dim),
        ssm_conv1d_b=(conv_dim,), ssm_dt_b=(n_head,), ssm_a=(1, n_head), ssm_d=(1, n_head),
        ssm_norm=(d_inner // n_group, n_group), ssm_out=(d_inner, g.n_embd),
    )

    conv_states_all, ssm_states_all = g.rs_layer(il)
    state_slots = ssm_states_all.ne[1]
    conv = g.build_rs(inp, conv_states_all, g.n_embd_r(), n_seqs)
    conv = ggml.reshape_3d(ctx0, conv, d_conv - 1, conv_dim, n_seqs)

    # {n_embd, d_in_proj} @ {n_embd, n_tokens} => {d_in_proj, n_tokens}, then split in z, xBC and dt
    zxBCdt = g.build_lora_mm(layer.ssm_in, cur)
    zxBCdt = ggml.reshape_3d(ctx0, zxBCdt, zxBCdt.ne[0], n_seq_tokens, n_seqs)
    element_size = ggml.TYPE_SIZE[zxBCdt.type][0]
    z = ggml.view_4d(ctx0, zxBCdt, head_dim, n_head, n_seq_tokens, n_seqs, head_dim * zxBCdt.nb[0], zxBCdt.nb[1],
                     zxBCdt.nb[2], 0)
    xBC = ggml.view_3d(ctx0, zxBCdt, conv_dim, n_seq_tokens, n_seqs, zxBCdt.nb[1], zxBCdt.nb[2], d_inner * element_size)
    dt = ggml.view_3d(ctx0, zxBCdt, n_head, n_seq_tokens, n_seqs, zxBCdt.nb[1], zxBCdt.nb[2],
                      (2 * d_inner + 2 * n_group * d_state) * element_size)

    # conv: the cached columns then this ubatch's; the last columns (one set per snapshot) go back
    conv_x = ggml.concat(ctx0, conv, ggml.transpose(ctx0, xBC), 0)
    row_count = (d_conv - 1) * conv_dim
    row_size = ggml.row_size(conv_states_all.type, row_count)
    for slot in range(min(n_seq_tokens, K)):
        last_conv = ggml.view_3d(ctx0, conv_x, d_conv - 1, conv_dim, n_seqs, conv_x.nb[1], conv_x.nb[2],
                                 (n_seq_tokens - slot) * conv_x.nb[0])
        ggml.build_forward_expand(gf, ggml.cpy(ctx0, last_conv, ggml.view_2d(
            ctx0, conv_states_all, row_count, n_seqs, conv_states_all.nb[1], (slot * mem_size + kv_head) * row_size)))
    xBC = ggml.ssm_conv(ctx0, conv_x, layer.ssm_conv1d)
    xBC = ggml.add(ctx0, xBC, layer.ssm_conv1d_b)
    xBC = ggml.silu(ctx0, xBC)

    # ssm: V, K and Q of the state-space duality
    x = ggml.view_4d(ctx0, xBC, head_dim, n_head, n_seq_tokens, n_seqs, head_dim * xBC.nb[0], xBC.nb[1], xBC.nb[2], 0)
    B = ggml.view_4d(ctx0, xBC, d_state, n_group, n_seq_tokens, n_seqs, d_state * xBC.nb[0], xBC.nb[1], xBC.nb[2],
                     d_inner * element_size)
    C = ggml.view_4d(ctx0, xBC, d_state, n_group, n_seq_tokens, n_seqs, d_state * xBC.nb[0], xBC.nb[1], xBC.nb[2],
                     (d_inner + n_group * d_state) * element_size)
    dt = ggml.add(ctx0, ggml.cont(ctx0, dt), layer.ssm_dt_b)
    A = layer.ssm_a

    def get_ssm_rows(ctx: Context, states: Tensor, ids: Tensor) -> Tensor:
        ssm = ggml.reshape_4d(ctx, states, d_state, head_dim, n_head, state_slots)
        return ggml.ssm_scan(ctx, ssm, x, dt, A, B, C, ids, K)

    y_ssm = g.build_rs(inp, ssm_states_all, g.n_embd_s(), n_seqs, get_ssm_rows)
    D = d_state * d_inner
    n_written = min(n_seq_tokens, K)
    state_row_size = ggml.row_size(ssm_states_all.type, D)
    y_row_size = ggml.row_size(y_ssm.type, D)
    state_offset = ggml.nelements(x) * ggml.TYPE_SIZE[x.type][0]
    ggml.build_forward_expand(gf, ggml.cpy(
        ctx0,
        ggml.view_3d(ctx0, y_ssm, D, n_seqs, n_written, y_row_size, y_row_size * n_seqs, state_offset),
        ggml.view_3d(ctx0, ssm_states_all, D, n_seqs, n_written, ssm_states_all.nb[1], mem_size * state_row_size,
                     kv_head * state_row_size),
    ))
    y = ggml.view_4d(ctx0, y_ssm, head_dim, n_head, n_seq_tokens, n_seqs, x.nb[1], n_head * x.nb[1],
                     n_seq_tokens * n_head * x.nb[1], 0)
    y = ggml.add(ctx0, y, ggml.mul(ctx0, x, layer.ssm_d))
    g.cb(y, "mamba2_y_add_d", il)
    y = ggml.swiglu_split(ctx0, ggml.cont(ctx0, z), y)
    # grouped RMS norm
    y = ggml.reshape_4d(ctx0, y, d_inner // n_group, n_group, n_seq_tokens, n_seqs)
    y = g.build_norm(y, layer.ssm_norm, None, NormType.RMS, il)
    y = ggml.reshape_2d(ctx0, y, d_inner, n_seq_tokens * n_seqs)
    cur = g.build_lora_mm(layer.ssm_out, y)
    g.cb(cur, "mamba_out", il)
    return cur

"""The part of ggml's graph API that decides how the graph allocator lays out a compute buffer.

A transliteration of ggml.c (llama.cpp release v0.5.0, as node-llama-cpp 3.22.1 bundles it): each op
computes its result's type, shape (`ne`), strides (`nb`), whether it is a view, and its op, exactly as
`ggml_<op>` does; nothing is computed. The names and argument order are ggml.h's without the `ggml_`
prefix, context first, so a graph builder reads line for line like its C++ (src/models/*.cpp).
Weights and the KV cache are `external`: they live in their own buffers, not in the compute buffer.
"""

from __future__ import annotations

# ggml type: (bytes per block, values per block), from ggml.c's type_traits.
TYPE_SIZE = {
    "f32": (4, 1),
    "f16": (2, 1),
    "bf16": (2, 1),
    "i32": (4, 1),
    "i64": (8, 1),
    "q8_0": (34, 32),
    "q4_0": (18, 32),
}
QUANTIZED = frozenset({"q8_0", "q4_0"})

FLAG_INPUT = 1
FLAG_OUTPUT = 2
FLAG_PARAM = 4

# ggml-alloc.c's ggml_op_can_inplace: ops whose result may take a parent's memory.
INPLACE_OPS = frozenset({
    "FILL", "SCALE", "DIAG_MASK_ZERO", "DIAG_MASK_INF", "ADD", "ADD_ID", "ADD1", "SUB", "MUL", "DIV", "SQR",
    "SQRT", "LOG", "UNARY", "ROPE", "ROPE_BACK", "SILU_BACK", "RMS_NORM", "RMS_NORM_BACK", "CLAMP", "SOFT_MAX",
    "SOFT_MAX_BACK",
})


def row_size(type_: str, ne0: int) -> int:
    size, block = TYPE_SIZE[type_]
    return size * ne0 // block


class Tensor:
    """ggml_tensor: what the allocator reads of it."""

    __slots__ = ("type", "ne", "nb", "op", "src", "view_src", "view_offs", "name", "flags", "external", "seq")

    def __init__(self, type_: str, ne: tuple[int, int, int, int], nb: tuple[int, int, int, int], op: str = "NONE",
                 src: tuple[Tensor, ...] = (), view_src: Tensor | None = None, view_offs: int = 0, seq: int = 0,
                 external: bool = False) -> None:
        self.type = type_
        self.ne = ne
        self.nb = nb
        self.op = op
        self.src = src
        self.view_src = view_src
        self.view_offs = view_offs
        self.name = ""
        self.flags = 0
        self.external = external  # data in a buffer of its own (weights, KV cache), or a view of such
        self.seq = seq  # the order of creation in its context

    def __repr__(self) -> str:
        return f"Tensor({self.name or self.op} {self.type} {list(self.ne)})"


def nbytes(t: Tensor) -> int:
    """ggml_nbytes."""
    ne0, ne1, ne2, ne3 = t.ne
    if ne0 <= 0 or ne1 <= 0 or ne2 <= 0 or ne3 <= 0:
        return 0
    nb0, nb1, nb2, nb3 = t.nb
    size, block = TYPE_SIZE[t.type]
    rest = (ne1 - 1) * nb1 + (ne2 - 1) * nb2 + (ne3 - 1) * nb3
    if block == 1:
        return size + (ne0 - 1) * nb0 + rest
    return ne0 * nb0 // block + rest


def nelements(t: Tensor) -> int:
    return t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3]


def is_contiguous(t: Tensor) -> bool:
    """ggml_is_contiguous (dims of size 1 ignored, as ggml_is_contiguous_n(t, 0) does)."""
    expected = TYPE_SIZE[t.type][0]
    for i in range(4):
        if t.ne[i] != 1:
            if i == 0:
                if t.nb[0] != expected:
                    return False
                expected *= t.ne[0] // TYPE_SIZE[t.type][1]
            else:
                if t.nb[i] != expected:
                    return False
                expected *= t.ne[i]
    return True


class Context:
    """ggml_context: the tensors an op creates live here (only their count matters to the replay)."""

    __slots__ = ("n_tensors",)

    def __init__(self) -> None:
        self.n_tensors = 0


def _new(ctx: Context, type_: str, ne: tuple[int, ...], view_src: Tensor | None = None, view_offs: int = 0,
         op: str = "NONE", src: tuple[Tensor | None, ...] = (), external: bool = False) -> Tensor:
    """ggml_new_tensor_impl: a view's source is always the base tensor, its offset absolute; contiguous strides."""
    full = (*ne, 1, 1, 1)[:4]
    size, block = TYPE_SIZE[type_]
    nb1 = size * full[0] // block  # row_size
    nb2 = nb1 * full[1]
    if view_src is not None:
        if view_src.view_src is not None:
            view_offs += view_src.view_offs
            view_src = view_src.view_src
        external = view_src.external
    seq = ctx.n_tensors
    ctx.n_tensors = seq + 1
    return Tensor(type_, full, (size, nb1, nb2, nb2 * full[2]), op, src, view_src, view_offs, seq, external)


def new_tensor_1d(ctx: Context, type_: str, ne0: int) -> Tensor:
    return _new(ctx, type_, (ne0,))


def new_tensor_2d(ctx: Context, type_: str, ne0: int, ne1: int) -> Tensor:
    return _new(ctx, type_, (ne0, ne1))




def new_tensor_4d(ctx: Context, type_: str, ne0: int, ne1: int, ne2: int, ne3: int) -> Tensor:
    return _new(ctx, type_, (ne0, ne1, ne2, ne3))


def new_external(ctx: Context, type_: str, ne: tuple[int, ...], name: str = "") -> Tensor:
    """A tensor that already has its buffer: a weight, a KV-cache layer (not the graph allocator's)."""
    t = _new(ctx, type_, ne, external=True)
    t.name = name
    return t


def set_input(t: Tensor) -> None:
    t.flags |= FLAG_INPUT


def set_output(t: Tensor) -> None:
    t.flags |= FLAG_OUTPUT


def set_name(t: Tensor, name: str) -> Tensor:
    t.name = name
    return t


def dup_tensor(ctx: Context, a: Tensor) -> Tensor:
    return _new(ctx, a.type, a.ne)


def view_tensor(ctx: Context, a: Tensor) -> Tensor:
    t = _new(ctx, a.type, a.ne, a, 0)
    t.nb = a.nb
    t.name = f"{a.name} (view)"
    return t


def _unary(ctx: Context, op: str, a: Tensor, *srcs: Tensor | None) -> Tensor:
    return _new(ctx, a.type, a.ne, op=op, src=(a, *srcs))


# --- ops -------------------------------------------------------------------------------------------------

def add(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
    return _unary(ctx, "ADD", a, b)


def sub(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
    return _unary(ctx, "SUB", a, b)


def mul(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
    return _unary(ctx, "MUL", a, b)


def div(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
    return _unary(ctx, "DIV", a, b)


def scale(ctx: Context, a: Tensor, s: float) -> Tensor:
    return _unary(ctx, "SCALE", a)


def rms_norm(ctx: Context, a: Tensor, eps: float) -> Tensor:
    return _unary(ctx, "RMS_NORM", a)


def norm(ctx: Context, a: Tensor, eps: float) -> Tensor:
    return _unary(ctx, "NORM", a)


def silu(ctx: Context, a: Tensor) -> Tensor:
    return _unary(ctx, "UNARY", a)


def gelu(ctx: Context, a: Tensor) -> Tensor:
    return _unary(ctx, "UNARY", a)


def tanh(ctx: Context, a: Tensor) -> Tensor:
    return _unary(ctx, "UNARY", a)


def rope_ext(ctx: Context, a: Tensor, b: Tensor, c: Tensor | None, *params: float) -> Tensor:
    """ggml_rope_ext(ctx, a, pos, freq_factors, n_dims, mode, n_ctx_orig, ...): the result is a's shape."""
    t = dup_tensor(ctx, a)
    t.op = "ROPE"
    t.src = (a, b, c) if c is not None else (a, b)
    return t


def soft_max_ext(ctx: Context, a: Tensor, mask: Tensor | None, scale_: float, max_bias: float) -> Tensor:
    t = dup_tensor(ctx, a)
    t.op = "SOFT_MAX"
    t.src = (a, mask) if mask is not None else (a,)
    return t


def soft_max_add_sinks(a: Tensor, sinks: Tensor | None) -> None:
    if sinks is not None:
        a.src = (*a.src[:2], sinks) if len(a.src) >= 2 else (a.src[0], None, sinks)


def mul_mat(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
    return _new(ctx, "f32", (a.ne[1], b.ne[1], b.ne[2], b.ne[3]), op="MUL_MAT", src=(a, b))


def mul_mat_id(ctx: Context, as_: Tensor, b: Tensor, ids: Tensor) -> Tensor:
    t = _new(ctx, "f32", (as_.ne[1], ids.ne[0], b.ne[2], 1))
    t.op = "MUL_MAT_ID"
    t.src = (as_, b, ids)
    return t


def get_rows(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
    type_ = "i32" if a.type == "i32" else "f32"
    t = _new(ctx, type_, (a.ne[0], b.ne[0], b.ne[1], b.ne[2]))
    t.op = "GET_ROWS"
    t.src = (a, b)
    return t


def set_rows(ctx: Context, a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """Writes b's rows into a at c: the result is a view of a."""
    t = view_tensor(ctx, a)
    t.op = "SET_ROWS"
    t.src = (b, c, a)  # ggml.c: "order is weird due to legacy reasons"
    return t


def _glu(ctx: Context, a: Tensor, b: Tensor | None) -> Tensor:
    ne = (a.ne[0] // 2 if b is None else a.ne[0], a.ne[1], a.ne[2], a.ne[3])
    t = _new(ctx, a.type, ne)
    t.op = "GLU"
    t.src = (a, b) if b is not None else (a,)
    return t


def swiglu_split(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
    return _glu(ctx, a, b)


def geglu_split(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
    return _glu(ctx, a, b)


def swiglu(ctx: Context, a: Tensor) -> Tensor:
    return _glu(ctx, a, None)


def cont(ctx: Context, a: Tensor) -> Tensor:
    return cont_4d(ctx, a, *a.ne)


def cont_2d(ctx: Context, a: Tensor, ne0: int, ne1: int) -> Tensor:
    return cont_4d(ctx, a, ne0, ne1, 1, 1)


def cont_3d(ctx: Context, a: Tensor, ne0: int, ne1: int, ne2: int) -> Tensor:
    return cont_4d(ctx, a, ne0, ne1, ne2, 1)


def cont_4d(ctx: Context, a: Tensor, ne0: int, ne1: int, ne2: int, ne3: int) -> Tensor:
    t = _new(ctx, a.type, (ne0, ne1, ne2, ne3))
    t.name = f"{a.name} (cont)"
    t.op = "CONT"
    t.src = (a,)
    return t


def cpy(ctx: Context, a: Tensor, b: Tensor) -> Tensor:
    t = view_tensor(ctx, b)
    t.op = "CPY"
    t.src = (a, b)
    return t


def cast(ctx: Context, a: Tensor, type_: str) -> Tensor:
    t = _new(ctx, type_, a.ne)
    t.name = f"{a.name} (copy)"
    t.op = "CPY"
    t.src = (a, t)
    return t


def pad(ctx: Context, a: Tensor, p0: int, p1: int, p2: int, p3: int) -> Tensor:
    t = _new(ctx, a.type, (a.ne[0] + p0, a.ne[1] + p1, a.ne[2] + p2, a.ne[3] + p3))
    t.op = "PAD"
    t.src = (a,)
    return t


def concat(ctx: Context, a: Tensor, b: Tensor, dim: int) -> Tensor:
    ne = list(a.ne)
    ne[dim] += b.ne[dim]
    t = _new(ctx, a.type, tuple(ne))
    t.op = "CONCAT"
    t.src = (a, b)
    return t


def _reshape(ctx: Context, a: Tensor, ne: tuple[int, ...]) -> Tensor:
    t = _new(ctx, a.type, ne, a, 0, "RESHAPE", (a,))
    t.name = f"{a.name} (reshaped)"
    return t




def reshape_2d(ctx: Context, a: Tensor, ne0: int, ne1: int) -> Tensor:
    return _reshape(ctx, a, (ne0, ne1))


def reshape_3d(ctx: Context, a: Tensor, ne0: int, ne1: int, ne2: int) -> Tensor:
    return _reshape(ctx, a, (ne0, ne1, ne2))


def reshape_4d(ctx: Context, a: Tensor, ne0: int, ne1: int, ne2: int, ne3: int) -> Tensor:
    return _reshape(ctx, a, (ne0, ne1, ne2, ne3))


def _view(ctx: Context, a: Tensor, ne: tuple[int, ...], nb: tuple[int, ...], offset: int) -> Tensor:
    t = _new(ctx, a.type, ne, a, offset, "VIEW", (a,))
    if nb:  # ggml_view_Nd: the strides given, and the dims above the last given stride follow from it
        full_nb = [t.nb[0], *nb]
        for i in range(len(full_nb), 4):
            full_nb.append(full_nb[i - 1] * t.ne[i - 1])
        t.nb = tuple(full_nb)
    t.name = f"{a.name} (view)"
    return t


def view_1d(ctx: Context, a: Tensor, ne0: int, offset: int) -> Tensor:
    return _view(ctx, a, (ne0,), (), offset)


def view_2d(ctx: Context, a: Tensor, ne0: int, ne1: int, nb1: int, offset: int) -> Tensor:
    return _view(ctx, a, (ne0, ne1), (nb1,), offset)


def view_3d(ctx: Context, a: Tensor, ne0: int, ne1: int, ne2: int, nb1: int, nb2: int, offset: int) -> Tensor:
    return _view(ctx, a, (ne0, ne1, ne2), (nb1, nb2), offset)


def view_4d(ctx: Context, a: Tensor, ne0: int, ne1: int, ne2: int, ne3: int, nb1: int, nb2: int, nb3: int,
            offset: int) -> Tensor:
    return _view(ctx, a, (ne0, ne1, ne2, ne3), (nb1, nb2, nb3), offset)


def permute(ctx: Context, a: Tensor, axis0: int, axis1: int, axis2: int, axis3: int) -> Tensor:
    t = view_tensor(ctx, a)
    ne, nb = [0] * 4, [0] * 4
    for src_axis, dst_axis in enumerate((axis0, axis1, axis2, axis3)):
        ne[dst_axis] = a.ne[src_axis]
        nb[dst_axis] = a.nb[src_axis]
    t.ne, t.nb = tuple(ne), tuple(nb)
    t.name = f"{a.name} (permuted)"
    t.op = "PERMUTE"
    t.src = (a,)
    return t


def transpose(ctx: Context, a: Tensor) -> Tensor:
    t = view_tensor(ctx, a)
    t.ne = (a.ne[1], a.ne[0], a.ne[2], a.ne[3])
    t.nb = (a.nb[1], a.nb[0], a.nb[2], a.nb[3])
    t.name = f"{a.name} (transposed)"
    t.op = "TRANSPOSE"
    t.src = (a,)
    return t


def flash_attn_ext(ctx: Context, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, scale_: float,
                   max_bias: float, logit_softcap: float) -> Tensor:
    t = _new(ctx, "f32", (v.ne[0], q.ne[2], q.ne[1], q.ne[3]))
    t.op = "FLASH_ATTN_EXT"
    t.src = (q, k, v, mask) if mask is not None else (q, k, v)
    return t


def flash_attn_ext_add_sinks(a: Tensor, sinks: Tensor | None) -> None:
    if sinks is not None:
        srcs = list(a.src) + [None] * (4 - len(a.src))
        a.src = (*srcs[:4], sinks)


# --- recurrent layers (Mamba2, Gated DeltaNet) --------------------------------------------------------

def sigmoid(ctx: Context, a: Tensor) -> Tensor:
    return _unary(ctx, "UNARY", a)


def softplus(ctx: Context, a: Tensor) -> Tensor:
    return _unary(ctx, "UNARY", a)


def scale_inplace(ctx: Context, a: Tensor, s: float) -> Tensor:
    t = view_tensor(ctx, a)
    t.op = "SCALE"
    t.src = (a,)
    return t


def repeat_4d(ctx: Context, a: Tensor, ne0: int, ne1: int, ne2: int, ne3: int) -> Tensor:
    t = _new(ctx, a.type, (ne0, ne1, ne2, ne3))
    t.op = "REPEAT"
    t.src = (a,)
    return t


def rope_multi(ctx: Context, a: Tensor, b: Tensor, c: Tensor | None, *params: object) -> Tensor:
    """ggml_rope_multi (M-RoPE): the result is a's shape, like rope_ext."""
    return rope_ext(ctx, a, b, c)


def ssm_conv(ctx: Context, sx: Tensor, c: Tensor) -> Tensor:
    """{d_conv - 1 + n_t, d_inner, n_s} convolved with {d_conv, d_inner} => {d_inner, n_t, n_s} f32."""
    t = _new(ctx, "f32", (c.ne[1], sx.ne[0] - c.ne[0] + 1, sx.ne[2]))
    t.op = "SSM_CONV"
    t.src = (sx, c)
    return t


def ssm_scan(ctx: Context, s: Tensor, x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, ids: Tensor,
             K: int) -> Tensor:
    """y and K snapshots of the new states, concatenated: one f32 vector."""
    t = _new(ctx, "f32", (nelements(x) + K * s.ne[0] * s.ne[1] * s.ne[2] * ids.ne[0],))
    t.op = "SSM_SCAN"
    t.src = (s, x, dt, A, B, C, ids)
    return t


def gated_delta_net(ctx: Context, q: Tensor, k: Tensor, v: Tensor, g: Tensor, beta: Tensor, state: Tensor,
                    K: int) -> Tensor:
    """The output rows, then K snapshots of the state: {S_v * H, n_tokens * n_seqs + K * S_v * n_seqs} f32."""
    S_v, H, n_tokens, n_seqs = v.ne
    t = _new(ctx, "f32", (S_v * H, n_tokens * n_seqs + K * S_v * n_seqs))
    t.op = "GATED_DELTA_NET"
    t.src = (q, k, v, g, beta, state)
    return t


# --- the graph -----------------------------------------------------------------------------------------

class Graph:
    """ggml_cgraph: nodes (computed tensors, views included) and leafs, in ggml_visit_parents order."""

    __slots__ = ("nodes", "leafs", "visited")

    def __init__(self) -> None:
        self.nodes: list[Tensor] = []
        self.leafs: list[Tensor] = []
        self.visited: set[Tensor] = set()  # by identity: Tensor defines no __eq__


def new_graph(ctx: Context | None = None) -> Graph:
    return Graph()


def build_forward_expand(gf: Graph, tensor: Tensor) -> None:
    """ggml_build_forward_expand: sources depth first, left to right; each tensor once."""
    visited = gf.visited
    if tensor in visited:
        return
    visited.add(tensor)
    stack, positions = [tensor], [0]  # the path being visited, and the next source to look at on each
    while stack:
        node = stack[-1]
        srcs = node.src
        i = positions[-1]
        while i < len(srcs):
            src = srcs[i]
            i += 1
            if src is not None and src not in visited:
                positions[-1] = i
                visited.add(src)
                stack.append(src)
                positions.append(0)
                break
        else:
            stack.pop()
            positions.pop()
            if node.op == "NONE" and not node.flags & FLAG_PARAM:
                if not node.name:
                    node.name = f"leaf_{len(gf.leafs)}"
                gf.leafs.append(node)
            else:
                if not node.name:
                    node.name = f"node_{len(gf.nodes)}"
                gf.nodes.append(node)


# --- ops of the mixture-of-experts stage (build_moe_ffn) and the graphs that use it ---------------------

def soft_max(ctx: Context, a: Tensor) -> Tensor:
    return _unary(ctx, "SOFT_MAX", a)


def clamp(ctx: Context, a: Tensor, min_: float, max_: float) -> Tensor:
    return _unary(ctx, "CLAMP", a)


def sum_rows(ctx: Context, a: Tensor) -> Tensor:
    t = _new(ctx, a.type, (1, a.ne[1], a.ne[2], a.ne[3]))
    t.op = "SUM_ROWS"
    t.src = (a,)
    return t


def argsort(ctx: Context, a: Tensor) -> Tensor:
    t = _new(ctx, "i32", a.ne)
    t.op = "ARGSORT"
    t.src = (a,)
    return t


def argsort_top_k(ctx: Context, a: Tensor, k: int) -> Tensor:
    """The first k of a's descending argsort: a view of it."""
    result = argsort(ctx, a)
    return view_4d(ctx, result, k, result.ne[1], result.ne[2], result.ne[3], result.nb[1], result.nb[2],
                   result.nb[3], 0)


def add_id(ctx: Context, a: Tensor, b: Tensor, ids: Tensor) -> Tensor:
    return _unary(ctx, "ADD_ID", a, b, ids)


def swiglu_oai(ctx: Context, a: Tensor, b: Tensor, alpha: float, limit: float) -> Tensor:
    return _glu(ctx, a, b)


def relu(ctx: Context, a: Tensor) -> Tensor:
    return _unary(ctx, "UNARY", a)


def sqr(ctx: Context, a: Tensor) -> Tensor:
    return _unary(ctx, "SQR", a)

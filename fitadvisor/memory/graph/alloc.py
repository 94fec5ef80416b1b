"""A replay of ggml's graph allocator (ggml-alloc.c, llama.cpp v0.5.0) reserving one CPU buffer.

`reserve(graph)` does what `ggml_gallocr_reserve_n` does for a graph on one backend: count each
tensor's children and views, allocate the leafs and inputs first, then walk the nodes in order,
allocating each node's parents and the node (in a parent's memory when ggml_op_can_inplace and the
layout match), and freeing a parent once its last child and view have run. Memory comes from a
`ggml_dyn_tallocr`: best fit among the free blocks but the last, else the last block, which grows the
buffer. The buffer's size is the highest end any tensor reached. The CPU buffer type aligns to 32
bytes (TENSOR_ALIGNMENT) and has no size limit, so there is one chunk.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from fitadvisor.memory.graph.ggml import FLAG_INPUT, FLAG_OUTPUT, INPLACE_OPS, Graph, Tensor, nbytes

ALIGNMENT = 32  # ggml-impl.h TENSOR_ALIGNMENT: the CPU buffer type's alignment


def _aligned(size: int) -> int:
    return -(-size // ALIGNMENT) * ALIGNMENT


class DynTallocr:
    """ggml_dyn_tallocr with one chunk: free blocks sorted by offset, the last one unbounded."""

    __slots__ = ("offsets", "sizes", "max_size")

    def __init__(self) -> None:
        self.offsets = [0]
        self.sizes = [1 << 62]  # SIZE_MAX/2: the last block of the last chunk never runs out
        self.max_size = 0

    def alloc(self, size: int) -> int:
        size = _aligned(size)
        sizes = self.sizes
        best, best_size = -1, 1 << 64
        for i in range(len(sizes) - 1):  # best fit besides the last block; ties go to the later block
            if size <= sizes[i] <= best_size:
                best, best_size = i, sizes[i]
        if best == -1:
            best = len(sizes) - 1
        offset = self.offsets[best]
        self.offsets[best] += size
        sizes[best] -= size
        if sizes[best] == 0:
            del self.offsets[best], sizes[best]
        if offset + size > self.max_size:
            self.max_size = offset + size
        return offset

    def free(self, offset: int, size: int) -> None:
        """Return the bytes to the free blocks, merged with the block that ends where they begin and the one
        that begins where they end (free blocks never touch or overlap, so only these two can)."""
        size = _aligned(size)
        offsets, sizes = self.offsets, self.sizes
        i = bisect_left(offsets, offset)  # the first block past the freed bytes
        end = offset + size
        if i > 0 and offsets[i - 1] + sizes[i - 1] == offset:  # they follow block i - 1
            sizes[i - 1] += size
            if i < len(offsets) and end == offsets[i]:  # and close the gap to block i
                sizes[i - 1] += sizes[i]
                del offsets[i], sizes[i]
        elif i < len(offsets) and end == offsets[i]:  # they precede block i
            offsets[i] = offset
            sizes[i] += size
        else:
            offsets.insert(i, offset)
            sizes.insert(i, size)


class _HashNode:
    __slots__ = ("n_children", "n_views", "allocated", "offset", "size")

    def __init__(self) -> None:
        self.n_children = 0
        self.n_views = 0
        self.allocated = False
        self.offset = 0
        self.size = 0  # ggml_nbytes, once allocated


@dataclass
class Reservation:
    """One graph's replay: the buffer it needs, and (when asked) what the allocator did, in order."""

    size: int
    events: list[tuple[str, str, int, int]] = field(default_factory=list)  # ("alloc"|"free", name, bytes, offset)
    states: dict[int, tuple] = field(default_factory=dict)  # node index -> the allocator's state before it


class _Gallocr:
    def __init__(self, record: bool) -> None:
        self.hash: dict[Tensor, _HashNode] = {}
        self.talloc = DynTallocr()
        self.events: list[tuple[str, str, int, int]] | None = [] if record else None
        self.states: dict[int, tuple] = {}

    def node(self, t: Tensor) -> _HashNode:
        hn = self.hash.get(t)
        if hn is None:
            hn = self.hash[t] = _HashNode()
        return hn

    def allocate_node(self, node: Tensor) -> None:
        if node.external or node.view_src is not None:
            return
        hn = self.hash.get(node)
        if hn is None:
            hn = self.hash[node] = _HashNode()
        elif hn.allocated:
            return
        hn.allocated = True
        hn.size = nbytes(node)
        if node.op in INPLACE_OPS:
            for parent in node.src:
                if parent is None:
                    continue
                p_hn = self.node(parent)
                # A view is never allocated by the allocator, so it is never its own: ggml-alloc.c's
                # branch that reuses a view parent cannot run, and a view parent is skipped here.
                if not p_hn.allocated:
                    continue
                if parent.flags & FLAG_OUTPUT:
                    continue
                if parent.type != node.type or parent.ne != node.ne or parent.nb != node.nb:
                    continue
                if p_hn.n_children == 1 and p_hn.n_views == 0:
                    hn.offset = p_hn.offset
                    p_hn.allocated = False  # the node owns the memory now
                    extra = _aligned(p_hn.size) - _aligned(hn.size)
                    if extra > 0:
                        self.talloc.free(p_hn.offset + _aligned(hn.size), extra)
                    return
        hn.offset = self.talloc.alloc(hn.size)
        if self.events is not None:
            self.events.append(("alloc", node.name, _aligned(hn.size), hn.offset))

    def free_node(self, node: Tensor) -> None:
        if node.flags & FLAG_OUTPUT:
            return
        hn = self.hash[node]
        if self.events is not None:
            self.events.append(("free", node.name, hn.size, hn.offset))
        self.talloc.free(hn.offset, hn.size)
        hn.allocated = False

    def state(self) -> tuple:
        """The free blocks (exactly the complement of what is live) and each live tensor: (offset,
        tensor, pending children, pending views)."""
        live = [(hn.offset, t, hn.n_children, hn.n_views) for t, hn in self.hash.items() if hn.allocated]
        return tuple(self.talloc.offsets), tuple(self.talloc.sizes), live

    def run(self, graph: Graph, snapshots: frozenset[int]) -> None:
        # Tensors with a buffer of their own (weights, the KV cache, views of them) are never allocated
        # nor freed here: their children and views are not counted.
        hash_, node_of, allocate = self.hash, self.node, self.allocate_node
        for leaf in graph.leafs:
            allocate(leaf)
        parents = []  # each node's sources the allocator handles, with their hash nodes
        for node in graph.nodes:
            if node.view_src is not None and node.op != "NONE" and not node.external:
                node_of(node.view_src).n_views += 1
            if node.flags & FLAG_INPUT:
                allocate(node)
            srcs = []
            for src in node.src:
                if src is None or src.external:
                    continue
                hn = hash_.get(src)
                if hn is None:
                    hn = hash_[src] = _HashNode()
                hn.n_children += 1
                if src.flags & FLAG_INPUT:
                    allocate(src)
                srcs.append((src, hn))
            parents.append(srcs)
        for i, node in enumerate(graph.nodes):
            if i in snapshots:
                self.states[i] = self.state()
            srcs = parents[i]
            for parent, p_hn in srcs:
                if parent.view_src is None and not p_hn.allocated:
                    allocate(parent)
            allocate(node)
            for parent, p_hn in srcs:
                p_hn.n_children -= 1
                if p_hn.n_children == 0 and p_hn.n_views == 0:
                    view_src = parent.view_src
                    if view_src is not None:
                        vs_hn = node_of(view_src)
                        vs_hn.n_views -= 1
                        if vs_hn.n_views == 0 and vs_hn.n_children == 0 and vs_hn.allocated:
                            self.free_node(view_src)
                    elif p_hn.allocated:
                        self.free_node(parent)


def reserve(graph: Graph, record: bool = False, snapshots: tuple[int, ...] = ()) -> Reservation:
    """The compute buffer ggml_gallocr_reserve_n sizes for `graph`, the allocator's steps if `record`,
    and its state before each node index in `snapshots`."""
    galloc = _Gallocr(record)
    galloc.run(graph, frozenset(snapshots))
    return Reservation(galloc.talloc.max_size, galloc.events or [], galloc.states)

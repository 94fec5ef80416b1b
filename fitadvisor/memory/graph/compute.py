"""llama.cpp's compute buffer, replayed: the graphs llama_context::sched_reserve reserves, through ggml's allocator.

sched_reserve (src/llama-context.cpp, v0.5.0) reserves the prompt-processing graph (n_ubatch tokens,
capped by the context, one output per token), the token-generation graph (one token per sequence), and
the prompt graph again; ggml_gallocr keeps the largest buffer any of them needed. With only the CPU
backend ggml_backend_sched adds no copies, so the graph the allocator walks is the one the model builds.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from fitadvisor.memory.graph import alloc
from fitadvisor.memory.graph.ggml import Tensor
from fitadvisor.memory.graph.llm import GraphContext, GraphParams
from fitadvisor.memory.graph.models import builder, drafting_builder
from fitadvisor.memory.graph.symbolic import STEP, Affine, NotAffine, Span, evaluate
from fitadvisor.models.architecture import Architecture


@dataclass(frozen=True)
class Reserved:
    """One graph sched_reserve reserves: its ubatch."""

    n_tokens: int
    n_seqs: int
    n_outputs: int


def reserved_graphs(n_ctx: int, n_ubatch: int, n_seqs: int, n_outputs_max: int | None = None) -> tuple[Reserved, Reserved]:
    """The distinct graphs sched_reserve reserves (the prompt graph's second reservation is the same graph).

    graph_reserve rounds the tokens up to a multiple of the sequences. The prompt graph outputs every
    token, up to the context's n_outputs_max (a drafting context: one per sequence).
    """
    n_tokens = min(n_ctx, n_ubatch)
    n_outputs = n_tokens if n_outputs_max is None else min(n_tokens, n_outputs_max)  # before the rounding
    return Reserved(-(-n_tokens // n_seqs) * n_seqs, n_seqs, n_outputs), Reserved(n_seqs, n_seqs, n_seqs)


def has_builder(arch: Architecture) -> bool:
    return builder(arch) is not None


def has_drafting_builder(arch: Architecture) -> bool:
    return drafting_builder(arch.name) is not None


def build_graph(arch: Architecture, params: GraphParams, drafting: bool = False) -> GraphContext:
    """The main context's graph, or with `drafting` the drafting (MTP) context's."""
    g = GraphContext(arch, params)
    _build(g, drafting)
    return g


def _build(g: GraphContext, drafting: bool = False) -> None:
    build = drafting_builder(g.arch.name) if drafting else builder(g.arch)
    if build is None:
        raise ValueError(f"no {'drafting ' if drafting else ''}graph builder for architecture {g.arch.name!r}")
    build(g)
    g.set_outputs()


def reserve(arch: Architecture, params: GraphParams, record: bool = False, drafting: bool = False) -> alloc.Reservation:
    return alloc.reserve(build_graph(arch, params, drafting).gf, record)


@lru_cache(maxsize=4096)  # recommend asks for the same model and context again and again
def compute_buffer_bytes(
    arch: Architecture, cells: int, swa_cells: int, n_ubatch: int, n_stream: int, flash_attn: bool,
    type_k: str = "f16", type_v: str = "f16", n_rs_seq: int = 0, n_outputs_max: int = 0,
) -> int:
    """The CPU compute buffer llama.cpp reserves: `cells` per KV stream, one stream per slot; `n_rs_seq`
    recurrent-state snapshots per sequence when drafting; logits for at most `n_outputs_max` tokens of a
    ubatch (0: every token, llama.cpp's default).

    A padded cell count is replayed with the cells as a symbol (memory/graph/symbolic.py): the answer
    holds for every cell count at which that replay takes the same steps, so the other contexts
    recommend tries are read from it, exact, without a replay of their own.
    """
    settings = (swa_cells, n_ubatch, n_stream, flash_attn, type_k, type_v, n_rs_seq, n_outputs_max)
    if cells % STEP:
        return _reserved_bytes(arch, cells, *settings)
    steps = cells // STEP
    replayed = _symbolic_replays(arch, settings)
    for span, size in replayed:
        if steps in span:
            return evaluate(size, steps)
    span = Span(steps)
    try:
        size = _reserved_bytes(arch, span.symbol(), *settings)
    except NotAffine:  # this graph's sizes are not affine in the cells: replayed as integers
        return _reserved_bytes(arch, cells, *settings)
    replayed.append((span, size))
    return evaluate(size, steps)


@lru_cache(maxsize=1024)
def _symbolic_replays(arch: Architecture, settings: tuple) -> list[tuple[Span, Affine | int]]:
    """The symbolic replays made so far of one model and settings: each one's span of cell counts and buffer."""
    return []


def _reserved_bytes(
    arch: Architecture, cells: int | Affine, swa_cells: int, n_ubatch: int, n_stream: int, flash_attn: bool,
    type_k: str, type_v: str, n_rs_seq: int, n_outputs_max: int,
) -> int | Affine:
    """The largest buffer of the graphs sched_reserve reserves."""
    sizes = []
    with _without_cycle_collection():
        for graph in reserved_graphs(cells * n_stream, n_ubatch, n_stream, n_outputs_max or None):
            params = GraphParams(
                n_tokens=graph.n_tokens, n_seqs=graph.n_seqs, n_outputs=graph.n_outputs, n_kv=cells,
                n_stream=n_stream, flash_attn=flash_attn, type_k=type_k, type_v=type_v, n_kv_swa=swa_cells,
                n_rs_seq=n_rs_seq,
            )
            sizes.append(reserve_skipping(arch, params)[0])
    return max(sizes)


@contextmanager
def _without_cycle_collection():
    """A replay makes thousands of small objects that reference counting frees; Python's cycle collector
    would walk them again and again while they live (a tenth of a replay's time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@lru_cache(maxsize=1024)
def drafting_compute_bytes(arch: Architecture, cells: int, n_ubatch: int, n_stream: int, flash_attn: bool) -> int:
    """The drafting context's compute buffer, as llama-server creates it for `--spec-type draft-mtp`: the main
    context's cells and batch, an f16 cache of the multi-token-prediction layers, one output per sequence."""
    sizes = []
    for graph in reserved_graphs(cells * n_stream, n_ubatch, n_stream, n_outputs_max=n_stream):
        params = GraphParams(
            n_tokens=graph.n_tokens, n_seqs=graph.n_seqs, n_outputs=graph.n_outputs, n_kv=cells, n_stream=n_stream,
            flash_attn=flash_attn,
        )
        sizes.append(reserve(arch, params, drafting=True).size)
    return max(sizes)


# --- skipping repeated layers --------------------------------------------------------------------------
# A 64-layer model's graph has some 2000 nodes; recommend asks for a few hundred buffers a run. Layers with
# the same facts build the same nodes, and after a layer or two the allocator reaches a steady state: each
# such layer then allocates and frees the same bytes at the same places, or two such layers alternate (the
# residual and the attention output trading places). `reserve_skipping` builds the first layers, two
# periods of each run of repeating ones (a hybrid model has several runs of one kind between the others) and
# the layers between and after them, and proves each skip exact on that graph: the periods have the same
# structure, and the allocator's state after the second is the one after the first (any number of periods
# skipped repeats them step for step). Where the state alternates instead, it builds three periods: the
# state after the third is the one after the first (an even number of periods skipped repeats them), or
# after the second. Otherwise it replays every layer.
MAX_PERIOD = 8


def _layer_facts(arch: Architecture, il: int) -> tuple:
    """What a builder may read of layer `il`: its kind, its widths, any per-layer fact the Architecture has."""
    per_layer = tuple(
        value[il] for value in vars(arch).values() if isinstance(value, tuple) and len(value) == arch.block_count
    )
    return (arch.layers[il], il < arch.leading_dense_block_count, arch.key_width(il), arch.value_width(il), per_layer)


@lru_cache(maxsize=256)
def skip_plan(arch: Architecture, n_layer: int, built: int = 3) -> tuple[tuple[int, int, int, int], ...] | None:
    """The runs of layers to skip, each as its first layer, its period, the layers skipped after its `built`
    periods (2 or 3) and `built`; None when nothing repeats enough.

    Runs of layers whose facts repeat with one period, from layer 2 on and before the last layer (a layer's
    nodes begin with the previous layer's feed-forward tail, which ggml adds when the next attention
    expands, so layer 1's nodes still hold layer 0's, which reads the embeddings; the last layer picks the
    output rows). Of each run, `built` periods are built and of the rest any number skipped after two, an
    even number after three; the period that skips the most layers is taken.
    """
    facts = [_layer_facts(arch, il) for il in range(n_layer)]
    best: tuple[int, int, list[tuple[int, int]]] | None = None  # (layers skipped, period, [(start, skipped)])
    for period in range(1, MAX_PERIOD + 1):
        runs, start = [], 2
        while start + period < n_layer - 1:
            end = start + period
            while end < n_layer - 1 and facts[end] == facts[end - period]:
                end += 1
            # the last `period` layers stay built, so that whatever one kind of layer uses (its mask) is
            # last used there, as in the whole graph
            step = period if built == 2 else 2 * period
            skipped = min(end - start - built * period, n_layer - start - (built + 1) * period) // step * step
            if skipped > 0:
                runs.append((start, skipped))
                start += built * period + skipped
            else:
                start = max(start + 1, end - period)
        total = sum(skipped for _, skipped in runs)
        if total > 0 and (best is None or total > best[0]):
            best = (total, period, runs)
    if best is None:
        return None
    _, period, runs = best
    return tuple((start, period, skipped, built) for start, skipped in runs)


@lru_cache(maxsize=256)
def _unproven_runs(arch: Architecture, n_layer: int) -> set[tuple[int, int, int, int]]:
    """The runs of `skip_plan` whose skip a replay of this model could not prove (filled as replays find them)."""
    return set()


def _built_layers(n_layer: int, runs: tuple[tuple[int, int, int, int], ...]) -> tuple[int, ...]:
    skipped = {
        il for start, period, count, built in runs for il in range(start + built * period, start + built * period + count)
    }
    return tuple(il for il in range(n_layer) if il not in skipped)


class _Positions:
    """Tensors named so that two layers' nodes compare: a node by its distance from a layer's start, what
    exists before the layers (inputs and the nodes built on them) by identity, an external tensor by shape."""

    def __init__(self, g: GraphContext) -> None:
        self.loop_seq = g.loop_seq
        self.index = {node: i for i, node in enumerate(g.gf.nodes)}

    def ref(self, t: Tensor | None, base: int):
        if t is None:
            return None
        if t.external:
            return (t.type, t.ne, t.nb)
        if t.seq < self.loop_seq:
            return id(t)
        if t in self.index:
            return self.index[t] - base
        raise LookupError  # an input a layer makes for itself: a skipped layer would allocate one too

    def node(self, t: Tensor, base: int) -> tuple:
        return (t.op, t.type, t.ne, t.nb, t.flags, t.view_offs, self.ref(t.view_src, base),
                tuple(self.ref(s, base) for s in t.src))

    def state(self, state: tuple, base: int) -> tuple:
        """An allocator state (alloc.Reservation.states) relative to node `base`."""
        offsets, sizes, live = state
        # what exists before the layers is used by every layer: its pending uses only count down
        return offsets, sizes, sorted(
            ((offset, self.ref(t, base), children, views) if t.seq >= self.loop_seq else (offset, self.ref(t, base))
             for offset, t, children, views in live),
            key=lambda entry: entry[0],
        )


def _proven(g: GraphContext, runs: tuple[tuple[int, int, int, int], ...]) -> tuple[alloc.Reservation | None, list[bool]]:
    """The graph's reservation, and for each run whether its skip is proven: its periods are the same ops on the
    same shapes and sources, and the state after the last is the one after the one before (or, of three
    periods, after the first)."""
    positions = _Positions(g)
    nodes, built = g.gf.nodes, g.layer_ids
    bounds = [
        tuple(g.layer_starts[built.index(start) + k * period] for k in range(count + 1)) for start, period, _, count in runs
    ]
    same = []
    for run_bounds in bounds:
        periods = list(zip(run_bounds, run_bounds[1:]))
        try:
            shapes = [[positions.node(nodes[i], start) for i in range(start, end)] for start, end in periods]
        except LookupError:
            shapes = [None, ()]
        same.append(len({end - start for start, end in periods}) == 1 and all(shape == shapes[0] for shape in shapes))
    if not any(same):
        return None, same
    replay = alloc.reserve(g.gf, snapshots=tuple(b for run_bounds in bounds for b in run_bounds[1:]))
    proven = []
    for run_bounds, shaped in zip(bounds, same):
        try:
            states = [positions.state(replay.states[b], b) for b in run_bounds[1:]] if shaped else None
        except LookupError:
            states = None
        proven.append(states is not None and states[-1] in (states[-2], states[0]))
    return replay, proven


def reserve_skipping(arch: Architecture, params: GraphParams) -> tuple[int, int]:
    """The buffer `params`' graph needs, and how many layers were built to know it.

    Where some runs' skips are proven and others not, the graph is built again with only the proven ones
    skipped, and proven again (a skip's proof holds for the graph it was made on). A run not proven is not
    tried again for the model's other graphs, which saves them the first build. Two periods are tried first,
    then three (for a state that alternates)."""
    n_layer = len(GraphContext(arch, params).layer_ids)
    unproven = _unproven_runs(arch, n_layer)
    for built in (2, 3):
        runs = tuple(run for run in skip_plan(arch, n_layer, built) or () if run not in unproven)
        while runs:
            g = GraphContext(arch, params)
            g.layer_ids = _built_layers(n_layer, runs)
            _build(g)
            replay, proven = _proven(g, runs)
            if all(proven):
                return replay.size, len(g.layer_ids)
            unproven.update(run for run, ok in zip(runs, proven) if not ok)
            runs = tuple(run for run, ok in zip(runs, proven) if ok)
    g = build_graph(arch, params)
    return alloc.reserve(g.gf).size, len(g.layer_ids)

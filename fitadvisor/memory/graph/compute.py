"""llama.cpp's compute buffer, replayed: the graphs llama_context::sched_reserve reserves, through ggml's allocator.

sched_reserve (src/llama-context.cpp, v0.5.0) reserves the prompt-processing graph (n_ubatch tokens,
capped by the context, one output per token), the token-generation graph (one token per sequence), and
the prompt graph again; ggml_gallocr keeps the largest buffer any of them needed. With only the CPU
backend ggml_backend_sched adds no copies, so the graph the allocator walks is the one the model builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from fitadvisor.memory.graph import alloc
from fitadvisor.memory.graph.llm import GraphContext, GraphParams
from fitadvisor.memory.graph.models import builder, drafting_builder
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
    n_tokens = -(-n_tokens // n_seqs) * n_seqs
    n_outputs = n_tokens if n_outputs_max is None else min(n_tokens, n_outputs_max)
    return Reserved(n_tokens, n_seqs, n_outputs), Reserved(n_seqs, n_seqs, n_seqs)


def has_builder(arch: Architecture) -> bool:
    return builder(arch) is not None


def has_drafting_builder(arch: Architecture) -> bool:
    return drafting_builder(arch.name) is not None


def build_graph(arch: Architecture, params: GraphParams, drafting: bool = False) -> GraphContext:
    """The main context's graph, or with `drafting` the drafting (MTP) context's."""
    g = GraphContext(arch, params)
    build = drafting_builder(arch.name) if drafting else builder(arch)
    if build is None:
        raise ValueError(f"no {'drafting ' if drafting else ''}graph builder for architecture {arch.name!r}")
    build(g)
    g.set_outputs()
    return g


def reserve(arch: Architecture, params: GraphParams, record: bool = False, drafting: bool = False) -> alloc.Reservation:
    return alloc.reserve(build_graph(arch, params, drafting).gf, record)


@lru_cache(maxsize=4096)  # recommend asks for the same model and context again and again
def compute_buffer_bytes(
    arch: Architecture, cells: int, swa_cells: int, n_ubatch: int, n_stream: int, flash_attn: bool,
    type_k: str = "f16", type_v: str = "f16", n_rs_seq: int = 0,
) -> int:
    """The CPU compute buffer llama.cpp reserves: `cells` per KV stream, one stream per slot; `n_rs_seq`
    recurrent-state snapshots per sequence when drafting."""
    sizes = []
    for graph in reserved_graphs(cells * n_stream, n_ubatch, n_stream):
        params = GraphParams(
            n_tokens=graph.n_tokens, n_seqs=graph.n_seqs, n_outputs=graph.n_outputs, n_kv=cells, n_stream=n_stream,
            flash_attn=flash_attn, type_k=type_k, type_v=type_v, n_kv_swa=swa_cells, n_rs_seq=n_rs_seq,
        )
        sizes.append(reserve(arch, params).size)
    return max(sizes)


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

"""The compute-buffer replay against llama.cpp's own graph allocator, on traces recorded from real runs.

Each file in tests/data/alloc-traces/ (written by bench/engine/record_trace.py from llama.cpp v0.5.0 with
ggml-alloc.c's trace switched on) holds a synthetic model's Architecture, the context llama.cpp created,
and every allocation and free ggml_gallocr made while reserving each graph. The replay must make the
same steps, tensor names included (so the graph has the same nodes in the same order), and reach the
same peak, which is the compute buffer llama.cpp logged.
"""

from __future__ import annotations

from pathlib import Path

import engine_bench
import pytest

from fitadvisor.memory.graph.alloc import ALIGNMENT, DynTallocr
from fitadvisor.memory.graph.compute import (
    compute_buffer_bytes,
    drafting_compute_bytes,
    has_builder,
    reserve,
    reserve_skipping,
    reserved_graphs,
    skip_plan,
)
from fitadvisor.memory.graph.llm import GraphParams
from fitadvisor.models import catalog

CASES = sorted((Path(__file__).parent / "data" / "alloc-traces").glob("*.trace.gz"))
MIB = 1024 * 1024

record_trace = engine_bench.load("record_trace")


def _params(case, graph) -> GraphParams:
    context = case.context
    return GraphParams(
        n_tokens=graph.n_tokens, n_seqs=graph.n_seqs, n_outputs=graph.n_outputs, n_kv=context["cells"],
        n_stream=context["streams"], flash_attn=context["flash_attn"], type_k=context["type_k"],
        type_v=context["type_v"], n_kv_swa=context["swa_cells"], n_rs_seq=context.get("rs_snapshots", 0),
    )


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name.removesuffix(".trace.gz"))
def test_the_replay_makes_the_allocators_steps(path):
    case = record_trace.read(path)
    arch = record_trace.architecture_of(case.architecture)
    for graph in case.graphs:
        replay = reserve(arch, _params(case, graph), record=True, drafting=case.context.get("drafting", False))
        steps = [(kind, size, offset, name) for kind, name, size, offset in replay.events]
        assert steps == graph.steps, f"graph of {graph.n_tokens} tokens"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name.removesuffix(".trace.gz"))
def test_the_compute_buffer_is_the_one_llama_cpp_logged(path):
    case = record_trace.read(path)
    arch = record_trace.architecture_of(case.architecture)
    context = case.context
    batch = max(g.n_tokens for g in case.graphs)
    drafting = context.get("drafting", False)
    if drafting:
        size = drafting_compute_bytes(arch, context["cells"], batch, context["streams"], context["flash_attn"])
    else:
        size = compute_buffer_bytes(
            arch, context["cells"], context["swa_cells"], batch, context["streams"], context["flash_attn"],
            context["type_k"], context["type_v"], context.get("rs_snapshots", 0), context.get("outputs_max", 0),
        )
    assert abs(size / MIB - case.logged_mib) < 0.0001  # llama.cpp logs 4 decimals
    recorded = {(g.n_tokens, g.n_seqs, g.n_outputs) for g in case.graphs}
    n_outputs_max = context["streams"] if drafting else context.get("outputs_max")
    reserved = reserved_graphs(context["cells"] * context["streams"], batch, context["streams"], n_outputs_max)
    assert {(r.n_tokens, r.n_seqs, r.n_outputs) for r in reserved} == recorded


def test_best_fit_takes_the_smallest_hole_and_the_last_of_equal_ones():
    talloc = DynTallocr()
    offsets = [talloc.alloc(size) for size in (64, 32, 96, 32, 64)]
    assert offsets == [0, 64, 96, 192, 224]
    talloc.free(0, 64)  # holes: [0, 64) and, after the next frees, [96, 192)
    talloc.free(96, 96)
    assert talloc.alloc(40) == 0  # 64 is the better fit than 96, and 40 is rounded up to 64
    talloc.free(0, 64)
    talloc.free(192, 32)  # [192, 224) merges with [96, 192)
    assert (talloc.offsets[:2], talloc.sizes[:2]) == ([0, 96], [64, 128])
    assert talloc.alloc(64) == 0
    assert talloc.max_size == 288 and talloc.max_size % ALIGNMENT == 0


def test_a_hole_too_small_for_a_tensor_leaves_it_on_top():
    talloc = DynTallocr()
    assert [talloc.alloc(s) for s in (32, 32)] == [0, 32]
    talloc.free(0, 32)
    assert talloc.alloc(64) == 64
    assert talloc.max_size == 128


def _catalog_architectures():
    seen = {}
    for model in catalog.load():
        arch = model.architecture
        if has_builder(arch):
            seen.setdefault((arch.name, arch.block_count, arch.layers), arch)
    return list(seen.values())


def test_every_catalog_architecture_has_its_graph_replayed():
    # recommend sizes only catalog models: none of them falls back to estimate.py's closed form
    assert [model.reference for model in catalog.load() if not has_builder(model.architecture)] == []


SKIP_CASES = [
    GraphParams(n_tokens=512, n_seqs=1, n_outputs=512, n_kv=65536, n_stream=1, flash_attn=True),
    GraphParams(n_tokens=1, n_seqs=1, n_outputs=1, n_kv=65536, n_stream=1, flash_attn=True),
    GraphParams(n_tokens=512, n_seqs=1, n_outputs=512, n_kv=20224, n_stream=1, flash_attn=True, type_k="q8_0", type_v="q8_0"),
    GraphParams(n_tokens=512, n_seqs=2, n_outputs=512, n_kv=4352, n_stream=2, flash_attn=False),
]


@pytest.mark.parametrize("arch", _catalog_architectures(), ids=lambda a: f"{a.name}-{a.block_count}")
def test_skipping_repeated_layers_gives_the_full_replays_buffer(arch):
    built = []
    for params in SKIP_CASES:
        size, layers = reserve_skipping(arch, params)
        assert size == reserve(arch, params).size
        built.append(layers)
    if skip_plan(arch, arch.block_count - arch.draft_layers) and (arch.name, arch.block_count) not in NOT_SKIPPED:
        assert min(built) < arch.block_count  # the skip is taken, not just its fallback


def test_runs_of_one_kind_between_the_others_are_each_skipped():
    # granite4's hybrid: an attention layer after every nine Mamba2 layers; gemma4 26B-A4B: five sliding-window
    # layers, then a global one, where the run before the last layer cannot be proven and is built instead
    for name, layers in (("granitehybrid", 40), ("gemma4", 30)):
        arch = next(a for a in _catalog_architectures() if (a.name, a.block_count) == (name, layers))
        assert len(skip_plan(arch, layers)) > 1
        size, built = reserve_skipping(arch, SKIP_CASES[0])
        assert size == reserve(arch, SKIP_CASES[0]).size and built <= layers - 6


# Repeating layers whose skip the replay cannot prove, so it builds every layer (exact, only slower).
NOT_SKIPPED = {
    ("gemma4", 42): "gemma4:e4b: every layer reads its own slice of the per-layer inputs",
    ("nemotron_h_moe", 88): "nemotron-3-super: its attention layers come 9 or 11 layers apart, and no shortened replay "
                            "proves the same buffer, so the whole graph is built (exact either way)",
}


def test_the_prompt_graph_rounds_its_tokens_to_the_slots_but_not_its_outputs():
    # llama_context::sched_reserve takes n_outputs = min(n_tokens, n_outputs_max) before graph_reserve
    # rounds n_tokens up to a multiple of n_seqs.
    prompt, generation = reserved_graphs(8704, 511, 2)
    assert (prompt.n_tokens, prompt.n_seqs, prompt.n_outputs) == (512, 2, 511)
    assert (generation.n_tokens, generation.n_outputs) == (2, 2)
    assert reserved_graphs(256, 512, 1)[0].n_tokens == 256  # a context smaller than the batch

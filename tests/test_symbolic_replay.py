"""The replay with the cells as a symbol: exact at every cell count of its span, against integer replays."""

from __future__ import annotations

import pytest

from fitadvisor.memory.graph import compute
from fitadvisor.memory.graph.compute import _reserved_bytes, compute_buffer_bytes, has_builder
from fitadvisor.memory.graph.symbolic import STEP, NotAffine, Span, evaluate
from fitadvisor.models import catalog


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


@pytest.mark.parametrize("a", [-7, -3, -1, 1, 2, 5, 32])
def test_a_span_keeps_exactly_the_steps_where_a_comparison_has_its_sign(a):
    for b in range(-60, 61, 7):
        for at in (1, 2, 5, 9, 17):
            span = Span(at)
            span.keep_sign(a, b)
            for steps in range(1, 40):
                assert (steps in span) == (_sign(a * steps + b) == _sign(a * at + b)), (a, b, at, steps)


def test_what_is_not_affine_in_the_cells_is_refused():
    cells = Span(4).symbol()
    assert cells.value == 4 * STEP and evaluate(cells * 3 + 5, 10) == 10 * STEP * 3 + 5
    assert evaluate(-(-(cells * 2 + 7) // 32) * 32, 4) == 4 * STEP * 2 + 32  # alignment: exact division
    assert cells - cells == 0 and type(cells - cells) is int  # a constant is a plain integer again
    for operation in (lambda: cells * cells, lambda: (cells + 1) // 3, lambda: hash(cells),
                      lambda: range(cells), lambda: cells / 2):
        with pytest.raises(NotAffine):
            operation()


def test_comparisons_narrow_the_span_to_where_they_hold():
    span = Span(256)  # 65536 cells
    cells = span.symbol()
    assert cells > 32768 and not cells >= 131072 and min(cells, 98304) == cells
    assert (span.lo, span.hi) == (129, 383)  # more than 32768 cells, fewer than 98304
    assert cells * 2 != 7  # never equal at any cell count: keeps the side it is on


ONE_PER_LAYOUT = ("mistral3", "gptoss", "qwen35", "qwen35moe", "gemma4", "nemotron_h_moe", "glm4moelite", "laguna")
SETTINGS = [  # swa_cells, n_ubatch, n_stream, flash_attn, type_k, type_v, n_rs_seq, n_outputs_max
    (1280, 512, 1, True, "f16", "f16", 0, 0),
    (2304, 2048, 1, False, "f16", "f16", 0, 1),
    (1536, 1024, 2, True, "q8_0", "q8_0", 0, 2),
    (2304, 2048, 1, True, "f16", "f16", 4, 5),
]


def _architectures():
    seen = {}
    for model in catalog.load():
        arch = model.architecture
        if arch.name in ONE_PER_LAYOUT and has_builder(arch):
            seen.setdefault(arch.name, arch)
    return [seen[name] for name in ONE_PER_LAYOUT if name in seen]


@pytest.mark.parametrize("arch", _architectures(), ids=lambda a: f"{a.name}-{a.block_count}")
def test_the_symbolic_buffer_is_the_integer_replays_across_its_span(arch):
    for settings in SETTINGS:
        span = Span(65536 // STEP)
        size = _reserved_bytes(arch, span.symbol(), *settings)
        assert span.lo <= span.at <= span.hi
        top = min(span.hi, 4 * span.at)
        for steps in sorted({span.lo, (span.lo + span.at) // 2, span.at, (span.at + top) // 2, top}):
            assert evaluate(size, steps) == _reserved_bytes(arch, steps * STEP, *settings), (settings, steps)


def test_recommend_reads_other_contexts_from_one_replay(monkeypatch):
    arch = next(a for a in _architectures() if a.name == "mistral3")
    settings = (0, 512, 1, True, "f16", "f16", 0, 0)
    replays = []
    monkeypatch.setattr(compute, "_reserved_bytes", lambda *args: replays.append(args) or _reserved_bytes(*args))
    compute_buffer_bytes.cache_clear()
    compute._symbolic_replays.cache_clear()
    first = compute_buffer_bytes(arch, 65536, *settings)
    span, size = compute._symbolic_replays(arch, settings)[0]
    assert len(replays) == 1 and first == evaluate(size, 65536 // STEP)
    inside = [steps * STEP for steps in (span.lo, span.hi) if steps * STEP != 65536 and steps < 1 << 20]
    assert inside, "a span wider than the one context"
    for cells in inside:
        assert compute_buffer_bytes(arch, cells, *settings) == _reserved_bytes(arch, cells, *settings)
    assert len(replays) == 1  # both read from the first replay
    assert compute_buffer_bytes(arch, 65536 + 100, *settings) == _reserved_bytes(arch, 65536 + 100, *settings)
    assert len(replays) == 2  # an unpadded cell count is replayed as it is

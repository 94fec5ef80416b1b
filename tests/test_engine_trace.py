"""bench/engine/trace.py reads llama.cpp's graph-allocator trace (recorded from a real run) correctly."""

from __future__ import annotations

import re
from pathlib import Path

import engine_bench

# The last reserve of granitehybrid (bench/engine/models.py) at 4096 cells, batch 512, flash attention on.
RECORDED = Path(__file__).parent / "data" / "llama-alloc-trace-granitehybrid.txt"


def test_the_peak_is_the_size_llama_cpp_logged_and_its_top_tensor_ends_there():
    text = RECORDED.read_text()
    logged_mib = float(re.search(r"CPU compute buffer size is ([0-9.]+) MiB", text).group(1))
    top, layout = engine_bench.load("trace").peak_layout(text)
    assert abs(top / 2**20 - logged_mib) < 1e-4
    assert max(p.offset + p.size for p in layout) == top
    offsets = [p.offset for p in layout]
    assert offsets == sorted(offsets)


def test_the_peak_is_the_moe_down_projection_on_top_of_its_hidden_states():
    _, layout = engine_bench.load("trace").peak_layout(RECORDED.read_text())
    swiglu, down = layout[-2:]
    assert (swiglu.name, down.name) == ("ffn_moe_swiglu-1", "ffn_moe_down-1")
    assert down.offset == swiglu.offset + swiglu.size
    assert down.size == 4 * 512 * 10 * 4096  # f32, batch x used experts x n_embd

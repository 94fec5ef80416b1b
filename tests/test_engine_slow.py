"""fitadvisor's estimate against the real llama.cpp (bench/engine): KV exact, compute within a few percent.

Slow (tens of seconds to minutes; the first run also installs node-llama-cpp with npm into
bench/engine/.work/): run with `pytest --run-slow -m slow`.
"""

from __future__ import annotations

import shutil

import engine_bench
import pytest

pytestmark = pytest.mark.slow

MODELS = [
    "llama", "qwen2", "qwen3", "qwen3moe", "mistral3", "gemma3", "gemma3-27b", "gpt-oss", "granitehybrid", "deepseek2-mla",
    "glm-4.7-flash", "phi3", "command-r", "qwen3next", "qwen35", "qwen35-mtp", "qwen35moe", "nemotron_h_moe", "gemma4", "laguna",
    "gemma4-e2b", "gemma4-26b", "granite", "deepseek2-legacy", "granitehybrid-h", "qwen2-bias",
    "nemotron_h_moe-latent",
]
# Every architecture in this set has its graph replayed through ggml's allocator (fitadvisor/memory/graph/),
# exact on the recorded traces; 3% is the bound the estimate promises (issue 15).
COMPUTE_TOLERANCE = 0.03


@pytest.fixture(scope="module")
def rows():
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("the engine benchmark needs Node.js 20+ and npm")
    bench = engine_bench.load("run")
    return bench.run(MODELS, quick=True, jobs=2)


@pytest.mark.parametrize("model", MODELS)
def test_llama_cpp_loads_every_configuration(rows, model):
    failed = [(row.config.label, row.real.get("error") or row.est.get("error")) for row in rows if row.model == model and not row.ok]
    assert not failed


@pytest.mark.parametrize("model", MODELS)
def test_kv_cache_is_exact(rows, model):
    errors = {row.config.label: (row.real_kv, row.est_kv) for row in rows if row.model == model and row.ok and row.error("kv")}
    assert not errors


# Beyond the tolerance in this set, and why (bench/engine/README.md, known gaps): strict, so a fix shows.
COMPUTE_GAPS: dict[str, str] = {}


@pytest.mark.parametrize(
    "model", [pytest.param(m, marks=pytest.mark.xfail(strict=True, reason=COMPUTE_GAPS[m])) if m in COMPUTE_GAPS else m for m in MODELS]
)
def test_compute_buffer_within_a_few_percent(rows, model):
    errors = {
        row.config.label: f"llama.cpp {row.real_compute:.2f} MiB, fitadvisor {row.est_compute:.2f} MiB"
        for row in rows
        if row.model == model and row.ok and abs(row.error("compute")) > COMPUTE_TOLERANCE
    }
    assert not errors

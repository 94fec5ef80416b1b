"""The estimate against real Ollama runs (tests/data/ollama-runs.toml): what llama.cpp logged under Ollama's own
llama-server, for the catalog's model at the settings Ollama started it with."""

from collections import Counter
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from fitadvisor.memory.estimate import Settings, estimate
from fitadvisor.memory.releases import Release
from fitadvisor.models import catalog, quantization
from fitadvisor.models.gguf import tensor_bytes
from fitadvisor.units import MIB

RUNS = tomllib.loads((Path(__file__).parent / "data" / "ollama-runs.toml").read_text())["run"]
LOGGED = 0.01  # MiB: llama.cpp logs two decimals
# The replay is of llama.cpp's reservation on one backend; a GPU run splits the graph, its inputs (the token rows,
# the masks) in a host buffer, and its GPU buffer comes out a few percent apart.
GPU_COMPUTE = 0.05


def _estimate(run: dict):
    settings = Settings(
        num_ctx=run["num_ctx"], release=Release.of(run["ollama_version"]), kv_cache_type=run["kv_cache"],
        flash_attention=run["flash_attention"], parallel=run["parallel"], batch=run["batch"],
        draft_num_predict=run.get("draft_num_predict"),
    )
    return estimate(catalog.find(run["model"]).architecture, settings, model=run["model"])


@pytest.mark.parametrize("run", RUNS, ids=lambda run: f"{run['model']}-{run['ollama_version']}")
def test_the_caches_are_the_ones_llama_cpp_allocated(run):
    logged = run["kv_mib"] + run["recurrent_mib"] + run.get("drafting_kv_mib", 0)
    assert abs(_estimate(run).kv_cache_bytes / MIB - logged) < LOGGED


@pytest.mark.parametrize("run", RUNS, ids=lambda run: f"{run['model']}-{run['ollama_version']}")
def test_the_compute_buffers_are_the_gpu_ones_llama_cpp_reserved(run):
    """Logits for one token per slot and drafted token (llama-server's n_outputs_max), not for the whole batch: with a
    248,320-token vocabulary that is 1.9 GB less at a batch of 2048."""
    logged = run["compute_mib"] + run.get("drafting_compute_mib", 0)
    assert abs(_estimate(run).compute_bytes / MIB / logged - 1) < GPU_COMPUTE


WEIGHED = [run for run in RUNS if "model_mib" in run]


@pytest.mark.parametrize("run", WEIGHED, ids=lambda run: run["model"])
def test_the_weights_are_the_buffers_llama_cpp_loaded(run):
    result = _estimate(run)
    assert abs(result.host_bytes / MIB - run["host_model_mib"]) < LOGGED
    on_gpu = result.weights_bytes - result.host_bytes
    assert abs(on_gpu / MIB / run["model_mib"] - 1) < 0.002  # from the published file's size: its header too
    logits = 2 * 4 * catalog.find(run["model"]).architecture.vocab_size  # one row in each context
    assert abs((result.other_bytes - logits) / MIB - run["projector_mib"]) < LOGGED


@pytest.mark.parametrize("run", WEIGHED, ids=lambda run: run["model"])
def test_the_quantizer_types_ollamas_file_as_it_is(run):
    model = catalog.find(run["model"])
    table = quantization.quantize(model.shape, model.quantization)
    assert Counter(tensor.type_name for tensor in table) == Counter(run["tensor_types"])
    assert abs(tensor_bytes(table) / MIB - (run["model_mib"] + run["host_model_mib"])) < LOGGED

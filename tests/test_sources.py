"""Resolution order: .gguf path, the running Ollama, Ollama's store, the catalog, the registry."""

import json
import time

import ggufs
import pytest

from fitadvisor.errors import FitAdvisorError
from fitadvisor.models import catalog
from fitadvisor.models.gguf import read_architecture
from fitadvisor.models.resolve import resolve_model
from fitadvisor.ollama.client import Client

NO_SERVER = "127.0.0.1:9"



def _hybrid():
    return ggufs.from_architecture(catalog.resolve("granite4:32b-a9b-h").architecture)


def test_a_catalog_name_with_no_server_answers_at_once():
    start = time.perf_counter()
    resolved = resolve_model("devstral-small-2", Client(NO_SERVER))
    assert time.perf_counter() - start < 1.0
    assert (resolved.source, resolved.name) == ("catalog", "devstral-small-2:24b")
    assert resolved.architecture == catalog.resolve("devstral-small-2").architecture


def test_an_installed_model_is_described_by_ollama_asking_verbose_when_arrays_are_blanked(tmp_path, fake_ollama):
    from fake_ollama import FakeModel

    model = _hybrid()
    fake_ollama.models["granite4:32b-a9b-h"] = FakeModel("granite4:32b-a9b-h", family="granitehybrid")
    fake_ollama.show = lambda _model, verbose: ggufs.show_response(model, verbose)
    resolved = resolve_model("granite4:32b-a9b-h", Client(fake_ollama.url))
    assert resolved.source == "ollama" and fake_ollama.url in resolved.note
    assert resolved.architecture == read_architecture(ggufs.write(model, tmp_path / "m.gguf"))
    shows = [r.body for r in fake_ollama.requests if r.path == "/api/show"]
    assert shows == [{"model": "granite4:32b-a9b-h"}, {"model": "granite4:32b-a9b-h", "verbose": True}]


def test_a_model_the_server_lacks_falls_through_to_the_store(tmp_path, fake_ollama, monkeypatch):
    model = ggufs.tiny_llama()
    ggufs.pull_into_store(tmp_path / "store", "someone/tiny:1b", model)
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "store"))
    resolved = resolve_model("someone/tiny:1b", Client(fake_ollama.url))
    assert resolved.source == "store" and resolved.name == "someone/tiny:1b"
    assert resolved.architecture == read_architecture(ggufs.write(model, tmp_path / "m.gguf"))


def test_the_store_is_more_exact_than_the_catalog(tmp_path, monkeypatch):
    ggufs.pull_into_store(tmp_path, "devstral-small-2:24b", ggufs.from_architecture(catalog.resolve("devstral-small-2").architecture))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path))
    assert resolve_model("devstral-small-2:24b", Client(NO_SERVER)).source == "store"


def test_any_published_model_comes_from_the_registry(tmp_path, registry):
    manifest = registry.publish("someone/coder:24b-q8_0", tmp_path, ggufs.from_architecture(catalog.resolve("qwen3:14b").architecture))
    resolved = resolve_model("someone/coder:24b-q8_0", Client(NO_SERVER))
    assert resolved.source == "registry" and resolved.download_bytes == sum(l["size"] for l in manifest["layers"]) + 485
    assert registry.url in resolved.note and "download" in resolved.note
    assert resolved.architecture == read_architecture(registry.blobs[manifest["layers"][0]["digest"]])


def test_an_unknown_name_says_what_the_registry_said_and_suggests_catalog_names(registry):
    with pytest.raises(FitAdvisorError) as error:
        resolve_model("devstral-smal-2", Client(NO_SERVER))
    assert "has no model devstral-smal-2:latest" in str(error.value) and "Did you mean" in str(error.value)


def test_an_unknown_name_offline_is_a_clear_error():
    with pytest.raises(FitAdvisorError, match="cannot reach the model registry .*not in fitadvisor's catalog either"):
        resolve_model("brand-new-model:7b", Client(NO_SERVER))


def test_estimate_command_reports_the_registry_as_source(tmp_path, registry):
    from test_cli import fitadvisor

    manifest = registry.publish("gemma3:12b-it-qat", tmp_path, ggufs.from_architecture(catalog.resolve("gemma3:27b").architecture))
    run = fitadvisor("estimate", "gemma3:12b-it-qat", "--ctx", "32k", "--json", "--ollama-version", "0.14.0")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    local = fitadvisor("estimate", str(registry.blobs[manifest["layers"][0]["digest"]]), "--ctx", "32k", "--json", "--ollama-version", "0.14.0")
    expected = json.loads(local.stdout)
    assert data["source"] == "registry" and expected["source"] == "gguf"
    for key in ("weights_bytes", "kv_cache_bytes", "compute_bytes", "other_bytes", "total_bytes", "num_ctx"):
        assert data[key] == expected[key]
    assert registry.url in data["source_detail"]
    readable = fitadvisor("estimate", "gemma3:12b-it-qat", "--ctx", "32k", "--ollama-version", "0.14.0")
    assert "architecture from " + registry.url in readable.stdout and "cached header)" in readable.stdout


def test_the_server_s_model_parameters_give_its_own_draft_num_predict(fake_ollama):
    """/api/show's parameters text ("%-30s %#v" lines) carries draft_num_predict; estimate drafts with it as asked to."""
    import json

    from click.testing import CliRunner
    from fake_ollama import FakeModel

    from fitadvisor.cli import cli

    model = ggufs.from_architecture(catalog.resolve("qwen3.5:27b").architecture)
    fake_ollama.version = "0.34.2"  # drafts with multi-token-prediction layers (v0.30+)
    fake_ollama.models["qwen3.5:27b"] = FakeModel("qwen3.5:27b", family="qwen35")
    parameters = f"{'stop':<30} \"<|im_end|>\"\n{'draft_num_predict':<30} 2"
    fake_ollama.show = lambda _model, verbose: {**ggufs.show_response(model, verbose), "parameters": parameters}
    assert resolve_model("qwen3.5:27b", Client(fake_ollama.url)).draft_num_predict == 2

    def run(*extra):
        return json.loads(CliRunner().invoke(cli, ["estimate", "qwen3.5:27b", "--ctx", "64k", "--host", fake_ollama.url, "--json", *extra]).output)

    own, asked = run(), run("--draft-num-predict", "2")
    assert own["source"] == "ollama" and own["drafting_cache_bytes"] > 0
    assert {k: v for k, v in own.items() if k != "notes"} == {k: v for k, v in asked.items() if k != "notes"}

"""Finding a pulled model's GGUF in Ollama's local store through its manifest."""

import dataclasses

import ggufs
import pytest

from fitadvisor.errors import FitAdvisorError
from fitadvisor.models import catalog
from fitadvisor.models.gguf import read_architecture
from fitadvisor.models.ollama_store import find

TEMPLATE = ("application/vnd.ollama.image.template", "{{ .Prompt }}")
PARAMS = ("application/vnd.ollama.image.params", '{"num_ctx": 65536}')


def test_a_pulled_model_is_read_from_its_blob(tmp_path):
    model = ggufs.from_architecture(catalog.resolve("qwen3-coder:30b").architecture)
    data = ggufs.pull_into_store(tmp_path, "qwen3-coder:30b", model, extra=[TEMPLATE, PARAMS])
    stored = find("qwen3-coder:30b", [tmp_path])
    assert stored.model_path.name == data["layers"][0]["digest"].replace(":", "-")
    assert stored.architecture() == read_architecture(stored.model_path)
    assert stored.manifest.download_bytes == sum(layer["size"] for layer in data["layers"]) + 485
    assert stored.manifest.sizes_by_kind().keys() == {"model", "template", "params"}


def test_a_projector_layer_adds_its_tensor_bytes_and_vision(tmp_path):
    model, projector = ggufs.tiny_llama(), ggufs.projector()
    ggufs.pull_into_store(tmp_path, "user/llava-ish:7b", model, projector)
    arch = find("user/llava-ish:7b", [tmp_path]).architecture()
    projector_bytes = sum(ggufs.nbytes(shape, kind) for _, shape, kind in projector.tensors)
    assert arch.projector_bytes == projector_bytes and arch.vision
    assert dataclasses.replace(arch, projector_bytes=0, vision=False) == read_architecture(find("user/llava-ish:7b", [tmp_path]).model_path)


def test_names_resolve_like_ollama(tmp_path):
    ggufs.pull_into_store(tmp_path, "devstral:latest", ggufs.tiny_llama())
    assert find("devstral", [tmp_path]) is not None
    assert find("Devstral:Latest", [tmp_path]) is not None
    assert find("registry.ollama.ai/library/devstral:latest", [tmp_path]) is not None
    assert find("devstral:24b", [tmp_path]) is None
    assert find("other/devstral", [tmp_path]) is None
    assert find("devstral", [tmp_path / "nowhere"]) is None


def test_ollama_models_env_is_the_store(tmp_path, monkeypatch):
    ggufs.pull_into_store(tmp_path, "tiny:1b", ggufs.tiny_llama())
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path))
    assert find("tiny:1b") is not None


def test_a_damaged_store_is_a_clear_error(tmp_path):
    ggufs.pull_into_store(tmp_path, "tiny:1b", ggufs.tiny_llama())
    stored = find("tiny:1b", [tmp_path])
    stored.model_path.unlink()
    with pytest.raises(FitAdvisorError, match="blob is missing: `ollama pull tiny:1b` again"):
        stored.architecture()
    (tmp_path / "manifests/registry.ollama.ai/library/tiny/1b").write_text('{"layers": [{"digest": "../../etc"}]}')
    with pytest.raises(FitAdvisorError, match="not an Ollama model manifest"):
        find("tiny:1b", [tmp_path])
    (tmp_path / "manifests/registry.ollama.ai/library/tiny/1b").write_text(
        '{"layers": [{"mediaType": "m", "digest": "sha256:../../etc/passwd", "size": 1}]}'
    )
    with pytest.raises(FitAdvisorError, match="malformed layer digest"):
        find("tiny:1b", [tmp_path])


@pytest.mark.parametrize("params, expected", [
    ('{"draft_num_predict": 4, "num_ctx": 65536}', 4),
    ('{"num_ctx": 65536}', None),
    ('{"draft_num_predict": 0}', None),  # 0: no drafting
    ('{"draft_num_predict": 65}', None),  # past any sensible setting
    ('{"draft_num_predict": "4"}', 4),
    ('{"draft_num_predict": 1e999}', None),
    ('{"draft_num_predict": true}', None),
    ("[4]", None),
    ("\x00not json", None),
])
def test_the_model_s_own_draft_num_predict_is_read_from_its_params_layer(tmp_path, params, expected):
    ggufs.pull_into_store(tmp_path, "tiny:1b", ggufs.tiny_llama(), extra=[("application/vnd.ollama.image.params", params)])
    assert find("tiny:1b", [tmp_path]).draft_num_predict() == expected


def test_a_missing_params_blob_is_no_parameter(tmp_path):
    ggufs.pull_into_store(tmp_path, "tiny:1b", ggufs.tiny_llama(), extra=[PARAMS])
    stored = find("tiny:1b", [tmp_path])
    (stored.root / "blobs" / stored.manifest.params.blob_name).unlink()
    assert stored.draft_num_predict() is None


def test_a_params_blob_that_is_a_fifo_is_refused_at_once(tmp_path):
    import os

    ggufs.pull_into_store(tmp_path, "tiny:1b", ggufs.tiny_llama(), extra=[PARAMS])
    stored = find("tiny:1b", [tmp_path])
    blob = stored.root / "blobs" / stored.manifest.params.blob_name
    blob.unlink()
    os.mkfifo(blob)
    assert stored.draft_num_predict() is None  # a blocking open would wait here forever

"""Any Ollama model from the registry: exact architecture from a few MB of range requests."""

import ggufs
import pytest

from fitadvisor.errors import FitAdvisorError
from fitadvisor.memory.estimate import Settings, estimate
from fitadvisor.memory.releases import Release
from fitadvisor.models import catalog
from fitadvisor.models.gguf import READ_AHEAD, read_architecture, read_file_header
from fitadvisor.models.registry import (
    NotInRegistry,
    Registry,
    RegistryError,
    RegistryUnreachable,
)

TEMPLATE = ("application/vnd.ollama.image.template", "{{ .Prompt }}")
PARAMS = ("application/vnd.ollama.image.params", '{"num_ctx": 65536}')
MODELS = {  # name in the stand-in -> the architecture it is built from
    "llama3.1:8b": "llama3.1:8b",
    "qwen3-coder:30b-a3b-q8_0": "qwen3-coder:30b",
    "gemma3:27b": "gemma3:27b",
    "someone/granite-hybrid:latest": "granite4:32b-a9b-h",
    "qwen3-coder-next:latest": "qwen3-coder-next",
}



def client(tmp_path, **options):
    return Registry(cache=tmp_path / "cache", backoff=(0.01,), **options)


@pytest.mark.parametrize("name, source", MODELS.items())
def test_registry_estimate_equals_the_local_file_and_reads_only_the_header(tmp_path, registry, name, source):
    model = ggufs.from_architecture(catalog.resolve(source).architecture)
    manifest = registry.publish(name, tmp_path, model, extra=[TEMPLATE, PARAMS])
    remote = client(tmp_path).fetch(name)
    blob = registry.blobs[manifest["layers"][0]["digest"]]
    assert blob.stat().st_size > 3 * 10**9  # multi-GB, sparse on disk
    local = read_architecture(blob)
    assert remote.architecture == local
    for release in (Release.of("0.20.4"), Release.of(None)):
        settings = Settings(num_ctx=65536, release=release)
        assert estimate(remote.architecture, settings).to_dict() == estimate(local, settings).to_dict()
    assert remote.download_bytes == sum(layer["size"] for layer in manifest["layers"]) + 485
    header = read_file_header(blob).size
    assert header <= registry.sent("/cdn/") < header + READ_AHEAD
    assert remote.bytes_transferred == registry.sent()
    assert all(s.range for s in registry.served if s.path.startswith("/cdn/"))


def test_a_second_query_is_answered_from_the_cache_offline(tmp_path, registry, monkeypatch):
    registry.publish("llama3.1:8b", tmp_path, ggufs.from_architecture(catalog.resolve("llama3.1:8b").architecture))
    first = client(tmp_path).fetch("llama3.1:8b")
    requests = len(registry.served)
    second = client(tmp_path).fetch("llama3.1:8b")
    assert len(registry.served) == requests and second.bytes_transferred == 0
    assert second.architecture == first.architecture
    registry.stop()  # offline, and the cached manifest is stale: the cache still answers
    monkeypatch.setattr("fitadvisor.models.registry.MANIFEST_TTL", 0)
    offline = client(tmp_path, retries=0).fetch("llama3.1:8b")
    assert offline.offline and offline.architecture == first.architecture


def test_a_projector_layer_is_read_and_counted(tmp_path, registry):
    registry.publish("llava-ish:7b", tmp_path, ggufs.tiny_llama(), ggufs.projector())
    remote = client(tmp_path).fetch("llava-ish:7b")
    assert remote.architecture.vision
    assert remote.architecture.projector_bytes == sum(ggufs.nbytes(s, k) for _, s, k in ggufs.projector().tensors)
    assert remote.manifest.sizes_by_kind().keys() == {"model", "projector"}


def test_transient_failures_are_retried(tmp_path, registry):
    registry.publish("tiny:1b", tmp_path, ggufs.tiny_llama())
    registry.failures = [503, "reset", 502]
    assert client(tmp_path).fetch("tiny:1b").architecture.block_count == 2


def test_persistent_failures_and_missing_models_are_clear(tmp_path, registry):
    registry.publish("tiny:1b", tmp_path, ggufs.tiny_llama())
    with pytest.raises(NotInRegistry, match="has no model tiny:7b"):
        client(tmp_path).fetch("tiny:7b")
    with pytest.raises(NotInRegistry, match="has no model nosuch:latest"):
        client(tmp_path).fetch("nosuch")
    registry.failures = [500] * 10
    with pytest.raises(RegistryUnreachable, match=r"HTTP 500, 3 tries"):
        client(tmp_path, retries=2).fetch("tiny:1b")


def test_an_unreachable_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("FITADVISOR_REGISTRY", "http://127.0.0.1:9")
    with pytest.raises(RegistryUnreachable, match=r"cannot reach the model registry http://127.0.0.1:9 \(ConnectError, 1 try\)"):
        client(tmp_path).fetch("tiny:1b")


def test_a_blob_that_is_not_gguf(tmp_path, registry):
    registry.publish("notgguf:1b", tmp_path, ggufs.tiny_llama())
    digest = registry.manifests["library/notgguf:1b"]["layers"][0]["digest"]
    registry.blobs[digest].write_bytes(b"\x89PNG" + b"\0" * 5000)
    with pytest.raises(FitAdvisorError, match=r"notgguf:1b's model blob sha256:\w+ is not a GGUF file"):
        client(tmp_path).fetch("notgguf:1b")


def test_a_server_that_ignores_range_is_never_downloaded_whole(tmp_path, registry):
    small = ggufs.from_architecture(catalog.resolve("qwen3:8b").architecture)
    big = ggufs.from_architecture(catalog.resolve("gemma3:27b").architecture, tokens=True)  # a 3.8 MB header
    registry.publish("qwen3:8b", tmp_path, small)
    registry.publish("gemma3:27b", tmp_path, big)
    registry.ignore_range = True
    reader = client(tmp_path)
    assert reader.fetch("qwen3:8b").architecture.block_count == 36  # the first chunk held the whole header
    assert reader.transferred < 2 * READ_AHEAD
    with pytest.raises(RegistryError, match="ignores range requests"):
        reader.fetch("gemma3:27b")
    assert reader.transferred < 3 * READ_AHEAD  # two 1 MiB reads, then it gave up


@pytest.mark.parametrize("params, damage, expected", [
    ('{"draft_num_predict": 3, "temperature": 0.6}', None, 3),
    ('{"temperature": 0.6}', None, None),
    ('{"draft_num_predict": 3}', '{"draft_num_predict": 9}', None),  # not the blob the manifest names
    ('{"draft_num_predict": 3}', "", None),
])
def test_the_model_s_own_draft_num_predict_comes_from_its_params_layer(tmp_path, registry, params, damage, expected):
    manifest = registry.publish("tiny:1b", tmp_path, ggufs.tiny_llama(), extra=[("application/vnd.ollama.image.params", params)])
    if damage is not None:
        registry.blobs[manifest["layers"][-1]["digest"]].write_text(damage)
    remote = client(tmp_path).fetch("tiny:1b")
    assert remote.draft_num_predict == expected
    assert remote.bytes_transferred == registry.sent()
    assert all(s.range for s in registry.served if s.path.startswith("/cdn/"))
    if expected is not None:  # kept by digest: the second query reads nothing
        requests = len(registry.served)
        assert client(tmp_path).fetch("tiny:1b").draft_num_predict == expected and len(registry.served) == requests
        kept = next((tmp_path / "cache" / "params").iterdir())
        kept.write_text('{"draft_num_predict": 60}')  # changed in the cache: no longer the blob it is named for
        assert client(tmp_path).fetch("tiny:1b").draft_num_predict == expected and len(registry.served) > requests

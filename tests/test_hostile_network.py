"""Misbehaving Ollama servers and registries: every case ends within its deadline, under a 3 GiB
address-space cap, with one clear line and a non-zero exit (or a correct answer)."""

import json
import socket
import time

import ggufs
import pytest
from hostile import (
    ARRAY,
    STRING,
    U64,
    RawServer,
    assert_clean_failure,
    chunked_forever,
    gguf,
    gguf_array,
    gguf_kv,
    gguf_string,
    gzip_bomb,
    gzip_route,
    json_route,
    llama_keys,
    run_capped,
    send_json,
    trickle,
)

from fitadvisor.models.gguf import MAX_HEADER, MAX_STRING, READ_AHEAD
from fitadvisor.ollama.client import Client, MalformedAnswer, OllamaError, OllamaUnreachable

VERSION = json_route({"version": "0.14.0"})
SHOW = {
    "parameters": "", "capabilities": ["completion", "tools"], "details": {"parent_model": ""},
    "model_info": {"general.architecture": "llama", "llama.context_length": 4096}, "tensors": [],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb(128 << 20)  # 128 KB that inflates to 128 MiB, four times the budget


def verify_against(server: RawServer, *extra: str, deadline: float = 30):
    return run_capped(["verify", "m", "--host", server.url, "--no-tools", *extra], deadline)


# -- bytes -----------------------------------------------------------------------------------------


def test_endless_chunked_version_is_cut_at_the_answer_budget():
    with RawServer({}) as server:
        server.routes["/api/version"] = chunked_forever(server, b"[" + b" " * 65535)
        code, _, err, seconds = verify_against(server)
    assert_clean_failure(code, err, "sent more than 64 MiB", "/api/version")
    assert seconds < 20


def test_gzip_bomb_is_cut_while_inflating(bomb):
    with RawServer({"/api/version": gzip_route(bomb)}) as server:
        code, _, err, _ = verify_against(server)
    assert_clean_failure(code, err, "sent more than 64 MiB")


def test_a_line_that_never_ends_in_a_stream():
    with RawServer({"/api/version": VERSION, "/api/show": json_route(SHOW)}) as server:
        server.routes["/api/generate"] = chunked_forever(server, b"x" * 65536, "application/x-ndjson")
        code, _, err, _ = verify_against(server)
    assert_clean_failure(code, err, "a line longer than 1 MiB", "/api/generate")


@pytest.mark.parametrize("body", [b"[" * 200_000 + b"]" * 200_000, b'{"version": "0.14.0", "x": Infinity}'])
def test_deep_or_non_finite_json_is_malformed(body):
    with RawServer({"/api/version": json_route(body)}) as server:
        with pytest.raises(OllamaError, match="malformed JSON for /api/version"):
            Client(server.url).version()


# -- time ------------------------------------------------------------------------------------------


def test_trickling_headers_meet_the_overall_deadline():
    with RawServer({}) as server:
        server.routes["/api/version"] = trickle(server)
        start = time.monotonic()
        with pytest.raises(OllamaUnreachable, match="did not answer /api/version within 1 s"):
            Client(server.url, timeout=1).version()
        assert time.monotonic() - start < 3


def test_verify_timeout_ends_an_endless_load_stream():
    with RawServer({"/api/version": VERSION, "/api/show": json_route(SHOW)}) as server:
        event = json.dumps({"model": "m", "response": "", "done": False}).encode() + b"\n"
        server.routes["/api/generate"] = chunked_forever(server, event, "application/x-ndjson")
        code, _, err, seconds = verify_against(server, "--timeout", "3")
    assert_clean_failure(code, err, "stopped answering /api/generate (time limit 3 s)")
    assert seconds < 10


def test_verify_timeout_ends_a_trickling_answer():
    with RawServer({"/api/version": VERSION, "/api/show": json_route(SHOW)}) as server:
        server.routes["/api/generate"] = trickle(server)
        code, _, err, seconds = verify_against(server, "--timeout", "2")
    assert_clean_failure(code, err, "/api/generate")
    assert seconds < 10


# -- shapes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("change, field", [
    ({"capabilities": 5}, "capabilities = 5"),
    ({"parameters": 7}, "parameters = 7"),
    ({"model_info": {"llama.block_count": {"a": 1}}}, "llama.block_count"),
    ({"tensors": [{"name": "x", "type": "F32", "shape": [-1]}]}, "malformed tensor table"),
    ({"details": []}, "details"),
])
def test_show_of_the_wrong_shape_names_the_field(change, field):
    with RawServer({"/api/show": json_route({**SHOW, **change})}) as server:
        with pytest.raises(MalformedAnswer, match=f"sent a malformed answer: /api/show for m.*{field}"):
            Client(server.url).show("m")


def test_show_with_null_parameters_means_none():
    with RawServer({"/api/show": json_route({**SHOW, "parameters": None})}) as server:
        assert Client(server.url).show("m").num_ctx is None


def test_show_of_the_wrong_shape_is_one_line_from_verify():
    with RawServer({"/api/version": VERSION, "/api/show": json_route({**SHOW, "capabilities": 1})}) as server:
        code, _, err, _ = verify_against(server)
    assert_clean_failure(code, err, "capabilities = 1")


def test_an_absurd_version_is_refused():
    with RawServer({"/api/version": json_route({"version": "9" * 5000 + ".0.0"})}) as server:
        code, _, err, _ = verify_against(server)
    assert_clean_failure(code, err, "/api/version has version")


def test_bad_ps_entries_are_left_out_with_their_reason():
    good = {"name": "a:latest", "size": 10, "size_vram": 10, "context_length": 65536}
    answer = {"models": [{**good, "context_length": "65536"}, {**good, "size": -5}, good, 7]}
    with RawServer({"/api/ps": json_route(answer)}) as server:
        loaded = Client(server.url).ps()
    assert [m.name for m in loaded] == ["a:latest"]
    assert len(loaded.rejected) == 3 and "context_length = '65536'" in loaded.rejected[0]


def test_one_bad_installed_model_does_not_stop_recommend_installed():
    tags = {"models": [{"name": ["not", "a", "name"]}, {"name": "devstral-small-2:latest", "size": 15_000_000_000}]}
    with RawServer({"/api/version": VERSION, "/api/tags": json_route(tags)}) as server:
        code, out, err, _ = run_capped(
            ["recommend", "--installed", "--memory", "48GB", "--chip", "Apple M4 Pro", "--json", "--host", server.url], 60
        )
    assert code == 0, err
    data = json.loads(out)
    assert data["recommendations"][0]["model"].startswith("devstral-small-2")
    assert any("/api/tags entry 1" in e["reason"] and "name" in e["reason"] for e in data["excluded"])


def test_a_catalog_model_is_still_estimated_when_the_server_describes_it_badly():
    with RawServer({"/api/version": VERSION, "/api/show": json_route({**SHOW, "capabilities": "tools"})}) as server:
        code, out, err, _ = run_capped(["estimate", "devstral-small-2", "--ctx", "64k", "--host", server.url], 30)
    assert code == 0, err
    assert "catalog" in out


# -- the registry ------------------------------------------------------------------------------------


def registry_env(server: RawServer) -> dict:
    return {"FITADVISOR_REGISTRY": server.url, "OLLAMA_HOST": f"127.0.0.1:{_free_port()}"}


def test_registry_redirect_loop_is_one_error():
    def loop(conn, method, path, body):
        conn.sendall(f"HTTP/1.1 307 X\r\nLocation: {path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())

    with RawServer({}, default=loop) as server:
        code, _, err, _ = run_capped(["estimate", "someone/model:tag"], 30, env=registry_env(server))
    assert_clean_failure(code, err, "redirected someone/model:tag more than 5 times")


def test_endless_manifest_is_cut(bomb):
    with RawServer({}) as server:
        server.default = chunked_forever(server, b" " * 65536)
        code, _, err, _ = run_capped(["estimate", "someone/model:tag"], 30, env=registry_env(server))
    assert_clean_failure(code, err, "manifest")


def test_gzip_bomb_manifest_is_cut(bomb):
    with RawServer({}, default=gzip_route(bomb)) as server:
        code, _, err, _ = run_capped(["estimate", "someone/model:tag"], 30, env=registry_env(server))
    assert_clean_failure(code, err, "manifest")


def test_registry_never_asks_past_the_header_budget(tmp_path, registry):
    """Headers that claim 2 GiB (one array, or strings that add up): refused without asking for those bytes."""
    huge = gguf(llama_keys() + [gguf_kv("x", ARRAY, gguf_array(U64, 1 << 28))])
    long = gguf(llama_keys() + [gguf_kv(f"s{i}", STRING, gguf_string(bytes(MAX_STRING))) for i in range(17)])
    publish_raw(registry, tmp_path, "someone/huge:latest", huge)
    publish_raw(registry, tmp_path, "someone/big:latest", long)
    code, _, err, _ = run_capped(["estimate", "someone/huge"], 30)
    assert_clean_failure(code, err, "an array of 268435456 elements")
    code, _, err, _ = run_capped(["estimate", "someone/big"], 30)
    assert_clean_failure(code, err, "a header larger than 64 MiB")
    ends = [int(s.range.split("-")[1]) for s in registry.served if s.range]
    assert ends and max(ends) < MAX_HEADER + READ_AHEAD
    assert registry.sent("/cdn/") <= MAX_HEADER + 2 * READ_AHEAD  # both models together


def publish_raw(registry, directory, name: str, header: bytes) -> None:
    """A model whose blob is `header` and then zeros, 3 GB in all (sparse on disk)."""
    blob = directory / name.replace("/", "-")
    blob.write_bytes(header)
    with open(blob, "r+b") as file:
        file.truncate(3 << 30)  # a 3 GB model, sparse on disk
    digest = ggufs.digest_of(name)
    registry.blobs[digest] = blob
    registry.manifests[name] = ggufs.manifest([(ggufs.MODEL_MEDIA, digest, 3 << 30)])


def test_a_damaged_cached_header_is_fetched_again(tmp_path, registry):
    from fitadvisor.models.registry import Registry

    registry.publish("someone/tiny:latest", tmp_path, ggufs.tiny_llama())
    first = Registry(cache=tmp_path / "cache").fetch("someone/tiny")
    (cached,) = (tmp_path / "cache" / "headers").iterdir()
    cached.write_bytes(cached.read_bytes()[:100])  # a full disk cut it short
    again = Registry(cache=tmp_path / "cache").fetch("someone/tiny")
    assert again.architecture == first.architecture and again.bytes_transferred > 0
    assert Registry(cache=tmp_path / "cache").fetch("someone/tiny").bytes_transferred == 0  # repaired


def test_a_corrupt_cached_manifest_is_fetched_again(tmp_path, registry):
    from fitadvisor.models.registry import Registry

    registry.publish("someone/tiny:latest", tmp_path, ggufs.tiny_llama())
    Registry(cache=tmp_path / "cache").fetch("someone/tiny")
    (cached,) = (tmp_path / "cache" / "manifests").rglob("*.json")
    cached.write_text("{not json")
    assert Registry(cache=tmp_path / "cache").fetch("someone/tiny").architecture.name == "llama"


def test_the_cache_is_keyed_by_registry(tmp_path, registry, monkeypatch):
    from fitadvisor.models.registry import Registry, RegistryUnreachable

    registry.publish("someone/tiny:latest", tmp_path, ggufs.tiny_llama())
    Registry(cache=tmp_path / "cache").fetch("someone/tiny")
    monkeypatch.setenv("FITADVISOR_REGISTRY", f"http://127.0.0.1:{_free_port()}")  # another registry, down
    with pytest.raises(RegistryUnreachable):
        Registry(cache=tmp_path / "cache", retries=0).fetch("someone/tiny")



def test_doctor_with_100000_installed_models():
    entry = {"model": "m", "modified_at": "2026-05-10T08:06:48-07:00", "size": 15_000_000_000, "digest": "a" * 64,
             "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                         "parameter_size": "24.0B", "quantization_level": "Q4_K_M"}}
    tags = {"models": [{**entry, "name": f"model-{i}:latest"} for i in range(100_000)] + [{"name": 5}] * 50}
    show = {**SHOW, "parameters": "num_ctx                        65536"}
    routes = {"/api/version": VERSION, "/api/tags": json_route(tags), "/api/show": json_route(show), "/api/ps": json_route({"models": []})}
    with RawServer(routes) as server:
        code, out, err, seconds = run_capped(["doctor", "--host", server.url], 60)
    assert "internal error" not in err and code in (0, 1), err
    assert "100000 models installed: the first 200 were checked" in out
    assert "/api/tags: 30 more entries of the wrong shape" in out
    assert seconds < 30


def test_an_endless_create_stream_meets_its_deadline(monkeypatch):
    from fitadvisor.ollama import client as ollama_client

    monkeypatch.setattr(ollama_client, "CREATE_TIMEOUT", 1.5)
    with RawServer({}) as server:
        event = json.dumps({"status": "writing manifest"}).encode() + b"\n"
        server.routes["/api/create"] = chunked_forever(server, event, "application/x-ndjson")
        start = time.monotonic()
        with pytest.raises(OllamaUnreachable, match=r"stopped answering /api/create \(time limit 1.5 s\)"):
            Client(server.url).create("m-64k", "m", {"num_ctx": 65536})
        assert time.monotonic() - start < 5

"""The Ollama client against the stand-in, and the stand-in against the official `ollama` client's types."""

import socket

import ollama
import pytest
from fake_ollama import FakeModel

from fitadvisor.ollama.client import (
    Client,
    ModelNotFound,
    OllamaError,
    OllamaTooOld,
    OllamaUnreachable,
    resolve_host,
)


@pytest.mark.parametrize(
    "value, url",
    [
        ("", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("0.0.0.0:8080", "http://127.0.0.1:8080"),
        (":8080", "http://127.0.0.1:8080"),
        ("example.com", "http://example.com:11434"),
        ("example.com:1234", "http://example.com:1234"),
        ("http://example.com", "http://example.com:80"),
        ("https://example.com", "https://example.com:443"),
        ("https://example.com:8443/ollama", "https://example.com:8443/ollama"),
        ("[::1]:11434", "http://[::1]:11434"),
    ],
)
def test_host_follows_ollama_rules(monkeypatch, value, url):
    monkeypatch.setenv("OLLAMA_HOST", value)
    assert resolve_host() == url


def test_explicit_host_wins_over_environment(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "example.com")
    assert resolve_host("127.0.0.1:9999") == "http://127.0.0.1:9999"


@pytest.mark.parametrize("value", ["ftp://x", "x; rm -rf /", "$(reboot)", "a b"])
def test_hostile_hosts_are_refused(value):
    with pytest.raises(Exception, match="invalid Ollama host"):
        resolve_host(value)


def test_every_endpoint_against_the_stand_in(fake_ollama):
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    fake_ollama.registry["qwen3-coder:30b"] = FakeModel("qwen3-coder:30b", family="qwen3moe")
    client = Client(fake_ollama.url)
    assert client.version() == "0.14.0"
    assert [m.name for m in client.tags()] == ["devstral-small-2:latest"]
    assert client.show("devstral-small-2").capabilities == ("completion", "tools")
    statuses = []
    client.create("devstral-small-2-64k", "devstral-small-2", {"num_ctx": 65536}, statuses.append)
    assert statuses[-1] == {"status": "success"}
    assert fake_ollama.requests_to("/api/create")[-1].body == {
        "model": "devstral-small-2-64k", "from": "devstral-small-2", "parameters": {"num_ctx": 65536}
    }
    progress = []
    client.pull("qwen3-coder:30b", progress.append)
    assert any("completed" in p for p in progress) and progress[-1]["status"] == "success"
    client.load("devstral-small-2-64k")
    (running,) = client.ps()
    assert (running.name, running.context_length, running.processor) == ("devstral-small-2-64k:latest", 65536, "100% GPU")
    client.delete("qwen3-coder:30b")
    assert "qwen3-coder:30b" not in [m.name for m in client.tags()]


def test_stand_in_shapes_pass_the_official_client_types(fake_ollama):
    fake_ollama.add(FakeModel("devstral-small-2:latest", num_ctx=65536))
    fake_ollama.registry["qwen3-coder:30b"] = FakeModel("qwen3-coder:30b", family="qwen3moe")
    official = ollama.Client(host=fake_ollama.url)
    assert isinstance(official.list(), ollama.ListResponse)
    shown = official.show("devstral-small-2")
    assert isinstance(shown, ollama.ShowResponse)
    assert shown.modelinfo["mistral3.context_length"] == 262144
    assert shown.capabilities == ["completion", "tools"]
    official.generate("devstral-small-2", "")
    ps = official.ps()
    assert isinstance(ps, ollama.ProcessResponse) and ps.models[0].context_length == 65536
    for progress in official.pull("qwen3-coder:30b", stream=True):
        assert isinstance(progress, ollama.ProgressResponse)
    created = official.create("copy", from_="devstral-small-2", parameters={"num_ctx": 8192})
    assert created.status == "success"


def test_show_blanks_long_arrays_unless_verbose(fake_ollama):
    fake_ollama.add(FakeModel("m:latest"))
    client = Client(fake_ollama.url)
    assert client.show("m").model_info["tokenizer.ggml.tokens"] == []
    assert len(client.show("m", verbose=True).model_info["tokenizer.ggml.tokens"]) == 131072


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_is_one_clear_error():
    with pytest.raises(OllamaUnreachable, match="cannot reach Ollama at http://127.0.0.1:.*ollama serve"):
        Client(f"127.0.0.1:{_free_port()}").version()


def test_hanging_server_times_out(fake_ollama):
    fake_ollama.mode, fake_ollama.hang_seconds = "hang", 2
    with pytest.raises(OllamaUnreachable, match="did not answer /api/version within 0.3 s"):
        Client(fake_ollama.url, timeout=0.3).version()


def test_malformed_json(fake_ollama):
    fake_ollama.mode = "malformed"
    with pytest.raises(OllamaError, match="malformed JSON"):
        Client(fake_ollama.url).tags()


def test_error_line_inside_a_200_stream(fake_ollama):
    fake_ollama.add(FakeModel("m:latest"))
    fake_ollama.mode = "stream-error"
    with pytest.raises(OllamaError, match="an error line inside a 200 stream"):
        Client(fake_ollama.url).create("m-64k", "m", {"num_ctx": 65536})


def test_missing_model_and_failed_pull(fake_ollama):
    client = Client(fake_ollama.url)
    with pytest.raises(ModelNotFound, match="ollama pull nope"):
        client.show("nope")
    with pytest.raises(OllamaError, match="file does not exist"):
        client.pull("nope")


def test_an_old_server_without_the_route():
    # A 404 with an empty body is what a server without the endpoint (or not Ollama at all) sends.
    with pytest.raises(OllamaError):
        Client("127.0.0.1:1")._check(404, "", None)


def test_quoted_host_is_trimmed_like_ollama(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "\"0.0.0.0:8080\" ")
    assert resolve_host() == "http://127.0.0.1:8080"


def test_load_and_messages(fake_ollama):
    fake_ollama.add(FakeModel("m:latest", context_length=32768))
    client = Client(fake_ollama.url)
    client.load("m", {"num_ctx": 65536})
    assert fake_ollama.requests_to("/api/generate")[-1].body == {"model": "m", "prompt": "", "options": {"num_ctx": 65536}}
    assert client.ps()[0].context_length == 32768  # capped at the trained context
    reply = client.messages({"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "read README.md"}],
                             "tools": [{"name": "read_file", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}]})
    assert reply["content"][0] == {"type": "tool_use", "id": "toolu_fake", "name": "read_file", "input": {"path": "README.md"}}
    assert fake_ollama.requests_to("/v1/messages")[-1].body["stream"] is False


def test_official_client_accepts_chat(fake_ollama):
    fake_ollama.add(FakeModel("m:latest"))
    response = ollama.Client(host=fake_ollama.url).chat("m", [{"role": "user", "content": "hi"}])
    assert isinstance(response, ollama.ChatResponse) and response.message.content == "ok"


def test_tags_carry_capabilities_from_v0_30(fake_ollama):
    fake_ollama.add(FakeModel("m:latest", tool_behaviour="unsupported"))
    assert Client(fake_ollama.url).tags()[0].capabilities is None
    fake_ollama.version = "0.30.0"
    (listed,) = ollama.Client(host=fake_ollama.url).list().models
    assert listed.model == "m:latest"
    assert Client(fake_ollama.url).tags()[0].capabilities == ("completion",)


def test_model_without_tools_is_refused_with_ollamas_message(fake_ollama):
    fake_ollama.add(FakeModel("deepseek-r1:8b", tool_behaviour="unsupported"))
    with pytest.raises(OllamaError, match=r"answered: registry.ollama.ai/library/deepseek-r1:8b does not support tools$"):
        Client(fake_ollama.url).messages({"model": "deepseek-r1:8b", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}],
                                          "tools": [{"name": "t", "input_schema": {"type": "object", "properties": {}}}]})


def test_too_old_server(fake_ollama):
    fake_ollama.version = "0.13.5"
    fake_ollama.add(FakeModel("m:latest"))
    client = Client(fake_ollama.url)
    with pytest.raises(OllamaTooOld, match="version 0.13.5; Claude Code needs Ollama 0.14.0 or later"):
        client.require((0, 14, 0), "Claude Code")
    with pytest.raises(OllamaTooOld, match="has no /v1/messages .*0.14.0 or later"):
        client.messages({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]})
    fake_ollama.version = "0.14.0"
    assert client.require((0, 14, 0), "Claude Code") == "0.14.0"


@pytest.mark.parametrize("status", [400, 500])
def test_error_status_with_error_body(fake_ollama, status):
    fake_ollama.errors["/api/ps"] = (status, "something broke\nbadly")
    with pytest.raises(OllamaError, match=r"answered: something broke badly$"):
        Client(fake_ollama.url).ps()


def test_legacy_create_body_is_refused_like_ollama(fake_ollama):
    import httpx

    response = httpx.post(fake_ollama.url + "/api/create", json={"model": "x", "modelfile": "FROM m"})
    assert response.status_code == 400 and response.json() == {"error": "neither 'from' or 'files' was specified"}


def test_slow_load_hits_the_load_time_limit(fake_ollama):
    fake_ollama.add(FakeModel("m:latest"))
    fake_ollama.load_seconds = 2
    with pytest.raises(OllamaUnreachable, match=r"stopped answering /api/generate \(time limit 0.3 s\)"):
        Client(fake_ollama.url, load_timeout=0.3).load("m")


def test_misbehaviour_can_target_one_path(fake_ollama):
    fake_ollama.mode, fake_ollama.mode_paths = "malformed", {"/api/ps"}
    client = Client(fake_ollama.url)
    assert client.version() == "0.14.0"
    with pytest.raises(OllamaError, match="malformed JSON for /api/ps"):
        client.ps()


def test_delete_missing_model(fake_ollama):
    with pytest.raises(ModelNotFound, match="model 'nope' not found"):
        Client(fake_ollama.url).delete("nope")

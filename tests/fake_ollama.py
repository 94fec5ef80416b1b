"""A stand-in Ollama on 127.0.0.1 that speaks the real API shapes (shared/reference/ollama.md §1-2).

Tests configure its version, its models and how it misbehaves, and read back every request it got.
Responses are checked against the official `ollama` client's types in test_ollama_client.py, so the
stand-in cannot drift from the real server's shapes unnoticed.

`/v1/messages` answers as Ollama's Anthropic layer does (anthropic/anthropic.go and middleware/anthropic.go
@ v0.33.0-rc2): one JSON message, or with `"stream": true` the SSE events `message_start`,
`content_block_start`/`_delta`/`_stop` per block (text in `text_delta` pieces, a tool call's whole input in
one `input_json_delta`), `message_delta` (stop_reason, usage) and `message_stop`; no `ping`.
`/v1/messages/count_tokens` has no route, so it gets the plain 404 the real server sends.

A model's answers can be scripted, for driving the real Claude Code CLI:

    model = fake.add(FakeModel("dev-64k:latest", script=[
        [tool_use("Agent", {"description": "look", "prompt": "list files", "subagent_type": "general-purpose",
                            "model": "fable"})],
        [text("Done.")],
    ]))

Each entry of `script` answers one `/v1/messages` request, in order: a list of content blocks (`text()`,
`tool_use()`), or a callable that gets the request body and returns one. `script` may also be a single
callable that answers every request. Once a list runs out, the model answers by its `tool_behaviour`.
`prompt_tokens` (a callable of the request) sets the prompt size its usage reports, as for testing compaction.
Every request is kept in `fake.requests` (`fake.messages_requests()` gives the `/v1/messages` bodies,
whose `model` field says which model each one named).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loopback import LoopbackServer

TOOL_BEHAVIOURS = ("ok", "no-tool-call", "narrated", "bad-arguments", "nested-arguments", "unknown-tool", "unsupported")
AFTER_RESULT = ("continue", "empty", "repeat")  # how a model answers once it gets the tool's result
MODES = ("ok", "hang", "malformed", "stream-error")

Reply = list[dict]  # the content blocks of one assistant turn
Script = list["Reply | Callable[[dict], Reply]"] | Callable[[dict], Reply]


def text(content: str) -> dict:
    """A text block of a scripted reply."""
    return {"type": "text", "text": content}


def tool_use(name: str, arguments: dict) -> dict:
    """A tool call of a scripted reply, with an id like Ollama's (server/routes.go toolCallId: `call_` + 8 characters)."""
    return {"type": "tool_use", "id": "call_" + secrets.token_hex(4), "name": name, "input": arguments}


@dataclass
class FakeModel:
    name: str  # "devstral-small-2:latest"
    family: str = "mistral3"
    context_length: int = 262144  # trained context, in model_info
    capabilities: list[str] = field(default_factory=lambda: ["completion", "tools"])
    num_ctx: int | None = None  # PARAMETER num_ctx of its Modelfile
    draft_num_predict: int | None = None  # PARAMETER draft_num_predict of its Modelfile
    size: int = 15_000_000_000  # bytes on disk
    loaded_size: int = 20_000_000_000  # what /api/ps reports once loaded
    loaded_vram: int | None = None  # None: all of it on the GPU
    ctx_limit: int | None = None  # the most context the server gives it (as when it lowers num_ctx to fit memory)
    model_info: dict = field(default_factory=dict)  # GGUF keys beyond the defaults
    tool_behaviour: str = "ok"  # how it answers a /v1/messages request with tools (TOOL_BEHAVIOURS)
    after_result: str = "continue"  # how it answers once it has the tool's result (AFTER_RESULT)
    script: Script | None = None  # scripted /v1/messages replies (see the module's docstring)
    prompt_tokens: Callable[[dict], int] | None = None  # the prompt_eval_count it reports for a request; None: chars / 4
    digest: str = "a" * 64

    def __post_init__(self) -> None:
        if self.tool_behaviour not in TOOL_BEHAVIOURS or self.after_result not in AFTER_RESULT:
            raise ValueError(f"unknown behaviour {self.tool_behaviour!r} / {self.after_result!r}")
        if self.tool_behaviour == "unsupported":  # Ollama refuses tools exactly when the capability is missing
            self.capabilities = [c for c in self.capabilities if c != "tools"]


@dataclass
class Request:
    method: str
    path: str
    body: dict | None


class FakeOllama(LoopbackServer):
    def __init__(self, version: str = "0.14.0", default_num_ctx: int = 4096):
        self.version = version
        self.default_num_ctx = default_num_ctx
        self.models: dict[str, FakeModel] = {}
        self.loaded: dict[str, int] = {}  # name -> num_ctx it was loaded with
        self.requests: list[Request] = []
        self.mode = "ok"  # MODES: how it misbehaves
        self.mode_paths: set[str] | None = None  # the paths `mode` applies to; None: all of them
        self.hang_seconds = 3.0
        self.load_seconds = 0.0  # how long loading a model takes (generate, chat, messages)
        # The rates the runner reports in an answer's metrics (eval_count / eval_duration, prompt_eval_*).
        self.decode_tokens_per_second = 40.0
        self.prompt_tokens_per_second = 800.0
        self.errors: dict[str, tuple[int, str]] = {}  # path -> (status, message) answered as Ollama's error body
        self.registry: dict[str, FakeModel] = {}  # what /api/pull can fetch
        self._script_lock = threading.Lock()
        self.serve(_handler(self), _QuietServer, poll_interval=0.05)

    def add(self, model: FakeModel) -> FakeModel:
        self.models[_full(model.name)] = model
        return model

    def find(self, name: str) -> FakeModel | None:
        return self.models.get(_full(name or ""))

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def messages_requests(self) -> list[dict]:
        """The body of every /v1/messages request, in the order they came."""
        return [r.body or {} for r in self.requests_to("/v1/messages")]

    def reply(self, model: FakeModel, body: dict) -> Reply:
        """The content blocks `model` answers `body` with: its script's next entry, else its tool behaviour."""
        script = model.script
        if callable(script):
            return script(body)
        with self._script_lock:
            entry = script.pop(0) if script else None
        if entry is None:
            return _tool_answer(model, body)
        return entry(body) if callable(entry) else entry

    # -- responses shaped like Ollama's (api/types.go) -----------------------------------------

    def details(self, model: FakeModel) -> dict:
        return {"parent_model": "", "format": "gguf", "family": model.family, "families": [model.family],
                "parameter_size": "24.0B", "quantization_level": "Q4_K_M"}

    def show(self, model: FakeModel, verbose: bool) -> dict:
        arch = model.family
        info = {"general.architecture": arch, "general.parameter_count": 24_000_000_000, "general.file_type": 15,
                f"{arch}.context_length": model.context_length, f"{arch}.block_count": 40,
                f"{arch}.embedding_length": 5120, f"{arch}.attention.head_count": 32,
                f"{arch}.attention.head_count_kv": 8, f"{arch}.attention.key_length": 128,
                f"{arch}.attention.value_length": 128, f"{arch}.feed_forward_length": 32768,
                "tokenizer.ggml.tokens": ["tok"] * 131072, **model.model_info}
        if not verbose:  # GetModelInfo blanks every array longer than 5 elements
            info = {k: ([] if isinstance(v, list) and len(v) > 5 else v) for k, v in info.items()}
        # one `fmt.Sprintf("%-30s %#v", key, value)` line per parameter (server/routes.go)
        lines = ([f"{'num_ctx':<30} {model.num_ctx}"] if model.num_ctx else []) + [f"{'stop':<30} \"[INST]\""]
        lines += [f"{'draft_num_predict':<30} {model.draft_num_predict}"] if model.draft_num_predict is not None else []
        parameters = "\n".join(lines)
        return {"license": "", "modelfile": f"FROM {model.name}\n", "parameters": parameters,
                "template": "{{ .Prompt }}", "details": self.details(model), "model_info": info,
                "tensors": [{"name": "token_embd.weight", "type": "Q4_K", "shape": [5120, 131072]}],
                "capabilities": model.capabilities, "modified_at": "2026-05-10T08:06:48.639712648-07:00"}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client that gave up (a time-limit test) closes the socket before a hanging answer: not an error."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _full(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _handler(fake: FakeOllama):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls

        def log_message(self, *args):  # keep test output clean
            pass

        def do_GET(self):
            self._dispatch("GET")

        def do_POST(self):
            self._dispatch("POST")

        def do_DELETE(self):
            self._dispatch("DELETE")

        def do_HEAD(self):
            self._dispatch("HEAD")

        def _dispatch(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            path = self.path.split("?")[0]
            fake.requests.append(Request(method, path, body))
            mode = fake.mode if fake.mode_paths is None or path in fake.mode_paths else "ok"
            self.active_mode = mode
            if mode == "hang":
                time.sleep(fake.hang_seconds)
            if mode == "malformed":
                return self._raw(200, b"{not json", "application/json")
            if path in fake.errors:
                return self._error(*fake.errors[path])
            route = ROUTES.get((method if method != "HEAD" else "GET", path))
            if path == "/v1/messages" and _version(fake.version) < (0, 14, 0):
                route = None  # Anthropic's API came in v0.14.0
            if route is None:
                return self._raw(404, b"404 page not found", "text/plain")
            route(self, body or {})

        # -- writers --
        def _raw(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _json(self, status: int, data) -> None:
            self._raw(status, json.dumps(data).encode(), "application/json; charset=utf-8")

        def _error(self, status: int, message: str) -> None:
            self._json(status, {"error": message})

        def _ndjson(self, lines: list[dict], body: dict) -> None:
            if self.active_mode == "stream-error":
                lines = lines[:-1] + [{"error": "an error line inside a 200 stream"}]
            if body.get("stream") is False:  # one object: the final status, or the error
                final = lines[-1]
                return self._json(500 if "error" in final else 200, final)
            self._raw(200, b"".join(json.dumps(line).encode() + b"\n" for line in lines), "application/x-ndjson")

        # -- endpoints --
        def version(self, _body):
            self._json(200, {"version": fake.version})

        def tags(self, _body):
            since_v030 = _version(fake.version) >= (0, 30, 0)  # capabilities and context_length in the list
            self._json(200, {"models": [
                {"name": m.name, "model": m.name, "modified_at": "2026-05-10T08:06:48.639712648-07:00", "size": m.size,
                 "digest": m.digest,
                 "details": {**fake.details(m), **({"context_length": m.context_length} if since_v030 else {})},
                 **({"capabilities": m.capabilities} if since_v030 else {})} for m in fake.models.values()]})

        def show(self, body):
            model = fake.find(body.get("model") or body.get("name"))
            if model is None:
                return self._error(404, f"model '{body.get('model')}' not found")
            self._json(200, fake.show(model, bool(body.get("verbose"))))

        def ps(self, _body):
            running = []
            for name, num_ctx in fake.loaded.items():
                m = fake.models[name]
                running.append({"name": m.name, "model": m.name, "size": m.loaded_size, "digest": m.digest,
                                "details": fake.details(m), "expires_at": "2026-08-21T14:38:31.83753-07:00",
                                "size_vram": m.loaded_size if m.loaded_vram is None else m.loaded_vram,
                                "context_length": num_ctx})
            self._json(200, {"models": running})

        def create(self, body):
            if "from" not in body and "files" not in body:
                return self._error(400, "neither 'from' or 'files' was specified")
            base = fake.find(body["from"])
            if base is None:
                return self._error(404, f"model '{body['from']}' not found")
            name = body.get("model")
            params = body.get("parameters") or {}
            fake.add(FakeModel(**{**base.__dict__, "name": _full(name), "num_ctx": params.get("num_ctx", base.num_ctx)}))
            self._ndjson([{"status": "reading model metadata"}, {"status": f"using existing layer sha256:{base.digest}"},
                          {"status": "writing manifest"}, {"status": "success"}], body)

        def pull(self, body):
            name = body.get("model")
            model = fake.registry.get(_full(name or ""))
            if model is None:
                return self._ndjson([{"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}], body)
            digest = "sha256:" + model.digest
            lines = [{"status": "pulling manifest"}]
            lines += [{"status": f"pulling {model.digest[:12]}", "digest": digest, "total": model.size, "completed": c}
                      for c in (0, model.size // 2, model.size)]
            lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}, {"status": "success"}]
            fake.add(model)
            self._ndjson(lines, body)

        def delete(self, body):
            name = _full(body.get("model") or "")
            if name not in fake.models:
                return self._error(404, f"model '{body.get('model')}' not found")
            del fake.models[name]
            self._raw(200, b"", "application/json")

        def _load(self, body) -> FakeModel | None:
            model = fake.find(body.get("model"))
            if model is None:
                self._error(404, f"model '{body.get('model')}' not found, try pulling it first")
                return None
            requested = (body.get("options") or {}).get("num_ctx") or model.num_ctx or fake.default_num_ctx
            ctx = min(requested, model.context_length)  # capped at the trained context
            ctx = min(ctx, model.ctx_limit or ctx)
            if fake.load_seconds and fake.loaded.get(_full(model.name)) != ctx:  # a new context means a reload
                time.sleep(fake.load_seconds)
            fake.loaded[_full(model.name)] = ctx
            return model

        def _metrics(self, body, prompt_chars: int) -> dict:
            """api/types.go Metrics (nanoseconds, v0.33.0-rc2): the prompt's tokens (characters / 4) and up to
            num_predict generated ones, at the stand-in's rates; a stream's final line or the whole answer."""
            prompt = max(1, prompt_chars // 4)
            generated = (body.get("options") or {}).get("num_predict") or 16
            prompt_ns = int(prompt / fake.prompt_tokens_per_second * 1e9)
            eval_ns = int(generated / fake.decode_tokens_per_second * 1e9)
            return {"done": True, "done_reason": "length", "total_duration": 500_000 + prompt_ns + eval_ns,
                    "load_duration": 500_000, "prompt_eval_count": prompt, "prompt_eval_duration": prompt_ns,
                    "eval_count": generated, "eval_duration": eval_ns}

        def generate(self, body):
            model = self._load(body)
            if not model:
                return
            head = {"model": model.name, "created_at": "2026-11-24T10:00:00Z"}
            if not body.get("prompt"):  # an empty prompt only loads the model: one final line
                return self._ndjson([{**head, "response": "", "done": True, "done_reason": "load"}], body)
            self._ndjson([{**head, "response": "ok", "done": False},
                          {**head, "response": "", **self._metrics(body, len(body["prompt"]))}], body)

        def chat(self, body):
            model = self._load(body)
            if model:
                chars = sum(len(str(message.get("content", ""))) for message in body.get("messages") or [])
                self._json(200, {"model": model.name, "created_at": "2026-11-24T10:00:00Z",
                                 "message": {"role": "assistant", "content": "ok"}, **self._metrics(body, chars)})

        def _anthropic_error(self, status: int, kind: str, message: str) -> None:
            self._json(status, {"type": "error", "error": {"type": kind, "message": message},
                                "request_id": "req_" + secrets.token_hex(12)})

        def messages(self, body):
            model = fake.find(body.get("model"))
            if model is None:
                return self._anthropic_error(404, "not_found_error", f"model '{body.get('model')}' not found")
            if body.get("tools") and "tools" not in model.capabilities:
                return self._anthropic_error(400, "invalid_request_error",
                                             f"registry.ollama.ai/library/{model.name} does not support tools")
            self._load(body)
            content = fake.reply(model, body)
            stop = "tool_use" if any(block["type"] == "tool_use" for block in content) else "end_turn"
            # EstimateInputTokens: the request's characters / 4, until the runner reports its prompt_eval_count
            prompt_tokens = model.prompt_tokens(body) if model.prompt_tokens else max(1, len(json.dumps(body)) // 4)
            usage = {"input_tokens": prompt_tokens,
                     "output_tokens": sum(len(json.dumps(block)) for block in content) // 4}
            message_id = "msg_" + secrets.token_hex(12)
            if body.get("stream"):
                return self._sse(_stream_events(message_id, body["model"], content, stop, usage))
            self._json(200, {"id": message_id, "type": "message", "role": "assistant", "model": body["model"],
                             "content": content, "stop_reason": stop, "usage": usage})

        def _sse(self, events: list[tuple[str, dict]]) -> None:
            """Server-sent events, each flushed as its own HTTP chunk, as gin writes them."""
            self.send_response(200)
            for header, value in (("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                                  ("Connection", "keep-alive"), ("Transfer-Encoding", "chunked")):
                self.send_header(header, value)
            self.end_headers()
            for name, data in events:
                event = f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

        def root(self, _body):
            self._raw(200, b"Ollama is running", "text/plain; charset=utf-8")

    ROUTES = {
        ("GET", "/api/version"): Handler.version, ("GET", "/api/tags"): Handler.tags, ("POST", "/api/show"): Handler.show,
        ("GET", "/api/ps"): Handler.ps, ("POST", "/api/create"): Handler.create, ("POST", "/api/pull"): Handler.pull,
        ("DELETE", "/api/delete"): Handler.delete, ("POST", "/api/generate"): Handler.generate, ("POST", "/api/chat"): Handler.chat,
        ("POST", "/v1/messages"): Handler.messages, ("GET", "/"): Handler.root,
    }
    return Handler


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("-")[0].split(".")[:3])


def _stream_events(message_id: str, model: str, content: Reply, stop: str, usage: dict) -> list[tuple[str, dict]]:
    """The SSE events Ollama's StreamConverter.Process sends for a reply (anthropic/anthropic.go @ v0.33.0-rc2)."""
    events = [("message_start", {"type": "message_start", "message": {
        "id": message_id, "type": "message", "role": "assistant", "model": model, "content": [],
        "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 0}}})]
    for index, block in enumerate(content):
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            words = block["text"].split(" ")  # the runner streams a few tokens per chunk
            deltas = [{"type": "text_delta", "text": w + (" " if i < len(words) - 1 else "")} for i, w in enumerate(words)]
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block["input"], separators=(",", ":"))}]
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": start}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop}, "usage": usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _tool_answer(model: FakeModel, body: dict) -> Reply:
    """How a model of each kind answers a request that needs a tool, or continues after a tool result.

    It calls the tool the task names (the first tool whose name appears in the last user text, else
    the first tool), filling every required parameter.
    """
    behaviour = model.tool_behaviour
    messages = body.get("messages") or []
    last = messages[-1]["content"] if messages else ""
    tools = body.get("tools") or [{"name": "none", "input_schema": {"properties": {}}}]
    text = last if isinstance(last, str) else " ".join(b.get("text", "") for b in last if isinstance(b, dict))
    tool = next((t for t in tools if t["name"] in text), tools[0])
    schema = tool.get("input_schema", {})
    good = {name: "README.md" for name in schema.get("required", schema.get("properties", {}))}
    use = {"type": "tool_use", "id": "toolu_fake", "name": tool["name"], "input": good}
    if isinstance(last, list) and any(block.get("type") == "tool_result" for block in last):
        if model.after_result == "empty":
            return []
        if model.after_result == "repeat":
            return [use]
        return [{"type": "text", "text": "The file says hello. Done."}]
    if behaviour == "ok":
        return [use]
    if behaviour == "no-tool-call":
        return [{"type": "text", "text": "I would read the file, but here is a guess instead."}]
    if behaviour == "narrated":
        return [{"type": "text", "text": json.dumps({"name": tool["name"], "arguments": good})}]
    if behaviour == "bad-arguments":
        return [{**use, "input": {"filename": "README.md", "mode": "fast"}}]  # none of the real names
    if behaviour == "nested-arguments":
        return [{**use, "input": {"tool_name": tool["name"], "parameters": good}}]
    if behaviour == "unknown-tool":
        return [{**use, "name": "open_file"}]
    raise ValueError(f"unknown tool behaviour {behaviour!r}")

"""A small client for the Ollama HTTP API: only what fitadvisor needs, with errors a user can act on.

It talks to one host: `--host`, else OLLAMA_HOST read the way Ollama's own CLI reads it, else
http://127.0.0.1:11434. Streaming endpoints answer NDJSON, and Ollama reports failures there as an
`{"error": ...}` line inside a 200 response, so every stream is checked line by line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit

from fitadvisor.errors import FitAdvisorError
from fitadvisor.units import processor_label

DEFAULT_PORT = 11434
TIMEOUT = 10.0  # seconds for quick calls; loading a model gets `load_timeout`


class OllamaUnreachable(FitAdvisorError):
    """Nothing answered at the host (refused, unknown host, timed out)."""


class OllamaError(FitAdvisorError):
    """Ollama answered with an error, or with something that is not its API."""


class ModelNotFound(OllamaError):
    """The server does not have the model."""


class OllamaTooOld(OllamaError):
    """The server predates an API fitadvisor needs (Claude Code's /v1/messages came in v0.14.0)."""


MESSAGES_SINCE = (0, 14, 0)


def resolve_host(host: str | None = None) -> str:
    """The base URL for `host`, or for OLLAMA_HOST, following Ollama's `envconfig.Host` rules.

    `host`, `host:port`, `:port`, `scheme://host[:port]`; no scheme means http; no port means 11434
    (80 or 443 when a scheme is given); an unspecified address (0.0.0.0, ::, empty) means this machine.
    """
    raw = host if host is not None else os.environ.get("OLLAMA_HOST", "")
    text = raw.strip().strip("\"'").strip()  # Ollama's envconfig trims quotes and spaces
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest, default_port = "http", text, DEFAULT_PORT
    elif scheme in ("http", "https"):
        default_port = 80 if scheme == "http" else 443
    else:
        raise FitAdvisorError(f"invalid Ollama host {text!r}: use host:port or http(s)://host:port")
    hostport, _, path = rest.partition("/")
    try:
        parts = urlsplit(f"//{hostport}")
        name, port = parts.hostname or "", parts.port
    except ValueError:
        raise FitAdvisorError(f"invalid Ollama host {text!r}: use host:port or http(s)://host:port") from None
    if any(c in hostport for c in " \"'`$;&|<>\\") or (hostport and not name and not hostport.startswith(":")):
        raise FitAdvisorError(f"invalid Ollama host {text!r}: use host:port or http(s)://host:port")
    try:
        unspecified = not name or ip_address(name).is_unspecified
    except ValueError:
        unspecified = False
    if unspecified:
        name = "127.0.0.1"
    if ":" in name:  # IPv6 literal
        name = f"[{name}]"
    base = f"{scheme}://{name}:{port or default_port}"
    return f"{base}/{path}".rstrip("/") if path else base


@dataclass(frozen=True)
class RunningModel:
    """One entry of `/api/ps`: what Ollama really loaded."""

    name: str
    size: int  # bytes, CPU + GPU
    size_vram: int  # bytes on the GPU
    context_length: int | None  # per slot, after capping (v0.10+)
    digest: str = ""

    @property
    def processor(self) -> str:
        """The PROCESSOR column of `ollama ps`."""
        return processor_label(self.size, self.size_vram)


class Client:
    def __init__(self, host: str | None = None, timeout: float = TIMEOUT, load_timeout: float = 600.0):
        self.host = resolve_host(host)
        self.timeout = timeout
        self.load_timeout = load_timeout
        self._http = None  # one httpx.Client, made on first use (building one costs an SSL context)

    def _session(self):
        import httpx

        if self._http is None:
            # Plain http needs no certificate store, and loading one costs ~50 ms of every command.
            self._http = httpx.Client(timeout=self.timeout, verify=self.host.startswith("https://"))
        return self._http

    # -- endpoints ---------------------------------------------------------------------------

    def version(self) -> str:
        version = self._json("GET", "/api/version").get("version")
        if not isinstance(version, str):
            raise OllamaError(f"Ollama at {self.host} sent no version: is this an Ollama server?")
        return version

    def tags(self) -> list[dict]:
        return self._list(self._json("GET", "/api/tags"), "models")

    def show(self, model: str, verbose: bool = False) -> dict:
        body = {"model": model, **({"verbose": True} if verbose else {})}
        return self._json("POST", "/api/show", body, model=model)

    def ps(self) -> list[RunningModel]:
        running = []
        for entry in self._list(self._json("GET", "/api/ps"), "models"):
            try:
                running.append(
                    RunningModel(
                        name=entry["name"], size=int(entry["size"]), size_vram=int(entry["size_vram"]),
                        context_length=entry.get("context_length"), digest=entry.get("digest", ""),
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise OllamaError(f"Ollama at {self.host} sent a malformed /api/ps entry") from None
        return running

    def create(self, name: str, from_: str, parameters: dict, on_status: Callable[[dict], None] | None = None) -> None:
        body = {"model": name, "from": from_, "parameters": parameters}
        self._consume(self._stream("POST", "/api/create", body, model=from_), on_status)

    def pull(self, model: str, on_progress: Callable[[dict], None] | None = None) -> None:
        self._consume(self._stream("POST", "/api/pull", {"model": model}, model=model), on_progress)

    def delete(self, model: str) -> None:
        self._send("DELETE", "/api/delete", {"model": model}, model=model)

    def require(self, minimum: tuple[int, int, int], feature: str) -> str:
        """The server's version, or OllamaTooOld when it predates `minimum` (needed for `feature`)."""
        from fitadvisor.memory.releases import format_version, parse_version

        version = self.version()
        if parse_version(version) < minimum:
            raise OllamaTooOld(
                f"Ollama at {self.host} is version {version}; {feature} needs Ollama {format_version(minimum)} or later: "
                "upgrade Ollama (https://ollama.com/download)"
            )
        return version

    def load(self, model: str, options: dict | None = None) -> None:
        """Load the model (a streamed /api/generate with no prompt), so a load failure reported
        inside the stream is caught too; allowed `load_timeout` seconds."""
        body = {"model": model, "prompt": "", **({"options": options} if options else {})}
        self._consume(self._stream("POST", "/api/generate", body, model=model), None)

    def messages(self, body: dict) -> dict:
        """Anthropic's Messages API as Ollama serves it (v0.14+), the way Claude Code calls it, unstreamed."""
        return self._json("POST", "/v1/messages", {**body, "stream": False}, model=body.get("model"), timeout=self.load_timeout)

    # -- transport ---------------------------------------------------------------------------

    def _send(self, method: str, path: str, body: dict | None = None, model: str | None = None, timeout: float | None = None):
        import httpx

        try:
            response = self._session().request(method, self.host + path, json=body, timeout=timeout or self.timeout)
        except httpx.TimeoutException:
            raise OllamaUnreachable(f"Ollama at {self.host} did not answer {path} within {timeout or self.timeout:g} s") from None
        except (httpx.TransportError, httpx.InvalidURL) as error:
            raise self._unreachable(error) from None
        self._check(response.status_code, response.text, model, path)
        return response

    def _json(self, method: str, path: str, body: dict | None = None, model: str | None = None, timeout: float | None = None) -> dict:
        response = self._send(method, path, body, model, timeout)
        try:
            data = response.json()
        except ValueError:
            raise OllamaError(f"Ollama at {self.host} sent malformed JSON for {path}") from None
        if not isinstance(data, dict):
            raise OllamaError(f"Ollama at {self.host} sent an unexpected answer for {path}")
        return data

    def _stream(self, method: str, path: str, body: dict, model: str | None = None) -> Iterator[dict]:
        import httpx

        try:
            with self._session().stream(method, self.host + path, json=body, timeout=httpx.Timeout(self.timeout, read=self.load_timeout)) as response:
                if response.status_code >= 400:
                    response.read()
                    self._check(response.status_code, response.text, model, path)
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError:
                        raise OllamaError(f"Ollama at {self.host} sent malformed JSON in the {path} stream") from None
                    if isinstance(event, dict) and event.get("error"):
                        raise self._error(str(event["error"]), model)
                    yield event
        except httpx.TimeoutException:
            raise OllamaUnreachable(
                f"Ollama at {self.host} stopped answering {path} (time limit {self.load_timeout:g} s)"
            ) from None
        except httpx.TransportError as error:
            raise self._unreachable(error) from None

    @staticmethod
    def _consume(events: Iterator[dict], callback: Callable[[dict], None] | None) -> None:
        for event in events:
            if callback:
                callback(event)

    def _check(self, status: int, text: str, model: str | None, path: str = "") -> None:
        if status < 400:
            return
        try:
            message = json.loads(text).get("error") or text
        except (ValueError, AttributeError):
            message = text.strip() or f"HTTP {status}"
        if isinstance(message, dict):  # Anthropic's shape on /v1/messages: {"type": "error", "error": {"message": ...}}
            message = message.get("message") or json.dumps(message)
        if status == 404 and (not text.strip() or "page not found" in text):  # gin's answer for a route it lacks
            needs = " (Claude Code's API needs Ollama 0.14.0 or later)" if path == "/v1/messages" else ""
            raise OllamaTooOld(f"Ollama at {self.host} has no {path}{needs}: upgrade Ollama, or check that {self.host} is Ollama")
        raise self._error(str(message), model, status)

    def _error(self, message: str, model: str | None, status: int | None = None) -> OllamaError:
        one_line = " ".join(message.split())
        if status == 404 or ("not found" in one_line and model):
            return ModelNotFound(f"Ollama at {self.host}: {one_line} (pull it with `ollama pull {model}`)" if model else one_line)
        return OllamaError(f"Ollama at {self.host} answered: {one_line}")

    def _unreachable(self, error: Exception) -> OllamaUnreachable:
        return OllamaUnreachable(
            f"cannot reach Ollama at {self.host} ({type(error).__name__}): start it with `ollama serve`, "
            "or point OLLAMA_HOST / --host at it"
        )

    @staticmethod
    def _list(data: dict, key: str) -> list[dict]:
        items = data.get(key)
        if not isinstance(items, list):
            raise OllamaError(f"Ollama sent an answer without {key!r}")
        return [item for item in items if isinstance(item, dict)]

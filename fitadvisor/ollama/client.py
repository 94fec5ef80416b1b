"""A small client for the Ollama HTTP API: only what fitadvisor needs, with errors a user can act on.

It talks to one host: `--host`, else OLLAMA_HOST read the way Ollama's own CLI reads it, else
http://127.0.0.1:11434. Streaming endpoints answer NDJSON, and Ollama reports failures there as an
`{"error": ...}` line inside a 200 response, so every stream is checked line by line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from ipaddress import ip_address
from urllib.parse import urlsplit

from fitadvisor import bounded
from fitadvisor.errors import FitAdvisorError
from fitadvisor.ollama import responses
from fitadvisor.ollama.errors import MalformedAnswer, ModelNotFound, OllamaError, OllamaTooOld, OllamaUnreachable
from fitadvisor.ollama.responses import Listing, RunningModel, ShowInfo, TagEntry, Timings

DEFAULT_PORT = 11434
TIMEOUT = 10.0  # seconds for quick calls; loading a model gets `load_timeout`
LOAD_TIMEOUT = 600.0  # seconds for loading a model and for each answer it generates
# Budgets for what a server sends: a verbose /api/show of a 262K-token vocabulary is under 10 MB, an
# /api/tags of 100,000 models ~40 MB; a stream event (a pull's progress, a load's final line) under 1 KB.
MAX_ANSWER = 64 * 1024 * 1024
MAX_ERROR = 64 * 1024
MAX_EVENT = 1024 * 1024
CREATE_TIMEOUT = 120.0  # seconds for /api/create: a derived model is a new manifest over blobs Ollama has


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


class Client:
    """One Ollama server. Each call has an overall deadline (`timeout`, or `load_timeout` for loading a
    model and for answers) and a byte budget, so no server can hold or flood fitadvisor."""

    def __init__(self, host: str | None = None, timeout: float = TIMEOUT, load_timeout: float = LOAD_TIMEOUT):
        self.host = resolve_host(host)
        self.timeout = timeout
        self.load_timeout = load_timeout
        self._http = None  # one httpx.Client, made on first use (building one costs an SSL context)
        self._listening = False

    def _refuse_early(self) -> None:
        """No server at the host ends the first call here, before httpx is imported: most runs of `recommend` and
        `estimate` find none, and importing httpx would be most of their start-up."""
        if self._listening:
            return
        import socket

        address = urlsplit(self.host)
        try:
            socket.create_connection((address.hostname, address.port), timeout=self.timeout).close()
        except ConnectionRefusedError as error:
            raise self._unreachable(error) from None
        except OSError:
            pass  # an unknown name, a timeout: httpx reports it with the request
        self._listening = True

    def _session(self):
        import httpx

        if self._http is None:
            # Plain http needs no certificate store, and loading one costs ~50 ms of every command.
            # No kept-alive connections: each request connects, so its deadline can shut its socket.
            self._http = httpx.Client(
                timeout=self.timeout, verify=self.host.startswith("https://"),
                limits=httpx.Limits(max_keepalive_connections=0), headers={"Accept-Encoding": bounded.ACCEPT_ENCODING},
            )
        return self._http

    # -- endpoints ---------------------------------------------------------------------------

    def version(self) -> str:
        return self._typed(responses.version, self._json("GET", "/api/version"), "/api/version")

    def tags(self) -> Listing[TagEntry]:
        """The installed models; entries of the wrong shape are in `.rejected`, with their reason."""
        return self._typed(responses.listing, self._json("GET", "/api/tags"), "models", TagEntry.parse, "/api/tags")

    def show(self, model: str, verbose: bool = False) -> ShowInfo:
        body = {"model": model, **({"verbose": True} if verbose else {})}
        return self._typed(ShowInfo.parse, self._json("POST", "/api/show", body, model=model), f"/api/show for {model}")

    def ps(self) -> Listing[RunningModel]:
        """The loaded models; entries of the wrong shape are in `.rejected`, with their reason."""
        return self._typed(responses.listing, self._json("GET", "/api/ps"), "models", RunningModel.parse, "/api/ps")

    def create(self, name: str, from_: str, parameters: dict, on_status: Callable[[dict], None] | None = None) -> None:
        body = {"model": name, "from": from_, "parameters": parameters}
        self._consume(self._stream("POST", "/api/create", body, from_, CREATE_TIMEOUT), on_status)

    def pull(self, model: str, on_progress: Callable[[dict], None] | None = None) -> None:
        """Download a model: no overall deadline (the progress shows it moving), but a stall ends it."""
        self._consume(self._stream("POST", "/api/pull", {"model": model}, model, None), on_progress)

    def delete(self, model: str) -> None:
        self._send("DELETE", "/api/delete", {"model": model}, model=model)

    def require(self, minimum: tuple[int, int, int], feature: str) -> str:
        """The server's version, or OllamaTooOld when it predates `minimum` (needed for `feature`)."""
        from fitadvisor.ollama.versions import format_version, parse_version

        version = self.version()
        if parse_version(version) < minimum:
            raise OllamaTooOld(
                f"Ollama at {self.host} is version {version}; {feature} needs Ollama {format_version(minimum)} or later: "
                "upgrade Ollama (https://ollama.com/download)"
            )
        return version

    def load(self, model: str, options: dict | None = None) -> None:
        """Load the model (a streamed /api/generate with no prompt), so a load failure reported
        inside the stream is caught too; allowed `load_timeout` seconds in all."""
        body = {"model": model, "prompt": "", **({"options": options} if options else {})}
        self._consume(self._stream("POST", "/api/generate", body, model, self.load_timeout), None)

    def timed_generate(self, model: str, prompt: str, options: dict | None, num_predict: int) -> Timings:
        """One unstreamed /api/generate with the loaded model's options (so nothing reloads), for its timings."""
        body = {"model": model, "prompt": prompt, "stream": False,
                "options": {**(options or {}), "num_predict": num_predict, "temperature": 0}}
        answer = self._json("POST", "/api/generate", body, model=model, timeout=self.load_timeout)
        return self._typed(Timings.parse, answer, f"/api/generate for {model}")

    def messages(self, body: dict) -> dict:
        """Anthropic's Messages API as Ollama serves it (v0.14+), the way Claude Code calls it, unstreamed."""
        return self._json("POST", "/v1/messages", {**body, "stream": False}, model=body.get("model"), timeout=self.load_timeout)

    # -- transport ---------------------------------------------------------------------------

    def _typed(self, parse, data, *args):
        try:
            return parse(data, *args)
        except MalformedAnswer as error:
            raise MalformedAnswer(f"Ollama at {self.host} sent a malformed answer: {error}") from None

    def _send(self, method: str, path: str, body: dict | None = None, model: str | None = None, timeout: float | None = None) -> bytes:
        """The body of a successful answer, read within `timeout` seconds in all and MAX_ANSWER bytes."""
        self._refuse_early()
        import httpx

        seconds = timeout or self.timeout
        with bounded.Watch(seconds) as watch:
            try:
                with self._session().stream(
                    method, self.host + path, json=body, timeout=seconds, extensions={"trace": watch.trace}
                ) as response:
                    if response.status_code >= 400:
                        self._check(response.status_code, self._error_text(response, watch), model, path)
                    return bounded.read_body(response, MAX_ANSWER, watch)
            except (httpx.TimeoutException, bounded.DeadlineExceeded):
                raise OllamaUnreachable(f"Ollama at {self.host} did not answer {path} within {seconds:g} s") from None
            except bounded.LimitExceeded as error:
                raise OllamaError(f"Ollama at {self.host} {error} for {path}") from None
            except (httpx.TransportError, httpx.InvalidURL) as error:
                if watch.expired:
                    raise OllamaUnreachable(f"Ollama at {self.host} did not answer {path} within {seconds:g} s") from None
                raise self._unreachable(error) from None

    def _json(self, method: str, path: str, body: dict | None = None, model: str | None = None, timeout: float | None = None) -> dict:
        return self._object(self._send(method, path, body, model, timeout), "answer", f"for {path}")

    def _object(self, raw: bytes | str, kind: str, where: str) -> dict:
        """One JSON object from the server, parsed within the budgets, or one clear error saying where it came."""
        try:
            data = bounded.loads(raw)
        except ValueError:
            raise OllamaError(f"Ollama at {self.host} sent malformed JSON {where}") from None
        if not isinstance(data, dict):
            raise OllamaError(f"Ollama at {self.host} sent an unexpected {kind} {where}")
        return data

    def _stream(self, method: str, path: str, body: dict, model: str | None, seconds: float | None) -> Iterator[dict]:
        """The events of an NDJSON stream, all within `seconds` (None: no overall limit, for a pull, which
        only must not stall for `load_timeout`)."""
        self._refuse_early()
        import httpx

        limit = f"time limit {seconds:g} s" if seconds is not None else f"no data for {self.load_timeout:g} s"
        with bounded.Watch(seconds) as watch:
            try:
                with self._session().stream(
                    method, self.host + path, json=body, timeout=httpx.Timeout(self.timeout, read=self.load_timeout),
                    extensions={"trace": watch.trace},
                ) as response:
                    if response.status_code >= 400:
                        self._check(response.status_code, self._error_text(response, watch), model, path)
                    for line in bounded.lines(response, MAX_EVENT, watch):
                        if not line.strip():
                            continue
                        event = self._object(line, "event", f"in the {path} stream")
                        if event.get("error"):
                            raise self._error(str(event["error"]), model)
                        yield event
            except (httpx.TimeoutException, bounded.DeadlineExceeded):
                raise OllamaUnreachable(f"Ollama at {self.host} stopped answering {path} ({limit})") from None
            except bounded.LimitExceeded as error:
                raise OllamaError(f"Ollama at {self.host} {error} in the {path} stream") from None
            except httpx.TransportError as error:
                if watch.expired:
                    raise OllamaUnreachable(f"Ollama at {self.host} stopped answering {path} ({limit})") from None
                raise self._unreachable(error) from None

    @staticmethod
    def _error_text(response, watch: bounded.Watch) -> str:
        try:
            return bounded.read_body(response, MAX_ERROR, watch).decode("utf-8", errors="replace")
        except bounded.LimitExceeded:
            return ""

    @staticmethod
    def _consume(events: Iterator[dict], callback: Callable[[dict], None] | None) -> None:
        for event in events:
            if callback:
                callback(event)

    def _check(self, status: int, text: str, model: str | None, path: str = "") -> None:
        if status < 400:
            return
        try:
            message = bounded.loads(text).get("error") or text
        except (ValueError, AttributeError):
            message = text.strip() or f"HTTP {status}"
        if isinstance(message, dict):  # Anthropic's shape on /v1/messages: {"type": "error", "error": {"message": ...}}
            message = message.get("message") or json.dumps(message)
        if status == 404 and (not text.strip() or "page not found" in text):  # gin's answer for a route it lacks
            needs = " (Claude Code's API needs Ollama 0.14.0 or later)" if path == "/v1/messages" else ""
            raise OllamaTooOld(f"Ollama at {self.host} has no {path}{needs}: upgrade Ollama, or check that {self.host} is Ollama")
        raise self._error(str(message), model, status)

    def _error(self, message: str, model: str | None, status: int | None = None) -> OllamaError:
        one_line = " ".join(message.split())[:500]
        if status == 404 or ("not found" in one_line and model):
            return ModelNotFound(f"Ollama at {self.host}: {one_line} (pull it with `ollama pull {model}`)" if model else one_line)
        return OllamaError(f"Ollama at {self.host} answered: {one_line}")

    def _unreachable(self, error: Exception) -> OllamaUnreachable:
        return OllamaUnreachable(
            f"cannot reach Ollama at {self.host} ({type(error).__name__}): start it with `ollama serve`, "
            "or point OLLAMA_HOST / --host at it"
        )

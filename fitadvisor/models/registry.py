"""Any model in an Ollama registry, sized exactly without pulling it.

The manifest (`/v2/<namespace>/<model>/manifests/<tag>`) lists the model's layers and their sizes;
the GGUF header at the start of the model layer's blob holds every architecture key and the tensor
table. The blob is read with `Range:` requests that grow only as far as the header reaches (1 MiB,
then whatever is still missing), so a 20 GB model costs a few MB. Headers are cached by digest and
manifests by name under the user's cache directory: a second query is instant and works offline.

Every read is bounded: a manifest is at most `MAX_MANIFEST` bytes (inflated), the blob is never
asked for more than the GGUF parser's header budget plus one read-ahead chunk whatever the header
claims, and each request has an overall deadline. A cached file that no longer parses is dropped and
fetched again; `clear_cache()` (`fitadvisor models --clear-cache`) empties the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from fitadvisor import bounded
from fitadvisor.errors import FitAdvisorError
from fitadvisor.files import cache_dir, remove_tree
from fitadvisor.models.architecture import Architecture
from fitadvisor.models.catalog import ModelRef
from fitadvisor.models.gguf import (
    READ_AHEAD,
    Header,
    architecture_from_kv,
    read_header,
    read_header_bytes,
    tensor_bytes,
)
from fitadvisor.models.manifest import MAX_MANIFEST, MAX_PARAMS, Layer, Manifest, params_draft_num_predict

DEFAULT_REGISTRY = "https://registry.ollama.ai"
MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TTL = 24 * 3600  # a cached manifest younger than this answers without asking the registry
TIMEOUT = 10.0  # seconds for one request, start to end
MAX_REDIRECTS = 5
RETRIES = 3
BACKOFF = (0.25, 0.5, 1.0)


class RegistryError(FitAdvisorError):
    """The registry answered, but not with the model."""


class RegistryUnreachable(RegistryError):
    """No answer from the registry (offline, DNS, timeouts, repeated server errors)."""


class NotInRegistry(RegistryError):
    """The registry has no such model or tag."""


def clear_cache(cache: Path | None = None) -> dict[str, int]:
    """Remove every cached manifest, header and params layer; returns how many files of each kind were removed."""
    cache = cache if cache is not None else cache_dir()
    return {part: remove_tree(cache / part) for part in ("manifests", "headers", "params")}


def registry_url(ref: ModelRef) -> str:
    """The registry serving `ref`: FITADVISOR_REGISTRY (tests, mirrors) stands in for registry.ollama.ai."""
    if ref.host == "registry.ollama.ai":
        return os.environ.get("FITADVISOR_REGISTRY", DEFAULT_REGISTRY).rstrip("/")
    return f"https://{ref.host}"


@dataclass(frozen=True)
class RemoteModel:
    ref: ModelRef
    registry: str
    manifest: Manifest
    header: Header
    projector_bytes: int
    bytes_transferred: int  # over the network for this query (0: all from the cache)
    offline: bool = False  # the registry was unreachable and the cache answered
    draft_num_predict: int | None = None  # the model's own PARAMETER draft_num_predict, from its params layer

    @property
    def architecture(self) -> Architecture:
        return architecture_from_kv(self.header.kv, self.header.tensors, self.projector_bytes)

    @property
    def download_bytes(self) -> int:
        return self.manifest.download_bytes


class Registry:
    def __init__(self, cache: Path | None = None, timeout: float = TIMEOUT, retries: int = RETRIES, backoff=BACKOFF):
        self.cache = cache if cache is not None else cache_dir()
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.transferred = 0
        self._client = None

    # -- public --------------------------------------------------------------------------------

    def fetch(self, name: str, refresh: bool = False) -> RemoteModel:
        """Manifest and GGUF headers of `name`, from the cache or the registry."""
        ref = ModelRef.parse(name)
        base = registry_url(ref)
        self.transferred = 0
        manifest, offline = self.manifest(ref, base, refresh)
        header = self.header(ref, base, manifest.model)
        projector = sum(tensor_bytes(self.header(ref, base, layer).tensors) for layer in manifest.projectors)
        draft = params_draft_num_predict(self.params(ref, base, manifest.params)) if manifest.params else None
        return RemoteModel(ref, base, manifest, header, projector, self.transferred, offline, draft)

    def manifest(self, ref: ModelRef, base: str, refresh: bool = False) -> tuple[Manifest, bool]:
        """The manifest, and whether it came from the cache because the registry was unreachable."""
        # Keyed by the registry too: a mirror's answers (FITADVISOR_REGISTRY) never stand in for another's.
        cached = self.cache / "manifests" / _registry_key(base) / ref.namespace / ref.model / f"{ref.tag}.json"
        label = f"the registry's manifest for {ref.short}"
        if not refresh and cached.is_file() and time.time() - cached.stat().st_mtime < MANIFEST_TTL:
            stored = _cached_manifest(cached, label)
            if stored is not None:
                return stored, False
        url = f"{base}/v2/{ref.namespace}/{ref.model}/manifests/{ref.tag}"
        try:
            response = self._get(url, {"Accept": MANIFEST_ACCEPT}, ref, limit=MAX_MANIFEST)
        except RegistryUnreachable:
            stored = _cached_manifest(cached, label) if cached.is_file() else None
            if stored is not None:
                return stored, True
            raise
        self.transferred += len(response.body)
        try:
            data = bounded.loads(response.body)
        except ValueError:
            raise RegistryError(f"{base} sent something other than a manifest for {ref.short}") from None
        manifest = Manifest.parse(data, label)
        _write_atomically(cached, json.dumps(data).encode())
        return manifest, False

    def header(self, ref: ModelRef, base: str, layer: Layer) -> Header:
        """A blob's GGUF header: from the cache by digest, else read with range requests."""
        cached = self.cache / "headers" / f"{layer.blob_name}.gguf"
        label = f"{ref.short}'s {layer.kind} blob {layer.digest[:19]}"
        if cached.is_file():
            try:
                with open(cached, "rb") as file:
                    return read_header(file, f"the cached header {cached}")
            except (OSError, FitAdvisorError):
                _drop(cached)  # damaged (a full disk, an older fitadvisor): read it again from the registry
        stream = RangeStream(self, f"{base}/v2/{ref.namespace}/{ref.model}/blobs/{layer.digest}", ref, layer.size)
        header, raw = read_header_bytes(stream, label)
        _write_atomically(cached, raw)
        return header

    def params(self, ref: ModelRef, base: str, layer: Layer) -> bytes:
        """A params layer's JSON: from the cache by digest, else from the registry (b"" when it cannot be had: the
        model's parameters are then unknown, not an error). A blob, sent or kept, that does not match its digest is not used."""
        cached = self.cache / "params" / layer.blob_name
        if cached.is_file() and cached.stat().st_size <= MAX_PARAMS:
            try:
                kept = cached.read_bytes()
            except OSError:
                kept = b""
            if _digest(kept) == layer.digest:
                return kept
            _drop(cached)
        if not 0 < layer.size <= MAX_PARAMS:
            return b""
        url = f"{base}/v2/{ref.namespace}/{ref.model}/blobs/{layer.digest}"
        try:
            reply = self._get(url, {"Range": f"bytes=0-{layer.size - 1}"}, ref, max_bytes=layer.size)
        except RegistryError:
            return b""
        self.transferred += len(reply.body)
        if _digest(reply.body) != layer.digest:
            return b""
        _write_atomically(cached, reply.body)
        return reply.body

    # -- transport -----------------------------------------------------------------------------

    def client(self):
        if self._client is None:
            import httpx

            # No kept-alive connections: each request connects, so its deadline can shut its socket.
            self._client = httpx.Client(
                follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=self.timeout,
                limits=httpx.Limits(max_keepalive_connections=0),
                headers={"User-Agent": "fitadvisor", "Accept-Encoding": bounded.ACCEPT_ENCODING},
            )
        return self._client

    def _get(self, url: str, headers: dict, ref: ModelRef, max_bytes: int | None = None, limit: int | None = None) -> _Reply:
        """GET with retries on transient failures, each try within `timeout` seconds in all.

        A `max_bytes` body (a range) is read no further than that; a body beyond `limit` is an error.
        """
        import httpx

        problem, tries = "", 0
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff[min(attempt - 1, len(self.backoff) - 1)])
            tries += 1
            with bounded.Watch(self.timeout) as watch:
                try:
                    with self.client().stream("GET", url, headers=headers, extensions={"trace": watch.trace}) as response:
                        if response.status_code >= 500 or response.status_code == 429:
                            problem = f"HTTP {response.status_code}"
                            continue
                        _check(response, ref)
                        body = bytearray()
                        for chunk in bounded.chunks(response, watch):
                            body += chunk
                            if max_bytes is not None and len(body) >= max_bytes:
                                break  # a server that ignored Range: stop reading the blob here
                            if limit is not None and len(body) > limit:
                                raise RegistryError(f"{registry_url(ref)} sent more than {limit} bytes for {ref.short}'s manifest")
                        return _Reply(response.status_code, response.headers.get("content-range", ""), bytes(body))
                except (httpx.TimeoutException, bounded.DeadlineExceeded):
                    problem = f"no answer within {self.timeout:g} s"
                except bounded.LimitExceeded as error:
                    raise RegistryError(f"{registry_url(ref)} {error}") from None
                except httpx.TooManyRedirects:
                    raise RegistryError(f"{registry_url(ref)} redirected {ref.short} more than {MAX_REDIRECTS} times") from None
                except httpx.ConnectError as error:  # refused, no route, no DNS: offline, not flaky
                    problem = type(error).__name__
                    break
                except (httpx.TransportError, httpx.InvalidURL) as error:
                    problem = f"no answer within {self.timeout:g} s" if watch.expired else type(error).__name__
        raise RegistryUnreachable(
            f"cannot reach the model registry {registry_url(ref)} ({problem}, {tries} {'try' if tries == 1 else 'tries'}): "
            "check the network, or use a model from `fitadvisor models`"
        )


@dataclass(frozen=True)
class _Reply:
    status: int
    content_range: str
    body: bytes


def _check(response, ref: ModelRef) -> None:
    status = response.status_code
    if status in (200, 206):
        return
    if status == 404:
        raise NotInRegistry(f"{registry_url(ref)} has no model {ref.short}: check the name and tag on ollama.com/library")
    if status in (401, 403):
        raise RegistryError(f"{registry_url(ref)} refused access to {ref.short} (HTTP {status}): private models are not supported")
    if status == 416:
        return  # asked past the end of the blob: the caller sees an empty read
    raise RegistryError(f"{registry_url(ref)} answered HTTP {status} for {ref.short}")


class RangeStream:
    """A blob as a sequential stream, each `read(n)` one `Range:` request for exactly n bytes."""

    def __init__(self, registry: Registry, url: str, ref: ModelRef, size: int):
        self.registry, self.url, self.ref, self.size = registry, url, ref, size
        self.pos = 0

    def read(self, size: int) -> bytes:
        end = min(self.pos + size, self.size) if self.size else self.pos + size
        if size <= 0 or end <= self.pos:
            return b""
        response = self.registry._get(self.url, {"Range": f"bytes={self.pos}-{end - 1}"}, self.ref, max_bytes=end - self.pos)
        data = response.body
        self.registry.transferred += len(data)
        if response.status == 416:
            return b""
        if response.status == 200 and self.pos > 0:  # Range ignored: the body starts at byte 0
            raise RegistryError(f"{registry_url(self.ref)} ignores range requests: fitadvisor will not download the whole model")
        if response.status == 206 and not response.content_range.startswith(f"bytes {self.pos}-"):
            raise RegistryError(f"{registry_url(self.ref)} answered a range request for {self.ref.short} with the wrong range")
        data = data[: end - self.pos]
        self.pos += len(data)
        return data


def _registry_key(base: str) -> str:
    """A directory name for a registry URL: its host, and a short hash of the whole URL."""
    host = base.split("://", 1)[-1].split("/", 1)[0].replace(":", "_")
    return f"{host[:64]}-{hashlib.sha256(base.encode()).hexdigest()[:12]}"


def _cached_manifest(path: Path, label: str) -> Manifest | None:
    """The cached manifest; None (and the file dropped) when it no longer parses."""
    try:
        if path.stat().st_size <= MAX_MANIFEST:
            return Manifest.parse(bounded.loads(path.read_bytes()), label)
    except (OSError, ValueError, FitAdvisorError):
        pass
    _drop(path)
    return None


def _digest(blob: bytes) -> str:
    return f"sha256:{hashlib.sha256(blob).hexdigest()}"


def _drop(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _write_atomically(path: Path, data: bytes) -> None:
    from fitadvisor.files import atomic_write

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    except OSError:
        pass  # a cache that cannot be written only costs the next query its speed


def fetch(name: str, refresh: bool = False) -> RemoteModel:
    """What `recommend --candidates` and `models --refresh` call: one model from the registry."""
    return Registry().fetch(name, refresh)


__all__ = ["READ_AHEAD", "NotInRegistry", "Registry", "RegistryError", "RegistryUnreachable", "RemoteModel", "clear_cache", "fetch"]

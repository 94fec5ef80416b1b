"""A stand-in for registry.ollama.ai on 127.0.0.1: manifests, and blobs behind a redirect with Range support.

Like the real registry, `/v2/<ns>/<model>/blobs/<digest>` redirects (307) to a CDN URL that serves
the bytes, answering `Range: bytes=a-b` with 206 and Content-Range. Tests can make it fail
(`failures`: statuses or "reset" for the next requests), ignore ranges, and read back every request
and the body bytes it sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import ggufs
from loopback import LoopbackServer


@dataclass
class Served:
    path: str
    range: str | None
    status: int
    sent: int = 0


@dataclass
class FakeRegistry(LoopbackServer):
    manifests: dict[str, dict] = field(default_factory=dict)  # "library/model:tag" -> manifest
    blobs: dict[str, Path] = field(default_factory=dict)  # digest -> file
    failures: list = field(default_factory=list)  # consumed one per request: an HTTP status or "reset"
    ignore_range: bool = False
    served: list[Served] = field(default_factory=list)

    def __post_init__(self):
        self.serve(_handler(self))

    def publish(self, name: str, directory: Path, model: ggufs.Model, projector: ggufs.Model | None = None, extra=()) -> dict:
        """Publish a model as `ollama push` would: GGUF blobs, other layers, the manifest under its name."""
        from fitadvisor.models.catalog import ModelRef

        ref = ModelRef.parse(name)
        layers = []
        for media, part in ((ggufs.MODEL_MEDIA, model), (ggufs.PROJECTOR_MEDIA, projector)):
            if part is None:
                continue
            digest = ggufs.digest_of(f"{name}/{media}")
            path = ggufs.write(part, directory / digest.replace(":", "-"))
            self.blobs[digest] = path
            layers.append((media, digest, path.stat().st_size))
        for media, text in extra:
            digest = ggufs.digest_of(text)
            path = directory / digest.replace(":", "-")
            path.write_text(text)
            self.blobs[digest] = path
            layers.append((media, digest, len(text)))
        manifest = ggufs.manifest(layers)
        self.manifests[f"{ref.namespace}/{ref.model}:{ref.tag}"] = manifest
        return manifest

    def sent(self, kind: str = "") -> int:
        return sum(s.sent for s in self.served if kind in s.path)


_MANIFEST = re.compile(r"^/v2/([^/]+)/([^/]+)/manifests/([^/]+)$")
_BLOB = re.compile(r"^/v2/([^/]+)/([^/]+)/blobs/(sha256:[0-9a-f]{64})$")
_CDN = re.compile(r"^/cdn/(sha256:[0-9a-f]{64})$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def _handler(fake: FakeRegistry):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            record = Served(self.path, self.headers.get("Range"), 0)
            fake.served.append(record)
            if fake.failures:
                failure = fake.failures.pop(0)
                if failure == "reset":
                    self.connection.shutdown(2)
                    self.close_connection = True
                    return
                return self._send(record, failure, b'{"errors":[{"code":"UNAVAILABLE"}]}')
            if match := _MANIFEST.match(self.path):
                namespace, model, tag = match.groups()
                manifest = fake.manifests.get(f"{namespace}/{model}:{tag}")
                if manifest is None:
                    return self._send(record, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')
                return self._send(record, 200, json.dumps(manifest).encode(), "application/vnd.docker.distribution.manifest.v2+json")
            if match := _BLOB.match(self.path):
                if match.group(3) not in fake.blobs:
                    return self._send(record, 404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
                record.status = 307
                self.send_response(307)
                self.send_header("Location", f"/cdn/{match.group(3)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if (match := _CDN.match(self.path)) and match.group(1) in fake.blobs:
                return self._blob(record, fake.blobs[match.group(1)])
            return self._send(record, 404, b"not found")

        def _blob(self, record: Served, path: Path):
            size = path.stat().st_size
            start, end = 0, size - 1
            requested = _RANGE.match(self.headers.get("Range") or "")
            if requested and not fake.ignore_range:
                start = int(requested.group(1))
                end = min(int(requested.group(2)) if requested.group(2) else size - 1, size - 1)
                if start >= size:
                    return self._send(record, 416, b"")
                record.status = 206
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            else:
                record.status = 200
                self.send_response(200)
            self.send_header("Content-Length", str(end - start + 1))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            with open(path, "rb") as file:
                file.seek(start)
                left = end - start + 1
                try:
                    while left > 0:
                        chunk = file.read(min(left, 65536))
                        # counted before it goes out: the client may have it, and compare counts, before this thread runs on
                        record.sent += len(chunk)
                        try:
                            self.wfile.write(chunk)
                        except (BrokenPipeError, ConnectionResetError):
                            record.sent -= len(chunk)
                            raise
                        left -= len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client stopped reading: fine

        def _send(self, record: Served, status: int, body: bytes, content_type: str = "application/json"):
            record.status = status
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            record.sent += len(body)  # before it goes out, as for a blob
            self.wfile.write(body)

    return Handler

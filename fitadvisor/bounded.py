"""Budgets for everything read over the network: bytes (compressed and inflated), time, JSON shape.

A server can send an endless body, a gzip bomb, a line that never ends, or trickle one byte a second
so that no single read ever times out. Every response fitadvisor reads goes through here:

- `Watch`: an overall deadline per network operation. A timer shuts the operation's sockets down
  when it passes, which ends even a read that is blocked on a trickling server.
- `read_body` / `lines`: the body, inflated here with a cap on each step (never more than
  `CHUNK` bytes at a time), stopped as soon as it passes its budget.
- `loads`: JSON without NaN/Infinity (no Go server sends them), with nesting too deep for the
  parser reported as malformed instead of crashing.
"""

from __future__ import annotations

import json
import socket
import threading
import zlib
from collections.abc import Iterator

from fitadvisor.errors import FitAdvisorError

MAX_MODEL_BYTES = 1 << 44  # 16 TiB: no model, blob or loaded size is larger (a 1T-parameter model in f16 is 2 TB)
CHUNK = 64 * 1024  # most bytes inflated from one step of a compressed body
ACCEPT_ENCODING = "gzip"  # the only compression asked for (and inflated here, under the budget)


class LimitExceeded(FitAdvisorError):
    """A body, line or document beyond its budget; the message says which (the caller adds who sent it)."""


class DeadlineExceeded(FitAdvisorError):
    """The operation's overall time limit passed."""


class Watch:
    """One network operation's deadline: pass `trace` as httpx's `trace` extension on each request.

    Sockets are registered as they connect (connection reuse must be off, so every request connects)
    and shut down when the deadline passes; `check()` raises once it has.
    """

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = None
        if seconds is not None:
            self._timer = threading.Timer(seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def trace(self, event: str, info: dict) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            sock = info["return_value"].get_extra_info("socket")
            if sock is not None:
                with self._lock:
                    self._sockets.append(sock)
                    if self.expired:
                        _shut(sock)

    def check(self) -> None:
        if self.expired:
            raise DeadlineExceeded(f"did not finish within {self.seconds:g} s")

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a recv() blocked in another frame; close() would not
    except OSError:
        pass


def chunks(response, watch: Watch | None = None) -> Iterator[bytes]:
    """The response body, inflated step by step (gzip or identity), each piece at most CHUNK bytes."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "", "gzip", "x-gzip"):
        raise LimitExceeded(f"sent a body compressed as {encoding[:40]!r}, which was not asked for")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if "gzip" in encoding else None
    for raw in response.iter_raw(CHUNK):
        if watch is not None:
            watch.check()
        if inflater is None:
            yield raw
            continue
        data = raw
        while data:
            try:
                piece = inflater.decompress(data, CHUNK)
            except zlib.error:
                raise LimitExceeded("sent a damaged gzip body") from None
            data = inflater.unconsumed_tail
            if piece:
                yield piece


def read_body(response, limit: int, watch: Watch | None = None) -> bytes:
    """The whole body, or LimitExceeded as soon as it passes `limit` bytes (inflated or not)."""
    body = bytearray()
    for piece in chunks(response, watch):
        body += piece
        if len(body) > limit:
            raise LimitExceeded(f"sent more than {_size(limit)} (the most fitadvisor reads of one answer)")
    return bytes(body)


def lines(response, limit: int, watch: Watch | None = None) -> Iterator[bytes]:
    """The body's lines (NDJSON), each at most `limit` bytes."""
    pending = bytearray()
    for piece in chunks(response, watch):
        pending += piece
        start = 0
        while (end := pending.find(b"\n", start)) != -1:
            yield bytes(pending[start:end])
            start = end + 1
        del pending[:start]
        if len(pending) > limit:
            raise LimitExceeded(f"sent a line longer than {_size(limit)}")
    if pending:
        yield bytes(pending)


def loads(data: bytes | str):
    """JSON as a Go server writes it: ValueError for NaN/Infinity, a 5000-digit number or nesting too deep."""
    try:
        return json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"

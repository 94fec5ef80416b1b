"""Pieces for the hostile test suite: a raw HTTP server that misbehaves on purpose, GGUF bytes built
by hand, and a runner that starts fitadvisor under a memory cap and a deadline.

The raw server answers each request with a handler `(conn, method, path, body)` that writes whatever
bytes it likes; endless answers stop when the client goes away or the server stops (each test's
loops are bounded by `server.stopping` and by a hard time limit).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

MEMORY_CAP = 3 * 1024**3  # RLIMIT_AS for every case that could blow memory
ENDLESS_FOR = 60.0  # seconds an "endless" answer goes on at most, so no test can hang

Handler = Callable[[socket.socket, str, str, bytes], None]


class RawServer:
    """HTTP on 127.0.0.1 whose answers are raw bytes from `routes` (path -> handler), else `default`."""

    def __init__(self, routes: dict[str, Handler], default: Handler | None = None):
        self.routes, self.default = routes, default or (lambda conn, *_: send_json(conn, {"error": "no route"}, 404))
        self.requests: list[tuple[str, str, dict]] = []  # method, path, headers
        self.stopping = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._connections: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        # Wake the blocked accept() before closing: a closed descriptor number can be handed to the next
        # test's server, and an accept() still blocked on it would answer that server's clients.
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._acceptor.join(timeout=5)
        self._listener.close()
        for conn in list(self._connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
            length = int(headers.get("content-length") or 0)
            while len(body) < length:
                body += conn.recv(65536)
            self.requests.append((method, path, headers))
            handler = self.routes.get(path.split("?")[0], self.default)
            handler(conn, method, path, body)
        except OSError:
            pass  # the client gave up: that is what these tests want
        finally:
            conn.close()

    def endless(self) -> bool:
        """True while an endless answer should go on."""
        return not self.stopping.is_set()


def send_json(conn: socket.socket, data, status: int = 200, extra_headers: str = "") -> None:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    conn.sendall(
        f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(raw)}\r\n"
        f"Connection: close\r\n{extra_headers}\r\n".encode() + raw
    )


def json_route(data, status: int = 200) -> Handler:
    return lambda conn, *_: send_json(conn, data, status)


def chunked_forever(server: RawServer, piece: bytes, content_type: str = "application/json") -> Handler:
    """A chunked body that never ends: `piece` over and over, as fast as the client reads."""

    def handler(conn, *_):
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        end = time.monotonic() + ENDLESS_FOR
        while server.endless() and time.monotonic() < end:
            conn.sendall(chunk)

    return handler


def trickle(server: RawServer, every: float = 0.2) -> Handler:
    """Status line and headers one byte at a time, never finishing: no single read ever times out."""

    def handler(conn, *_):
        text = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 100000
        end = time.monotonic() + ENDLESS_FOR
        for byte in text:
            if not server.endless() or time.monotonic() > end:
                return
            conn.sendall(bytes([byte]))
            time.sleep(every)

    return handler


def gzip_bomb(inflated: int) -> bytes:
    """A gzip body of `inflated` zero bytes (about 1000:1)."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    out = [packer.compress(block) for _ in range(inflated >> 20)]
    return b"".join(out) + packer.flush()


def gzip_route(body: bytes) -> Handler:
    def handler(conn, *_):
        conn.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n".encode() + body
        )

    return handler


# -- GGUF bytes by hand ---------------------------------------------------------------------------

U32, I32, F32, STRING, ARRAY, U64 = 4, 5, 6, 8, 9, 10


def gguf_string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def gguf_kv(key: str, value_type: int, payload: bytes) -> bytes:
    return gguf_string(key) + struct.pack("<I", value_type) + payload


def gguf_array(element_type: int, count: int, payload: bytes = b"") -> bytes:
    """An array value: its element type and count, then `payload` (the elements; none for a header that only claims them)."""
    return struct.pack("<IQ", element_type, count) + payload


def gguf(kvs: list[bytes], tensors: list[bytes] = (), tensor_count: int | None = None, kv_count: int | None = None) -> bytes:
    count = len(tensors) if tensor_count is None else tensor_count
    keys = len(kvs) if kv_count is None else kv_count
    return b"GGUF" + struct.pack("<IQQ", 3, count, keys) + b"".join(kvs) + b"".join(tensors)


def gguf_tensor(name: str, shape: tuple[int, ...], type_id: int = 0, offset: int = 0) -> bytes:
    return gguf_string(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape) + struct.pack("<IQ", type_id, offset)


def llama_keys(**overrides) -> list[bytes]:
    """The scalar keys of a small llama model; `overrides` replaces values (as raw (type, payload))."""
    values = {
        "general.architecture": (STRING, gguf_string("llama")),
        "llama.block_count": (U32, struct.pack("<I", 2)),
        "llama.embedding_length": (U32, struct.pack("<I", 256)),
        "llama.attention.head_count": (U32, struct.pack("<I", 4)),
        "llama.attention.head_count_kv": (U32, struct.pack("<I", 2)),
        "llama.context_length": (U32, struct.pack("<I", 4096)),
        "llama.feed_forward_length": (U32, struct.pack("<I", 512)),
        **overrides,
    }
    return [gguf_kv(key, kind, payload) for key, (kind, payload) in values.items()]


def llama_tensors() -> list[bytes]:
    return [gguf_tensor("token_embd.weight", (256, 1024))] + [
        gguf_tensor(f"blk.{i}.attn_q.weight", (256, 256)) for i in range(2)
    ]


def sparse_file(path: Path, head: bytes, size: int) -> Path:
    """`head`, then zeros up to `size` bytes without using the disk (a sparse file)."""
    with open(path, "wb") as file:
        file.write(head)
        file.truncate(size)
    return path


# -- fitadvisor under a memory cap -------------------------------------------------------------------


NOBODY = 65534  # the uid a root test run drops to, where a case needs an ordinary user


def _limits(file_size: int | None, as_user: int | None):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
        if file_size is not None:  # a full disk, as the process sees it: writes past this fail with EFBIG
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
        if as_user is not None and os.geteuid() == 0:
            os.setgid(as_user)
            os.setuid(as_user)

    return apply


def run_capped(args: list[str], deadline: float, env: dict | None = None, cwd: Path | None = None,
               file_size: int | None = None, as_user: int | None = None):
    """`fitadvisor ARGS` in a subprocess under the 3 GiB cap; (exit code, stdout, stderr, seconds).

    `file_size` caps each file it writes (a full disk); `as_user` runs it as that uid when the tests
    run as root. A run past `deadline` fails the test with what it printed so far."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "from fitadvisor.cli import main; main()", *args],
        capture_output=True, timeout=deadline, preexec_fn=_limits(file_size, as_user), cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )
    return done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"), time.monotonic() - started


def assert_clean_failure(code: int, stderr: str, *expected: str) -> None:
    """A one-line error naming the problem, a non-zero exit, never an internal error or a traceback."""
    assert code not in (0, 70), stderr
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("fitadvisor: error:"), stderr
    for text in expected:
        assert text in lines[0], lines[0]

"""The stand-ins' common part (fake_ollama, fake_registry): an HTTP server on 127.0.0.1, on a free port, served from
a daemon thread."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from typing import TypeVar

S = TypeVar("S", bound="LoopbackServer")


class LoopbackServer:
    url: str

    def serve(self, handler, server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer,
              poll_interval: float = 0.5) -> None:
        """Bind `handler` to a free port (its address in `url`); `start` serves it."""
        self._server = server_class(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": poll_interval},
                                        daemon=True)

    def start(self: S) -> S:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

"""Progress on stderr: an `ollama pull` bar with bytes, rate and ETA, and a spinner for waits of unknown length.

On a terminal only (plain status lines or nothing elsewhere, so pipes, logs and `--json` stay clean);
NO_COLOR (any non-empty value) turns colour off.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

BAR_WIDTH = 24
RATE_WINDOW = 5.0  # seconds of samples the rate is averaged over
REDRAW_EVERY = 0.1  # seconds


def human_bytes(size: float) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def human_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def bar_line(label: str, completed: int, total: int, rate: float | None, color: bool = False) -> str:
    """`pulling 3a8f2b1c9d0e [=======>        ]  45%  8.31 GB/18.56 GB  52 MB/s  ETA 3m17s`."""
    fraction = min(1.0, completed / total) if total else 0.0
    filled = int(fraction * BAR_WIDTH)
    bar = "=" * filled + (">" if filled < BAR_WIDTH else "") + " " * max(0, BAR_WIDTH - filled - 1)
    if color:
        bar = f"\x1b[32m{bar}\x1b[0m"
    speed = f"{human_bytes(rate)}/s" if rate else "--/s"
    eta = human_duration((total - completed) / rate) if rate and completed < total else "--"
    return f"{label} [{bar}] {fraction * 100:3.0f}%  {human_bytes(completed)}/{human_bytes(total)}  {speed}  ETA {eta}"


class PullProgress:
    """Feed it /api/pull events. Bars only on a terminal; NO_COLOR (any non-empty value) turns colour off."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic, environ: dict | None = None):
        self.stream = stream or sys.stderr
        self.clock = clock
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.color = self.tty and not (os.environ if environ is None else environ).get("NO_COLOR")
        self.status = ""
        self.samples: deque[tuple[float, int]] = deque()
        self.drawn_at = float("-inf")
        self.bar_open = False

    def __call__(self, event: dict) -> None:
        status = str(event.get("status", ""))
        total, completed = event.get("total"), event.get("completed") or 0
        if status != self.status:
            self._end_bar()
            self.status = status
            self.samples.clear()
            if not (self.tty and total):
                self._write(status + (f" ({human_bytes(total)})" if total else "") + "\n")
        if self.tty and isinstance(total, int) and total > 0:
            now = self.clock()
            self.samples.append((now, int(completed)))
            while len(self.samples) > 2 and now - self.samples[0][0] > RATE_WINDOW:
                self.samples.popleft()
            if now - self.drawn_at >= REDRAW_EVERY or completed >= total:
                self.drawn_at = now
                self._write("\r\x1b[K" + bar_line(status, int(completed), total, self.rate(), self.color))
                self.bar_open = True

    def rate(self) -> float | None:
        """Bytes per second over the last few seconds."""
        if len(self.samples) < 2:
            return None
        (start, first), (end, last) = self.samples[0], self.samples[-1]
        return (last - first) / (end - start) if end > start and last > first else None

    def close(self) -> None:
        self._end_bar()

    def _end_bar(self) -> None:
        if self.bar_open:
            self._write("\n")
            self.bar_open = False

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


_FRAMES = "|/-\\"


@contextmanager
def waiting(message: str, stream: TextIO | None = None, interval: float = 0.1) -> Iterator[None]:
    """Show `message`, a spinner and the seconds elapsed until the block ends (loading a model)."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield
        return
    colour = not os.environ.get("NO_COLOR")
    done = threading.Event()
    start = time.monotonic()

    def spin() -> None:
        frame = 0
        while not done.wait(interval):
            spinner = _FRAMES[frame % len(_FRAMES)]
            if colour:
                spinner = f"\033[36m{spinner}\033[0m"
            stream.write(f"\r{spinner} {message} {time.monotonic() - start:.0f} s ")
            stream.flush()
            frame += 1

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        stream.write("\r\033[K" if colour else "\r" + " " * (len(message) + 16) + "\r")
        stream.flush()

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
LINE_EVERY = 3.0  # seconds per status line where stderr is not a terminal (a log, CI), after a burst
LINE_BURST = 10  # lines shown at once before that: every step of a real pull or create
MAX_STATUS = 200  # characters of one status shown


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


class StatusLines:
    """Status lines on stderr (`ollama create`'s steps, or a pull's where no bar is drawn): each change on
    a terminal; elsewhere LINE_BURST lines, then one every LINE_EVERY seconds (a token bucket), so an
    endless stream cannot flood a log; the last status is always shown at `close`."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic, prefix: str = ""):
        self.stream = stream or sys.stderr
        self.clock = clock
        self.prefix = prefix
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.shown = None
        self.tokens, self.refilled_at = float(LINE_BURST), clock()
        self.pending: str | None = None

    def __call__(self, event: dict) -> None:
        self.line(str(event.get("status", "")))

    def line(self, status: str) -> None:
        status = status[:MAX_STATUS]
        if status == self.shown:
            return
        now = self.clock()
        self.tokens = min(LINE_BURST, self.tokens + (now - self.refilled_at) / LINE_EVERY)
        self.refilled_at = now
        if self.tty or self.tokens >= 1:
            self.tokens -= 1
            self._write(status)
        else:
            self.pending = status

    def close(self) -> None:
        if self.pending is not None and self.pending != self.shown:
            self._write(self.pending)

    def _write(self, status: str) -> None:
        self.stream.write(f"{self.prefix}{status}\n")
        self.stream.flush()
        self.shown, self.pending = status, None


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
        self.lines = StatusLines(self.stream, clock)

    def __call__(self, event: dict) -> None:
        status = str(event.get("status", ""))[:MAX_STATUS]
        total, completed = event.get("total"), event.get("completed") or 0
        if not isinstance(total, int) or isinstance(total, bool) or not isinstance(completed, int) or total < 0:
            total, completed = None, 0  # a malformed event: its status is all that can be shown
        if status != self.status:
            self._end_bar()
            self.status = status
            self.samples.clear()
            if not (self.tty and total):
                self.lines.line(status + (f" ({human_bytes(total)})" if total else ""))
        if self.tty and total:
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
        self.lines.close()

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

"""The waiting indicator: on a terminal only, coloured only without NO_COLOR."""

import io
import time

from fitadvisor.ollama.progress import waiting


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_silent_when_not_a_terminal():
    stream = io.StringIO()
    with waiting("loading m", stream, interval=0.01):
        time.sleep(0.05)
    assert stream.getvalue() == ""


def test_spins_with_elapsed_seconds_then_clears(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    stream = Terminal()
    with waiting("loading m", stream, interval=0.01):
        time.sleep(0.08)
    text = stream.getvalue()
    assert "loading m 0 s" in text and "\033[36m" in text and text.endswith("\r\033[K")


def test_no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    stream = Terminal()
    with waiting("loading m", stream, interval=0.01):
        time.sleep(0.05)
    assert "loading m" in stream.getvalue() and "\033[" not in stream.getvalue()

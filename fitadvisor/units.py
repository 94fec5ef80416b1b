"""Parsing and printing of context sizes and byte sizes the way people type and Ollama prints them."""

from __future__ import annotations

import re

from fitadvisor.errors import FitAdvisorError

KIB = 1024
MIB = 1024**2
GIB = 1024**3

# At most 12 digits before the point and 6 after: larger numbers are typos, and never overflow a float.
_CTX = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,6})?)\s*([kKmM]?)\s*$")
_SIZE = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,6})?)\s*([kKmMgGtT]?)(i?)([bB]?)\s*$")
_SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}
MAX_SIZE_TIB = 64  # more memory than any one machine holds (the largest servers take 32-48 TB)


def parse_ctx(text: str | int) -> int:
    """`65536`, `64k`, `64K`, `128k`, `1m` -> tokens (k = 1024, as context sizes are quoted)."""
    if isinstance(text, int):
        value = text
    else:
        match = _CTX.match(str(text))
        if not match:
            raise FitAdvisorError(f"invalid context size {text!r}: use a number of tokens such as 65536, 64k or 1m")
        number, suffix = float(match.group(1)), match.group(2).lower()
        value = int(number * {"": 1, "k": KIB, "m": MIB}[suffix])
    if value <= 0:
        raise FitAdvisorError(f"invalid context size {text!r}: it must be at least 1 token")
    return value


def parse_size(text: str) -> int:
    """`48GB`, `48G`, `24GiB`, `512MB` -> bytes.

    Memory is sold in binary units under decimal names: a "48GB" Mac has 48 GiB, so GB, G and
    GiB all mean powers of 1024 here.
    """
    match = _SIZE.match(str(text))
    if not match or (not match.group(2) and not match.group(4)):
        raise FitAdvisorError(f"invalid size {text!r}: use a size such as 48GB, 24GiB or 512MB")
    number, power = float(match.group(1)), _SIZE_POWERS[match.group(2).lower()]
    if number * 1024**power > MAX_SIZE_TIB * 1024**4:
        raise FitAdvisorError(f"invalid size {text[:40]!r}: no machine holds more than {MAX_SIZE_TIB}TB")
    value = int(number * 1024**power)
    if value <= 0:
        raise FitAdvisorError(f"invalid size {text!r}: it must be more than zero")
    return value


def format_gb(size: float) -> str:
    """Decimal GB as `ollama ps` prints them: whole numbers from 10 GB up, one decimal below."""
    gb = size / 1e9
    if gb >= 10:
        return f"{int(gb)} GB"
    if gb >= 1:
        return f"{gb:.1f} GB"
    if size >= 1e6:
        return f"{int(size / 1e6)} MB"
    return f"{int(size / 1e3)} KB"


def format_gb_fine(size: float) -> str:
    """Decimal GB with one decimal, for budgets and loads that are compared: 16.4 GB vs 16.5 GB must show."""
    return f"{size / 1e9:.1f} GB"


def format_gib(size: float) -> str:
    """A machine's memory as it is sold and typed: `48 GiB`, `10.7 GiB` (binary units, said so)."""
    gib = size / GIB
    return f"{gib:.0f} GiB" if abs(gib - round(gib)) < 0.05 else f"{gib:.1f} GiB"


def format_ctx(tokens: int) -> str:
    """65536 -> `64K`, 131072 -> `128K`, 40960 -> `40K`, 1000 -> `1000`."""
    if tokens % KIB == 0:
        return f"{tokens // KIB}K"
    return str(tokens)


def ctx_argument(tokens: int) -> str:
    """65536 -> `64k`, 1048576 -> `1m`, 50000 -> `50000`: the context as people type it, and as a model-name suffix."""
    if tokens % MIB == 0:
        return f"{tokens // MIB}m"
    if tokens % KIB == 0:
        return f"{tokens // KIB}k"
    return str(tokens)


def processor_label(total: int, on_gpu: int) -> str:
    """The PROCESSOR column of `ollama ps` for a model of `total` bytes with `on_gpu` on the GPU."""
    if on_gpu == 0:
        return "100% CPU"
    if on_gpu == total:
        return "100% GPU"
    if on_gpu > total or total == 0:
        return "Unknown"
    cpu = round((total - on_gpu) / total * 100)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")


def parse_duration(text: str) -> float:
    """`30m`, `90s`, `1.5h`, `45` (seconds) -> seconds."""
    match = _DURATION.match(str(text).lower())
    seconds = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)] if match else 0
    if seconds <= 0:
        raise FitAdvisorError(f"invalid duration {text!r}: use a time such as 30m, 90s or 1h")
    return seconds


def format_seconds(seconds: float) -> str:
    """87 -> `1m 27s`, 42.5 -> `42s`, as the field notes quote run times."""
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"

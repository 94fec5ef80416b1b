"""Ollama version strings: `0.14.0`, `v0.32.15`, `0.33.0-rc2`, compared as (major, minor, patch)."""

from __future__ import annotations

import re

from fitadvisor.errors import FitAdvisorError

Version = tuple[int, int, int]


def parse_version(text: str) -> Version:
    """`0.14.0`, `v0.32.15`, `0.33.0-rc2` -> (0, 33, 0)."""
    match = re.match(r"^\s*v?(\d{1,6})\.(\d{1,6})(?:\.(\d{1,6}))?(?!\d)", str(text))
    if not match:
        raise FitAdvisorError(f"invalid Ollama version {text!r}: use a version such as 0.14.0")
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def format_version(version: Version) -> str:
    return ".".join(map(str, version))

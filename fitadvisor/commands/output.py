"""How every command prints its result: `to_dict()` as one JSON object with --json, else its text renderer."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Protocol, TypeVar

import click


class Result(Protocol):
    def to_dict(self) -> dict: ...


R = TypeVar("R", bound=Result)


def emit(result: R, render: Callable[[R], str], as_json: bool, ok: bool = True, newline: bool = True) -> None:
    """Print `result` for a script (--json) or a person; exit 1 when the result says something needs fixing."""
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(render(result), nl=newline)
    if not ok:
        sys.exit(1)

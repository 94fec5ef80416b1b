"""Wall times of commands, run interleaved so that drift on a shared machine hits every case alike."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """A command to time, with its own environment, and what to do (untimed) before each run, e.g. empty a cache."""

    command: list[str]
    env: dict[str, str] | None = None
    before: Callable[[], None] | None = None


def wall(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True, env=env, timeout=120)
    return time.perf_counter() - start


def interleaved(cases: dict[str, list[str] | Case], runs: int, env: dict[str, str] | None = None) -> dict[str, list[float]]:
    """Each case's wall times over `runs` rounds, one run of every case per round."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, case in cases.items():
            case = case if isinstance(case, Case) else Case(case)
            if case.before:
                case.before()
            times[name].append(wall(case.command, {**env, **case.env} if env and case.env else case.env or env))
    return times

"""Wall times of commands, run interleaved so that drift on a shared machine hits every case alike."""

from __future__ import annotations

import subprocess
import time


def wall(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True, env=env, timeout=120)
    return time.perf_counter() - start


def interleaved(cases: dict[str, list[str]], runs: int, env: dict[str, str] | None = None) -> dict[str, list[float]]:
    """Each case's wall times over `runs` rounds, one run of every case per round."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, command in cases.items():
            times[name].append(wall(command, env))
    return times

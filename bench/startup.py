"""How fast the CLI starts, side by side with a bare Python start: `python bench/startup.py`.

Heavy modules (httpx, jinja2, psutil, the data tables) are imported only by the commands that use
them; this prints each command's wall time and its ratio to `python -c pass` in the same run.
"""

from __future__ import annotations

import statistics
import sys

from timing import interleaved

RUNS = 7
CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "fitadvisor --help": [sys.executable, "-m", "fitadvisor", "--help"],
    "fitadvisor models": [sys.executable, "-m", "fitadvisor", "models"],
    "fitadvisor estimate": [sys.executable, "-m", "fitadvisor", "estimate", "devstral-small-2", "--ctx", "64k", "--ollama-version", "0.32.15"],
}


def main() -> None:
    times = interleaved(CASES, RUNS)
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<22} {'median':>8} {'x python':>9}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<22} {median * 1000:>6.0f} ms {median / base:>8.1f}x")


if __name__ == "__main__":
    main()

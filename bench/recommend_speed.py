"""Wall time of `fitadvisor recommend` side by side with llmfit's `recommend`, in one interleaved run.

    python bench/recommend_speed.py [--runs N] [--llmfit PATH]

llmfit (https://github.com/AlexsJones/llmfit, `pip install llmfit` in a venv of its own) is the closest
peer: it also probes the machine and ranks models offline. Both run with no Ollama server answering
(OLLAMA_HOST points at a closed local port), which is the fresh-install case issue #4 asks about.
A bare `python -c pass` is timed too, so the numbers can be read against this machine's speed.
fitadvisor's bytecode is compiled first, as `pip install` does: with PYTHONDONTWRITEBYTECODE set (or a
read-only checkout) every run would otherwise compile each module again, and that would be timed instead.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import sys

from timing import interleaved

FITADVISOR = [sys.executable, "-m", "fitadvisor", "recommend"]


def cases(llmfit: str | None) -> dict[str, list[str]]:
    table = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "fitadvisor recommend": FITADVISOR,
        "fitadvisor recommend --json": [*FITADVISOR, "--json"],
        "fitadvisor recommend (M4 Pro 48GB)": [*FITADVISOR, "--memory", "48GB", "--chip", "Apple M4 Pro"],
    }
    if llmfit:
        table["llmfit recommend"] = [llmfit, "recommend"]
        table["llmfit recommend coding -n 5"] = [llmfit, "recommend", "--use-case", "coding", "-n", "5"]
    return table


def compile_bytecode() -> None:
    import fitadvisor

    compileall.compile_dir(os.path.dirname(fitadvisor.__file__), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--llmfit", default=os.environ.get("LLMFIT") or shutil.which("llmfit"), help="path to the llmfit binary")
    args = parser.parse_args()
    env = {**os.environ, "OLLAMA_HOST": "127.0.0.1:9", "NO_COLOR": "1"}  # nothing listens on port 9
    table = cases(args.llmfit)
    if not args.llmfit:
        print("llmfit not found (pip install llmfit into its own venv, then pass --llmfit PATH): timing fitadvisor alone")
    compile_bytecode()
    times = interleaved(table, args.runs, env)
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<36} {'median':>9} {'min':>9} {'x python':>9}   ({args.runs} runs each, interleaved)")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<36} {median * 1000:>6.0f} ms {min(samples) * 1000:>6.0f} ms {median / base:>8.1f}x")
    if args.llmfit:
        ratios = [mine / theirs for mine, theirs in zip(times["fitadvisor recommend"], times["llmfit recommend"])]
        print(f"fitadvisor recommend / llmfit recommend: median ratio {statistics.median(ratios):.2f} "
              f"(run by run; goal 0.5 or less)")


if __name__ == "__main__":
    main()

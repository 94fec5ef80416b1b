"""Wall time of `fitadvisor recommend` side by side with llmfit's `recommend`, in one interleaved run.

    python bench/recommend_speed.py [--runs N] [--llmfit PATH]

llmfit (https://github.com/AlexsJones/llmfit, `pip install llmfit` in a venv of its own) is the closest
peer: it also probes the machine and ranks models offline. Both run with no Ollama server answering
(OLLAMA_HOST points at a closed local port), which is the fresh-install case issue #4 asks about.
A bare `python -c pass` is timed too, so the numbers can be read against this machine's speed.
fitadvisor's bytecode is compiled first, as `pip install` does: with PYTHONDONTWRITEBYTECODE set (or a
read-only checkout) every run would otherwise compile each module again, and that would be timed instead.
fitadvisor keeps what it derives from its data (parsed tables, the catalog's sized weights, the compute-graph
replays) in its cache directory: it runs warm (the cache filled by an untimed first run, as on every run
after the first) and cold (the cache emptied before each run, as after an install or upgrade), each in a
directory of its own. A wheel's build derives what a first `recommend` needs into the package
(fitadvisor/flows/prederive.py, run by setup.py); this checkout gets the same files first, as the bytecode.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from timing import Case, interleaved

FITADVISOR = [sys.executable, "-m", "fitadvisor", "recommend"]


def cases(llmfit: str | None, warm: str, cold: str) -> dict[str, list[str] | Case]:
    """The commands; fitadvisor's with a warm cache unless named cold (each cold one in a folder of its own)."""
    cached = {"XDG_CACHE_HOME": warm}
    m4_pro = ["--memory", "48GB", "--chip", "Apple M4 Pro"]
    cold_m4 = os.path.join(cold, "m4-pro")
    table: dict[str, list[str] | Case] = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "fitadvisor recommend": Case(FITADVISOR, cached),
        "fitadvisor recommend, cold cache": Case(FITADVISOR, {"XDG_CACHE_HOME": cold}, lambda: shutil.rmtree(cold, ignore_errors=True)),
        "fitadvisor recommend --json": Case([*FITADVISOR, "--json"], cached),
        "fitadvisor recommend (M4 Pro 48GB)": Case([*FITADVISOR, *m4_pro], cached),
        "fitadvisor recommend (M4 Pro), cold": Case(
            [*FITADVISOR, *m4_pro], {"XDG_CACHE_HOME": cold_m4}, lambda: shutil.rmtree(cold_m4, ignore_errors=True)
        ),
    }
    if llmfit:
        table["llmfit recommend"] = [llmfit, "recommend"]
        table["llmfit recommend coding -n 5"] = [llmfit, "recommend", "--use-case", "coding", "-n", "5"]
    return table


def install_steps() -> None:
    """What `pip install` does beyond copying files: compile the bytecode, derive what the wheel's build derives."""
    import fitadvisor

    package = os.path.dirname(fitadvisor.__file__)
    compileall.compile_dir(package, quiet=1)
    subprocess.run([sys.executable, "-m", "fitadvisor.flows.prederive", os.path.join(package, "derived")], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--llmfit", default=os.environ.get("LLMFIT") or shutil.which("llmfit"), help="path to the llmfit binary")
    args = parser.parse_args()
    env = {**os.environ, "OLLAMA_HOST": "127.0.0.1:9", "NO_COLOR": "1"}  # nothing listens on port 9
    if not args.llmfit:
        print("llmfit not found (pip install llmfit into its own venv, then pass --llmfit PATH): timing fitadvisor alone")
    install_steps()
    with tempfile.TemporaryDirectory() as warm, tempfile.TemporaryDirectory() as cold:
        table = cases(args.llmfit, warm, cold)
        subprocess.run(FITADVISOR, capture_output=True, check=True, env={**env, "XDG_CACHE_HOME": warm})  # fills the warm cache
        times = interleaved(table, args.runs, env)
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<36} {'median':>9} {'min':>9} {'x python':>9}   ({args.runs} runs each, interleaved)")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<36} {median * 1000:>6.0f} ms {min(samples) * 1000:>6.0f} ms {median / base:>8.1f}x")
    if args.llmfit:
        for mine in ("fitadvisor recommend", "fitadvisor recommend, cold cache", "fitadvisor recommend (M4 Pro 48GB)",
                     "fitadvisor recommend (M4 Pro), cold"):
            ratios = [ours / theirs for ours, theirs in zip(times[mine], times["llmfit recommend"])]
            print(f"{mine} / llmfit recommend: median ratio {statistics.median(ratios):.2f} (run by run; goal 0.5 or less)")


if __name__ == "__main__":
    main()

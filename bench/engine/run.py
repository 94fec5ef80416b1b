"""Prove fitadvisor's estimate against the real llama.cpp: write synthetic GGUFs, load them, compare.

    python bench/engine/run.py            # everything (about 2-3 minutes on 2 cores)
    python bench/engine/run.py --quick    # the reduced set the slow test runs
    python bench/engine/run.py --models gemma3,gpt-oss --jobs 4 --markdown results.md

From a clean clone it installs what it needs into bench/engine/.work/ (gitignored): node-llama-cpp
(pinned; its prebuilt CPU llama.cpp is the engine) with npm, and - when this Python lacks them -
a virtual environment with fitadvisor and the `gguf` writer. Each configuration loads the model in a
fresh node process, with the parameters Ollama's llama-server gets (n_ctx = ctx x parallel, n_seq_max =
parallel, n_batch = n_ubatch), and reads the sizes llama.cpp logs; `fitadvisor estimate FILE.gguf --json`
with the same settings gives the estimate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
WORK = HERE / ".work"
NODE_LLAMA_CPP = "3.22.1"  # bundles llama.cpp release v0.5.0 (ggml-org, 2026-09-28)
GGUF_WRITER = "gguf==0.19.0"
# The llama-server-era release whose llama.cpp reserves logits for every token of a ubatch, as node-llama-cpp's
# contexts do (n_outputs_max 0): from v0.30.1 llama-server reserves them for one token per slot and drafted token,
# which bench/engine/record_trace.py --server-outputs records and tests/test_compute_replay.py replays.
OLLAMA_VERSION = "0.30.0"
MIB = 1024 * 1024
LOG_RESOLUTION_MIB = 0.01  # llama.cpp logs sizes in MiB with two decimals


@dataclass(frozen=True)
class Config:
    ctx: int
    batch: int
    parallel: int
    flash: bool
    kv: str

    @property
    def label(self) -> str:
        return f"ctx {self.ctx} b {self.batch} np {self.parallel} fa {'on' if self.flash else 'off'} {self.kv}"


def configs(quick: bool) -> list[Config]:
    """Contexts on and off the 256-cell grid, flash attention on and off, f16 and q8_0 (a q8_0 V cache needs
    flash attention), one and two slots, and batches of 512 and 2048."""
    kinds = [(False, "f16"), (True, "f16"), (True, "q8_0")]
    if quick:
        return [Config(20000, 512, 1, fa, kv) for fa, kv in kinds] + [Config(4200, 1024, 2, True, "f16")]
    plain = [Config(ctx, 512, 1, fa, kv) for ctx in (4096, 20000) for fa, kv in kinds] + [Config(65536, 512, 1, True, "q8_0")]
    parallel = [Config(4200, 512, 2, fa, "f16") for fa in (False, True)]  # 2 x 4200 -> 2 streams of 4352 cells
    batches = [Config(20000, 2048, 1, fa, "f16") for fa in (False, True)]
    return plain + parallel + batches


# --- set-up: npm and Python pieces, all under .work/ ----------------------------------------------------------


def node_modules() -> Path:
    """node-llama-cpp (pinned) and this platform's prebuilt llama.cpp, installed once into .work/."""
    modules = WORK / "node_modules"
    marker = modules / "node-llama-cpp" / "package.json"
    if marker.exists() and json.loads(marker.read_text())["version"] == NODE_LLAMA_CPP:
        return modules
    if not shutil.which("npm"):
        sys.exit("bench/engine: needs Node.js 20+ and npm (https://nodejs.org)")
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "package.json").write_text(json.dumps({"name": "fitadvisor-engine-bench", "private": True}) + "\n")
    packages = [f"node-llama-cpp@{NODE_LLAMA_CPP}"]
    prebuilt = _prebuilt_package()
    omit = []
    if prebuilt:  # only the CPU build for this platform, not every GPU flavour (hundreds of MB)
        packages.append(f"@node-llama-cpp/{prebuilt}@{NODE_LLAMA_CPP}")
        omit = ["--omit=optional"]
    print(f"bench/engine: npm install {' '.join(packages)} into {WORK}", file=sys.stderr)
    subprocess.run(
        ["npm", "install", "--prefix", str(WORK), "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact", *omit, *packages],
        check=True, stdout=sys.stderr,
    )
    return modules


def _prebuilt_package() -> str | None:
    machine = platform.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    system = platform.system()
    if system == "Linux" and arch:
        return f"linux-{arch}"
    if system == "Darwin" and arch:
        return "mac-arm64-metal" if arch == "arm64" else "mac-x64"
    return None


def python_ready() -> bool:
    try:
        import gguf  # noqa: F401

        import fitadvisor  # noqa: F401
    except ImportError:
        return False
    return True


def reexec_in_venv(script: Path = Path(__file__)) -> None:
    """This Python lacks fitadvisor or gguf: make .work/venv with both, and run `script` again in it."""
    venv = WORK / "venv"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        print(f"bench/engine: creating {venv} (fitadvisor + {GGUF_WRITER})", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", str(REPO), GGUF_WRITER], check=True, stdout=sys.stderr)
    os.execv(str(python), [str(python), str(script.resolve()), *sys.argv[1:]])


# --- one configuration: measure, estimate ------------------------------------------------------------------------


def measure(modules: Path, model: Path, config: Config) -> dict:
    done = subprocess.run(
        ["node", str(HERE / "measure.mjs"), str(modules), str(model), json.dumps(asdict(config))],
        capture_output=True, text=True, timeout=300,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"ok": False, "error": (done.stderr or done.stdout).strip()[-500:]}
    return json.loads(lines[-1])


def estimate(model: Path, config: Config) -> dict:
    """`fitadvisor estimate FILE.gguf --json` with the same settings, as a user would run it."""
    command = [
        sys.executable, "-m", "fitadvisor", "estimate", str(model), "--json", "--ollama-version", OLLAMA_VERSION,
        "--ctx", str(config.ctx), "--batch", str(config.batch), "--parallel", str(config.parallel),
        "--kv-cache", config.kv, "--flash-attention", "on" if config.flash else "off", "--memory", "1TB",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip()}
    return json.loads(done.stdout)


@dataclass
class Row:
    model: str
    config: Config
    real: dict
    est: dict

    @property
    def ok(self) -> bool:
        return bool(self.real.get("ok")) and "error" not in self.est

    @property
    def real_kv(self) -> float:
        return (self.real.get("kv_mib") or 0) + (self.real.get("rs_mib") or 0)

    @property
    def est_kv(self) -> float:
        """The main context's cache: node-llama-cpp runs no drafting context, whose buffers the estimate adds."""
        return (self.est["kv_cache_bytes"] - self.est.get("drafting_cache_bytes", 0)) / MIB

    @property
    def real_compute(self) -> float:
        return self.real["compute_mib"]

    @property
    def est_compute(self) -> float:
        return (self.est["compute_bytes"] - self.est.get("drafting_compute_bytes", 0)) / MIB

    def error(self, term: str) -> float:
        """Signed relative error of the estimate, 0 when within llama.cpp's log rounding."""
        real, est = (self.real_kv, self.est_kv) if term == "kv" else (self.real_compute, self.est_compute)
        if abs(est - real) <= LOG_RESOLUTION_MIB:
            return 0.0
        return (est - real) / real if real else float("inf")


def run_one(modules: Path, spec_name: str, model: Path, config: Config) -> Row:
    """One configuration, measured with the slots Ollama really gives the model (one for hybrid
    recurrent architectures, whatever OLLAMA_NUM_PARALLEL says), as the estimate reports them."""
    est = estimate(model, config)
    parallel = est.get("parallel", config.parallel)
    if parallel != config.parallel:
        config = replace(config, parallel=parallel)
    return Row(spec_name, config, measure(modules, model, config), est)


def model_file(name: str) -> Path:
    """The synthetic model `name` (models.py), written into .work/models/."""
    from models import SPECS, by_name, write

    try:
        spec = by_name(name)
    except KeyError:
        sys.exit(f"bench/engine: no synthetic model {name!r} (known: {', '.join(s.name for s in SPECS)})")
    return write(spec, WORK / "models" / spec.path_name)


def run(names: list[str], quick: bool, jobs: int) -> list[Row]:
    modules = node_modules()
    tasks = []
    for name in names:
        path = model_file(name)
        tasks += [(name, path, config) for config in configs(quick)]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda task: run_one(modules, *task), tasks))


# --- report ------------------------------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{value * 100:+.1f}%" if value else "0%"


def table(rows: list[Row]) -> str:
    out = [
        "| model | n_ctx | n_ubatch | parallel | flash attention | KV type | KV MiB (llama.cpp) | KV MiB (fitadvisor) | KV error "
        "| compute MiB (llama.cpp) | compute MiB (fitadvisor) | compute error |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        c = row.config
        head = f"| {row.model} | {c.ctx} | {c.batch} | {c.parallel} | {'on' if c.flash else 'off'} | {c.kv} |"
        if not row.ok:
            reason = row.real.get("error") or row.est.get("error", "")
            out.append(f"{head} failed: {reason.splitlines()[-1] if reason else '?'} | | | | | |")
            continue
        out.append(
            f"{head} {row.real_kv:.2f} | {row.est_kv:.2f} | {_pct(row.error('kv'))} "
            f"| {row.real_compute:.2f} | {row.est_compute:.2f} | {_pct(row.error('compute'))} |"
        )
    return "\n".join(out)


def worst(rows: list[Row]) -> dict[str, dict[str, float]]:
    """The largest |error| per model and term (inf where a configuration failed)."""
    result: dict[str, dict[str, float]] = {}
    for row in rows:
        entry = result.setdefault(row.model, {"kv": 0.0, "compute": 0.0})
        for term in entry:
            entry[term] = max(entry[term], abs(row.error(term)) if row.ok else float("inf"))
    return result


def summary(rows: list[Row]) -> str:
    out = ["| model | configurations | worst KV error | worst compute error |", "|---|---|---|---|"]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.model] = counts.get(row.model, 0) + 1
    for model, terms in worst(rows).items():
        out.append(f"| {model} | {counts[model]} | {terms['kv'] * 100:.1f}% | {terms['compute'] * 100:.1f}% |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    from models import SPECS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="comma-separated names (default: all): " + ", ".join(s.name for s in SPECS))
    parser.add_argument("--quick", action="store_true", help="the reduced configuration set")
    parser.add_argument("--jobs", type=int, default=2, help="processes at once (default 2)")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file")
    parser.add_argument("--json", type=Path, help="also write every measurement and estimate to this file")
    args = parser.parse_args(argv)
    names = args.models.split(",") if args.models else [s.name for s in SPECS]
    rows = run(names, args.quick, args.jobs)
    text = f"{table(rows)}\n\nWorst error per term (0% = within llama.cpp's 0.01 MiB log rounding):\n\n{summary(rows)}\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        args.json.write_text(json.dumps([{"model": r.model, "config": asdict(r.config), "llama.cpp": r.real, "fitadvisor": r.est} for r in rows], indent=1))
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    if not python_ready():
        reexec_in_venv()
    sys.path.insert(0, str(HERE))
    sys.exit(main())

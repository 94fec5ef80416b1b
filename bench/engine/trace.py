"""Where llama.cpp's compute buffer peaks: the graph allocator's layout at its high-water mark.

    python bench/engine/trace.py granitehybrid --ctx 20000 --flash-attention on
    python bench/engine/trace.py path/to/model.gguf --batch 2048 --kv-cache q8_0

The prebuilt llama.cpp logs only the buffer's size. This builds the same llama.cpp source (the git
bundle node-llama-cpp ships) once into bench/engine/.work/llama-trace/ with the graph allocator's own
trace switched on, creates a context with the parameters run.py uses, and prints the tensors that were
live when the buffer reached its size, with their offsets: which stage sets the size, and which holes
the allocator could not reuse. This is how the estimate's feed-forward layout was derived.

Needs git, cmake and a C/C++ compiler; the first build takes about 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import WORK, model_file, node_modules, python_ready, reexec_in_venv  # noqa: E402

BUILD = WORK / "llama-trace"
GGML_TYPES = {"f16": 1, "q8_0": 8, "q4_0": 2}
MIB = 1024 * 1024
# ggml-alloc.c ships its trace compiled out; this turns it on, printed only under ALLOC_TRACE=1.
TRACE_OFF = "#define AT_PRINTF(...)\n"
TRACE_ON = '#define AT_PRINTF(...) do { if (getenv("ALLOC_TRACE")) fprintf(stderr, __VA_ARGS__); } while (0)\n'
ALLOCATED = re.compile(r"allocating (.+?) \((\d+) bytes\) - block \d+, offset (\d+), chunk (\d+)")
FREED = re.compile(r"freeing (.+?) at \{chunk=(\d+), offset=(\d+)\}")


def _run(*command: str | Path, cwd: Path | None = None) -> None:
    subprocess.run([str(part) for part in command], cwd=cwd, check=True, stdout=sys.stderr)


def harness() -> Path:
    """llama.cpp with the allocator trace, and trace_harness.cpp linked against it (built once)."""
    binary = BUILD / "trace_harness"
    if binary.exists():
        return binary
    for tool in ("git", "cmake", "c++"):
        if not shutil.which(tool):
            sys.exit(f"bench/engine/trace.py: needs {tool}")
    source = BUILD / "llama.cpp"
    if not source.exists():
        bundle = node_modules() / "node-llama-cpp" / "llama" / "gitRelease.bundle"
        _run("git", "clone", "--quiet", bundle, source)
    alloc = source / "ggml" / "src" / "ggml-alloc.c"
    text = alloc.read_text()
    if TRACE_ON not in text:
        if TRACE_OFF not in text:
            sys.exit(f"bench/engine/trace.py: {alloc} has no AT_PRINTF switch to turn on")
        alloc.write_text(text.replace(TRACE_OFF, TRACE_ON, 1))
    build = BUILD / "build"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    print(f"bench/engine/trace.py: building llama.cpp in {build} (once; about 10 minutes on 2 cores)", file=sys.stderr)
    _run(
        "cmake", "-S", source, "-B", build, *generator, "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=ON",
        "-DLLAMA_BUILD_TOOLS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=OFF",
        "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF",
    )
    _run("cmake", "--build", build, "--target", "llama", "-j", str(os.cpu_count() or 2))
    libraries = build / "bin"
    _run(
        "c++", "-O1", "-o", binary, HERE / "trace_harness.cpp", f"-I{source / 'include'}", f"-I{source / 'ggml' / 'include'}",
        f"-L{libraries}", "-lllama", "-lggml", "-lggml-base", f"-Wl,-rpath,{libraries}",
    )
    return binary


@dataclass(frozen=True)
class Placement:
    name: str
    offset: int
    size: int


def peak_layout(trace: str) -> tuple[int, list[Placement]]:
    """The live tensors when the allocator last raised the buffer's top, over all graphs it reserved.

    Each reserve starts from an empty buffer; the compute buffer is the largest top any of them reached.
    A tensor computed in place keeps its parent's placement (and the parent's name here).
    """
    best_top, best_layout = 0, []
    live: dict[tuple[int, int], Placement] = {}
    top = 0
    for line in trace.splitlines():
        if "graph_reserve: reserving" in line:
            live, top = {}, 0
        elif match := ALLOCATED.search(line):
            name, size, offset, chunk = match.group(1), int(match.group(2)), int(match.group(3)), int(match.group(4))
            live[chunk, offset] = Placement(name, offset, size)
            if offset + size > top:
                top = offset + size
                if top > best_top:
                    best_top, best_layout = top, sorted(live.values(), key=lambda p: p.offset)
        elif match := FREED.search(line):
            live.pop((int(match.group(2)), int(match.group(3))), None)
    return best_top, best_layout


def add_context_arguments(parser: argparse.ArgumentParser) -> None:
    """The model and the context parameters a traced run takes (run.py's, as Ollama passes them to llama-server)."""
    parser.add_argument("model", help="a synthetic model's name (bench/engine/models.py) or a .gguf path")
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--flash-attention", choices=("on", "off"), default="on")
    parser.add_argument("--kv-cache", choices=tuple(GGML_TYPES), default="f16")
    parser.add_argument(
        "--server-outputs", action="store_true",
        help="reserve logits only for the tokens llama-server lets a ubatch output (n_outputs_max: parallel x (1 + draft "
             "tokens)), as Ollama's llama-server runs it; without, for every token, as node-llama-cpp does",
    )


def traced_run(args: argparse.Namespace, tool: str) -> tuple[Path, str]:
    """Run the tracing build on `args`' model and context: the model's path, and llama.cpp's log with the trace."""
    model = Path(args.model) if args.model.endswith(".gguf") else model_file(args.model)
    if not model.is_file():
        sys.exit(f"bench/engine/{tool}: no such file: {model}")
    done = subprocess.run(
        [str(harness()), str(model), str(args.ctx), str(args.batch), str(args.parallel),
         "1" if args.flash_attention == "on" else "0", str(GGML_TYPES[args.kv_cache]), str(args.draft_tokens),
         "1" if args.server_outputs else "0"],
        capture_output=True, text=True, env={**os.environ, "ALLOC_TRACE": "1"},
    )
    if done.returncode != 0:
        sys.exit(f"bench/engine/{tool}: llama.cpp failed:\n{done.stderr[-2000:]}")
    return model, done.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_context_arguments(parser)
    parser.add_argument(
        "--draft-tokens", type=int, default=0,
        help="also draft with the model's multi-token-prediction layers, N tokens a step, as Ollama's llama-server does",
    )
    args = parser.parse_args(argv)
    _, log = traced_run(args, "trace.py")
    for line in log.splitlines():  # the buffers llama.cpp logs, the drafting context's too
        if "buffer size =" in line or ": size =" in line:
            print(line.strip())
    top, layout = peak_layout(log)
    print(f"compute buffer {top / MIB:.2f} MiB; live when it reached that size (offset MiB, size MiB, tensor):")
    end = 0
    for placement in layout:
        if placement.offset - end >= 1024:  # smaller gaps are alignment padding
            print(f"  {end / MIB:9.3f}  {(placement.offset - end) / MIB:9.3f}  (free)")
        print(f"  {placement.offset / MIB:9.3f}  {placement.size / MIB:9.3f}  {placement.name}")
        end = max(end, placement.offset + placement.size)
    return 0


if __name__ == "__main__":
    if not python_ready():
        reexec_in_venv(Path(__file__))
    sys.exit(main())

"""Record llama.cpp's graph-allocator trace as a test case for fitadvisor's compute-buffer replay.

    python bench/engine/record_trace.py llama --ctx 4096 --flash-attention on
    python bench/engine/record_trace.py qwen3 --ctx 20000 --kv-cache q8_0 --out tests/data/alloc-traces/

Runs the allocator-tracing llama.cpp build (trace.py's harness) once with these parameters and writes
`<model>-<ctx>-b<batch>-np<parallel>-fa<on|off>-<cache>.trace.gz` (default: tests/data/alloc-traces/):

    # comment lines
    architecture {JSON}          fitadvisor's Architecture of the GGUF, as `fitadvisor estimate FILE.gguf` reads it
    context {JSON}               cells, swa_cells, streams, flash_attn, type_k, type_v, as llama.cpp logged them
                                 (outputs_max: the logits rows llama-server allows a ubatch, with --server-outputs)
    logged_mib 120.0137          the compute buffer llama.cpp logged (4 decimals)
    graph 512 1 512              each graph_reserve that allocated: n_tokens n_seqs n_outputs
    alloc BYTES OFFSET NAME      then every step of ggml_gallocr, in order (BYTES aligned, as ggml-alloc.c logs it)
    free BYTES OFFSET NAME

tests/test_compute_replay.py replays every recorded case and checks the same steps and peak.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CASES = HERE.parent.parent / "tests" / "data" / "alloc-traces"
GRAPH = re.compile(r"graph_reserve: reserving a graph for ubatch with n_tokens =\s*(\d+), n_seqs =\s*(\d+), n_outputs =\s*(\d+)")
ALLOCATED = re.compile(r"allocating (.+?) \((\d+) bytes\) - block \d+, offset (\d+), chunk 0")
FREED = re.compile(r"freeing (.+?) at \{chunk=0, offset=(\d+)\} \((\d+) bytes\)")
CELLS = re.compile(r"llama_kv_cache: size = .*?\(\s*(\d+) cells")
LOGGED = re.compile(r"CPU compute buffer size is\s+([0-9.]+) MiB")
SWA_CACHE = re.compile(r"creating\s+SWA KV cache")  # llama_kv_cache_iswa pads "SWA" to line up with "non-SWA"
STREAMS = re.compile(r"llama_context: n_seq_max\s*=\s*(\d+)")


@dataclass
class Graph:
    n_tokens: int
    n_seqs: int
    n_outputs: int
    steps: list[tuple[str, int, int, str]] = field(default_factory=list)  # (alloc|free, bytes, offset, name)


@dataclass
class Case:
    architecture: dict
    context: dict  # cells, swa_cells, streams, flash_attn, type_k, type_v
    logged_mib: float
    graphs: list[Graph]


def parse(log: str, architecture: dict, flash_attn: bool, cache_type: str) -> Case:
    """A trace harness run's stderr: the allocator's steps per reserved graph, and what llama.cpp logged."""
    graphs: list[Graph] = []
    cells = swa_cells = 0
    swa_next = False
    for line in log.splitlines():
        if match := GRAPH.search(line):
            graphs.append(Graph(*map(int, match.groups())))
        elif match := ALLOCATED.search(line):
            graphs[-1].steps.append(("alloc", int(match.group(2)), int(match.group(3)), match.group(1)))
        elif match := FREED.search(line):
            graphs[-1].steps.append(("free", int(match.group(3)), int(match.group(2)), match.group(1)))
        elif SWA_CACHE.search(line):
            swa_next = True
        elif match := CELLS.search(line):
            if swa_next:
                swa_cells = int(match.group(1))
            else:
                cells = int(match.group(1))
            swa_next = False
    streams = int(STREAMS.search(log).group(1))
    logged = float(LOGGED.search(log).group(1))
    context = {"cells": cells, "swa_cells": swa_cells, "streams": streams, "flash_attn": flash_attn,
               "type_k": cache_type, "type_v": cache_type}
    return Case(architecture, context, logged, [g for g in graphs if g.steps])


def write(case: Case, path: Path, comment: str) -> None:
    lines = [f"# {comment}", f"architecture {json.dumps(case.architecture)}", f"context {json.dumps(case.context)}",
             f"logged_mib {case.logged_mib}"]
    for graph in case.graphs:
        lines.append(f"graph {graph.n_tokens} {graph.n_seqs} {graph.n_outputs}")
        lines.extend(f"{kind} {size} {offset} {name}" for kind, size, offset, name in graph.steps)
    with gzip.open(path, "wt") as out:
        out.write("\n".join(lines) + "\n")


def read(path: Path) -> Case:
    architecture: dict = {}
    context: dict = {}
    logged = 0.0
    graphs: list[Graph] = []
    with gzip.open(path, "rt") as text:
        for line in text:
            key, _, rest = line.rstrip("\n").partition(" ")
            if key == "architecture":
                architecture = json.loads(rest)
            elif key == "context":
                context = json.loads(rest)
            elif key == "logged_mib":
                logged = float(rest)
            elif key == "graph":
                graphs.append(Graph(*map(int, rest.split())))
            elif key in ("alloc", "free"):
                size, offset, name = rest.split(" ", 2)
                graphs[-1].steps.append((key, int(size), int(offset), name))
    return Case(architecture, context, logged, graphs)


def architecture_dict(model: Path) -> dict:
    from fitadvisor.models.gguf import read_architecture

    return asdict(read_architecture(model))


def architecture_of(data: dict):
    from fitadvisor.models.architecture import Architecture

    kinds = {f.name: f.type for f in fields(Architecture)}
    return Architecture(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in kinds})


def main(argv: list[str] | None = None) -> int:
    from trace import add_context_arguments, traced_run

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_context_arguments(parser)
    parser.add_argument("--out", type=Path, default=CASES)
    parser.add_argument(
        "--draft-tokens", type=int, default=0,
        help="draft N tokens a step with the model's multi-token-prediction layers, as Ollama's llama-server does: "
             "records the main context (with its recurrent-state snapshots) and the drafting context, one file each",
    )
    args = parser.parse_args(argv)
    model, log = traced_run(args, "record_trace.py")
    architecture, flash_attn = architecture_dict(model), args.flash_attention == "on"
    cases = {"": parse(log, architecture, flash_attn, args.kv_cache)}
    outputs_max = args.parallel * (1 + args.draft_tokens) if args.server_outputs else 0
    if args.draft_tokens:
        # the main context, then the drafting one (f16 cache); each logs its buffer when freed, the drafting one first
        _, main_log, drafting_log = log.split("llama_context: constructing llama_context")
        drafting_logged, main_logged = LOGGED.findall(log)
        main_case = parse(f"{main_log}\nCPU compute buffer size is {main_logged} MiB", architecture, flash_attn, args.kv_cache)
        main_case.context["rs_snapshots"] = args.draft_tokens
        drafting_case = parse(f"{drafting_log}\nCPU compute buffer size is {drafting_logged} MiB", architecture, flash_attn, "f16")
        drafting_case.context["drafting"] = True
        cases = {f"-draft{args.draft_tokens}": main_case, f"-draft{args.draft_tokens}-mtp": drafting_case}
    if outputs_max:  # the main context's logits rows, as llama-server limits them (the drafting context's are its own)
        for suffix, case in cases.items():
            if not suffix.endswith("mtp"):
                case.context["outputs_max"] = min(outputs_max, args.batch)
    args.out.mkdir(parents=True, exist_ok=True)
    name = model.stem
    for suffix, case in cases.items():
        server = "-srv" if args.server_outputs else ""
        path = args.out / f"{name}-{args.ctx}-b{args.batch}-np{args.parallel}-fa{args.flash_attention}-{args.kv_cache}{server}{suffix}.trace.gz"
        comment = (f"llama.cpp v0.5.0 (node-llama-cpp 3.22.1) graph allocator, {name} ctx {args.ctx} batch {args.batch} "
                   f"parallel {args.parallel} flash attention {args.flash_attention} cache {args.kv_cache} "
                   f"draft tokens {args.draft_tokens}{' (the drafting context)' if suffix.endswith('mtp') else ''}"
                   f"{', logits for the tokens llama-server lets a ubatch output' if args.server_outputs else ''}: "
                   "bench/engine/record_trace.py")
        write(case, path, comment)
        print(f"{path}: {len(case.graphs)} graphs, {sum(len(g.steps) for g in case.graphs)} steps, {case.logged_mib} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

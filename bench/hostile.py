"""Peak memory and time for the worst GGUF headers the parser accepts, beside a real-sized one.

Each header sits just inside one of the parser's limits (fitadvisor/models/gguf.py: MAX_HEADER,
MAX_VALUES, MAX_NESTED, MAX_STRING, MAX_TENSORS, MAX_DEPTH) and is read in a fresh process under the test
suite's 3 GiB address-space cap; the table shows its seconds and peak resident memory, and the
same for a real-sized header (a 262K-token vocabulary with scores, types and merges).

    python bench/hostile.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hostile import (  # noqa: E402
    ARRAY,
    MEMORY_CAP,
    STRING,
    U32,
    gguf,
    gguf_array,
    gguf_kv,
    gguf_string,
    gguf_tensor,
    llama_keys,
    llama_tensors,
)

from fitadvisor.models.gguf import MAX_DEPTH, MAX_HEADER, MAX_NESTED, MAX_STRING, MAX_TENSORS, MAX_VALUES  # noqa: E402

U8 = 0


def cases():
    """(name, header bytes), built one at a time so this process stays small."""
    budget = MAX_HEADER - 4096  # room for the model's own keys and tensors
    strings = min(MAX_VALUES, budget // 9)  # one-byte strings: the most objects per header byte
    nested = MAX_NESTED
    vocab = 262_144
    real_tokens = b"".join(gguf_string(f"tok{i:06d}") for i in range(vocab))
    real_merges = b"".join(gguf_string(f"t{i} k{i}") for i in range(vocab * 2))
    yield "real: 262K vocab + scores, types, merges", gguf(llama_keys() + [
            gguf_kv("tokenizer.ggml.tokens", ARRAY, gguf_array(STRING, vocab, real_tokens)),
            gguf_kv("tokenizer.ggml.scores", ARRAY, gguf_array(6, vocab, bytes(4 * vocab))),
            gguf_kv("tokenizer.ggml.token_type", ARRAY, gguf_array(5, vocab, bytes(4 * vocab))),
            gguf_kv("tokenizer.ggml.merges", ARRAY, gguf_array(STRING, 2 * vocab, real_merges)),
        ], llama_tensors())
    yield f"{MAX_VALUES:,} u8 values", gguf(llama_keys() + [gguf_kv("x", ARRAY, gguf_array(U8, MAX_VALUES, bytes(MAX_VALUES)))], llama_tensors())
    yield f"{strings:,} one-byte strings", gguf(llama_keys() + [gguf_kv("x", ARRAY, gguf_array(STRING, strings, gguf_string("a") * strings))], llama_tensors())
    yield f"{nested:,} empty nested arrays", gguf(llama_keys() + [gguf_kv("x", ARRAY, gguf_array(ARRAY, nested, gguf_array(U32, 0, b"") * nested))], llama_tensors())
    yield f"{MAX_DEPTH} levels of nesting", gguf(llama_keys() + [gguf_kv("x", ARRAY, gguf_array(ARRAY, 1, b"") * MAX_DEPTH + gguf_array(U32, 0, b""))], llama_tensors())
    yield f"{MAX_TENSORS:,} tensors", gguf(llama_keys(), llama_tensors() + [gguf_tensor(f"t{i}", (1, 1)) for i in range(MAX_TENSORS - 3)])
    yield f"{budget // MAX_STRING - 1} strings of {MAX_STRING >> 20} MiB", gguf(llama_keys() + [
        gguf_kv(f"s{i}", STRING, gguf_string(b"a" * MAX_STRING)) for i in range(budget // MAX_STRING - 1)
    ], llama_tensors())


# VmHWM (peak resident memory) starts afresh in the new process; ru_maxrss would carry this one's over.
_MEASURE = """
import pathlib, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
from fitadvisor.models.gguf import read_file_header
start = time.perf_counter()
header = read_file_header(pathlib.Path(sys.argv[1]))
seconds = time.perf_counter() - start
peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(seconds, peak, header.size)
"""


def main() -> int:
    print(f"{'HEADER':<44} {'BYTES':>10} {'SECONDS':>8} {'PEAK RSS':>9}")
    worst_rss = 0
    with tempfile.TemporaryDirectory() as directory:
        for name, data in cases():
            path = Path(directory) / "h.gguf"
            path.write_bytes(data)
            run = subprocess.run([sys.executable, "-c", _MEASURE.format(cap=MEMORY_CAP), str(path)], capture_output=True, text=True)
            if run.returncode:
                print(f"{name:<44} failed: {run.stderr.strip().splitlines()[-1]}")
                return 1
            seconds, rss_kib, size = run.stdout.split()
            worst_rss = max(worst_rss, int(rss_kib))
            print(f"{name:<44} {int(size) / 2**20:>6.1f} MiB {float(seconds):>8.2f} {int(rss_kib) / 1024:>6.0f} MiB")
    print(f"header budget {MAX_HEADER >> 20} MiB; worst peak {worst_rss / 1024:.0f} MiB under a {MEMORY_CAP >> 30} GiB cap")
    return 0


if __name__ == "__main__":
    sys.exit(main())

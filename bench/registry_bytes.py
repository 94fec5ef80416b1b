"""Bytes read from a registry per model: header size vs what the range requests transferred.

Serves synthetic GGUFs shaped like catalog models (multi-GB, sparse on disk) from the 127.0.0.1
registry stand-in used by the tests, fetches each once with an empty cache, and prints the header
size, the bytes transferred and the overshoot, which must stay under one read-ahead chunk.

    python bench/registry_bytes.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import ggufs  # noqa: E402
from fake_registry import FakeRegistry  # noqa: E402

from fitadvisor.models import catalog  # noqa: E402
from fitadvisor.models.gguf import READ_AHEAD, read_file_header  # noqa: E402
from fitadvisor.models.registry import Registry  # noqa: E402

MODELS = ["llama3.1:8b", "qwen3-coder:30b", "gemma3:27b", "gpt-oss:20b", "granite4:32b-a9b-h", "qwen3-coder-next", "glm-4.7-flash"]


def main() -> int:
    fake = FakeRegistry().start()
    os.environ["FITADVISOR_REGISTRY"] = fake.url
    worst = 0
    print(f"{'MODEL':<24} {'BLOB':>9} {'HEADER':>10} {'TRANSFERRED':>12} {'OVERSHOOT':>10}")
    try:
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            for name in MODELS:
                model = catalog.resolve(name)
                # A vocabulary in the header, as real models carry, makes it realistically large.
                manifest = fake.publish(model.reference, root, ggufs.from_architecture(model.architecture, tokens=True))
                blob = fake.blobs[manifest["layers"][0]["digest"]]
                header = read_file_header(blob).size
                remote = Registry(cache=root / "cache").fetch(model.reference)
                transferred = remote.bytes_transferred
                overshoot = transferred - header
                worst = max(worst, overshoot)
                print(f"{name:<24} {blob.stat().st_size / 1e9:>7.1f}GB {header:>10,} {transferred:>12,} {overshoot:>10,}")
    finally:
        fake.stop()
    print(f"read-ahead chunk {READ_AHEAD:,} bytes; largest overshoot {worst:,} bytes (manifest included)")
    return 0 if worst < READ_AHEAD else 1


if __name__ == "__main__":
    sys.exit(main())

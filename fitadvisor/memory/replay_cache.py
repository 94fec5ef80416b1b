"""The graph replay's answers (memory/graph/compute.py), kept between runs in the derived cache.

A replay builds and allocates the graphs llama.cpp reserves: exact, but far slower than the rest of an
estimate, and `recommend` asks for dozens. An answer depends only on the architecture, the reservation's
parameters and the replay's code, so each is kept under a fingerprint of the architecture (CRC-32 and
Adler-32 of its repr, every field) and the parameters, valid while fitadvisor's version, the code under
memory/graph/ and the Architecture it reads stay the same. The graph modules are imported only when an
answer is missing. The functions have the names and arguments of memory/graph/compute.py's.
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from pathlib import Path

from fitadvisor.datafiles import Derived
from fitadvisor.models.architecture import Architecture


def has_builder(arch: Architecture) -> bool:
    return _kept(arch, "has_builder", ())


def has_drafting_builder(arch: Architecture) -> bool:
    return _kept(arch, "has_drafting_builder", ())


def compute_buffer_bytes(arch: Architecture, *params: int | bool | str) -> int:
    return _kept(arch, "compute_buffer_bytes", params)


def drafting_compute_bytes(arch: Architecture, *params: int | bool | str) -> int:
    return _kept(arch, "drafting_compute_bytes", params)


@lru_cache(maxsize=4096)
def _kept(arch: Architecture, function: str, params: tuple) -> int | bool:
    def replay() -> int | bool:
        from fitadvisor.memory.graph import compute

        return getattr(compute, function)(arch, *params)

    answer_type = bool if function.startswith("has_") else int
    key = " ".join([function, _fingerprint(arch), *map(str, params)])
    return _answers().get(key, replay, lambda answer: type(answer) is answer_type and answer >= 0)


@lru_cache(maxsize=256)
def _fingerprint(arch: Architecture) -> str:
    text = repr(arch).encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(text):08x}{zlib.adler32(text):08x}"


@lru_cache(maxsize=1)
def _answers() -> Derived:
    here = Path(__file__).resolve().parent
    code = [here.parent / "models" / "architecture.py", *sorted((here / "graph").rglob("*.py"))]
    return Derived("graph-replay", [path.read_bytes() for path in code], deferred=True)  # dozens of answers a run

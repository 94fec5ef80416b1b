"""Another machine, described by --memory, --gpu-memory and --chip, built into the same Hardware."""

from __future__ import annotations

import re
from dataclasses import replace

from fitadvisor.errors import FitAdvisorError
from fitadvisor.hardware._assemble import assemble
from fitadvisor.hardware._common import OS_RESERVE_BYTES, tables
from fitadvisor.hardware.machine import Cpu, Gpu, Hardware
from fitadvisor.units import GIB, parse_size


def planning_note(memory: int) -> str:
    return (
        f"planned machine: available memory is its RAM less {OS_RESERVE_BYTES // GIB} GiB for the OS and apps "
        f"({(memory - OS_RESERVE_BYTES) / GIB:.0f} GiB)"
    )


def apple_chip(text: str) -> str:
    """The table's name for a chip given as "Apple M4 Pro", "m4 pro" or "M4 Pro"."""
    name = " ".join(text.split())
    candidates = [name, f"Apple {name}"]
    for chip in tables().apple_chips():
        if chip.lower() in (candidate.lower() for candidate in candidates):
            return chip
    known = ", ".join(tables().apple_chips())
    raise FitAdvisorError(f"unknown chip {text!r}: use one of {known}")


def apple_plan(chip_text: str, memory_text: str | None) -> Hardware:
    """A Mac with this chip and RAM: Metal's default working set is the GPU, the chip's bin its bandwidth."""
    chip = apple_chip(chip_text)
    rows = tables().apple_rows(chip)
    offered = sorted({gb for row in rows for gb in row["memory_gb"]})
    notes = []
    if memory_text is None:
        memory = offered[0] * GIB
        notes.append(f"no --memory given: planning the {chip} with its smallest memory, {offered[0]} GB")
    else:
        memory = parse_size(memory_text)
    gb = memory / GIB
    if gb not in offered:
        notes.append(f"Apple sells the {chip} with {', '.join(map(str, offered))} GB, not {gb:g} GB")
    bins = [row for row in rows if gb in row["memory_gb"]] or rows
    cores = bins[0]["gpu_cores"][-1] if len({row["bandwidth_gbs"] for row in bins}) == 1 else None
    bandwidth, bandwidth_note = tables().apple_bandwidth(chip, cores)
    notes.append(bandwidth_note)
    working_set = tables().metal_working_set(memory)
    notes.append(
        f"the GPU may use {working_set / GIB:.1f} GiB of {gb:g} GiB (Metal's default working set on macOS 15 and "
        "earlier; macOS 26 allows more, and iogpu.wired_limit_mb can raise it)"
    )
    notes.append(planning_note(memory))
    gpu = Gpu("apple", chip, working_set, None, "metal", bandwidth)
    cpu = Cpu(chip, 0, 0)  # core counts vary by bin and do not decide what fits
    return assemble("darwin", chip, cpu, memory, max(0, memory - OS_RESERVE_BYTES), True, [gpu], bandwidth, notes)


# Discrete GPUs a --chip may name, by the maker's words in the name: vendor and the ggml backend Ollama uses.
_DISCRETE_VENDORS = (("nvidia", "cuda", r"\b(rtx|gtx|geforce|quadro|tesla|titan|nvidia|[ahlbv]\d{2,3})\b"), ("amd", "rocm", r"\b(radeon|rx|instinct|mi\d{3})\b"))


def is_discrete_gpu(name: str) -> bool:
    """Whether --chip names a discrete GPU of the hardware table (RTX 4090, RX 7900 XTX), not an Apple chip."""
    row = tables().gpu_row(name)
    return row is not None and not row.get("unified", False) and _vendor(name) is not None


def _vendor(name: str) -> tuple[str, str] | None:
    for vendor, library, pattern in _DISCRETE_VENDORS:
        if re.search(pattern, name, re.IGNORECASE):
            return vendor, library
    return None


def adjust(detected: Hardware, memory_text: str | None, gpu_memory_text: str | None, gpu_name: str | None = None) -> Hardware:
    """This machine with its RAM and/or its GPUs replaced (a named GPU brings its bandwidth from the table)."""
    memory = parse_size(memory_text) if memory_text else None
    vram = parse_size(gpu_memory_text) if gpu_memory_text else None
    if detected.chip and detected.chip.startswith("Apple") and vram is None:
        return apple_plan(detected.chip, memory_text)  # more RAM on a Mac also means a larger GPU share
    notes = [note for note in detected.notes if "models run on the CPU" not in note and "bandwidth unknown" not in note]
    total, available = detected.memory_bytes, detected.available_memory_bytes
    if memory is not None:
        total, available = memory, max(0, memory - OS_RESERVE_BYTES)
        notes.append(planning_note(memory))
    gpus = list(detected.gpus)
    unified = detected.unified_memory
    if vram is not None:
        if detected.chip and detected.chip.startswith("Apple"):
            raise FitAdvisorError("--gpu-memory plans a discrete GPU, which a Mac with Apple silicon cannot have: use --memory")
        if gpu_name:
            vendor, library = _vendor(gpu_name) or ("unknown", "cuda")
            bandwidth = float(tables().gpu_row(gpu_name)["bandwidth_gbs"])
            gpus = [Gpu(vendor, f"{' '.join(gpu_name.split())} ({vram / GIB:g} GiB)", vram, None, library, bandwidth)]
            notes.append(f"planned GPU: {gpu_name} with all its VRAM free, {bandwidth:g} GB/s")
        else:
            gpus = [Gpu("unknown", f"planned GPU ({vram / GIB:g} GiB)", vram, None, "cuda")]
            notes.append("planned GPU: modelled as a CUDA GPU with all its VRAM free (name it with --chip for its speed)")
        unified = False
    planned = assemble(detected.os, None, detected.cpu, total, available, unified, gpus, detected.ram_bandwidth_gbs, notes)
    return replace(planned, gpu_overhead_bytes=detected.gpu_overhead_bytes)

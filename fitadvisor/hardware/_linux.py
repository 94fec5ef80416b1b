"""Linux: /proc for CPU and RAM, nvidia-smi and amdgpu sysfs for GPUs, udev's DMI table for RAM speed."""

from __future__ import annotations

import os

from fitadvisor.hardware import _amd, _nvidia
from fitadvisor.hardware._assemble import assemble
from fitadvisor.hardware._common import ram_bandwidth_from_dmi, read_text, tables
from fitadvisor.hardware.machine import Cpu, Hardware

# Instruction-set extensions llama.cpp's CPU backend picks kernels by (x86 and Arm spellings).
RELEVANT_FLAGS = (
    "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512vnni", "avx512_bf16", "avx_vnni",
    "amx_tile", "amx_int8", "amx_bf16", "asimd", "asimddp", "asimdhp", "sve", "sve2", "i8mm", "bf16",
)


def parse_meminfo(text: str) -> tuple[int | None, int | None]:
    """MemTotal and MemAvailable from /proc/meminfo, in bytes."""
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key.strip()] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return values.get("MemTotal"), values.get("MemAvailable")


def parse_cpuinfo(text: str) -> tuple[str | None, tuple[str, ...], int | None]:
    """CPU name, relevant flags, and physical cores (distinct physical id/core id pairs) from /proc/cpuinfo."""
    name, flags, cores = None, set(), set()
    physical = core = None
    for line in text.splitlines() + [""]:
        key, _, value = (part.strip() for part in line.partition(":"))
        if key in ("model name", "Hardware", "cpu model") and not name and value:
            name = value
        elif key in ("flags", "Features"):
            flags.update(value.split())
        elif key == "physical id":
            physical = value
        elif key == "core id":
            core = value
        elif not key and core is not None:
            cores.add((physical, core))
            physical = core = None
    return name, tuple(flag for flag in RELEVANT_FLAGS if flag in flags), (len(cores) or None)


def detect() -> Hardware:
    notes: list[str] = []
    total, available = parse_meminfo(read_text("/proc/meminfo") or "")
    if total is None:
        import psutil

        memory = psutil.virtual_memory()
        total, available = memory.total, memory.available
    available = available if available is not None else total
    name, flags, cores = parse_cpuinfo(read_text("/proc/cpuinfo") or "")
    threads = os.cpu_count() or 1
    cpu = Cpu(name or os.uname().machine or "unknown CPU", cores or threads, threads, flags)

    rows, nvidia_notes = _nvidia.query()
    gpus, more, unified = _nvidia.nvidia_gpus(rows, total, available)
    notes += nvidia_notes + more
    amd, more, amd_unified = _amd.amd_gpus(_amd.read_cards(), cpu.name, total, available)
    gpus += amd
    notes += more
    unified = unified or amd_unified

    ram_bandwidth = tables().cpu_bandwidth(cpu.name)
    if ram_bandwidth is None:
        ram_bandwidth = ram_bandwidth_from_dmi(read_text("/run/udev/data/+dmi:id") or "")
    return assemble("linux", None, cpu, total, available, unified, gpus, ram_bandwidth, notes)

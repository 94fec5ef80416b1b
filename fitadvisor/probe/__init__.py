"""Placeholder probe (RAM only, no GPU); replaced by the per-platform probe."""

from __future__ import annotations

import os
import platform

from fitadvisor.hardware import Cpu, Gpu, Hardware
from fitadvisor.units import GIB, parse_size


def detect(memory: str | None = None, gpu_memory: str | None = None, chip: str | None = None) -> Hardware:
    import psutil

    vm = psutil.virtual_memory()
    total = parse_size(memory) if memory else vm.total
    available = total if memory else vm.available
    gpus: tuple[Gpu, ...] = ()
    unified = False
    if chip:
        share = 2 / 3 if total <= 32 * GIB else 3 / 4
        gpus = (Gpu("apple", chip, int(total * share), library="metal"),)
        unified = True
    elif gpu_memory:
        gpus = (Gpu("nvidia", "GPU", parse_size(gpu_memory), library="cuda"),)
    cpu = Cpu(platform.processor() or "cpu", os.cpu_count() or 1, os.cpu_count() or 1)
    return Hardware(platform.system().lower(), chip, cpu, total, available, unified, gpus)

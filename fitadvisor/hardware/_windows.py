"""Windows: nvidia-smi for NVIDIA GPUs, the registry's 64-bit qwMemorySize for the rest.

WMI's Win32_VideoController.AdapterRAM is a uint32 that tops out near 4 GiB, so it is never used.
"""

from __future__ import annotations

import os
import platform

from fitadvisor.hardware import _nvidia
from fitadvisor.hardware._assemble import assemble
from fitadvisor.hardware._common import tables
from fitadvisor.hardware.machine import Cpu, Gpu, Hardware

_DISPLAY_CLASS = r"SYSTEM\CurrentControlSet\Control\Class\{4d36e968-e325-11ce-bfc1-08002be10318}"


def registry_adapters() -> list[tuple[str, int | None]]:
    """(DriverDesc, HardwareInformation.qwMemorySize) for each display adapter the registry lists."""
    import winreg

    adapters = []
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, _DISPLAY_CLASS) as display:
            for index in range(winreg.QueryInfoKey(display)[0]):
                try:
                    with winreg.OpenKey(display, winreg.EnumKey(display, index)) as key:
                        name = winreg.QueryValueEx(key, "DriverDesc")[0]
                        try:
                            size = int(winreg.QueryValueEx(key, "HardwareInformation.qwMemorySize")[0])
                        except (OSError, ValueError, TypeError):
                            size = None
                        adapters.append((str(name), size))
                except OSError:
                    continue
    except OSError:
        return []
    return adapters


def amd_adapters(adapters: list[tuple[str, int | None]]) -> list[Gpu]:
    """Radeon adapters with a 64-bit memory size (NVIDIA ones come from nvidia-smi)."""
    gpus = []
    for name, size in adapters:
        if "radeon" in name.lower() and size:
            spec = tables().gpu_row(name) or {}
            gpus.append(Gpu("amd", name, size, None, "rocm", spec.get("bandwidth_gbs")))
    return gpus


def _cpu_name() -> str:
    try:
        import winreg

        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"HARDWARE\DESCRIPTION\System\CentralProcessor\0") as key:
            return str(winreg.QueryValueEx(key, "ProcessorNameString")[0]).strip()
    except OSError:
        return platform.processor() or "unknown CPU"


def detect() -> Hardware:
    import psutil

    memory = psutil.virtual_memory()
    threads = os.cpu_count() or 1
    name = _cpu_name()
    cpu = Cpu(name, psutil.cpu_count(logical=False) or threads, threads)
    rows, notes = _nvidia.query()
    gpus, more, unified = _nvidia.nvidia_gpus(rows, memory.total, memory.available)
    notes += more
    if not gpus:
        gpus = amd_adapters(registry_adapters())
    return assemble("windows", None, cpu, memory.total, memory.available, unified, gpus, tables().cpu_bandwidth(name), notes)

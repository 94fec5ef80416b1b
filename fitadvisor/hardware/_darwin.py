"""macOS: sysctl for the chip, cores and RAM; the IO registry for GPU cores; Metal for the GPU's share."""

from __future__ import annotations

import re

from fitadvisor.hardware._assemble import assemble
from fitadvisor.hardware._common import run_tool, tables
from fitadvisor.hardware.machine import Cpu, Gpu, Hardware
from fitadvisor.units import MIB

SYSCTL_NAMES = (
    "machdep.cpu.brand_string", "hw.memsize", "hw.physicalcpu", "hw.logicalcpu", "hw.perflevel0.physicalcpu",
    "hw.perflevel1.physicalcpu", "hw.optional.arm64", "sysctl.proc_translated", "iogpu.wired_limit_mb",
    "kern.osproductversion", "hw.optional.arm.FEAT_DotProd", "hw.optional.arm.FEAT_I8MM", "hw.optional.arm.FEAT_BF16",
)
_ARM_FLAGS = {"hw.optional.arm.FEAT_DotProd": "dotprod", "hw.optional.arm.FEAT_I8MM": "i8mm", "hw.optional.arm.FEAT_BF16": "bf16"}


def parse_sysctl(text: str) -> dict[str, str]:
    """`sysctl NAME...` lines (`name: value`); unknown names only print to stderr and are absent."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith("sysctl"):
            values[key.strip()] = value.strip()
    return values


def parse_ioreg_gpu(text: str) -> tuple[str | None, int | None]:
    """The GPU's model name and core count from `ioreg -rc AGXAccelerator -d 1`."""
    model = re.search(r'"model"\s*=\s*"([^"]+)"', text)
    cores = re.search(r'"gpu-core-count"\s*=\s*(\d+)', text)
    return (model.group(1) if model else None), (int(cores.group(1)) if cores else None)


def _int(values: dict[str, str], key: str) -> int | None:
    text = values.get(key, "")
    return int(text) if text.isdigit() else None


def working_set_fallback(memory: int, wired_limit_mb: int | None) -> int:
    """Metal's working set when Metal cannot be asked: iogpu.wired_limit_mb when set, else macOS's default rule."""
    if wired_limit_mb:
        return min(wired_limit_mb * MIB, memory)
    return tables().metal_working_set(memory)


def metal_working_set() -> int | None:
    """MTLDevice.recommendedMaxWorkingSetSize through the Objective-C runtime (no dependency); None on failure."""
    import ctypes

    try:
        ctypes.CDLL("/System/Library/Frameworks/CoreGraphics.framework/CoreGraphics")  # lets CLI tools see the GPU
        metal = ctypes.CDLL("/System/Library/Frameworks/Metal.framework/Metal")
        objc = ctypes.CDLL("/usr/lib/libobjc.A.dylib")
        metal.MTLCreateSystemDefaultDevice.restype = ctypes.c_void_p
        device = metal.MTLCreateSystemDefaultDevice()
        if not device:
            return None
        objc.sel_registerName.restype = ctypes.c_void_p
        objc.sel_registerName.argtypes = [ctypes.c_char_p]
        send = objc.objc_msgSend
        send.restype = ctypes.c_uint64
        send.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        return int(send(device, objc.sel_registerName(b"recommendedMaxWorkingSetSize"))) or None
    except (OSError, AttributeError):
        return None


def apple_hardware(
    values: dict[str, str], ioreg_text: str | None, available: int, working_set: int | None, notes: list[str]
) -> Hardware:
    """Hardware for a Mac from its sysctl values, ioreg output and Metal's working set (pure)."""
    brand = values.get("machdep.cpu.brand_string", "unknown CPU")
    memory = _int(values, "hw.memsize") or 0
    threads = _int(values, "hw.logicalcpu") or 1
    cores = _int(values, "hw.physicalcpu") or threads
    flags = tuple(flag for key, flag in _ARM_FLAGS.items() if values.get(key) == "1")
    apple_silicon = values.get("hw.optional.arm64") == "1" or brand.startswith("Apple")
    if not apple_silicon:
        cpu = Cpu(brand, cores, threads, flags)
        notes.append("an Intel Mac: Ollama runs models on the CPU only")
        return assemble("darwin", None, cpu, memory, available, False, [], tables().cpu_bandwidth(brand), notes)

    performance, efficiency = _int(values, "hw.perflevel0.physicalcpu"), _int(values, "hw.perflevel1.physicalcpu")
    name = f"{brand} ({performance}P+{efficiency}E)" if performance and efficiency else brand
    cpu = Cpu(name, cores, threads, ("neon",) + flags)
    model, gpu_cores = parse_ioreg_gpu(ioreg_text or "")
    chip = brand if brand.startswith("Apple") else (model or brand)
    bandwidth, bandwidth_note = tables().apple_bandwidth(chip, gpu_cores)
    if bandwidth is None:
        notes.append(f"{chip} is not in fitadvisor's chip table: bandwidth unknown")
    notes.append(bandwidth_note)
    if values.get("sysctl.proc_translated") == "1":
        notes.append("this Python runs under Rosetta; Ollama itself runs natively and sees the same GPU")
    wired = _int(values, "iogpu.wired_limit_mb")
    if working_set is None:
        working_set = working_set_fallback(memory, wired)
        notes.append("Metal could not be asked for its GPU working set: using macOS's default share of RAM")
    elif wired:
        notes.append(f"iogpu.wired_limit_mb = {wired} raises the GPU's share of RAM (Metal reports it)")
    label = f"{chip} ({gpu_cores}-core GPU)" if gpu_cores else chip
    gpu = Gpu("apple", label, working_set, None, "metal", bandwidth)
    notes.append(f"the GPU may use {working_set / 2**30:.1f} GiB of the {memory / 2**30:.0f} GiB unified memory (Metal's working set)")
    return assemble("darwin", chip, cpu, memory, available, True, [gpu], bandwidth, notes)


def detect() -> Hardware:
    import psutil

    notes: list[str] = []
    sysctl = run_tool(["sysctl", *SYSCTL_NAMES])
    notes.append(sysctl.problem)
    values = parse_sysctl(sysctl.text or "")
    memory = psutil.virtual_memory()
    values.setdefault("hw.memsize", str(memory.total))
    apple = values.get("hw.optional.arm64") == "1"
    ioreg = run_tool(["ioreg", "-rc", "AGXAccelerator", "-d", "1"]) if apple else None
    if ioreg is not None:
        notes.append(ioreg.problem)
    working_set = metal_working_set() if apple else None
    if working_set is not None and not 0 < working_set <= int(values["hw.memsize"]):
        working_set = None
    return apple_hardware(values, ioreg.text if ioreg else None, memory.available, working_set, notes)

"""The machine as Ollama sees it: one `detect()` over per-platform probes, or a planned machine.

Every probe is quick (files, a few short-lived tools with timeouts) and never fails on odd
output: what cannot be read becomes "unknown" with a note in `Hardware.notes`.
"""

from __future__ import annotations

import platform

from fitadvisor.errors import FitAdvisorError
from fitadvisor.hardware.machine import Hardware
from fitadvisor.units import parse_size


def detect(memory: str | None = None, gpu_memory: str | None = None, chip: str | None = None) -> Hardware:
    """This machine, or the machine the overrides describe (--memory, --gpu-memory, --chip)."""
    from fitadvisor.hardware import described as _plan

    for text in (memory, gpu_memory):
        if text is not None:
            parse_size(text)  # reject a bad size before probing anything
    if chip is not None and not _plan.is_discrete_gpu(chip):
        if gpu_memory is not None:
            raise FitAdvisorError("--chip and --gpu-memory cannot be combined: an Apple chip's GPU shares its RAM (use --memory)")
        return _plan.apple_plan(chip, memory)
    if chip is not None and gpu_memory is None:
        raise FitAdvisorError(f"--chip {chip!r} names a discrete GPU: give its VRAM too, e.g. --gpu-memory 24GB")
    detected = detect_this_machine()
    if memory is None and gpu_memory is None:
        return detected
    return _plan.adjust(detected, memory, gpu_memory, chip)


def detect_this_machine() -> Hardware:
    system = platform.system()
    if system == "Darwin":
        from fitadvisor.hardware import _darwin as probe
    elif system == "Windows":
        from fitadvisor.hardware import _windows as probe
    else:
        from fitadvisor.hardware import _linux as probe  # Linux and other Unix-likes with /proc
    return probe.detect()

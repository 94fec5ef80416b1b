"""The machine as Ollama sees it: one `detect()` over per-platform probes, or a planned machine.

Every probe is quick (files, a few short-lived tools with timeouts) and never fails on odd
output: what cannot be read becomes "unknown" with a note in `Hardware.notes`.
"""

from __future__ import annotations

import sys

from fitadvisor.hardware.machine import Hardware


def detect(
    memory: str | None = None,
    gpu_memory: str | tuple[str, ...] = (),
    chip: str | None = None,
    gpus: str | None = None,
    wired_limit: str | None = None,
    ram_bandwidth: float | None = None,
) -> Hardware:
    """This machine, or the machine the description names (--memory, --gpu-memory, --gpus, --chip, ...)."""
    from fitadvisor.hardware.described import Description, describe

    description = Description(memory, gpu_memory, gpus, chip, wired_limit, ram_bandwidth)
    return describe(description, detect_this_machine) if description.given else detect_this_machine()


def detect_this_machine() -> Hardware:
    if sys.platform == "darwin":
        from fitadvisor.hardware import _darwin as probe
    elif sys.platform == "win32":
        from fitadvisor.hardware import _windows as probe
    else:
        from fitadvisor.hardware import _linux as probe  # Linux and other Unix-likes with /proc
    return probe.detect()

"""NVIDIA GPUs through `nvidia-smi` (ships with the driver on Linux and Windows)."""

from __future__ import annotations

from dataclasses import dataclass

from fitadvisor.hardware._common import compute_capability, run_tool, tables
from fitadvisor.hardware.machine import Gpu
from fitadvisor.units import MIB

QUERY = ["nvidia-smi", "--query-gpu=index,name,memory.total,memory.free", "--format=csv,noheader,nounits"]


@dataclass(frozen=True)
class NvidiaRow:
    index: int
    name: str
    total_bytes: int | None  # None where the driver reports [N/A] (GB10 and other unified-memory parts)
    free_bytes: int | None


def parse_nvidia_smi(text: str) -> list[NvidiaRow]:
    """Rows of `nvidia-smi --query-gpu=index,name,memory.total,memory.free --format=csv,noheader,nounits` (MiB).

    A header line (from `--format=csv`) and lines that are not GPU rows are skipped; `[N/A]` and
    `[Not Supported]` become None.
    """
    rows = []
    for line in text.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 4 or not parts[0].isdigit():
            continue
        rows.append(NvidiaRow(int(parts[0]), parts[1], _mib(parts[2]), _mib(parts[3])))
    return rows


def _mib(text: str) -> int | None:
    text = text.replace("MiB", "").strip()
    try:
        return int(float(text) * MIB)
    except ValueError:
        return None


def nvidia_gpus(rows: list[NvidiaRow], ram_total: int, ram_available: int) -> tuple[list[Gpu], list[str], bool]:
    """Gpu objects for the rows, notes, and whether the GPU shares system RAM (GB10-class machines)."""
    gpus, notes, unified = [], [], False
    for row in rows:
        spec = tables().gpu_row(row.name, row.total_bytes) or {}
        bandwidth, capability = spec.get("bandwidth_gbs"), compute_capability(spec)
        if spec.get("unified"):
            # GB10: no VRAM of its own, so nvidia-smi reports [N/A]; the GPU allocates from system RAM,
            # which is what CUDA reports as its total and free memory.
            unified = True
            gpus.append(Gpu("nvidia", row.name, ram_total, ram_available, "cuda", bandwidth, capability))
            notes.append(f"{row.name} shares the machine's {ram_total / 2**30:.0f} GiB of RAM with the CPU (unified memory)")
        elif row.total_bytes is None:
            notes.append(f"nvidia-smi reports no memory size for GPU {row.index} ({row.name}): it is left out")
        else:
            gpus.append(Gpu("nvidia", row.name, row.total_bytes, row.free_bytes, "cuda", bandwidth, capability))
    return gpus, notes, unified


def query() -> tuple[list[NvidiaRow], list[str]]:
    output = run_tool(QUERY)
    if output.text is None:
        return [], [output.problem] if output.problem else []
    rows = parse_nvidia_smi(output.text)
    if not rows and output.text.strip():
        return [], [f"nvidia-smi answered something unexpected ({output.text.strip().splitlines()[0][:80]!r}): NVIDIA GPUs unknown"]
    return rows, []

"""Turn what a platform probe found into one Hardware, with the notes a reader needs."""

from __future__ import annotations

from fitadvisor.hardware._common import gpu_overhead_bytes, tables
from fitadvisor.hardware.machine import Cpu, Gpu, Hardware


def assemble(
    os_name: str,
    chip: str | None,
    cpu: Cpu,
    memory: int,
    available: int,
    unified: bool,
    gpus: list[Gpu],
    ram_bandwidth: float | None,
    notes: list[str],
) -> Hardware:
    overhead, overhead_note = gpu_overhead_bytes()
    notes = [note for note in notes if note]
    if overhead_note:
        notes.append(overhead_note)
    if gpus:
        known = [gpu.bandwidth_gbs for gpu in gpus if gpu.bandwidth_gbs]
        # Layers split across GPUs are read one GPU after the other: the slowest sets the pace.
        bandwidth = min(known) if len(known) == len(gpus) else None
        if bandwidth is None:
            notes.append("GPU memory bandwidth unknown for this GPU: speed estimates are not possible")
        if unified and ram_bandwidth is None:
            ram_bandwidth = bandwidth
    else:
        bandwidth = ram_bandwidth
        if ram_bandwidth is None:
            low, high = tables().typical_dual_channel_gbs
            expect = f"the RAM's speed is not readable here; a dual-channel desktop or laptop gives {low:g}-{high:g} GB/s"
        else:
            expect = f"RAM bandwidth about {ram_bandwidth:g} GB/s (CPU decoding reaches 60-80% of it)"
        notes.append(f"no GPU that Ollama can use: models run on the CPU from RAM; {expect}")
    return Hardware(
        os=os_name, chip=chip, cpu=cpu, memory_bytes=memory, available_memory_bytes=available, unified_memory=unified,
        gpus=tuple(gpus), memory_bandwidth_gbs=bandwidth, gpu_overhead_bytes=overhead, ram_bandwidth_gbs=ram_bandwidth,
        notes=tuple(notes),
    )

"""Shared pieces for tests that drive verify/doctor against the stand-in Ollama."""

from fitadvisor.hardware.machine import Cpu, Gpu, Hardware
from fitadvisor.units import GIB

RTX_4090_BOX = Hardware(
    os="linux", chip=None, cpu=Cpu("AMD Ryzen 9 7950X", 16, 32), memory_bytes=64 * GIB,
    available_memory_bytes=60 * GIB, unified_memory=False,
    gpus=(Gpu("nvidia", "NVIDIA GeForce RTX 4090", 24 * GIB, library="cuda"),),
)
CPU_ONLY_BOX = Hardware(
    os="linux", chip=None, cpu=Cpu("Intel Xeon", 8, 16), memory_bytes=32 * GIB,
    available_memory_bytes=30 * GIB, unified_memory=False,
)

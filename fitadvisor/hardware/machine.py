"""The machine as Ollama sees it: the one object the probe returns and the overrides build."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cpu:
    name: str
    cores: int  # physical cores
    threads: int
    flags: tuple[str, ...] = ()  # instruction-set extensions that matter to llama.cpp (avx2, avx512f, neon, ...)


@dataclass(frozen=True)
class Gpu:
    vendor: str  # "apple", "nvidia", "amd", "intel"
    name: str
    memory_bytes: int  # total memory the GPU may use: VRAM, or Metal's recommended working set on a Mac
    free_bytes: int | None = None  # free memory as the driver reports it, when it does
    library: str = ""  # the ggml backend Ollama would use: "metal", "cuda", "rocm", "vulkan"
    bandwidth_gbs: float | None = None  # peak memory bandwidth, GB/s, where known
    compute_capability: tuple[int, int] | None = None  # an NVIDIA GPU's CUDA compute capability, where known

    @property
    def usable_bytes(self) -> int:
        return self.memory_bytes if self.free_bytes is None else min(self.free_bytes, self.memory_bytes)


@dataclass(frozen=True)
class Hardware:
    os: str  # "linux", "darwin", "windows"
    chip: str | None  # e.g. "Apple M4 Pro"; None where there is no single system chip
    cpu: Cpu
    memory_bytes: int
    available_memory_bytes: int
    unified_memory: bool
    gpus: tuple[Gpu, ...] = ()
    memory_bandwidth_gbs: float | None = None  # of the memory the model is read from (GPU's, or RAM)
    gpu_overhead_bytes: int = 0  # OLLAMA_GPU_OVERHEAD, reserved on every GPU
    ram_bandwidth_gbs: float | None = None  # of system RAM, what layers left on the CPU are read from
    notes: tuple[str, ...] = field(default=())
    planned_for: str = "this machine"  # which machine a plan is for: this one, a described one, another host's

    @property
    def gpu_total_bytes(self) -> int:
        """Total GPU memory less OLLAMA_GPU_OVERHEAD: what Ollama's default-context tiers look at."""
        return sum(max(0, gpu.memory_bytes - self.gpu_overhead_bytes) for gpu in self.gpus)

    @property
    def is_cuda(self) -> bool:
        return any(gpu.library == "cuda" for gpu in self.gpus)

    def gpu_budgets(self, reserve_per_gpu: int, metal_reserve: int | None = None, with_overhead: bool = True) -> list[int]:
        """Memory Ollama may fill on each GPU: its usable memory less its reserve and, where the release counts it,
        OLLAMA_GPU_OVERHEAD."""
        overhead = self.gpu_overhead_bytes if with_overhead else 0
        budgets = []
        for gpu in self.gpus:
            reserve = metal_reserve if (gpu.library == "metal" and metal_reserve is not None) else reserve_per_gpu
            budgets.append(max(0, gpu.usable_bytes - reserve - overhead))
        return budgets

    def gpu_budget_bytes(self, reserve_per_gpu: int, metal_reserve: int | None = None) -> int:
        """Memory Ollama may fill on all GPUs together."""
        return sum(self.gpu_budgets(reserve_per_gpu, metal_reserve))

    def to_dict(self) -> dict:
        """The JSON shape of `fitadvisor probe --json` (the budget, which depends on the release, is added by the caller)."""
        return {
            "os": self.os,
            "chip": self.chip,
            "cpu": {"name": self.cpu.name, "cores": self.cpu.cores, "threads": self.cpu.threads, "flags": list(self.cpu.flags)},
            "memory_bytes": self.memory_bytes,
            "available_memory_bytes": self.available_memory_bytes,
            "unified_memory": self.unified_memory,
            "gpus": [
                {
                    "vendor": gpu.vendor, "name": gpu.name, "memory_bytes": gpu.memory_bytes, "free_bytes": gpu.free_bytes,
                    "library": gpu.library, "bandwidth_gbs": gpu.bandwidth_gbs,
                }
                for gpu in self.gpus
            ],
            "gpu_overhead_bytes": self.gpu_overhead_bytes,
            "memory_bandwidth_gbs": self.memory_bandwidth_gbs,
            "ram_bandwidth_gbs": self.ram_bandwidth_gbs,
            "notes": list(self.notes),
            "planned_for": self.planned_for,
        }

"""The one memory budget of a machine for a release: what a model may fill, and the margin a plan keeps.

probe, estimate, recommend and apply all show this same budget. Facts and policy: data/recommend.toml [fit].
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from fitadvisor.datafiles import read_toml
from fitadvisor.hardware.machine import Hardware
from fitadvisor.memory.releases import Release
from fitadvisor.units import GIB, format_gb_fine


@lru_cache(maxsize=1)
def fit_policy() -> dict:
    return read_toml("recommend.toml")["fit"]


def ram_share(memory_bytes: int) -> float:
    """The share of RAM a model may fill where no GPU driver sets the limit (macOS's own GPU share)."""
    fit = fit_policy()
    return fit["ram_share_up_to_32gib"] if memory_bytes <= 32 * GIB else fit["ram_share_above_32gib"]


@dataclass(frozen=True)
class Budget:
    bytes: int  # what a model may fill: the GPUs' memory less Ollama's reserve, or RAM less the OS's share
    label: str  # "GPU budget" or "RAM budget"
    release: str
    margin: float  # share a plan leaves unfilled for the estimate's measured error
    per_gpu: tuple[int, ...] = ()

    @property
    def plan_bytes(self) -> int:
        """The most a recommended model and context may fill."""
        return int(self.bytes * (1 - self.margin))

    @property
    def sentence(self) -> str:
        """How every command states the budget."""
        where = "after Ollama's reserve" if self.per_gpu else "RAM less the share the OS keeps"
        gpus = f" over {len(self.per_gpu)} GPUs" if len(self.per_gpu) > 1 else ""
        return (
            f"{self.label} {format_gb_fine(self.bytes)}{gpus} (Ollama {self.release}, {where}); plans fill at most "
            f"{format_gb_fine(self.plan_bytes)}, keeping {self.margin:.1%} for the estimate's measured error"
        )

    def to_dict(self) -> dict:
        return {
            "bytes": self.bytes, "label": self.label, "ollama_version": self.release, "margin": self.margin,
            "plan_bytes": self.plan_bytes, "per_gpu_bytes": list(self.per_gpu),
        }


def budget(hardware: Hardware, release: Release) -> Budget:
    """A discrete GPU's free VRAM or a Mac's Metal working set, less Ollama's per-GPU reserve; an APU
    that may map nearly all RAM, or a CPU-only machine, keeps back the share of RAM macOS keeps."""
    margin = float(fit_policy()["estimate_margin"])
    if not hardware.gpus:
        return Budget(int(hardware.memory_bytes * ram_share(hardware.memory_bytes)), "RAM budget", release.label, margin)
    per_gpu = hardware.gpu_budgets(release.gpu_reserve_bytes, release.metal_reserve_bytes, release.gpu_overhead_in_placement)
    metal = any(gpu.library == "metal" for gpu in hardware.gpus)
    if hardware.unified_memory and not metal:
        cap = int(hardware.memory_bytes * ram_share(hardware.memory_bytes))
        per_gpu = [min(each, cap) for each in per_gpu]
    return Budget(sum(per_gpu), "GPU budget", release.label, margin, tuple(per_gpu))

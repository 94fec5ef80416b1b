"""`probe`: the machine as Ollama sees it, and the budget an Ollama release leaves a model on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fitadvisor.flows.context import RunContext

if TYPE_CHECKING:
    from fitadvisor.hardware.machine import Hardware
    from fitadvisor.memory.budget import Budget
    from fitadvisor.memory.releases import Release


@dataclass
class MachineReport:
    hardware: Hardware
    release: Release
    budget: Budget  # what the release leaves a model on this machine

    def to_dict(self) -> dict:
        return {**self.hardware.to_dict(), "gpu_budget_bytes": self.budget.bytes, "budget": self.budget.to_dict(),
                "budget_sentence": self.budget.sentence, "ollama_version": self.release.label}


def probe_machine(run: RunContext, ollama_version: str | None = None) -> MachineReport:
    """The machine, and the budget a release (by default the newest modelled) leaves a model on it."""
    from fitadvisor.memory.budget import budget
    from fitadvisor.memory.releases import Release

    release = Release.of(ollama_version)
    return MachineReport(run.hardware, release, budget(run.hardware, release))

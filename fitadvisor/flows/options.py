"""What a command asks for, one typed object per concern, built once by `commands/options.py`'s decorators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fitadvisor.hardware.described import Description

if TYPE_CHECKING:
    from fitadvisor.memory.estimate import Settings
    from fitadvisor.memory.releases import Release


# --memory, --gpu-memory, --gpus, --chip, --wired-limit, --ram-bandwidth: the machine to plan for; nothing
# given means this machine, as probed.
MachineOptions = Description


@dataclass(frozen=True)
class EngineOptions:
    """--kv-cache, --flash-attention, --parallel, --batch, --ollama-version: how Ollama is asked to run a model.

    None means "not given": estimates then assume Ollama's defaults (f16 cache, flash attention as the
    release decides, one slot, the release's batch); `verify` reads the server's variables instead.
    """

    kv_cache: str | None = None
    flash_attention: str | None = None
    parallel: int | None = None
    batch: int | None = None
    ollama_version: str | None = None
    sched_spread: bool | None = None  # OLLAMA_SCHED_SPREAD: the estimator's `spread` (verify does not take it)
    draft_num_predict: int | None = None  # the model's PARAMETER draft_num_predict (`estimate` alone takes it)

    def settings(self) -> dict[str, str | int | bool]:
        """The settings given, by their field names in `ServerSettings` (`ServerEnv`) and `memory.estimate.Settings`."""
        given = {
            "kv_cache_type": self.kv_cache, "flash_attention": self.flash_attention, "parallel": self.parallel, "batch": self.batch,
            "spread": self.sched_spread, "draft_num_predict": self.draft_num_predict,
        }
        return {name: value for name, value in given.items() if value is not None}

    def estimate_settings(self, release: Release, num_ctx: int | None = None) -> Settings:
        """The estimator's settings: what was given, Ollama's defaults for the rest."""
        from fitadvisor.memory.estimate import Settings

        return Settings(num_ctx=num_ctx, release=release, **self.settings())


@dataclass(frozen=True)
class AliasOptions:
    """--alias-name, --shell, --allow-anthropic-traffic: how the Claude Code alias is written."""

    alias_name: str = "claude-local"
    shell: str | None = None  # None: from $SHELL
    anthropic_traffic: bool = False

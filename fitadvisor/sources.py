"""Where a model's architecture comes from: a GGUF file, or the catalog."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fitadvisor.architecture import Architecture
from fitadvisor.catalog import resolve


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # as shown to the user
    architecture: Architecture
    source: str  # "catalog", "gguf", "ollama", "store", "registry"


def resolve_model(name: str) -> ResolvedModel:
    """A catalog name, or a path to a .gguf file."""
    if name.endswith(".gguf") or Path(name).is_file():
        from fitadvisor.gguf import read_architecture

        return ResolvedModel(Path(name).name, read_architecture(Path(name)), "gguf")
    model = resolve(name)
    return ResolvedModel(model.reference, model.architecture, "catalog")

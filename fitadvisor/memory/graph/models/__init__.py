"""One graph builder per llama.cpp src/models/<arch>.cpp, by the GGUF architecture name that selects it."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from fitadvisor.memory.graph.llm import GraphContext

# GGUF general.architecture -> the module under fitadvisor/memory/graph/models/ that builds its graph
BUILDERS = {
    "llama": "llama",
    "mistral3": "mistral3",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "qwen35": "qwen35",
}


def builder(arch_name: str) -> Callable[[GraphContext], None] | None:
    module = BUILDERS.get(arch_name)
    return import_module(f"fitadvisor.memory.graph.models.{module}").build if module else None


def drafting_builder(arch_name: str) -> Callable[[GraphContext], None] | None:
    """The drafting context's graph (a model's graph_mtp: its multi-token-prediction layers), where modelled."""
    module = BUILDERS.get(arch_name)
    return getattr(import_module(f"fitadvisor.memory.graph.models.{module}"), "build_mtp", None) if module else None

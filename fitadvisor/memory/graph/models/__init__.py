"""One graph builder per llama.cpp src/models/<arch>.cpp, by the GGUF architecture name that selects it."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from fitadvisor.memory.graph.llm import GraphContext
from fitadvisor.models.architecture import Architecture

# GGUF general.architecture -> the module under fitadvisor/memory/graph/models/ that builds its graph
BUILDERS = {
    "llama": "llama",
    "mistral3": "mistral3",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "qwen35": "qwen35",
    "qwen35moe": "qwen35moe",
    "qwen3next": "qwen3next",
    "granite": "granite",
    "granitehybrid": "granite_hybrid",
    "nemotron_h": "nemotron_h",
    "nemotron_h_moe": "nemotron_h_moe",
    "qwen3moe": "qwen3moe",
    "gpt-oss": "openai_moe",
    "gptoss": "openai_moe",
    "deepseek2": "deepseek2",
    "glm4moelite": "deepseek2",
    "laguna": "laguna",
    "phi3": "phi3",
    "command-r": "command_r",
    "gemma3": "gemma3",
    "gemma4": "gemma4",
}


def builder(arch: Architecture) -> Callable[[GraphContext], None] | None:
    module = BUILDERS.get(arch.name)
    return import_module(f"fitadvisor.memory.graph.models.{module}").build if module else None


def drafting_builder(arch_name: str) -> Callable[[GraphContext], None] | None:
    """The drafting context's graph (a model's graph_mtp: its multi-token-prediction layers), where modelled."""
    module = BUILDERS.get(arch_name)
    return getattr(import_module(f"fitadvisor.memory.graph.models.{module}"), "build_mtp", None) if module else None

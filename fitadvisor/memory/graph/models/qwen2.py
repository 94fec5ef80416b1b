"""src/models/qwen2.cpp: llama's dense decoder; the attention output keeps no name of its own."""

from __future__ import annotations

from fitadvisor.memory.graph.llm import GraphContext
from fitadvisor.memory.graph.models.llama import dense_decoder


def build(g: GraphContext) -> None:
    dense_decoder(g, name_attn_out=False)

"""src/models/mistral3.cpp: llama's dense decoder (its llama-4 attention temperature is an in-place multiply)."""

from __future__ import annotations

from fitadvisor.memory.graph.llm import GraphContext
from fitadvisor.memory.graph.models.llama import dense_decoder


def build(g: GraphContext) -> None:
    dense_decoder(g, name_attn_out=True)

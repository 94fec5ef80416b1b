"""src/models/qwen3.cpp: llama's dense decoder with Q and K RMS-normed per head before RoPE."""

from __future__ import annotations

from fitadvisor.memory.graph.llm import GraphContext
from fitadvisor.memory.graph.models.llama import dense_decoder


def build(g: GraphContext) -> None:
    dense_decoder(g, name_attn_out=False, qk_norm=True)

"""src/models/granite.cpp: llama_model_granite::graph, the dense Granite decoder (granite4's micro models).

Its layers are granite-hybrid.cpp's attention layers and feed-forward blocks (the same C++ twice), built by
models/granite_hybrid.py; the multipliers are ggml_scale ops: the embedding scale in llm.build_inp_embd,
the residual scale on both branches of each layer, the logit scale after the lm_head (a key llama.cpp
requires of this architecture). RoPE is on, as in every granite4 dense file (`rope.scaling.finetuned` absent).
"""

from __future__ import annotations

from fitadvisor.memory.graph.llm import GraphContext
from fitadvisor.memory.graph.models.granite_hybrid import build_decoder


def build(g: GraphContext) -> None:
    build_decoder(g, hybrid=False)

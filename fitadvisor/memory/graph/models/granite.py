"""src/models/granite.cpp: llama_model_granite::graph, the dense Granite decoder (granite4's micro models).

Its attention layer and feed-forward block are granite-hybrid.cpp's (the same C++ twice), built by
models/granite_hybrid.py; the multipliers are ggml_scale ops: the embedding scale in llm.build_inp_embd,
the residual scale on both branches of each layer, the logit scale after the lm_head (a key llama.cpp
requires of this architecture). RoPE is on, as in every granite4 dense file (`rope.scaling.finetuned` absent).
"""

from __future__ import annotations

from fitadvisor.memory.graph.llm import GraphContext, NormType
from fitadvisor.memory.graph.models.granite_hybrid import build_attention_layer, build_layer_ffn


def build(g: GraphContext) -> None:
    n_embd = g.n_embd
    inpL, inp_pos, inp_attn, inp_out_ids = g.build_inputs(g.weight(n_embd, g.n_vocab), g.build_attn_inp_kv)

    for il in g.each_layer():
        inpSA = inpL
        cur = g.build_norm(inpL, g.weight(n_embd), None, NormType.RMS, il)
        g.cb(cur, "attn_norm", il)
        cur = build_attention_layer(g, cur, inp_pos, inp_attn, il)
        cur, inpSA = g.out_rows(il, inp_out_ids, cur, inpSA)
        inpL = build_layer_ffn(g, cur, inpSA, il)

    g.build_output(inpL, logit_scale=g.arch.logit_scale)

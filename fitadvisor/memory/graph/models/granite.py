"""src/models/granite.cpp: llama_model_granite::graph, the dense Granite decoder (granite4's micro models).

Its attention layer and feed-forward block are granite-hybrid.cpp's (the same C++ twice), built by
models/granite_hybrid.py; the multipliers are ggml_scale ops: the embedding scale in llm.build_inp_embd,
the residual scale on both branches of each layer, and the logit scale, which this graph always applies
(llama.cpp refuses a file without granite.logit_scale). RoPE is on, as in every granite4 dense file
(`rope.scaling.finetuned` absent).
"""

from __future__ import annotations

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.llm import GraphContext, NormType
from fitadvisor.memory.graph.models.granite_hybrid import build_attention_layer, build_layer_ffn


def build(g: GraphContext) -> None:
    ctx0, n_embd = g.ctx0, g.n_embd
    tok_embd = g.weight(n_embd, g.n_vocab)
    output_norm, output = g.weight(n_embd), g.weight(n_embd, g.n_vocab)

    inpL = g.build_inp_embd(tok_embd)
    inp_pos = g.build_inp_pos()
    inp_attn = g.build_attn_inp_kv()
    inp_out_ids = g.build_inp_out_ids()

    for il in g.each_layer():
        inpSA = inpL
        cur = g.build_norm(inpL, g.weight(n_embd), None, NormType.RMS, il)
        g.cb(cur, "attn_norm", il)
        cur = build_attention_layer(g, cur, inp_pos, inp_attn, il)
        if il == g.n_layer - 1:
            cur = ggml.get_rows(ctx0, cur, inp_out_ids)
            inpSA = ggml.get_rows(ctx0, inpSA, inp_out_ids)
        inpL = build_layer_ffn(g, cur, inpSA, il)

    cur = g.build_norm(inpL, output_norm, None, NormType.RMS, -1)
    g.cb(cur, "result_norm", -1)
    g.res.t_embd = cur
    cur = g.build_lora_mm(output, cur)
    cur = ggml.scale(ctx0, cur, 1.0 / g.arch.logit_scale if g.arch.logit_scale else 0.0)
    g.cb(cur, "result_output", -1)
    g.res.t_logits = cur
    ggml.build_forward_expand(g.gf, cur)

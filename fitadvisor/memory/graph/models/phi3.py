"""src/models/phi3.cpp: llama_model_phi3::graph<false> (llama.cpp turns Phi's sliding window off, so every layer
attends over the whole cache); Q, K and V from one fused projection where the model has one (Ollama's converter
writes `attn_qkv`), gate and up from one fused `ffn_up`."""

from __future__ import annotations

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.llm import FfnGate, FfnOp, GraphContext, NormType


def build(g: GraphContext) -> None:
    ctx0, n_embd, n_embd_head, n_head, n_head_kv = g.ctx0, g.n_embd, g.n_embd_head_v, g.n_head, g.n_head_kv
    inpL, inp_pos, inp_attn, inp_out_ids = g.build_inputs(g.weight(n_embd, g.n_vocab), g.build_attn_inp_kv)

    for il in g.each_layer():
        n_embd_gqa = g.n_embd_k_gqa(il)
        fused = g.arch.fused_qkv
        layer = g.layer(
            attn_norm=(n_embd,), wqkv=(n_embd, n_embd + 2 * n_embd_gqa) if fused else None,
            wq=None if fused else (n_embd, n_embd), wk=None if fused else (n_embd, n_embd_gqa),
            wv=None if fused else (n_embd, n_embd_gqa), wo=(n_embd, n_embd), ffn_norm=(n_embd,),
            ffn_down=(g.n_ff, n_embd), ffn_up=(n_embd, 2 * g.n_ff),
        )
        residual = inpL

        attn_norm_output = g.build_norm(inpL, layer.attn_norm, None, NormType.RMS, il)
        g.cb(attn_norm_output, "attn_norm", il)
        Qcur, Kcur, Vcur = g.build_qkv(layer, attn_norm_output, n_embd_head, n_head, n_head_kv, il)
        Qcur, Kcur, Vcur = g.build_rope_qk(Qcur, Kcur, Vcur, inp_pos, il)
        Qcur = ggml.scale(ctx0, Qcur, 1.0 / n_embd_head**0.5)
        g.cb(Qcur, "Qcur", il)
        cur = g.build_attn(inp_attn, layer.wo, None, Qcur, Kcur, Vcur, None, None, 1.0, il)

        cur, residual = g.out_rows(il, inp_out_ids, cur, residual)
        cur = ggml.add(ctx0, cur, residual)
        residual = cur

        cur = g.build_norm(cur, layer.ffn_norm, None, NormType.RMS, il)
        g.cb(cur, "ffn_norm", il)
        cur = g.build_ffn(cur, layer.ffn_up, None, None, None, layer.ffn_down, None, FfnOp.SWIGLU, FfnGate.SEQ, il)
        g.cb(cur, "ffn_out", il)
        cur = ggml.add(ctx0, residual, cur)
        g.cb(cur, "l_out", il)
        inpL = cur

    g.build_output(inpL)

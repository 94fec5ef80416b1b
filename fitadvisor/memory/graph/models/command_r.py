"""src/models/command-r.cpp: llama_model_command_r::graph: attention and the feed-forward network read the
same layer norm and add up with the residual; the output layer is the token embedding."""

from __future__ import annotations

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.llm import FfnGate, FfnOp, GraphContext, NormType, kq_scale


def build(g: GraphContext) -> None:
    ctx0, n_embd, n_embd_head, n_head, n_head_kv = g.ctx0, g.n_embd, g.n_embd_head_v, g.n_head, g.n_head_kv
    tok_embd = g.weight(n_embd, g.n_vocab)
    inpL, inp_pos, inp_attn, inp_out_ids = g.build_inputs(tok_embd, g.build_attn_inp_kv)

    for il in g.each_layer():
        qk_norm = g.n_layer >= 64  # load_arch_tensors: Q and K norms only in the 64-layer models
        layer = g.layer(
            attn_norm=(n_embd,), attn_q_norm=(n_embd_head, n_head) if qk_norm else None,
            attn_k_norm=(n_embd_head, n_head_kv) if qk_norm else None,
            wq=(n_embd, n_embd), wk=(n_embd, g.n_embd_k_gqa(il)), wv=(n_embd, g.n_embd_v_gqa(il)), wo=(n_embd, n_embd),
            ffn_gate=(n_embd, g.n_ff), ffn_down=(g.n_ff, n_embd), ffn_up=(n_embd, g.n_ff),
        )
        cur = g.build_norm(inpL, layer.attn_norm, None, NormType.NORM, il)
        g.cb(cur, "attn_norm", il)
        ffn_inp = cur

        Qcur, Kcur, Vcur = g.build_qkv(layer, cur, n_embd_head, n_head, n_head_kv, il)
        Qcur, Kcur, Vcur = g.build_rope_qk(Qcur, Kcur, Vcur, inp_pos, il, layer.attn_q_norm, layer.attn_k_norm,
                                           NormType.NORM, normed="")
        cur = g.build_attn(inp_attn, layer.wo, None, Qcur, Kcur, Vcur, None, None, kq_scale(n_embd_head), il)

        cur, inpL, ffn_inp = g.out_rows(il, inp_out_ids, cur, inpL, ffn_inp)
        attn_out = cur

        cur = g.build_ffn(ffn_inp, layer.ffn_up, None, layer.ffn_gate, None, layer.ffn_down, None,
                          FfnOp.SILU, FfnGate.PAR, il)
        g.cb(cur, "ffn_out", il)
        cur = ggml.add(ctx0, cur, inpL)
        cur = ggml.add(ctx0, cur, attn_out)
        g.cb(cur, "l_out", il)
        inpL = cur

    # logit_scale (ggml_scale) runs in place on the logits: it changes nothing in the buffer
    g.build_output(inpL, output=tok_embd, norm=NormType.NORM)

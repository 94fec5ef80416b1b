"""src/models/gemma3.cpp: llama_model_gemma3::graph<iswa>: sliding-window layers with a cache of their own (iswa)
where the model has them, norms before and after attention and the feed-forward network (GELU-gated), Q and K
normed, the input embedding scaled and the output layer the token embedding."""

from __future__ import annotations

from types import SimpleNamespace

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.ggml import Tensor
from fitadvisor.memory.graph.llm import FfnGate, FfnOp, GraphContext, NormType
from fitadvisor.models.architecture import SLIDING


def build(g: GraphContext) -> None:
    ctx0, n_embd, n_embd_head, n_head, n_head_kv = g.ctx0, g.n_embd, g.n_embd_head_k, g.n_head, g.n_head_kv
    tok_embd = g.weight(n_embd, g.n_vocab)

    inpL = g.build_inp_embd(tok_embd)
    inpL = ggml.scale(ctx0, inpL, n_embd**0.5)
    g.cb(inpL, "inp_scaled", -1)
    inp_pos = g.build_inp_pos()
    iswa = SLIDING in g.arch.layers  # hparams.swa_type == LLAMA_SWA_TYPE_STANDARD
    inp_attn = g.build_attn_inp_kv_iswa() if iswa else g.build_attn_inp_kv()
    inp_out_ids = g.build_inp_out_ids()

    for il in g.each_layer():
        layer = g.layer(
            attn_norm=(n_embd,), wq=(n_embd, n_embd_head * n_head), wk=(n_embd, g.n_embd_k_gqa(il)),
            wv=(n_embd, g.n_embd_v_gqa(il)), wo=(n_embd_head * n_head, n_embd), attn_q_norm=(n_embd_head,),
            attn_k_norm=(n_embd_head,), attn_post_norm=(n_embd,), ffn_norm=(n_embd,), ffn_gate=(n_embd, g.n_ff),
            ffn_up=(n_embd, g.n_ff), ffn_down=(g.n_ff, n_embd), ffn_post_norm=(n_embd,),
        )
        cur = g.build_norm(inpL, layer.attn_norm, None, NormType.RMS, il)
        g.cb(cur, "attn_norm", il)

        Qcur, Kcur, Vcur = g.build_qkv(layer, cur, n_embd_head, n_head, n_head_kv, il)
        Qcur, Kcur, Vcur = g.build_rope_qk(Qcur, Kcur, Vcur, inp_pos, il, layer.attn_q_norm, layer.attn_k_norm)
        Qcur = ggml.scale(ctx0, Qcur, 1.0)  # hparams.f_attention_scale
        attn = g.build_attn_iswa if iswa else g.build_attn
        cur = attn(inp_attn, layer.wo, None, Qcur, Kcur, Vcur, None, None, 1.0, il)

        cur, inpL = g.out_rows(il, inp_out_ids, cur, inpL)
        cur = g.build_norm(cur, layer.attn_post_norm, None, NormType.RMS, il)
        g.cb(cur, "attn_post_norm", il)
        sa_out = ggml.add(ctx0, cur, inpL)
        g.cb(sa_out, "sa_out", il)

        cur = build_gelu_ffn(g, sa_out, layer, il)
        cur = g.build_norm(cur, layer.ffn_post_norm, None, NormType.RMS, -1)
        g.cb(cur, "ffn_post_norm", il)
        cur = ggml.add(ctx0, cur, sa_out)
        g.cb(cur, "l_out", il)
        inpL = cur

    # Gemma 3 has no final logit softcapping (Gemma 2 had; its scale and tanh would run in place anyway)
    g.build_output(inpL, output=tok_embd if g.arch.tied_embeddings else None)


def build_gelu_ffn(g: GraphContext, cur: Tensor, layer: SimpleNamespace, il: int) -> Tensor:
    """The feed-forward block gemma3.cpp and gemma4.cpp (its dense layers) write: the RMS norm (ffn_norm), then the
    GELU-gated FFN."""
    cur = g.build_norm(cur, layer.ffn_norm, None, NormType.RMS, il)
    g.cb(cur, "ffn_norm", il)
    cur = g.build_ffn(cur, layer.ffn_up, None, layer.ffn_gate, None, layer.ffn_down, None, FfnOp.GELU, FfnGate.PAR, il)
    g.cb(cur, "ffn_out", il)
    return cur

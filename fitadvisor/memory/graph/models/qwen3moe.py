"""src/models/qwen3moe.cpp: llama_model_qwen3moe::graph (QK-norm attention, every layer routed experts)."""

from __future__ import annotations

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.llm import ExpertGating, GraphContext, MoeOp, NormType, kq_scale


def build(g: GraphContext) -> None:
    ctx0, n_embd, n_embd_head = g.ctx0, g.n_embd, g.n_embd_head_v
    arch = g.arch
    n_expert, n_ff_exp = arch.expert_count, arch.expert_feed_forward_length
    tok_embd = g.weight(n_embd, g.n_vocab)
    output_norm, output = g.weight(n_embd), g.weight(n_embd, g.n_vocab)

    inpL = g.build_inp_embd(tok_embd)
    inp_pos = g.build_inp_pos()
    inp_attn = g.build_attn_inp_kv()
    inp_out_ids = g.build_inp_out_ids()

    for il in g.each_layer():
        layer = g.layer(
            attn_norm=(n_embd,), wq=(n_embd, n_embd_head * g.n_head), wk=(n_embd, g.n_embd_k_gqa(il)),
            wv=(n_embd, g.n_embd_v_gqa(il)), wo=(n_embd_head * g.n_head, n_embd),
            attn_k_norm=(n_embd_head,), attn_q_norm=(n_embd_head,), ffn_norm=(n_embd,),
            ffn_gate_inp=(n_embd, n_expert), ffn_gate_exps=(n_embd, n_ff_exp, n_expert),
            ffn_down_exps=(n_ff_exp, n_embd, n_expert), ffn_up_exps=(n_embd, n_ff_exp, n_expert),
        )
        inpSA = inpL
        cur = g.build_norm(inpL, layer.attn_norm, None, NormType.RMS, il)
        g.cb(cur, "attn_norm", il)

        Qcur, Kcur, Vcur = g.build_qkv(layer, cur, n_embd_head, g.n_head, g.n_head_kv, il)
        Qcur = g.build_norm(Qcur, layer.attn_q_norm, None, NormType.RMS, il)
        g.cb(Qcur, "Qcur_normed", il)
        Qcur = ggml.rope_ext(ctx0, Qcur, inp_pos, None)
        Kcur = g.build_norm(Kcur, layer.attn_k_norm, None, NormType.RMS, il)
        g.cb(Kcur, "Kcur_normed", il)
        Kcur = ggml.rope_ext(ctx0, Kcur, inp_pos, None)
        g.cb(Qcur, "Qcur", il)
        g.cb(Kcur, "Kcur", il)
        g.cb(Vcur, "Vcur", il)
        cur = g.build_attn(inp_attn, layer.wo, None, Qcur, Kcur, Vcur, None, None, kq_scale(n_embd_head), il)

        if il == g.n_layer - 1:
            cur = ggml.get_rows(ctx0, cur, inp_out_ids)
            inpSA = ggml.get_rows(ctx0, inpSA, inp_out_ids)
        ffn_inp = ggml.add(ctx0, cur, inpSA)
        g.cb(ffn_inp, "ffn_inp", il)

        cur = g.build_norm(ffn_inp, layer.ffn_norm, None, NormType.RMS, il)
        g.cb(cur, "ffn_norm", il)
        moe_out = g.build_moe_ffn(cur, layer.ffn_gate_inp, layer.ffn_up_exps, layer.ffn_gate_exps, layer.ffn_down_exps,
                                  None, n_expert, arch.expert_used_count, MoeOp.SILU, True, arch.expert_weights_scale,
                                  ExpertGating.SOFTMAX, il)
        g.cb(moe_out, "ffn_moe_out", il)
        cur = ggml.add(ctx0, moe_out, ffn_inp)
        g.cb(cur, "l_out", il)
        inpL = cur

    g.build_output(inpL, output_norm, output)

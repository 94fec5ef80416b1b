"""src/models/openai-moe.cpp: llama_model_openai_moe::graph (gpt-oss: sliding-window and full layers,
attention sinks and biases, a router with a bias, experts with biases and the gpt-oss SwiGLU)."""

from __future__ import annotations

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.llm import ExpertGating, GraphContext, MoeOp, NormType, kq_scale


def build(g: GraphContext) -> None:
    ctx0, n_embd, n_rot = g.ctx0, g.n_embd, g.n_embd_head_k
    arch = g.arch
    n_expert, n_ff_exp = arch.expert_count, arch.expert_feed_forward_length
    inpL, inp_pos, inp_attn, inp_out_ids = g.build_inputs(g.weight(n_embd, g.n_vocab), g.build_attn_inp_kv_iswa)

    for il in g.each_layer():
        layer = g.layer(
            attn_norm=(n_embd,), attn_post_norm=(n_embd,), wq=(n_embd, g.n_head * n_rot),
            wk=(n_embd, g.n_embd_k_gqa(il)), wv=(n_embd, g.n_embd_v_gqa(il)), wo=(g.n_head * n_rot, n_embd),
            attn_sinks=(g.n_head,), ffn_gate_inp=(n_embd, n_expert), ffn_gate_exps=(n_embd, n_ff_exp, n_expert),
            ffn_down_exps=(n_ff_exp, n_embd, n_expert), ffn_up_exps=(n_embd, n_ff_exp, n_expert), wo_b=(n_embd,),
            ffn_gate_inp_b=(n_expert,), ffn_gate_exps_b=(n_ff_exp, n_expert), ffn_down_exps_b=(n_embd, n_expert),
            ffn_up_exps_b=(n_ff_exp, n_expert),
        )
        inpSA = inpL
        cur = g.build_norm(inpL, layer.attn_norm, None, NormType.RMS, il)
        g.cb(cur, "attn_norm", il)

        Qcur, Kcur, Vcur = g.build_qkv(layer, cur, n_rot, g.n_head, g.n_head_kv, il)
        Qcur, Kcur, Vcur = g.build_rope_qk(Qcur, Kcur, Vcur, inp_pos, il)
        cur = g.build_attn_iswa(inp_attn, layer.wo, layer.wo_b, Qcur, Kcur, Vcur, None, layer.attn_sinks,
                                kq_scale(n_rot), il)
        g.cb(cur, "attn_out", il)
        # (the last layer's rows are picked after the loop: cparams.embeddings_nextn_masked is off)
        ffn_inp, cur = g.build_ffn_inp(cur, inpSA, layer.attn_post_norm, il, "attn_post_norm")
        cur = g.build_moe_ffn(cur, layer.ffn_gate_inp, layer.ffn_up_exps, layer.ffn_gate_exps, layer.ffn_down_exps,
                              None, n_expert, arch.expert_used_count, MoeOp.SWIGLU_OAI, False,
                              arch.expert_weights_scale, ExpertGating.SOFTMAX_WEIGHT, il,
                              gate_inp_b=layer.ffn_gate_inp_b, up_exps_b=layer.ffn_up_exps_b,
                              gate_exps_b=layer.ffn_gate_exps_b, down_exps_b=layer.ffn_down_exps_b)
        g.cb(cur, "ffn_moe_out", il)
        cur = ggml.add(ctx0, cur, ffn_inp)
        g.cb(cur, "l_out", il)
        inpL = cur

    g.res.extra_outputs.append(inpL)  # t_h_nextn, the hidden state a drafting head would read
    cur = ggml.get_rows(ctx0, inpL, inp_out_ids)
    g.build_output(cur)

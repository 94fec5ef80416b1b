"""llm_graph_context (src/llama-graph.cpp, llama.cpp v0.5.0): the inputs and shared builders every
architecture's graph uses, over fitadvisor's `Architecture` and the parameters of one reserved graph.

A builder (models/<arch>.py) loops over its layers with `for il in g.each_layer():`, never over
`range(g.n_layer)`: compute.py may build only some of them (identical middle layers, skipped exactly),
and needs to know where each layer's nodes begin.

Each method mirrors the C++ function of the same name (minus what cannot change the compute buffer:
LoRA adapters, control vectors, samplers, pooling). Weights are external tensors with their real shapes;
their type is irrelevant here, since no op this replay needs takes its result type from a weight.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from types import SimpleNamespace
from typing import Any

from fitadvisor.memory.graph import ggml
from fitadvisor.memory.graph.ggml import Tensor
from fitadvisor.models.architecture import Architecture, rs_snapshots

WEIGHT_TYPE = "f32"


class NormType(Enum):
    NORM = "norm"
    RMS = "rms"


class FfnOp(Enum):
    SILU = "silu"
    GELU = "gelu"
    RELU_SQR = "relu_sqr"  # nemotron_h: squared ReLU, never gated
    SWIGLU = "swiglu"  # one tensor holding gate and up side by side (phi3's fused ffn_up)


class MoeOp(Enum):
    """The experts' activation (llm_ffn_op_type as build_moe_ffn takes it)."""

    SILU = "silu"
    GELU = "gelu"
    RELU_SQR = "relu_sqr"
    SWIGLU_OAI = "swiglu_oai"  # gpt-oss


class ExpertGating(Enum):
    """llama_expert_gating_func_type: how the router's logits become expert probabilities."""

    SOFTMAX = 1
    SIGMOID = 2
    SOFTMAX_WEIGHT = 3  # the logits themselves; a softmax over the chosen experts' weights (gpt-oss)


class FfnGate(Enum):
    SEQ = "seq"
    PAR = "par"


@dataclass(frozen=True)
class GraphParams:
    """One graph llama_context reserves: the ubatch, and the cache it attends over.

    `n_kv` is the cells of one KV stream (llama_kv_cache_context::get_n_kv of a full reservation:
    the whole stream), `n_kv_swa` a sliding-window layer's; `n_stream` the streams (one per slot with
    kv_unified off, as Ollama runs llama-server).
    """

    n_tokens: int
    n_seqs: int
    n_outputs: int
    n_kv: int
    n_stream: int
    flash_attn: bool
    type_k: str = "f16"
    type_v: str = "f16"
    n_kv_swa: int = 0
    n_rs_seq: int = 0  # recurrent-state snapshots kept per sequence to roll drafts back (cparams.n_rs_seq)


@dataclass
class GraphResult:
    """llm_graph_result: the tensors set_outputs marks as graph outputs."""

    t_logits: Tensor | None = None
    t_embd: Tensor | None = None
    extra_outputs: list[Tensor] = field(default_factory=list)


@dataclass
class RsInput:
    """llm_graph_input_rs: which recurrent states this ubatch reads (a full reservation: all, from 0)."""

    s_copy: Tensor
    s_copy_main: Tensor
    s_copy_extra: Tensor
    n_rs: int  # llama_memory_recurrent_context::get_n_rs
    head: int
    rs_z: int
    mem_size: int


@dataclass
class AttnInputK:
    """llm_graph_input_attn_k: a cache of K only, V read as a view of it (MLA's latent cache)."""

    self_k_idxs: Tensor
    self_kq_mask: Tensor


@dataclass
class AttnInputKV:
    """llm_graph_input_attn_kv: where this ubatch's K and V rows go, the mask, the rotation inputs."""

    self_k_idxs: Tensor
    self_v_idxs: Tensor
    self_kq_mask: Tensor
    self_k_rot: Tensor | None
    self_v_rot: Tensor | None


@dataclass
class AttnInputKVIswa:
    """llm_graph_input_attn_kv_iswa: a cache for the full-attention layers and one for the sliding-window ones."""

    base: AttnInputKV
    swa: AttnInputKV


class GraphContext:
    """llm_graph_context for one architecture and one reserved graph."""

    def __init__(self, arch: Architecture, params: GraphParams) -> None:
        self.arch = arch
        self.params = params
        self.ctx0 = ggml.Context()
        self.gf = ggml.new_graph(self.ctx0)
        self.res = GraphResult()
        # hparams and cparams, in llama.cpp's names
        self.n_layer = arch.block_count
        self.n_embd = arch.embedding_length
        self.n_head = arch.head_count
        self.n_head_kv = arch.head_count_kv
        self.n_embd_head_k = arch.key_length
        self.n_embd_head_v = arch.value_length
        self.n_ff = arch.feed_forward_length
        self.n_vocab = arch.vocab_size
        self.n_tokens = params.n_tokens
        self.n_outputs = params.n_outputs
        self.n_stream = params.n_stream
        self.flash_attn = params.flash_attn
        self.v_trans = not params.flash_attn  # llama_kv_cache stores V transposed without flash attention
        self.n_pos_per_embd = 1
        self._kv_layers: dict[int, tuple[Tensor, Tensor]] = {}
        self._rs_layers: dict[int, tuple[Tensor, Tensor]] = {}
        self.n_seqs = params.n_seqs  # ubatch.n_seqs (equal-length sequences)
        self.n_seq_tokens = params.n_tokens // params.n_seqs
        self.n_rs_seq = rs_snapshots(arch.name, params.n_rs_seq)
        # the layers to build, in order: the trunk, without multi-token-prediction layers (hparams.n_layer())
        self.layer_ids: tuple[int, ...] = tuple(range(self.n_layer - arch.draft_layers))
        self.layer_starts: list[int] = []  # where each built layer's nodes begin in the graph
        self.loop_seq = 0

    def each_layer(self):
        """The layers a builder's loop builds (all of them unless compute.py skips repeated ones)."""
        self.loop_seq = self.ctx0.n_tensors  # tensors created from here on belong to the layers
        for il in self.layer_ids:
            self.layer_starts.append(len(self.gf.nodes))
            yield il

    # --- weights and the cache -------------------------------------------------------------------------

    def weight(self, *ne: int) -> Tensor:
        return ggml.new_external(self.ctx0, WEIGHT_TYPE, ne)

    def layer(self, **shapes: tuple[int, ...] | None) -> SimpleNamespace:
        """A layer's weights (load_arch_tensors): name=shape, None for a tensor the model lacks."""
        return SimpleNamespace(**{name: self.weight(*ne) if ne else None for name, ne in shapes.items()})

    def routed_experts(self, n_ff_exp: int) -> dict[str, tuple[int, ...] | None]:
        """The experts' weights as create_tensor_gate_up_exps makes them: gate and up in one tensor where the
        file has them so (ffn_gate_up_exps), else apart; then the down projection."""
        e, x, fused = self.n_embd, self.arch.expert_count, self.arch.expert_gate_up_fused
        return dict(
            ffn_gate_up_exps=(e, 2 * n_ff_exp, x) if fused else None, ffn_gate_exps=None if fused else (e, n_ff_exp, x),
            ffn_up_exps=None if fused else (e, n_ff_exp, x), ffn_down_exps=(n_ff_exp, e, x),
        )

    def n_head_kv_l(self, il: int) -> int:
        return self.arch.kv_heads(il)

    def n_embd_k_gqa(self, il: int) -> int:
        return self.arch.key_width(il) * self.arch.kv_heads(il)

    def n_embd_v_gqa(self, il: int) -> int:
        return self.arch.value_width(il) * self.arch.kv_heads(il)

    def n_embd_v_gqa_max(self) -> int:
        return max(self.n_embd_v_gqa(il) for il in range(self.n_layer) if self.arch.layers[il] in "AS")

    def kv_size(self, il: int) -> int:
        return self.params.n_kv_swa if self.arch.is_sliding(il) else self.params.n_kv

    def kv_layer(self, il: int) -> tuple[Tensor, Tensor]:
        """llama_kv_cache's layers[il].k and .v: one row of K (and V) per cell, per stream."""
        if il not in self._kv_layers:
            cells = self.kv_size(il)
            # [TAG_V_CACHE_VARIABLE]: a transposed V is as wide as the widest layer's
            v_width = self.n_embd_v_gqa_max() if self.v_trans else self.n_embd_v_gqa(il)
            k = ggml.new_external(self.ctx0, self.params.type_k, (self.n_embd_k_gqa(il), cells, self.n_stream), f"cache_k_l{il}")
            v = ggml.new_external(self.ctx0, self.params.type_v, (v_width, cells, self.n_stream), f"cache_v_l{il}")
            self._kv_layers[il] = (k, v)
        return self._kv_layers[il]

    def get_k(self, il: int) -> Tensor:
        k, _ = self.kv_layer(il)
        head, n_embd_k_gqa, kv_size = self.arch.key_width(il), k.ne[0], self.kv_size(il)
        return ggml.view_4d(self.ctx0, k, head, self.n_head_kv_l(il), kv_size, self.n_stream,
                            ggml.row_size(k.type, head), ggml.row_size(k.type, n_embd_k_gqa),
                            ggml.row_size(k.type, n_embd_k_gqa * kv_size), 0)

    def get_v(self, il: int) -> Tensor:
        _, v = self.kv_layer(il)
        head, n_embd_v_gqa, kv_size = self.arch.value_width(il), v.ne[0], self.kv_size(il)
        if not self.v_trans:
            return ggml.view_4d(self.ctx0, v, head, self.n_head_kv_l(il), kv_size, self.n_stream,
                                ggml.row_size(v.type, head), ggml.row_size(v.type, n_embd_v_gqa),
                                ggml.row_size(v.type, n_embd_v_gqa * kv_size), 0)
        return ggml.view_4d(self.ctx0, v, kv_size, self.n_head_kv_l(il), head, self.n_stream,
                            ggml.row_size(v.type, kv_size * head), ggml.row_size(v.type, kv_size),
                            ggml.row_size(v.type, kv_size * n_embd_v_gqa), 0)

    def cpy_k(self, k_cur: Tensor, k_idxs: Tensor, il: int) -> Tensor:
        k, _ = self.kv_layer(il)
        n_embd_gqa, n_tokens = k_cur.ne[0] * k_cur.ne[1], k_cur.ne[2]
        k_cur = ggml.view_2d(self.ctx0, k_cur, n_embd_gqa, n_tokens, k_cur.nb[2], 0)
        if k.ne[2] > 1:  # merge the streams: the idxs are global
            k = ggml.reshape_2d(self.ctx0, k, n_embd_gqa, k.ne[1] * k.ne[2])
        return ggml.set_rows(self.ctx0, k, k_cur, k_idxs)

    def cpy_v(self, v_cur: Tensor, v_idxs: Tensor, il: int) -> Tensor:
        _, v = self.kv_layer(il)
        n_embd_gqa, n_tokens = v_cur.ne[0] * v_cur.ne[1], v_cur.ne[2]
        if not self.v_trans:
            v_cur = ggml.view_2d(self.ctx0, v_cur, n_embd_gqa, n_tokens, v_cur.nb[2], 0)
            if v.ne[2] > 1:
                v = ggml.reshape_2d(self.ctx0, v, n_embd_gqa, v.ne[1] * v.ne[2])
            return ggml.set_rows(self.ctx0, v, v_cur, v_idxs)
        if ggml.row_size(v_cur.type, n_embd_gqa) == v_cur.nb[2]:
            v_cur = ggml.reshape_2d(self.ctx0, v_cur, n_embd_gqa, n_tokens)
        else:
            v_cur = ggml.cont_2d(self.ctx0, v_cur, n_embd_gqa, n_tokens)
        if n_embd_gqa < v.ne[0]:
            v_cur = ggml.pad(self.ctx0, v_cur, v.ne[0] - n_embd_gqa, 0, 0, 0)
        v_view = ggml.reshape_2d(self.ctx0, v, 1, ggml.nelements(v))
        v_cur = ggml.reshape_2d(self.ctx0, v_cur, 1, ggml.nelements(v_cur))
        return ggml.set_rows(self.ctx0, v_view, v_cur, v_idxs)

    def _rot(self, cache_type: str, head_all: int, head: int, name: str, grow: bool) -> Tensor | None:
        """llama_kv_cache::build_input_k_rot / _v_rot: a Hadamard matrix when the cache is quantized.

        Only when every attention layer has the same head size (`head_all` > 0) and layer 0's is a
        multiple of 64; K's matrix is the largest power of two from 64 dividing that size, V's is 64.
        """
        if cache_type not in ggml.QUANTIZED or head_all <= 0 or head % 64:
            return None
        nrot = 64
        if grow:
            nrot = 128
            while head_all % nrot == 0:
                nrot *= 2
            nrot //= 2
        rot = ggml.new_tensor_2d(self.ctx0, "f32", nrot, nrot)
        ggml.set_input(rot)
        ggml.set_name(rot, name)
        return rot

    # --- llm_graph_context -----------------------------------------------------------------------------

    def cb(self, cur: Tensor, name: str, il: int) -> None:
        """llama_context::graph_get_cb: names the tensor."""
        cur.name = f"{name}-{il}" if il >= 0 else name

    def build_inp_embd(self, tok_embd: Tensor) -> Tensor:
        tokens = self.new_input_1d("i32", self.n_tokens, "inp_tokens")
        embd = ggml.new_tensor_2d(self.ctx0, "f32", self.n_embd, self.n_tokens)
        self.cb(embd, "inp_embd", -1)
        ggml.set_input(embd)
        inps = [ggml.get_rows(self.ctx0, tok_embd, tokens), embd]
        for t in inps:  # ggml_build_forward_select: both paths are in the graph
            ggml.build_forward_expand(self.gf, t)
        cur = inps[0]
        if self.arch.embedding_scale:  # granite (a reservation's ubatch has tokens, which a deepstack model scales too)
            cur = ggml.scale(self.ctx0, cur, self.arch.embedding_scale)
        self.cb(cur, "embd", -1)
        ggml.build_forward_expand(self.gf, cur)
        return cur

    def new_input_1d(self, type_: str, n: int, name: str = "") -> Tensor:
        """A vector the graph reads from the host (ggml_new_tensor_1d, ggml_set_input, its name)."""
        cur = ggml.new_tensor_1d(self.ctx0, type_, n)
        ggml.set_input(cur)
        ggml.set_name(cur, name)
        return cur

    def build_inp_embd_h(self, tok_embd_w: Tensor, layer: SimpleNamespace, il: int) -> Tensor:
        """The opening every graph_mtp shares (the C++'s TODO build_inp_embd_h): the drafted tokens' embeddings and
        the main model's last hidden state (an input), each RMS-normed, joined and projected back (nextn.eh_proj)."""
        ctx0, n_embd, n_tokens = self.ctx0, self.n_embd, self.n_tokens
        tokens = self.new_input_1d("i32", n_tokens)
        embd = ggml.new_tensor_2d(ctx0, "f32", n_embd, n_tokens)
        ggml.set_input(embd)
        tok_embd = ggml.get_rows(ctx0, tok_embd_w, tokens)  # a reserved ubatch has tokens
        self.cb(tok_embd, "mtp_tok_embd", il)
        h_embd = ggml.new_tensor_2d(ctx0, "f32", n_embd, n_tokens)
        ggml.set_input(h_embd)
        ggml.set_name(h_embd, "mtp_h_input")
        h_norm = self.build_norm(h_embd, layer.hnorm, None, NormType.RMS, il)
        self.cb(h_norm, "mtp_hnorm", il)
        e_norm = self.build_norm(tok_embd, layer.enorm, None, NormType.RMS, il)
        self.cb(e_norm, "mtp_enorm", il)
        concat = ggml.concat(ctx0, e_norm, h_norm, 0)
        self.cb(concat, "mtp_concat", il)
        cur = self.build_lora_mm(layer.eh_proj, concat)
        self.cb(cur, "mtp_eh_proj", il)
        return cur

    def build_inp_pos(self) -> Tensor:
        return self.new_input_1d("i32", self.n_tokens * self.n_pos_per_embd, "inp_pos")

    def build_inp_out_ids(self) -> Tensor:
        return self.new_input_1d("i32", self.n_outputs, "out_ids")

    def build_inputs(self, tok_embd: Tensor, build_attn_inp: Callable[[], Any]) -> tuple[Tensor, Tensor, Any, Tensor]:
        """The inputs most constructors open with, in their order: `inpL = build_inp_embd(model.tok_embd)`,
        `inp_pos = build_inp_pos()`, `inp_attn = build_attn_inp_*()` (the cache's kind), `inp_out_ids =
        build_inp_out_ids()`."""
        inpL = self.build_inp_embd(tok_embd)
        inp_pos = self.build_inp_pos()
        inp_attn = build_attn_inp()
        return inpL, inp_pos, inp_attn, self.build_inp_out_ids()

    def out_rows(self, il: int, inp_out_ids: Tensor | None, *tensors: Tensor) -> tuple[Tensor, ...]:
        """The constructors' `if (il == n_layer - 1 && inp_out_ids) { t = ggml_get_rows(ctx0, t, inp_out_ids); ... }`:
        the last layer carries on with the output tokens' rows only ("skip computing output for unused tokens")."""
        if il != self.n_layer - 1 or inp_out_ids is None:
            return tensors
        return tuple(ggml.get_rows(self.ctx0, t, inp_out_ids) for t in tensors)

    def build_attn_inp_kq_mask(self, n_kv: int) -> Tensor:
        n_stream = self.params.n_seqs  # kv_unified off: one stream per sequence of the ubatch
        type_ = "f16" if self.flash_attn else "f32"
        mask = ggml.new_tensor_4d(self.ctx0, type_, n_kv, self.n_tokens // n_stream, 1, n_stream)
        ggml.set_input(mask)
        ggml.set_name(mask, "attn_inp_kq_mask")
        return mask

    def build_input_k_idxs(self) -> Tensor:
        return self.new_input_1d("i64", self.n_tokens, "attn_inp_k_idxs")

    def build_input_v_idxs(self) -> Tensor:
        n = self.n_tokens * self.n_embd_v_gqa_max() if self.v_trans else self.n_tokens
        return self.new_input_1d("i64", n, "attn_inp_v_idxs")

    def _head_all(self, width, kinds: str) -> int:
        """n_embd_head_k_all / _v_all: the head size every attention layer of a cache (`kinds`) shares, or -1."""
        sizes = {width(il) for il in range(self.n_layer) if self.arch.layers[il] in kinds}
        return sizes.pop() if len(sizes) == 1 else -1

    def build_attn_inp_kv(self) -> AttnInputKV:
        return self._attn_inp_kv(self.params.n_kv, "AS")

    def _attn_inp_kv(self, n_kv: int, kinds: str) -> AttnInputKV:
        """One cache's inputs (llama_kv_cache's build_input_* and build_attn_inp_kq_mask) over its layers' `kinds`."""
        k_idxs = self.build_input_k_idxs()
        v_idxs = self.build_input_v_idxs()
        mask = self.build_attn_inp_kq_mask(n_kv)
        head_k = self._head_all(self.arch.key_width, kinds)
        head_v = self._head_all(self.arch.value_width, kinds)
        k_rot = self._rot(self.params.type_k, head_k, self.n_embd_head_k, "attn_inp_k_rot", True)
        v_rot = self._rot(self.params.type_v, head_v, self.n_embd_head_v, "attn_inp_v_rot", False)
        return AttnInputKV(k_idxs, v_idxs, mask, k_rot, v_rot)

    def build_attn_inp_kv_iswa(self) -> AttnInputKVIswa:
        """build_attn_inp_kv_iswa: each cache's idxs, mask and rotations."""
        base = self._attn_inp_kv(self.params.n_kv, "A")
        return AttnInputKVIswa(base, self._attn_inp_kv(self.params.n_kv_swa, "S"))

    def build_attn_iswa(self, inp: AttnInputKVIswa, wo: Tensor | None, wo_b: Tensor | None, q_cur: Tensor,
                        k_cur: Tensor | None, v_cur: Tensor | None, kq_b: Tensor | None, sinks: Tensor | None,
                        kq_scale: float, il: int) -> Tensor:
        """build_attn over the interleaved sliding-window cache (llm_graph_input_attn_kv_iswa). A layer without K
        and V of its own (gemma4's shared-KV layers) stores nothing and reads an earlier layer's cache."""
        cache = inp.swa if self.arch.is_sliding(il) else inp.base
        return self._build_attn_kv(cache, wo, wo_b, q_cur, k_cur, v_cur, kq_b, sinks, kq_scale, il, v_first=False)

    def build_attn_inp_k(self) -> AttnInputK:
        return AttnInputK(self.build_input_k_idxs(), self.build_attn_inp_kq_mask(self.params.n_kv))

    def build_attn_k(self, inp: AttnInputK, wo: Tensor | None, wo_b: Tensor | None, q_cur: Tensor, k_cur: Tensor,
                     v_cur: Tensor, kq_b: Tensor | None, sinks: Tensor | None, v_mla: Tensor | None,
                     kq_scale: float, il: int) -> Tensor:
        """build_attn over a K-only cache (llm_graph_input_attn_k): V is K's first `v_cur.ne[0]` values."""
        ctx0, gf = self.ctx0, self.gf
        ggml.build_forward_expand(gf, q_cur)
        ggml.build_forward_expand(gf, v_cur)
        ggml.build_forward_expand(gf, k_cur)
        ggml.build_forward_expand(gf, self.cpy_k(k_cur, inp.self_k_idxs, il))
        k = self.get_k(il)
        v = ggml.view_4d(ctx0, k, v_cur.ne[0], k.ne[1], k.ne[2], k.ne[3], k.nb[1], k.nb[2], k.nb[3], 0)
        cur = self.build_attn_mha(q_cur, k, v, kq_b, inp.self_kq_mask, sinks, v_mla, kq_scale, il)
        self.cb(cur, "kqv_out", il)
        if wo is not None:
            cur = self.build_lora_mm(wo, cur)
        if wo_b is not None:
            cur = ggml.add(ctx0, cur, wo_b)
        return cur

    def build_lora_mm(self, w: Tensor, cur: Tensor, w_s: Tensor | None = None) -> Tensor:
        res = ggml.mul_mat(self.ctx0, w, cur)
        if w_s is not None:
            res = ggml.mul(self.ctx0, res, w_s)
        return res

    def build_norm(self, cur: Tensor, mw: Tensor | None, mb: Tensor | None, type_: NormType, il: int) -> Tensor:
        if type_ is NormType.RMS:
            cur = ggml.rms_norm(self.ctx0, cur, 1e-6)
        else:
            cur = ggml.norm(self.ctx0, cur, 1e-5)
        if mw is not None or mb is not None:
            self.cb(cur, "norm", il)
        if mw is not None:
            cur = ggml.mul(self.ctx0, cur, mw)
            if mb is not None:
                self.cb(cur, "norm_w", il)
        if mb is not None:
            cur = ggml.add(self.ctx0, cur, mb)
        return cur

    def build_qkv(self, layer: SimpleNamespace, cur: Tensor, n_embd_head: int, n_head: int, n_head_kv: int,
                  il: int, reshape: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """Q, K and V: views of one fused projection (wqkv) or three separate ones, reshaped to heads unless
        `reshape` is off (then the projections as they are, made contiguous where fused)."""
        ctx0 = self.ctx0
        if getattr(layer, "wqkv", None) is not None:
            qkv = self.build_lora_mm(layer.wqkv, cur)
            self.cb(qkv, "wqkv", il)
            n_embd_q, n_embd_k = n_embd_head * n_head, n_embd_head * n_head_kv
            offsets = (0, ggml.row_size(qkv.type, n_embd_q), ggml.row_size(qkv.type, n_embd_q + n_embd_k))
            if not reshape:
                q, k, v = (ggml.cont(ctx0, ggml.view_2d(ctx0, qkv, heads * n_embd_head, self.n_tokens, qkv.nb[1], offs))
                           for heads, offs in zip((n_head, n_head_kv, n_head_kv), offsets))
                return q, k, v
            size = ggml.row_size(qkv.type, n_embd_head)
            q, k, v = (ggml.view_3d(ctx0, qkv, n_embd_head, heads, self.n_tokens, size, qkv.nb[1], offs)
                       for heads, offs in zip((n_head, n_head_kv, n_head_kv), offsets))
            self.cb(q, "Qcur", il)
            self.cb(k, "Kcur", il)
            self.cb(v, "Vcur", il)
            return q, k, v
        qkv = []
        for name, heads in (("Q", n_head), ("K", n_head_kv), ("V", n_head_kv)):
            t = self.build_lora_mm(getattr(layer, f"w{name.lower()}"), cur)
            if reshape:
                self.cb(t, f"{name}cur", il)
            bias = getattr(layer, f"w{name.lower()}_b", None)
            if bias is not None:
                t = ggml.add(ctx0, t, bias)
                if reshape:
                    self.cb(t, f"{name}cur", il)
            qkv.append((t, heads))
        if not reshape:
            return qkv[0][0], qkv[1][0], qkv[2][0]
        q, k, v = (ggml.reshape_3d(ctx0, t, n_embd_head, heads, self.n_tokens) for t, heads in qkv)
        self.cb(q, "Qcur", il)
        self.cb(k, "Kcur", il)
        self.cb(v, "Vcur", il)
        return q, k, v

    def build_ffn_inp(self, cur: Tensor, inpSA: Tensor, norm_w: Tensor, il: int,
                      norm_name: str = "ffn_norm") -> tuple[Tensor, Tensor]:
        """The attention's residual and the feed-forward block's norm, as the llama family writes them:
        `ffn_inp = ggml_add(ctx0, cur, inpSA); cb(ffn_inp, "ffn_inp", il); cur = build_norm(ffn_inp, ffn_norm, NULL,
        LLM_NORM_RMS, il); cb(cur, "ffn_norm", il);` (gpt-oss names its norm attn_post_norm). Returns (ffn_inp, cur)."""
        ffn_inp = ggml.add(self.ctx0, cur, inpSA)
        self.cb(ffn_inp, "ffn_inp", il)
        cur = self.build_norm(ffn_inp, norm_w, None, NormType.RMS, il)
        self.cb(cur, norm_name, il)
        return ffn_inp, cur

    def build_rope_qk(self, q: Tensor, k: Tensor, v: Tensor, inp_pos: Tensor, il: int, q_norm: Tensor | None = None,
                      k_norm: Tensor | None = None, norm: NormType = NormType.RMS,
                      normed: str = "_normed") -> tuple[Tensor, Tensor, Tensor]:
        """The lines the llama-family constructors (llama, qwen3, command-r, gemma3, phi3, gpt-oss) write after the
        projections: Q normed per head where the layer has the norm (named Qcur + `normed`), then rotated
        (ggml_rope_ext); the same for K; then `cb(Qcur, "Qcur")`, `cb(Kcur, "Kcur")`, `cb(Vcur, "Vcur")`."""
        if q_norm is not None:
            q = self.build_norm(q, q_norm, None, norm, il)
            self.cb(q, f"Qcur{normed}", il)
        q = ggml.rope_ext(self.ctx0, q, inp_pos, None)
        if k_norm is not None:
            k = self.build_norm(k, k_norm, None, norm, il)
            self.cb(k, f"Kcur{normed}", il)
        k = ggml.rope_ext(self.ctx0, k, inp_pos, None)
        self.cb(q, "Qcur", il)
        self.cb(k, "Kcur", il)
        self.cb(v, "Vcur", il)
        return q, k, v

    def build_ffn(self, cur: Tensor, up: Tensor | None, up_b: Tensor | None, gate: Tensor | None,
                  gate_b: Tensor | None, down: Tensor | None, down_b: Tensor | None, type_op: FfnOp,
                  type_gate: FfnGate, il: int) -> Tensor:
        ctx0 = self.ctx0
        tmp = self.build_lora_mm(up, cur) if up is not None else cur
        self.cb(tmp, "ffn_up", il)
        if up_b is not None:
            tmp = ggml.add(ctx0, tmp, up_b)
            self.cb(tmp, "ffn_up_b", il)
        if gate is not None:
            cur = self.build_lora_mm(gate, tmp if type_gate is FfnGate.SEQ else cur)
            self.cb(cur, "ffn_gate", il)
            if gate_b is not None:
                cur = ggml.add(ctx0, cur, gate_b)
                self.cb(cur, "ffn_gate_b", il)
        else:
            cur = tmp
        parallel_gate = gate is not None and type_gate is FfnGate.PAR
        if type_op is FfnOp.SILU and parallel_gate:
            cur = ggml.swiglu_split(ctx0, cur, tmp)
            self.cb(cur, "ffn_swiglu", il)
        elif type_op is FfnOp.GELU and parallel_gate:
            cur = ggml.geglu_split(ctx0, cur, tmp)
            self.cb(cur, "ffn_geglu", il)
        elif type_op is FfnOp.SILU:
            cur = ggml.silu(ctx0, cur)
            self.cb(cur, "ffn_silu", il)
        elif type_op is FfnOp.RELU_SQR:
            cur = ggml.relu(ctx0, cur)
            self.cb(cur, "ffn_relu", il)
            cur = ggml.sqr(ctx0, cur)
            self.cb(cur, "ffn_sqr(relu)", il)
        elif type_op is FfnOp.SWIGLU:
            cur = ggml.swiglu(ctx0, cur)
            self.cb(cur, "ffn_swiglu", il)
        else:
            raise NotImplementedError(f"build_ffn: {type_op} with gate {type_gate}")
        if down is not None:
            cur = self.build_lora_mm(down, cur)
        if down_b is not None:
            self.cb(cur, "ffn_down", il)
            cur = ggml.add(ctx0, cur, down_b)
        return cur

    def build_moe_ffn(self, cur: Tensor, gate_inp: Tensor | None, up_exps: Tensor, gate_exps: Tensor | None,
                      down_exps: Tensor, exp_probs_b: Tensor | None, n_expert: int, n_expert_used: int,
                      type_op: MoeOp, norm_w: bool, w_scale: float, gating_op: ExpertGating, il: int,
                      probs_in: Tensor | None = None, gate_up_exps: Tensor | None = None, *,
                      gate_inp_b: Tensor | None = None,
                      up_exps_b: Tensor | None = None, gate_exps_b: Tensor | None = None,
                      down_exps_b: Tensor | None = None, down_exps_s: Tensor | None = None) -> Tensor:
        """The routed experts of one layer: router, top-k, the chosen experts' FFNs at once, their weighted sum.

        Both C++ overloads in one (the biases and gemma4's per-expert down scale by keyword). `gate_up_exps`: the
        experts' gate and up projections as one tensor (ffn_gate_up_exps), one mul_mat_id read as two views. Not
        modelled: expert groups (DeepSeek-V3's n_expert_groups > 1), per-layer SwiGLU clamps, the up and gate
        experts' scales, llama4 and grovemoe's special cases: no catalog architecture uses them.
        """
        ctx0, gf = self.ctx0, self.gf
        n_embd, n_tokens = cur.ne[0], cur.ne[1]
        if probs_in is None:
            logits = self.build_lora_mm(gate_inp, cur)  # [n_expert, n_tokens]
            self.cb(logits, "ffn_moe_logits", il)
        else:
            logits = probs_in
        if gate_inp_b is not None:
            logits = ggml.add(ctx0, logits, gate_inp_b)
            self.cb(logits, "ffn_moe_logits_biased", il)

        if gating_op is ExpertGating.SOFTMAX:
            probs = ggml.soft_max(ctx0, logits)
        elif gating_op is ExpertGating.SIGMOID:
            probs = ggml.sigmoid(ctx0, logits)
        else:
            probs = logits
        self.cb(probs, "ffn_moe_probs", il)

        # the selection bias (DeepSeek-V3 style) picks the experts; the weights come from the unbiased probs
        selection_probs = probs
        if exp_probs_b is not None:
            selection_probs = ggml.add(ctx0, probs, exp_probs_b)
            self.cb(selection_probs, "ffn_moe_probs_biased", il)

        selected_experts = ggml.argsort_top_k(ctx0, selection_probs, n_expert_used)  # [n_expert_used, n_tokens]
        self.cb(selected_experts.src[0], "ffn_moe_argsort", il)
        self.cb(selected_experts, "ffn_moe_topk", il)

        probs = ggml.reshape_3d(ctx0, probs, 1, n_expert, n_tokens)
        weights = ggml.get_rows(ctx0, probs, selected_experts)  # [1, n_expert_used, n_tokens]
        self.cb(weights, "ffn_moe_weights", il)
        if gating_op is ExpertGating.SOFTMAX_WEIGHT:
            weights = ggml.reshape_2d(ctx0, weights, n_expert_used, n_tokens)
            weights = ggml.soft_max(ctx0, weights)
            weights = ggml.reshape_3d(ctx0, weights, 1, n_expert_used, n_tokens)
            self.cb(weights, "ffn_moe_weights_softmax", il)
        if norm_w:
            weights = ggml.reshape_2d(ctx0, weights, n_expert_used, n_tokens)
            weights_sum = ggml.sum_rows(ctx0, weights)  # [1, n_tokens]
            self.cb(weights_sum, "ffn_moe_weights_sum", il)
            weights_sum = ggml.clamp(ctx0, weights_sum, 6.103515625e-5, math.inf)
            self.cb(weights_sum, "ffn_moe_weights_sum_clamped", il)
            weights = ggml.div(ctx0, weights, weights_sum)
            self.cb(weights, "ffn_moe_weights_norm", il)
            weights = ggml.reshape_3d(ctx0, weights, 1, n_expert_used, n_tokens)
        if w_scale not in (0.0, 1.0):
            weights = ggml.scale(ctx0, weights, w_scale)
            self.cb(weights, "ffn_moe_weights_scaled", il)
        ggml.build_forward_expand(gf, weights)  # early, so that the top-k stage can fuse

        cur = ggml.reshape_3d(ctx0, cur, n_embd, 1, n_tokens)
        if gate_up_exps is not None:
            gate_up = ggml.mul_mat_id(ctx0, gate_up_exps, cur, selected_experts)  # [n_ff*2, n_expert_used, n_tokens]
            self.cb(gate_up, "ffn_moe_gate_up", il)
            n_ff = gate_up.ne[0] // 2
            cur = ggml.view_3d(ctx0, gate_up, n_ff, gate_up.ne[1], gate_up.ne[2], gate_up.nb[1], gate_up.nb[2], 0)
            self.cb(cur, "ffn_moe_gate", il)
            up = ggml.view_3d(ctx0, gate_up, n_ff, gate_up.ne[1], gate_up.ne[2], gate_up.nb[1], gate_up.nb[2],
                              n_ff * gate_up.nb[0])
            self.cb(up, "ffn_moe_up", il)
        else:
            up = ggml.mul_mat_id(ctx0, up_exps, cur, selected_experts)  # [n_ff, n_expert_used, n_tokens]
            self.cb(up, "ffn_moe_up", il)
            if up_exps_b is not None:
                up = ggml.add_id(ctx0, up, up_exps_b, selected_experts)
                self.cb(up, "ffn_moe_up_biased", il)
            if gate_exps is not None:
                cur = ggml.mul_mat_id(ctx0, gate_exps, cur, selected_experts)
                self.cb(cur, "ffn_moe_gate", il)
            else:
                cur = up
            if gate_exps_b is not None:
                cur = ggml.add_id(ctx0, cur, gate_exps_b, selected_experts)
                self.cb(cur, "ffn_moe_gate_biased", il)

        has_gate = gate_exps is not None or gate_up_exps is not None
        if type_op is MoeOp.SILU:
            cur = ggml.swiglu_split(ctx0, cur, up) if has_gate else ggml.silu(ctx0, cur)
            self.cb(cur, "ffn_moe_swiglu" if has_gate else "ffn_moe_silu", il)
        elif type_op is MoeOp.GELU:
            cur = ggml.geglu_split(ctx0, cur, up) if has_gate else ggml.gelu(ctx0, cur)
            self.cb(cur, "ffn_moe_geglu" if has_gate else "ffn_moe_gelu", il)
        elif type_op is MoeOp.SWIGLU_OAI:
            cur = ggml.swiglu_oai(ctx0, cur, up, 1.702, 7.0)
            self.cb(cur, "ffn_moe_swiglu_oai", il)
        else:  # RELU_SQR, ungated
            cur = ggml.sqr(ctx0, ggml.relu(ctx0, cur))
            self.cb(cur, "ffn_moe_relu_sqr", il)

        experts = ggml.mul_mat_id(ctx0, down_exps, cur, selected_experts)  # [n_embd, n_expert_used, n_tokens]
        if down_exps_s is not None:  # build_lora_mm_id's per-expert scale: each chosen expert's factor
            scales = ggml.reshape_3d(ctx0, down_exps_s, 1, n_expert, 1)
            scales = ggml.repeat_4d(ctx0, scales, 1, n_expert, cur.ne[2], 1)
            experts = ggml.mul(ctx0, experts, ggml.get_rows(ctx0, scales, selected_experts))
        self.cb(experts, "ffn_moe_down_scaled" if down_exps_s is not None else "ffn_moe_down", il)
        if down_exps_b is not None:
            experts = ggml.add_id(ctx0, experts, down_exps_b, selected_experts)
            self.cb(experts, "ffn_moe_down_biased", il)
        experts = ggml.mul(ctx0, experts, weights)
        self.cb(experts, "ffn_moe_weighted", il)
        ggml.build_forward_expand(gf, experts)

        # the views before the adds
        cur_experts = []
        for i in range(n_expert_used):
            cur_experts.append(ggml.view_2d(ctx0, experts, n_embd, n_tokens, experts.nb[2], i * experts.nb[1]))
            ggml.build_forward_expand(gf, cur_experts[i])
        moe_out = cur_experts[0]
        for view in cur_experts[1:]:
            moe_out = ggml.add(ctx0, moe_out, view)
            ggml.build_forward_expand(gf, moe_out)
        if n_expert_used == 1:  # not a view of the experts' tensor
            moe_out = ggml.cont(ctx0, moe_out)
        self.cb(moe_out, "ffn_moe_out", il)
        return moe_out

    def build_output(self, cur: Tensor, *, output: Tensor | None = None, norm: NormType = NormType.RMS,
                     inp_out_ids: Tensor | None = None, h_nextn: bool = False, logit_softcap: float = 0.0,
                     logit_scale: float = 0.0) -> Tensor:
        """The tail constructors end with: the final norm (`model.output_norm`: res->t_embd) and the lm_head
        (res->t_logits). `output`: the lm_head's weight where it is another tensor (the token embedding of a tied
        model), else the model's own. `inp_out_ids`: the rows are picked only after the norm (cparams
        .embeddings_nextn_masked off), and the whole norm is kept as res->t_h_nextn, a drafting head's input;
        `h_nextn`: the norm is kept as res->t_h_nextn too, where the last layer already picked the rows (deepseek2).
        `logit_softcap`: the logits' soft cap (scale, tanh, scale), where the model has one; `logit_scale`:
        granite's, the logits divided by it."""
        cur = self.build_norm(cur, self.weight(self.n_embd), None, norm, -1)
        if inp_out_ids is not None:
            self.cb(cur, "h_nextn", -1)
            self.res.extra_outputs.append(cur)
            cur = ggml.get_rows(self.ctx0, cur, inp_out_ids)
        elif h_nextn:
            self.res.extra_outputs.append(cur)
        self.cb(cur, "result_norm", -1)
        self.res.t_embd = cur
        cur = self.build_lora_mm(output if output is not None else self.weight(self.n_embd, self.n_vocab), cur)
        if logit_softcap:
            cur = ggml.scale(self.ctx0, cur, 1.0 / logit_softcap)
            cur = ggml.tanh(self.ctx0, cur)
            cur = ggml.scale(self.ctx0, cur, logit_softcap)
        if logit_scale:
            cur = ggml.scale(self.ctx0, cur, 1.0 / logit_scale)
        self.cb(cur, "result_output", -1)
        self.res.t_logits = cur
        ggml.build_forward_expand(self.gf, cur)
        return cur

    def mul_mat_hadamard(self, cur: Tensor, rot: Tensor) -> Tensor:
        """llama_mul_mat_hadamard (src/llama-impl.h)."""
        n = rot.ne[0]
        if not ggml.is_contiguous(cur):
            res = ggml.cont_2d(self.ctx0, cur, n, ggml.nelements(cur) // n)
        else:
            res = ggml.reshape_2d(self.ctx0, cur, n, ggml.nelements(cur) // n)
        res = ggml.mul_mat(self.ctx0, rot, res)
        return ggml.reshape_4d(self.ctx0, res, *cur.ne)

    def build_attn_mha(self, q: Tensor, k: Tensor, v: Tensor, kq_b: Tensor | None, kq_mask: Tensor,
                       sinks: Tensor | None, v_mla: Tensor | None, kq_scale: float, il: int) -> Tensor:
        ctx0 = self.ctx0
        v_trans = v.nb[1] > v.nb[2]
        n_stream = k.ne[3]
        q = ggml.view_4d(ctx0, q, q.ne[0], q.ne[1], q.ne[2] // n_stream, n_stream, q.nb[1], q.nb[2],
                         q.nb[3] // n_stream, 0)
        q = ggml.permute(ctx0, q, 0, 2, 1, 3)
        k = ggml.permute(ctx0, k, 0, 2, 1, 3)
        v = ggml.permute(ctx0, v, 0, 2, 1, 3)
        if self.flash_attn and kq_b is None:
            if v_trans:
                v = ggml.transpose(ctx0, v)
            if k.type == "f32":
                k = ggml.cast(ctx0, k, "f16")
            if v.type == "f32":
                v = ggml.cast(ctx0, v, "f16")
            cur = ggml.flash_attn_ext(ctx0, q, k, v, kq_mask, kq_scale, 0.0, 0.0)
            ggml.flash_attn_ext_add_sinks(cur, sinks)
            if v_mla is not None:
                cur = ggml.permute(ctx0, cur, 0, 2, 1, 3)
                cur = ggml.mul_mat(ctx0, v_mla, cur)
                self.cb(cur, "fattn_mla", il)
                cur = ggml.permute(ctx0, cur, 0, 2, 1, 3)
                cur = ggml.cont(ctx0, cur)
            cur = ggml.reshape_2d(ctx0, cur, cur.ne[0] * cur.ne[1], cur.ne[2] * cur.ne[3])
        else:
            kq = ggml.mul_mat(ctx0, k, q)
            self.cb(kq, "kq", il)
            if kq_b is not None:
                kq = ggml.add(ctx0, kq, kq_b)
                self.cb(kq, "kq_plus_kq_b", il)
            kq = ggml.soft_max_ext(ctx0, kq, kq_mask, kq_scale, 0.0)
            ggml.soft_max_add_sinks(kq, sinks)
            self.cb(kq, "kq_soft_max", il)
            if not v_trans:
                v = ggml.cont(ctx0, ggml.transpose(ctx0, v))
                self.cb(v, "v_cont", il)
            kqv = ggml.mul_mat(ctx0, v, kq)
            self.cb(kqv, "kqv", il)
            if v_mla is not None:
                kqv = ggml.mul_mat(ctx0, v_mla, kqv)
                self.cb(kqv, "kqv_mla", il)
            cur = ggml.permute(ctx0, kqv, 0, 2, 1, 3)
            cur = ggml.cont_2d(ctx0, cur, cur.ne[0] * cur.ne[1], cur.ne[2] * cur.ne[3])
        ggml.build_forward_expand(self.gf, cur)
        return cur

    def build_attn(self, inp: AttnInputKV, wo: Tensor | None, wo_b: Tensor | None, q_cur: Tensor, k_cur: Tensor,
                   v_cur: Tensor, kq_b: Tensor | None, sinks: Tensor | None, kq_scale: float, il: int) -> Tensor:
        """build_attn over a KV cache (llm_graph_input_attn_kv)."""
        return self._build_attn_kv(inp, wo, wo_b, q_cur, k_cur, v_cur, kq_b, sinks, kq_scale, il, v_first=True)

    def _build_attn_kv(self, cache: AttnInputKV, wo: Tensor | None, wo_b: Tensor | None, q_cur: Tensor,
                       k_cur: Tensor | None, v_cur: Tensor | None, kq_b: Tensor | None, sinks: Tensor | None,
                       kq_scale: float, il: int, v_first: bool) -> Tensor:
        """The body of both build_attn overloads over a KV cache. They expand Q, then V and K (`v_first`: the
        plain cache's) or K and V (the iswa cache's) before storing them."""
        ctx0, gf = self.ctx0, self.gf
        if cache.self_k_rot is not None:
            q_cur = self.mul_mat_hadamard(q_cur, cache.self_k_rot)
            if k_cur is not None:
                k_cur = self.mul_mat_hadamard(k_cur, cache.self_k_rot)
        if cache.self_v_rot is not None and v_cur is not None:
            v_cur = self.mul_mat_hadamard(v_cur, cache.self_v_rot)
        for t in (q_cur, v_cur, k_cur) if v_first else (q_cur, k_cur, v_cur):
            if t is not None:
                ggml.build_forward_expand(gf, t)
        if k_cur is not None:
            ggml.build_forward_expand(gf, self.cpy_k(k_cur, cache.self_k_idxs, il))
        if v_cur is not None:
            ggml.build_forward_expand(gf, self.cpy_v(v_cur, cache.self_v_idxs, il))
        cur = self.build_attn_mha(q_cur, self.get_k(il), self.get_v(il), kq_b, cache.self_kq_mask, sinks, None,
                                  kq_scale, il)
        self.cb(cur, "kqv_out", il)
        if cache.self_v_rot is not None:
            cur = self.mul_mat_hadamard(cur, cache.self_v_rot)
        if wo is not None:
            cur = self.build_lora_mm(wo, cur)
        if wo_b is not None:
            cur = ggml.add(ctx0, cur, wo_b)
        return cur

    # --- recurrent state (llama-memory-recurrent.cpp, llama-graph.cpp) ------------------------------------

    def ssm_dt_rank(self) -> int:
        """hparams.ssm_dt_rank: Mamba2's heads, Gated DeltaNet's value heads (each as wide as the state)."""
        arch = self.arch
        return arch.ssm_time_step_rank or arch.ssm_inner_size // arch.ssm_state_size

    def n_embd_r(self) -> int:
        """llama_hparams::n_embd_r: a recurrent layer's conv state per sequence, f32."""
        arch = self.arch
        return (arch.ssm_conv_kernel - 1) * (arch.ssm_inner_size + 2 * arch.ssm_group_count * arch.ssm_state_size)

    def n_embd_s(self) -> int:
        """llama_hparams::n_embd_s: a recurrent layer's SSM (or delta-rule) state per sequence, f32."""
        return self.arch.ssm_state_size * self.arch.ssm_inner_size

    def rs_layer(self, il: int) -> tuple[Tensor, Tensor]:
        """llama_memory_recurrent's r_l[il] and s_l[il]: one row per sequence and snapshot."""
        if il not in self._rs_layers:
            n_rows = self.n_stream * (1 + self.params.n_rs_seq)
            self._rs_layers[il] = (
                ggml.new_external(self.ctx0, "f32", (self.n_embd_r(), n_rows), f"cache_r_l{il}"),
                ggml.new_external(self.ctx0, "f32", (self.n_embd_s(), n_rows), f"cache_s_l{il}"),
            )
        return self._rs_layers[il]

    def build_rs(self, inp: RsInput, s: Tensor, state_size: int, n_seqs: int, get_state_rows=ggml.get_rows) -> Tensor:
        """Gather the states this ubatch's sequences read (and copy the ones it leaves alone)."""
        ctx0, gf = self.ctx0, self.gf
        states = ggml.reshape_2d(ctx0, s, state_size, s.ne[1])
        # Clear a single state which will then be copied to the other cleared states.
        state_zero = ggml.view_1d(ctx0, states, state_size * (inp.rs_z >= 0), inp.rs_z * states.nb[1] * (inp.rs_z >= 0))
        ggml.build_forward_expand(gf, ggml.scale_inplace(ctx0, state_zero, 0))
        output_states = get_state_rows(ctx0, states, inp.s_copy_main)
        ggml.build_forward_expand(gf, output_states)
        states_extra = ggml.get_rows(ctx0, states, inp.s_copy_extra)
        ggml.build_forward_expand(gf, ggml.cpy(
            ctx0, states_extra,
            ggml.view_2d(ctx0, s, state_size, inp.n_rs - n_seqs, s.nb[1], (inp.head + n_seqs) * s.nb[1]),
        ))
        return output_states

    def build_rs_inp(self) -> RsInput:
        """build_rs_inp_impl over a full reservation: every sequence's state, from cell 0."""
        n_rs, n_seqs = self.n_stream, self.params.n_seqs
        s_copy = self.new_input_1d("i32", n_rs, "rs_s_copy")
        s_copy_main = ggml.view_1d(self.ctx0, s_copy, n_seqs, 0)
        s_copy_extra = ggml.view_1d(self.ctx0, s_copy, n_rs - n_seqs, n_seqs * s_copy.nb[0])
        return RsInput(s_copy, s_copy_main, s_copy_extra, n_rs, 0, 0, n_rs)

    def build_inp_mem_hybrid(self) -> tuple[AttnInputKV, RsInput]:
        """llm_graph_input_mem_hybrid: (get_attn(), get_recr())."""
        inp_rs = self.build_rs_inp()
        return self.build_attn_inp_kv(), inp_rs

    def set_outputs(self) -> None:
        """llm_graph_result::set_outputs."""
        for t in (self.res.t_logits, self.res.t_embd, *self.res.extra_outputs):
            if t is not None:
                ggml.set_output(t)


def kq_scale(n_embd_head: int) -> float:
    return 1.0 / math.sqrt(n_embd_head)

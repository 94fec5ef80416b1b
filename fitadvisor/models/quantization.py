"""The tensors of a model and the ggml type each gets under a quantization: the bytes of an Ollama tag.

The catalog knows a model's shape, not its files. The tensor table follows from the shape (the
tensors llama.cpp's and Ollama's converters write, at the sizes the shape gives), and each tensor's
type from llama.cpp's quantizer, which Ollama runs as `llama-quantize` (server/quantization.go,
checked on Ollama v0.33.0-rc2): `llama_tensor_get_type_impl` in src/llama-quant.cpp (checked at
llama.cpp commit 007dbbf): the output layer at Q6_K, the value projections and the down projections
of some layers one step up (`use_more_bits`), a type whose block does not divide a row falling back
to the next one, norms, routers and convolution kernels left at f32, plus the tensor overrides
Ollama passes per architecture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from fitadvisor.models.architecture import FULL, NO_CACHE, RECURRENT, SLIDING, Architecture
from fitadvisor.models.gguf import GGML_TYPE_IDS, GGML_TYPES, TensorInfo, block_index, tensor_bytes

# Ollama tag suffixes (`qwen3:8b-q8_0`, `gemma3:12b-it-fp16`) and the llama.cpp file type each names.
TAG_FILE_TYPES = {
    "q2_k": "Q2_K", "q3_k_s": "Q3_K_S", "q3_k_m": "Q3_K_M", "q3_k_l": "Q3_K_L", "q4_0": "Q4_0", "q4_1": "Q4_1",
    "q4_k_s": "Q4_K_S", "q4_k_m": "Q4_K_M", "q5_0": "Q5_0", "q5_1": "Q5_1", "q5_k_s": "Q5_K_S", "q5_k_m": "Q5_K_M",
    "q6_k": "Q6_K", "q8_0": "Q8_0", "fp16": "F16", "f16": "F16", "bf16": "BF16",
}
# llama_ftype_get_default_type: the type of every tensor no rule picks another for.
DEFAULT_TYPE = {
    "Q2_K": "Q2_K", "Q3_K_S": "Q3_K", "Q3_K_M": "Q3_K", "Q3_K_L": "Q3_K", "Q4_0": "Q4_0", "Q4_1": "Q4_1",
    "Q4_K_S": "Q4_K", "Q4_K_M": "Q4_K", "Q5_0": "Q5_0", "Q5_1": "Q5_1", "Q5_K_S": "Q5_K", "Q5_K_M": "Q5_K",
    "Q6_K": "Q6_K", "Q8_0": "Q8_0", "F16": "F16", "BF16": "BF16",
}
# tensor_type_fallback: a row the block size does not divide takes the next type that fits.
_FALLBACK = {"Q2_K": "Q4_0", "Q3_K": "Q4_0", "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}
# llama-quantize --tensor-type overrides Ollama adds for Q4_K_S/Q4_K_M (server/quantization.go, v0.33.0-rc2)
# on the tensors the shapes here have: DeepSeek-style latent attention kept at Q8_0. GLM-4.7-Flash's
# library files keep the same policy, though Ollama names that architecture glm4moelite.
_MLA_Q8 = tuple((pattern, "Q8_0") for pattern in (
    r"attn_k_b\.weight$", r"attn_q_a\.weight$", r"attn_q_b\.weight$", r"attn_v_b\.weight$", r"attn_kv_a_mqa\.weight$"))
# gemma3n's per-layer token table stays at F16 there too ("read on every layer for every token"). Ollama's library
# gemma4 E files keep theirs at 16 bits at every quantization, though that code names only gemma3n: only then do
# their tensors come to the published sizes (e2b 7.2 GB, e2b-it-q8_0 8.1 GB, e4b 9.6 GB; at Q6_K or Q8_0 each
# would be 2-2.5 GB smaller).
_PER_LAYER_EMBEDDING_F16 = ((r"^per_layer_token_embd\.weight$", "F16"),)
_Q4_K = ("Q4_K_S", "Q4_K_M")
# Not applied: the same code keeps qwen3.5's nextn.eh_proj at Q8_0 (since commit 0e93ccc2c, 2026-06), but Ollama's
# library files do not. qwen3.8:27b's file (Aug 2026) holds 360 f32, 439 q4_K and 67 q6_K tensors, no q8_0, as
# Ollama 0.32.13's llama-server listed them (github.com/hogeheer499-commits/strix-halo-guide, data/raw/2026-08-15/
# qwen38-27b-ollama-03213-vulkan-radv/qualification/context_64k_ollama_journal.log): these rules give that table.
_OVERRIDES = {  # the file types each architecture's overrides apply to, and the overrides
    "deepseek2": (_Q4_K, _MLA_Q8), "glm4moelite": (_Q4_K, _MLA_Q8), "gemma3n": (_Q4_K, _PER_LAYER_EMBEDDING_F16),
    "gemma4": (tuple(DEFAULT_TYPE), _PER_LAYER_EMBEDDING_F16),
}
# Qwen3-Next-style hybrids: Gated DeltaNet layers, and attention layers whose attn_q also holds an output gate.
_GATED_DELTA_NET = {"qwen3next", "qwen35", "qwen35moe"}
_FFN_ONLY_IN_MLP_BLOCKS = {"nemotron_h", "nemotron_h_moe"}  # their Mamba2 and attention blocks have no FFN
_NO_GATE = {"nemotron_h", "nemotron_h_moe"}  # squared-ReLU feed-forward: up and down only
_DENSE_BESIDE_EXPERTS = {"gemma4"}  # a dense MLP runs beside the routed experts in every layer
_MAMBA_HEAD_DIM = 64  # Mamba2 heads in nemotron-h and granite-4.0-h


class Tensor(NamedTuple):  # a tuple: tens of thousands are made per catalog
    name: str
    shape: tuple[int, ...]  # GGUF order: a row (the input width) first

    @property
    def quantizable(self) -> bool:
        """tensor_allows_quantization: 2-D and 3-D weights, less norms, routers and conv kernels."""
        return len(self.shape) >= 2 and _quantizable_name(self.name)


_KEPT_AS_CONVERTED = "per_layer_model_proj"  # "not too big": left at the converter's F16 (llama-quant.cpp)


@lru_cache(maxsize=4096)  # like _category: the same tensor names come back for every model
def _quantizable_name(name: str) -> bool:
    return (name.endswith("weight") and "_norm.weight" not in name and "ffn_gate_inp.weight" not in name
            and "ssm_conv1d" not in name and not name.startswith(_KEPT_AS_CONVERTED))


def file_type_of_tag(tag: str) -> tuple[str, str] | None:
    """(the tag without its quantization suffix, the file type) for `12b-it-q8_0` ("" before a bare `q8_0`)."""
    base, _, suffix = tag.lower().rpartition("-")
    if suffix in TAG_FILE_TYPES:
        return base, TAG_FILE_TYPES[suffix]
    return None


def tensors(arch: Architecture) -> list[Tensor]:
    """The model's tensors as the converters write them, from its shape (vision tower not included)."""
    e, v = arch.embedding_length, arch.vocab_size
    out = [Tensor("token_embd.weight", (e, v)), Tensor("output_norm.weight", (e,))]
    if not arch.tied_embeddings:
        out.append(Tensor("output.weight", (e, v)))
    per_layer = arch.embedding_length_per_layer
    if per_layer:  # gemma4 E models: a token table and a projection for every layer's own input
        width = per_layer * arch.block_count
        out += [Tensor("per_layer_token_embd.weight", (width, v)), Tensor("per_layer_model_proj.weight", (e, width)),
                Tensor("per_layer_proj_norm.weight", (per_layer,))]
    drafting = arch.block_count - arch.draft_layers  # the first multi-token-prediction layer
    for i, kind in enumerate(arch.layers):
        p = f"blk.{i}"
        out.append(Tensor(f"{p}.attn_norm.weight", (e,)))
        # gemma4's shared-KV layers attend too (their files keep K and V, which llama.cpp leaves unread), and so do
        # the multi-token-prediction layers, whose cache only a drafting context keeps
        if kind in (FULL, SLIDING) or (kind == NO_CACHE and (arch.per_layer_head_length or i >= drafting)):
            out += _attention(arch, i, p)
        if i >= drafting:
            out += _nextn(e, p)
        elif kind == RECURRENT:
            out += _gated_delta_net(arch, p) if arch.name in _GATED_DELTA_NET else _mamba2(arch, p)
        if arch.name in _FFN_ONLY_IN_MLP_BLOCKS and kind != NO_CACHE:
            continue
        out.append(Tensor(f"{p}.ffn_norm.weight", (e,)))
        out += _feed_forward(arch, i, p)
        if per_layer:
            out += [Tensor(f"{p}.inp_gate.weight", (e, per_layer)), Tensor(f"{p}.proj.weight", (per_layer, e)),
                    Tensor(f"{p}.post_norm.weight", (e,))]
    return out


def _nextn(e: int, p: str) -> list[Tensor]:
    """A multi-token-prediction layer's own tensors (llama.cpp's names, as Ollama v0.33.0-rc2's llama/compat renames a
    qwen3.5 file's mtp.fc, mtp.pre_fc_norm_embedding, mtp.pre_fc_norm_hidden and mtp.norm): the projection of the
    normed embedding and hidden state, joined, back to one hidden state, and the norms. The token table and output
    layer are the model's own."""
    return [Tensor(f"{p}.nextn.eh_proj.weight", (2 * e, e)), Tensor(f"{p}.nextn.enorm.weight", (e,)),
            Tensor(f"{p}.nextn.hnorm.weight", (e,)), Tensor(f"{p}.nextn.shared_head_norm.weight", (e,))]


def _attention(arch: Architecture, i: int, p: str) -> list[Tensor]:
    e, heads, kv_heads = arch.embedding_length, arch.heads(i), arch.kv_heads(i)
    if arch.is_mla or arch.kv_lora_rank_mha:
        # DeepSeek-style latent attention, the query compressed (q_lora) or straight from the hidden state; a legacy
        # file without MLA keys decompresses each head's K (its unroped part) and V with one attn_kv_b
        rank = arch.kv_lora_rank or arch.kv_lora_rank_mha
        rope = arch.key_length - arch.kv_lora_rank if arch.is_mla else arch.rope_dimension_count
        head_v = (arch.value_length_mla or 128) if arch.is_mla else arch.value_length
        head_k = (arch.key_length_mla or head_v + rope) if arch.is_mla else arch.key_length
        q_lora = arch.query_lora_rank
        query = [
            Tensor(f"{p}.attn_q_a.weight", (e, q_lora)),
            Tensor(f"{p}.attn_q_a_norm.weight", (q_lora,)),
            Tensor(f"{p}.attn_q_b.weight", (q_lora, heads * head_k)),
        ] if q_lora else [Tensor(f"{p}.attn_q.weight", (e, heads * head_k))]
        decompress = [
            Tensor(f"{p}.attn_k_b.weight", (head_k - rope, rank, heads)),
            Tensor(f"{p}.attn_v_b.weight", (rank, head_v, heads)),
        ] if arch.is_mla else [Tensor(f"{p}.attn_kv_b.weight", (rank, heads * (head_k - rope + head_v)))]
        return query + [
            Tensor(f"{p}.attn_kv_a_mqa.weight", (e, rank + rope)),
            Tensor(f"{p}.attn_kv_a_norm.weight", (rank,)),
            *decompress,
            Tensor(f"{p}.attn_output.weight", (heads * head_v, e)),
        ]
    k, v = arch.key_width(i), arch.value_width(i)
    gated = arch.name in _GATED_DELTA_NET  # attn_q also holds the output gate; q and k are normed per head
    q = heads * k * (2 if gated else 1)
    norms = [Tensor(f"{p}.attn_q_norm.weight", (k,)), Tensor(f"{p}.attn_k_norm.weight", (k,))] if gated else []
    if arch.fused_qkv:
        return [Tensor(f"{p}.attn_qkv.weight", (e, q + kv_heads * (k + v))), Tensor(f"{p}.attn_output.weight", (heads * v, e))]
    value = [] if arch.value_from_key and arch.layers[i] == FULL else [Tensor(f"{p}.attn_v.weight", (e, kv_heads * v))]
    return [
        Tensor(f"{p}.attn_q.weight", (e, q)),
        Tensor(f"{p}.attn_k.weight", (e, kv_heads * k)),
        *value,
        Tensor(f"{p}.attn_output.weight", (heads * v, e)),
        *norms,
    ]


def _gated_delta_net(arch: Architecture, p: str) -> list[Tensor]:
    """Qwen3-Next / Qwen3.5 linear attention: fused q/k/v, the output gate, per-head decay and rate."""
    e, inner = arch.embedding_length, arch.ssm_inner_size
    qk = 2 * arch.ssm_group_count * arch.ssm_state_size
    value_heads = inner // arch.ssm_state_size if arch.ssm_state_size else 0
    # qwen3next keeps each head's rate and decay projections in one tensor, qwen3.5 in two
    rates = [Tensor(f"{p}.ssm_ba.weight", (e, 2 * value_heads))] if arch.name == "qwen3next" else [
        Tensor(f"{p}.ssm_beta.weight", (e, value_heads)), Tensor(f"{p}.ssm_alpha.weight", (e, value_heads))]
    return [
        Tensor(f"{p}.attn_qkv.weight", (e, qk + inner)),
        Tensor(f"{p}.attn_gate.weight", (e, inner)),
        *rates,
        Tensor(f"{p}.ssm_conv1d.weight", (arch.ssm_conv_kernel, qk + inner)),
        Tensor(f"{p}.ssm_a", (value_heads,)),
        Tensor(f"{p}.ssm_dt.bias", (value_heads,)),
        Tensor(f"{p}.ssm_norm.weight", (arch.ssm_state_size,)),
        Tensor(f"{p}.ssm_out.weight", (inner, e)),
    ]


def _mamba2(arch: Architecture, p: str) -> list[Tensor]:
    e, inner = arch.embedding_length, arch.ssm_inner_size
    groups = 2 * arch.ssm_group_count * arch.ssm_state_size
    heads = inner // _MAMBA_HEAD_DIM
    return [
        Tensor(f"{p}.ssm_in.weight", (e, 2 * inner + groups + heads)),
        Tensor(f"{p}.ssm_conv1d.weight", (arch.ssm_conv_kernel, inner + groups)),
        Tensor(f"{p}.ssm_a", (heads,)),
        Tensor(f"{p}.ssm_d", (heads,)),
        Tensor(f"{p}.ssm_norm.weight", (inner,)),
        Tensor(f"{p}.ssm_out.weight", (inner, e)),
    ]


def _feed_forward(arch: Architecture, i: int, p: str) -> list[Tensor]:
    e = arch.embedding_length
    gated = arch.name not in _NO_GATE
    out = []
    moe = arch.is_moe and i >= arch.leading_dense_block_count
    dense = arch.feed_forward_width(i) if (not moe or arch.name in _DENSE_BESIDE_EXPERTS) else 0
    if dense:
        if arch.name == "phi3":  # gate and up fused
            return [Tensor(f"{p}.ffn_up.weight", (e, 2 * dense)), Tensor(f"{p}.ffn_down.weight", (dense, e))]
        out += _projections(p, "", e, dense, gated)
    if moe:
        x, f, w = arch.expert_count, arch.expert_feed_forward_length, arch.expert_input_width
        out.append(Tensor(f"{p}.ffn_gate_inp.weight", (e, x)))
        if arch.expert_selection_bias:
            out.append(Tensor(f"{p}.exp_probs_b.bias", (x,)))
        if arch.moe_latent_size:  # the quantizer gives them the default type: no ffn_up/ffn_down in their names
            out += [Tensor(f"{p}.ffn_latent_down.weight", (e, w)), Tensor(f"{p}.ffn_latent_up.weight", (w, e))]
        if gated:
            out.append(Tensor(f"{p}.ffn_gate_exps.weight", (w, f, x)))
        out += [Tensor(f"{p}.ffn_up_exps.weight", (w, f, x)), Tensor(f"{p}.ffn_down_exps.weight", (f, w, x))]
        if arch.shared_expert_width:
            out += _projections(p, "_shexp", e, arch.shared_expert_width, gated)
    return out


def _projections(p: str, suffix: str, e: int, width: int, gated: bool) -> list[Tensor]:
    out = [Tensor(f"{p}.ffn_gate{suffix}.weight", (e, width))] if gated else []
    return out + [Tensor(f"{p}.ffn_up{suffix}.weight", (e, width)), Tensor(f"{p}.ffn_down{suffix}.weight", (width, e))]


def quantize(arch: Architecture, file_type: str) -> list[TensorInfo]:
    """Each tensor of the model with the type llama-quantize gives it for `file_type` (Q4_K_M, Q8_0, F16...)."""
    n_gqa = arch.head_count // arch.head_count_kv if arch.head_count_kv else 1
    return assign_types(tensors(arch), file_type, arch.name, arch.block_count, n_gqa, arch.expert_count)


def assign_types(table: list[Tensor], file_type: str, architecture: str, n_layer: int, n_gqa: int = 1, n_expert: int = 0) -> list[TensorInfo]:
    """The quantizer's choice for each tensor of a table, in the order the quantizer meets them.

    1-D tensors, routers and conv kernels stay f32, as the converters write them and the quantizer
    leaves them.
    """
    default = DEFAULT_TYPE[file_type]
    state = _State(
        n_attention_wv=sum(1 for t in table if _category(t.name) == "attn_v"),
        n_layer=n_layer,
        n_gqa=n_gqa,
        n_expert=n_expert,
        tied=not any(t.name == "output.weight" for t in table),
        overrides=tuple((re.compile(pattern), kind) for pattern, kind in _overrides(architecture, file_type)),
    )
    out = []
    for tensor in table:
        if not tensor.quantizable:
            kind = "F16" if tensor.name.startswith(_KEPT_AS_CONVERTED) else "F32"
        elif default in ("F16", "BF16"):
            kind = default
        else:
            kind = _type(state, tensor, file_type, default)
        out.append(TensorInfo(tensor.name, tensor.shape, kind))
    return out


def _overrides(architecture: str, file_type: str) -> tuple:
    file_types, rules = _OVERRIDES.get(architecture, ((), ()))
    return rules if file_type in file_types else ()


def weights_bytes(arch: Architecture, file_type: str) -> int:
    return tensor_bytes(quantize(arch, file_type))


def token_embedding_bytes(table: list[TensorInfo]) -> int:
    """The token-embedding table's bytes in a quantized table (one pass of the quantizer serves both sizes)."""
    return next(t.bytes for t in table if t.name == "token_embd.weight")


def draft_bytes(table: list[TensorInfo], arch: Architecture) -> int:
    """The multi-token-prediction layers' bytes in a quantized table: its blocks after the trunk, as a GGUF's are read."""
    return sum(t.bytes for t in table if block_index(t.name) >= arch.block_count - arch.draft_layers)


def per_layer_embedding_bytes(table: list[TensorInfo]) -> int:
    return next((t.bytes for t in table if t.name == "per_layer_token_embd.weight"), 0)


@dataclass
class _State:
    n_attention_wv: int
    n_layer: int
    n_gqa: int
    n_expert: int
    tied: bool
    overrides: tuple
    i_attention_wv: int = 0
    i_ffn_down: int = 0


@lru_cache(maxsize=4096)  # the same few thousand tensor names come back for every model of a catalog
def _category(name: str) -> str:
    """tensor_get_category, in the order llama.cpp tests the names."""
    if name == "output.weight":
        return "output"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return "token_embd"
    if any(key in name for key in ("attn_qkv.weight", "attn_kv_b.weight", "attn_v.weight")):
        return "attn_v"
    for key, category in (("attn_k.weight", "attn_k"), ("attn_q.weight", "attn_q"), ("attn_output.weight", "attn_output"),
                          ("ffn_up", "ffn_up"), ("ffn_gate", "ffn_gate"), ("ffn_down", "ffn_down")):
        if key in name:
            return category
    return "other"


def _more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


_BLOCK = {name: GGML_TYPES[type_id][1] for name, type_id in GGML_TYPE_IDS.items()}  # elements per block, by type


def _type(state: _State, tensor: Tensor, file_type: str, default: str) -> str:
    category = _category(tensor.name)
    kind = next((k for pattern, k in state.overrides if pattern.search(tensor.name)), None) if state.overrides else None
    if kind is None:
        kind = _rule(state, tensor, category, file_type, default)
    elif category == "attn_v":
        state.i_attention_wv += 1
    if tensor.shape[0] % _BLOCK[kind]:
        kind = _FALLBACK.get(kind, "F16")
        if tensor.shape[0] % _BLOCK[kind]:
            kind = "F16"
    return kind


def _rule(state: _State, tensor: Tensor, category: str, ftype: str, kind: str) -> str:
    """llama_tensor_get_type_impl for the K-quant and legacy file types Ollama's library uses.

    A tied embedding takes the output's type since llama.cpp matches "output.weight" exactly; files
    quantized before that (Ollama's granite3-moe, 2024) kept it at the default type, because every
    attn_output.weight counted as an output then.
    """
    if category == "output" or (state.tied and category == "token_embd"):
        if tensor.shape[0] % _BLOCK[kind]:
            return "Q8_0"
        return kind if kind == "Q8_0" else "Q6_K"
    if category == "token_embd":
        return kind
    if category == "attn_v":
        i, n = state.i_attention_wv, state.n_attention_wv
        state.i_attention_wv += 1
        if state.n_expert == 8:
            return "Q8_0"
        if ftype == "Q2_K":
            return "Q4_K" if state.n_gqa >= 4 else "Q3_K"
        if ftype == "Q3_K_M":
            return "Q5_K" if i < 2 else "Q4_K"
        if ftype == "Q3_K_L":
            return "Q5_K"
        if ftype in ("Q4_K_M", "Q5_K_M") and _more_bits(i, n):
            return "Q6_K"
        if ftype == "Q4_K_S" and i < 4:
            return "Q5_K"
        return kind
    if category == "attn_k":
        return "Q8_0" if state.n_expert == 8 else kind
    if category == "ffn_down":
        n = state.n_layer
        if state.n_expert > 1:  # the layer from the name: experts and shared experts are counted per layer
            i = int(tensor.name.split(".")[1])
        else:
            i = state.i_ffn_down
        state.i_ffn_down += 1
        if ftype == "Q2_K":
            return "Q3_K"
        if ftype == "Q3_K_M":
            return "Q5_K" if i < n // 16 else "Q4_K"
        if ftype == "Q3_K_L":
            return "Q5_K"
        if ftype in ("Q4_K_M", "Q5_K_M") and _more_bits(i, n):
            return "Q6_K"
        if ftype == "Q4_K_S" and i < n // 8:
            return "Q5_K"
        return kind
    if category == "attn_output":
        if state.n_expert == 8:
            return "Q5_K" if ftype in ("Q2_K", "Q3_K_S", "Q3_K_M", "Q4_K_S", "Q4_K_M") else kind
        return {"Q2_K": "Q3_K", "Q3_K_M": "Q4_K", "Q3_K_L": "Q5_K"}.get(ftype, kind)
    return kind

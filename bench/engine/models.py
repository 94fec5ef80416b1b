"""Synthetic GGUF models: the real per-layer geometry of an architecture, fewer layers, zero weights.

Every weight llama.cpp needs is there with the shape its loader checks (Q4_0 where the row length
allows, f32 for norms, biases and small SSM parameters), but the data is all zero and the file is
written sparse (the tensor region is a hole), so a "24B-wide" model costs a few KB on disk and loads
in a blink. KV cache and compute buffer sizes depend only on the geometry and the context
parameters, never on the weights' values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gguf
import numpy as np

Q4_0 = gguf.GGMLQuantizationType.Q4_0
F32 = gguf.GGMLQuantizationType.F32


@dataclass(frozen=True)
class Spec:
    """One synthetic model: the GGUF keys that decide memory, in llama.cpp's terms."""

    name: str
    arch: str  # general.architecture as llama.cpp spells it
    layers: int
    n_embd: int
    n_head: int
    n_head_kv: int | tuple[int, ...]  # per layer when it varies (0 = recurrent layer in hybrids)
    head_dim: int
    n_ff: int
    vocab: int
    context_length: int = 131072
    value_dim: int = 0  # 0: same as head_dim
    sliding_window: int = 0
    swa_pattern: int = 0  # every swa_pattern-th layer is global (llama.cpp's set_swa_pattern)
    experts: int = 0
    experts_used: int = 0
    expert_ff: int = 0
    shared_expert_ff: int = 0
    ssm_conv: int = 0
    ssm_state: int = 0
    ssm_groups: int = 0
    ssm_heads: int = 0  # Mamba2 time-step rank
    kv_lora_rank: int = 0  # MLA
    rope_dim: int = 0  # MLA: the roped part of the key
    mla_head: int = 0  # MLA: per-head width of the decompressed key (without rope) and value
    tied: bool = False
    source: str = ""  # where the real geometry comes from
    notes: tuple[str, ...] = field(default=())

    @property
    def path_name(self) -> str:
        return f"{self.name}.gguf"

    def head_kv(self, layer: int) -> int:
        return self.n_head_kv[layer] if isinstance(self.n_head_kv, tuple) else self.n_head_kv


# Real geometry (the model named in `source`), with fewer layers: enough to hold each layer kind.
# Vocabularies stay real where the output stage is what the check exercises, else shrink to 32K.
SPECS: tuple[Spec, ...] = (
    Spec("llama", "llama", 2, 4096, 32, 8, 128, 14336, 32000, source="Llama-3.1-8B / Mistral-7B attention + FFN"),
    Spec("qwen2", "qwen2", 2, 3584, 28, 4, 128, 18944, 152064, source="Qwen2.5-7B"),
    Spec("qwen3", "qwen3", 2, 4096, 32, 8, 128, 12288, 32000, source="Qwen3-8B (vocab cut to 32K)"),
    Spec(
        "qwen3moe", "qwen3moe", 2, 2048, 32, 4, 128, 6144, 32000, experts=128, experts_used=8, expert_ff=768,
        source="Qwen3-30B-A3B / Qwen3-Coder-30B (vocab cut to 32K)",
    ),
    Spec("mistral3", "mistral3", 2, 5120, 32, 8, 128, 32768, 32000, source="Devstral-Small-2 / Mistral-Small-3.2 text stack (vocab cut to 32K)"),
    Spec(
        "gemma3", "gemma3", 6, 2560, 8, 4, 256, 10240, 262144, sliding_window=1024, swa_pattern=6, tied=True,
        source="Gemma-3-4B (5 sliding : 1 global)",
    ),
    Spec(
        "gpt-oss", "gpt-oss", 2, 2880, 64, 8, 64, 2880, 32000, sliding_window=128, swa_pattern=2,
        experts=32, experts_used=4, expert_ff=2880, source="gpt-oss-20b (alternating sliding 128 / full; vocab cut to 32K)",
    ),
    Spec(
        "granitehybrid", "granitehybrid", 2, 4096, 32, (0, 8), 128, 768, 32000,
        experts=72, experts_used=10, expert_ff=768, shared_expert_ff=1536,
        ssm_conv=4, ssm_state=128, ssm_groups=1, ssm_heads=128, tied=True,
        source="Granite-4.0-H-Small (a Mamba2 and an attention layer, both MoE; vocab cut to 32K)",
    ),
    Spec(
        "deepseek2-mla", "deepseek2", 2, 2048, 16, 1, 576, 10944, 32000, value_dim=512,
        experts=64, experts_used=6, expert_ff=1408, shared_expert_ff=2 * 1408, kv_lora_rank=512, rope_dim=64, mla_head=128,
        source="DeepSeek-V2-Lite geometry in the MLA layout (GLM-4.7-Flash / DeepSeek-V3 style K 576 / V 512)",
    ),
)


def by_name(name: str) -> Spec:
    for spec in SPECS:
        if spec.name == name:
            return spec
    raise KeyError(name)


class _Tensors:
    """Tensor infos in ggml order (ne0 first), typed as llama.cpp's converter would."""

    def __init__(self) -> None:
        self.items: list[tuple[str, tuple[int, ...], gguf.GGMLQuantizationType]] = []

    def add(self, name: str, *ne: int, f32: bool = False) -> None:
        kind = F32 if f32 or len(ne) == 1 or ne[0] % 32 else Q4_0
        self.items.append((name, ne, kind))

    def nbytes(self, ne: tuple[int, ...], kind: gguf.GGMLQuantizationType) -> int:
        elements = int(np.prod(ne))
        if kind == F32:
            return 4 * elements
        block, size = gguf.GGML_QUANT_SIZES[kind]
        return elements // block * size


def _attention(t: _Tensors, spec: Spec, i: int, qk_norm: bool = False, biases: bool = False) -> None:
    d, hkv = spec.head_dim, spec.head_kv(i)
    t.add(f"blk.{i}.attn_q.weight", spec.n_embd, spec.n_head * d)
    t.add(f"blk.{i}.attn_k.weight", spec.n_embd, hkv * d)
    t.add(f"blk.{i}.attn_v.weight", spec.n_embd, hkv * (spec.value_dim or d))
    t.add(f"blk.{i}.attn_output.weight", spec.n_head * (spec.value_dim or d), spec.n_embd)
    if qk_norm:
        t.add(f"blk.{i}.attn_q_norm.weight", d)
        t.add(f"blk.{i}.attn_k_norm.weight", d)
    if biases:
        t.add(f"blk.{i}.attn_output.bias", spec.n_embd)


def _dense_ffn(t: _Tensors, spec: Spec, i: int, n_ff: int) -> None:
    t.add(f"blk.{i}.ffn_gate.weight", spec.n_embd, n_ff)
    t.add(f"blk.{i}.ffn_up.weight", spec.n_embd, n_ff)
    t.add(f"blk.{i}.ffn_down.weight", n_ff, spec.n_embd)


def _experts(t: _Tensors, spec: Spec, i: int, biases: bool = False) -> None:
    e, ff = spec.experts, spec.expert_ff
    t.add(f"blk.{i}.ffn_gate_inp.weight", spec.n_embd, e, f32=True)
    t.add(f"blk.{i}.ffn_gate_exps.weight", spec.n_embd, ff, e)
    t.add(f"blk.{i}.ffn_up_exps.weight", spec.n_embd, ff, e)
    t.add(f"blk.{i}.ffn_down_exps.weight", ff, spec.n_embd, e)
    if biases:
        t.add(f"blk.{i}.ffn_gate_inp.bias", e)
        t.add(f"blk.{i}.ffn_gate_exps.bias", ff, e, f32=True)
        t.add(f"blk.{i}.ffn_up_exps.bias", ff, e, f32=True)
        t.add(f"blk.{i}.ffn_down_exps.bias", spec.n_embd, e, f32=True)
    if spec.shared_expert_ff:
        t.add(f"blk.{i}.ffn_gate_shexp.weight", spec.n_embd, spec.shared_expert_ff)
        t.add(f"blk.{i}.ffn_up_shexp.weight", spec.n_embd, spec.shared_expert_ff)
        t.add(f"blk.{i}.ffn_down_shexp.weight", spec.shared_expert_ff, spec.n_embd)


def _mamba2(t: _Tensors, spec: Spec, i: int) -> None:
    d_inner = 2 * spec.n_embd
    conv_dim = d_inner + 2 * spec.ssm_groups * spec.ssm_state
    t.add(f"blk.{i}.ssm_in.weight", spec.n_embd, 2 * d_inner + 2 * spec.ssm_groups * spec.ssm_state + spec.ssm_heads)
    t.add(f"blk.{i}.ssm_conv1d.weight", spec.ssm_conv, conv_dim, f32=True)
    t.add(f"blk.{i}.ssm_conv1d.bias", conv_dim)
    t.add(f"blk.{i}.ssm_dt.bias", spec.ssm_heads)
    t.add(f"blk.{i}.ssm_a", 1, spec.ssm_heads, f32=True)
    t.add(f"blk.{i}.ssm_d", 1, spec.ssm_heads, f32=True)
    t.add(f"blk.{i}.ssm_norm.weight", d_inner // spec.ssm_groups, spec.ssm_groups, f32=True)
    t.add(f"blk.{i}.ssm_out.weight", d_inner, spec.n_embd)


def _mla(t: _Tensors, spec: Spec, i: int) -> None:
    head = spec.mla_head
    t.add(f"blk.{i}.attn_q.weight", spec.n_embd, spec.n_head * (head + spec.rope_dim))
    t.add(f"blk.{i}.attn_kv_a_mqa.weight", spec.n_embd, spec.kv_lora_rank + spec.rope_dim)
    t.add(f"blk.{i}.attn_kv_a_norm.weight", spec.kv_lora_rank)
    t.add(f"blk.{i}.attn_k_b.weight", head, spec.kv_lora_rank, spec.n_head)
    t.add(f"blk.{i}.attn_v_b.weight", spec.kv_lora_rank, head, spec.n_head)
    t.add(f"blk.{i}.attn_output.weight", spec.n_head * head, spec.n_embd)


def tensors(spec: Spec) -> _Tensors:
    t = _Tensors()
    t.add("token_embd.weight", spec.n_embd, spec.vocab)
    t.add("output_norm.weight", spec.n_embd)
    if not spec.tied:
        t.add("output.weight", spec.n_embd, spec.vocab)
    for i in range(spec.layers):
        t.add(f"blk.{i}.attn_norm.weight", spec.n_embd)
        t.add(f"blk.{i}.ffn_norm.weight", spec.n_embd)
        if spec.arch in ("llama", "qwen2", "mistral3"):
            _attention(t, spec, i)
            _dense_ffn(t, spec, i, spec.n_ff)
        elif spec.arch == "qwen3":
            _attention(t, spec, i, qk_norm=True)
            _dense_ffn(t, spec, i, spec.n_ff)
        elif spec.arch == "qwen3moe":
            _attention(t, spec, i, qk_norm=True)
            _experts(t, spec, i)
        elif spec.arch == "gemma3":
            _attention(t, spec, i, qk_norm=True)
            t.add(f"blk.{i}.post_attention_norm.weight", spec.n_embd)
            t.add(f"blk.{i}.post_ffw_norm.weight", spec.n_embd)
            _dense_ffn(t, spec, i, spec.n_ff)
        elif spec.arch == "gpt-oss":
            t.items.pop()  # gpt-oss names its pre-FFN norm post_attention_norm
            t.add(f"blk.{i}.post_attention_norm.weight", spec.n_embd)
            _attention(t, spec, i, biases=True)
            t.add(f"blk.{i}.attn_sinks.weight", spec.n_head)
            _experts(t, spec, i, biases=True)
        elif spec.arch == "granitehybrid":
            if spec.head_kv(i) == 0:
                _mamba2(t, spec, i)
            else:
                _attention(t, spec, i)
            _experts(t, spec, i)
        elif spec.arch == "deepseek2":
            _mla(t, spec, i)
            if i == 0:  # DeepSeek's leading dense block
                _dense_ffn(t, spec, i, spec.n_ff)
            else:
                _experts(t, spec, i)
        else:
            raise ValueError(f"no tensor layout for {spec.arch}")
    return t


def _metadata(w: gguf.GGUFWriter, spec: Spec) -> None:
    a = spec.arch
    w.add_name(f"fitadvisor-bench-{spec.name}")
    w.add_block_count(spec.layers)
    w.add_context_length(spec.context_length)
    w.add_embedding_length(spec.n_embd)
    w.add_feed_forward_length(spec.expert_ff if a == "granitehybrid" else spec.n_ff)  # granite: the expert width
    w.add_head_count(spec.n_head)
    w.add_head_count_kv(list(spec.n_head_kv) if isinstance(spec.n_head_kv, tuple) else spec.n_head_kv)
    w.add_key_length(spec.head_dim)
    w.add_value_length(spec.value_dim or spec.head_dim)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(1e6)
    w.add_vocab_size(spec.vocab)
    w.add_rope_dimension_count(spec.rope_dim or spec.head_dim)
    if spec.sliding_window:
        w.add_sliding_window(spec.sliding_window)
        w.add_uint32(f"{a}.attention.sliding_window_pattern", spec.swa_pattern)
    if spec.experts:
        w.add_expert_count(spec.experts)
        w.add_expert_used_count(spec.experts_used)
        w.add_expert_feed_forward_length(spec.expert_ff)
    if spec.shared_expert_ff:
        if a == "deepseek2":
            w.add_expert_shared_count(spec.shared_expert_ff // spec.expert_ff)
        else:
            w.add_expert_shared_feed_forward_length(spec.shared_expert_ff)
    if spec.ssm_conv:
        w.add_ssm_conv_kernel(spec.ssm_conv)
        w.add_ssm_inner_size(2 * spec.n_embd)
        w.add_ssm_state_size(spec.ssm_state)
        w.add_ssm_time_step_rank(spec.ssm_heads)
        w.add_ssm_group_count(spec.ssm_groups)
    if spec.kv_lora_rank:
        w.add_kv_lora_rank(spec.kv_lora_rank)
        w.add_q_lora_rank(0)  # DeepSeek-V2-Lite: no query compression
        w.add_key_length_mla(spec.mla_head + spec.rope_dim)
        w.add_value_length_mla(spec.mla_head)
        w.add_leading_dense_block_count(1)
        w.add_expert_weights_scale(1.0)
    w.add_tokenizer_model("none")


def write(spec: Spec, path: Path) -> Path:
    """Write `spec` to `path` (sparse: only the header takes disk space)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    w = gguf.GGUFWriter(tmp, spec.arch)
    _metadata(w, spec)
    layout = tensors(spec)
    total = 0
    for name, ne, kind in layout.items:
        nbytes = layout.nbytes(ne, kind)
        w.add_tensor_info(name, tuple(reversed(ne)), np.dtype(np.float32), nbytes, raw_dtype=kind)
        total += gguf.GGUFWriter.ggml_pad(nbytes, w.data_alignment)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    assert w.fout is not None
    out = w.fout[0]
    start = gguf.GGUFWriter.ggml_pad(out.tell(), w.data_alignment)
    out.truncate(start + total)  # zero-filled hole: every weight is 0
    w.close()
    tmp.replace(path)
    return path

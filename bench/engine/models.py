"""Synthetic GGUF models: the real per-layer geometry of an architecture, fewer layers, zero weights.

Every weight llama.cpp needs is there with the shape its loader checks (Q4_0 where the row length
allows, f32 for norms, biases and small SSM parameters), but the data is all zero and the file is
written sparse (the tensor region is a hole), so a "24B-wide" model costs a few KB on disk and loads
in a blink. KV cache and compute buffer sizes depend only on the geometry and the context
parameters, never on the weights' values.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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
    n_head: int | tuple[int, ...]  # per layer when it varies (laguna: fewer on the global layers)
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
    moe_latent: int = 0  # latent MoE (nemotron_h_moe's moe_latent_size): the routed experts' width, 0: n_embd
    ssm_conv: int = 0
    ssm_state: int = 0
    ssm_groups: int = 0
    ssm_heads: int = 0  # Mamba2 time-step rank
    kv_lora_rank: int = 0  # MLA, or with mla_head 0 a legacy deepseek2 file: K and V decompressed by one attn_kv_b
    rope_dim: int = 0  # deepseek2: the roped part of the key
    mla_head: int = 0  # MLA: per-head width of the decompressed key (without rope) and value
    mla_value: int = 0  # MLA: per-head width of the decompressed value when it differs from the key's
    q_lora_rank: int = 0  # MLA: query compression (GLM-4.7-Flash), 0: none
    expert_gating: int = 0  # expert_gating_func (2: sigmoid), 0: the architecture's default
    expert_weights_norm: bool = False  # the chosen experts' weights divided by their sum
    expert_weights_scale: float = 0.0  # and scaled (routed_scaling_factor); 0: the key left out
    selection_bias: bool = False  # exp_probs_b: a per-expert bias that picks the experts
    fused_gate_up: bool = False  # the experts' gate and up in one tensor (ffn_gate_up_exps), as newer converters write
    ssm_inner: int = 0  # 0: 2 x n_embd (Mamba2); Gated DeltaNet: value heads x state
    attention_interval: int = 0  # Gated DeltaNet hybrids: every n-th layer attends (qwen3next, qwen35)
    layer_types: str = ""  # nemotron_h: M (Mamba2), E (MoE), * (attention), X (multi-token prediction) per layer
    nextn: int = 0  # multi-token-prediction layers after the trunk (nextn_predict_layers)
    global_head_dim: int = 0  # gemma4: the global layers' head size (head_dim is the sliding layers')
    per_layer_input: int = 0  # gemma4 E models: each layer's own token input (embedding_length_per_layer_input)
    shared_kv_layers: int = 0  # gemma4 E models: the last layers read earlier layers' cache
    shared_kv_ff: int = 0  # gemma4 E2B: those layers' double-wide feed-forward
    fused_qkv: bool = False  # Q, K and V as one attn_qkv tensor, as Ollama's phi3 converter writes them
    embedding_scale: float = 0.0  # granite's multipliers (0: the key left out)
    residual_scale: float = 0.0
    logit_scale: float = 0.0
    qkv_bias: bool = False  # biases on the Q, K and V projections (Qwen2)
    no_rope: bool = False  # granite: rope.scaling.finetuned false, as llama.cpp's converter writes hybrid granite
    tied: bool = False
    source: str = ""  # where the real geometry comes from
    notes: tuple[str, ...] = field(default=())

    @property
    def path_name(self) -> str:
        return f"{self.name}.gguf"

    def heads(self, layer: int) -> int:
        return self.n_head[layer] if isinstance(self.n_head, tuple) else self.n_head

    def head_kv(self, layer: int) -> int:
        return self.n_head_kv[layer] if isinstance(self.n_head_kv, tuple) else self.n_head_kv


def with_mtp(spec: Spec, source: str) -> tuple[Spec, Spec]:
    """`spec`, and the same model with one multi-token-prediction layer after its trunk (nextn 1), named `-mtp`."""
    return spec, replace(spec, name=f"{spec.name}-mtp", layers=spec.layers + 1, nextn=1, source=source)


# Real geometry (the model named in `source`), with fewer layers: enough to hold each layer kind.
# Vocabularies stay real where the output stage is what the check exercises, else shrink to 32K.
SPECS: tuple[Spec, ...] = (
    Spec("llama", "llama", 2, 4096, 32, 8, 128, 14336, 32000, source="Llama-3.1-8B / Mistral-7B attention + FFN"),
    Spec("qwen2", "qwen2", 2, 3584, 28, 4, 128, 18944, 152064, source="Qwen2.5-7B"),
    Spec("qwen2-bias", "qwen2", 2, 3584, 28, 4, 128, 18944, 152064, qkv_bias=True,
         source="Qwen2.5-7B as its files are: biases on the Q, K and V projections (attn_q/k/v.bias)"),
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
        "granitehybrid-h", "granitehybrid", 2, 4096, 32, (0, 8), 128, 768, 100352,
        experts=72, experts_used=10, expert_ff=768, shared_expert_ff=1536,
        ssm_conv=4, ssm_state=128, ssm_groups=1, ssm_heads=128, tied=True,
        embedding_scale=12.0, residual_scale=0.22, logit_scale=10.0, no_rope=True,
        source="Granite-4.0-H-Small as its real files are written: no RoPE (rope.scaling.finetuned false, "
        "conversion/granite.py for hybrid granite), the granite multipliers (Granite-4.0-Micro's values), real 100K vocabulary",
    ),
    Spec(
        "deepseek2-mla", "deepseek2", 2, 2048, 16, 1, 576, 10944, 32000, value_dim=512,
        experts=64, experts_used=6, expert_ff=1408, shared_expert_ff=2 * 1408, kv_lora_rank=512, rope_dim=64, mla_head=128,
        expert_weights_scale=1.0,
        source="DeepSeek-V2-Lite geometry in the MLA layout (GLM-4.7-Flash / DeepSeek-V3 style K 576 / V 512)",
    ),
    Spec(
        "glm-4.7-flash", "deepseek2", 2, 2048, 20, 1, 576, 10240, 154880, value_dim=512,
        experts=64, experts_used=4, expert_ff=1536, shared_expert_ff=1536, kv_lora_rank=512, rope_dim=64, mla_head=192,
        mla_value=256, q_lora_rank=768, expert_gating=2, expert_weights_norm=True, expert_weights_scale=1.8,
        selection_bias=True,
        source="GLM-4.7-Flash (zai-org/GLM-4.7-Flash config.json: qk_nope 192, rope 64, v_head_dim 256, q_lora 768; "
        "a leading dense block, then MoE routed by sigmoid with a selection bias, norm_topk_prob, routed_scaling_factor 1.8)",
    ),
    Spec(
        "deepseek2-legacy", "deepseek2", 2, 2048, 16, 16, 192, 10944, 102400, value_dim=128,
        experts=64, experts_used=6, expert_ff=1408, shared_expert_ff=2 * 1408, kv_lora_rank=512, rope_dim=64,
        source="DeepSeek-Coder-V2-Lite (deepseek-coder-v2:16b) as its GGUF has it: no MLA keys, the unsplit attn_kv_b "
        "(kv_lora_rank 512, K 128 + 64 roped, V 128, 16 heads), a leading dense block, 64 experts top 6, 2 shared; "
        "real 102K vocabulary",
    ),
    Spec(
        "granite", "granite", 2, 2560, 40, 8, 64, 8192, 100352, tied=True,
        embedding_scale=12.0, residual_scale=0.22, logit_scale=10.0,
        source="Granite-4.0-Micro (granite4:3b: dense, all attention, multipliers 12 / 0.22 / 10; real 100K vocabulary)",
    ),
    Spec(
        "phi3", "phi3", 2, 3072, 24, 8, 128, 8192, 200064, fused_qkv=True, tied=True,
        source="Phi-4-mini (phi4-mini:3.8b; real 200K vocabulary; Q, K and V fused as Ollama's converter writes them)",
    ),
    Spec(
        "command-r", "command-r", 2, 8192, 64, 8, 128, 22528, 256000, tied=True,
        source="Command-R 35B (08-2024: 8 KV heads; real 256K vocabulary)",
    ),
    Spec(
        "gemma3-27b", "gemma3", 6, 5376, 32, 16, 128, 21504, 262144, sliding_window=1024, swa_pattern=6, tied=True,
        source="Gemma-3-27B (5 sliding : 1 global)",
    ),
    *with_mtp(
        Spec(
            "qwen3next", "qwen3next", 4, 2048, 16, 2, 256, 5120, 151936,
            experts=512, experts_used=10, expert_ff=512, shared_expert_ff=512,
            ssm_conv=4, ssm_state=128, ssm_groups=16, ssm_heads=32, ssm_inner=4096, attention_interval=4,
            source="Qwen3-Coder-Next / Qwen3-Next-80B-A3B (3 Gated DeltaNet : 1 attention, 512 experts)",
        ),
        "Qwen3-Next-80B-A3B with its multi-token-prediction layer (mtp_num_hidden_layers 1: gated attention "
        "and the MoE block, as both converters keep it)",
    ),
    *with_mtp(
        Spec(
            "qwen35", "qwen35", 4, 5120, 24, 4, 256, 17408, 248320,
            ssm_conv=4, ssm_state=128, ssm_groups=16, ssm_heads=48, ssm_inner=6144, attention_interval=4,
            source="Qwen3.5-27B text stack (3 Gated DeltaNet : 1 gated attention; the vision tower is left out)",
        ),
        "Qwen3.5-27B with its multi-token-prediction layer (nextn_predict_layers 1)",
    ),
    *with_mtp(
        Spec(
            "qwen35moe", "qwen35moe", 4, 2048, 16, 2, 256, 512, 248320,
            experts=256, experts_used=8, expert_ff=512, shared_expert_ff=512,
            ssm_conv=4, ssm_state=128, ssm_groups=16, ssm_heads=32, ssm_inner=4096, attention_interval=4,
            source="Qwen3.5-35B-A3B / Qwen3.6-35B-A3B text stack (3 Gated DeltaNet : 1 attention, 256 experts)",
        ),
        "Qwen3.5-35B-A3B / Qwen3.6-35B-A3B with its multi-token-prediction layer (an MoE layer)",
    ),
    Spec(
        "nemotron_h_moe", "nemotron_h_moe", 4, 2688, 32, (0, 0, 2, 0), 128, 1856, 131072,
        experts=128, experts_used=6, expert_ff=1856, shared_expert_ff=3712,
        ssm_conv=4, ssm_state=128, ssm_groups=8, ssm_heads=64, ssm_inner=4096, layer_types="ME*E",
        source="Nemotron-3-Nano-30B-A3B (Mamba2, MoE and attention layers; real 131K vocabulary)",
    ),
    Spec(
        "nemotron_h_moe-mtp", "nemotron_h_moe", 5, 2688, 32, (0, 0, 2, 0, 2), 128, 1856, 131072,
        experts=128, experts_used=6, expert_ff=1856, shared_expert_ff=3712,
        ssm_conv=4, ssm_state=128, ssm_groups=8, ssm_heads=64, ssm_inner=4096, layer_types="ME*EX", nextn=1,
        source="Nemotron-3-Nano-30B-A3B's layers with a multi-token-prediction block after them (X: attention and MoE "
        "folded into one block, as llama.cpp's converter writes Nemotron 3's num_nextn_predict_layers 1)",
    ),
    Spec(
        "nemotron_h_moe-latent", "nemotron_h_moe", 4, 4096, 32, (0, 0, 2, 0), 128, 2688, 131072,
        experts=512, experts_used=22, expert_ff=2688, shared_expert_ff=5376, moe_latent=1024,
        expert_weights_norm=True, expert_weights_scale=5.0,
        ssm_conv=4, ssm_state=128, ssm_groups=8, ssm_heads=128, ssm_inner=8192, layer_types="ME*E",
        source="Nemotron-3-Super-120B-A12B (Mamba2, latent MoE and attention layers: the routed experts at the "
        "1024-wide latent between ffn_latent_down and ffn_latent_up; real 131K vocabulary)",
    ),
    Spec(
        "nemotron_h_moe-latent-mtp", "nemotron_h_moe", 5, 4096, 32, (0, 0, 2, 0, 2), 128, 2688, 131072,
        experts=512, experts_used=22, expert_ff=2688, shared_expert_ff=5376, moe_latent=1024,
        expert_weights_norm=True, expert_weights_scale=5.0,
        ssm_conv=4, ssm_state=128, ssm_groups=8, ssm_heads=128, ssm_inner=8192, layer_types="ME*EX", nextn=1,
        source="Nemotron-3-Super-120B-A12B's layers with its multi-token-prediction block (num_nextn_predict_layers 1), "
        "whose MoE sub-layer runs at the latent width too",
    ),
    Spec(
        "gemma4", "gemma4", 6, 5376, 32, (16, 16, 16, 16, 16, 4), 256, 21504, 262144, sliding_window=1024, swa_pattern=6,
        global_head_dim=512, tied=True,
        source="Gemma-4-31B text stack (5 sliding: 16 KV heads of 256; 1 global: 4 KV heads of 512, K = V)",
    ),
    Spec(
        "gemma4-26b", "gemma4", 6, 2816, 16, (8, 8, 8, 8, 8, 2), 256, 2112, 262144, sliding_window=1024, swa_pattern=6,
        experts=128, experts_used=8, expert_ff=704, global_head_dim=512, tied=True,
        source="Gemma-4-26B-A4B text stack (5 sliding: 8 KV heads of 256; 1 global: 2 KV heads of 512, K = V; "
        "a dense MLP of 2112 beside 128 experts of 704, top 8, their gate and up merged as both converters write them)",
    ),
    Spec(
        "gemma4-e2b", "gemma4", 10, 1536, 8, 1, 256, 6144, 262144, sliding_window=512, swa_pattern=5,
        global_head_dim=512, per_layer_input=256, shared_kv_layers=5, shared_kv_ff=12288, tied=True,
        source="Gemma-4-E2B text stack (4 sliding : 1 global, 1 KV head, per-layer inputs of 256; the second period "
        "shares the first's cache, with double-wide feed-forwards, as its last 20 of 35 layers do)",
    ),
    Spec(
        "laguna", "laguna", 4, 2048, (48, 64, 64, 64), 8, 128, 8192, 100352, sliding_window=512, swa_pattern=4,
        experts=256, experts_used=8, expert_ff=512, shared_expert_ff=512,
        expert_gating=2, expert_weights_norm=True, expert_weights_scale=2.5,
        source="Laguna-XS.2 (global attention every 4th layer with 48 heads, 64 on the others, window 512, 256 experts "
        "routed by sigmoid with a selection bias, normed and scaled by 2.5, a leading dense block)",
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
    if spec.fused_qkv:
        t.add(f"blk.{i}.attn_qkv.weight", spec.n_embd, spec.heads(i) * d + 2 * hkv * d)
    else:
        t.add(f"blk.{i}.attn_q.weight", spec.n_embd, spec.heads(i) * d)
        t.add(f"blk.{i}.attn_k.weight", spec.n_embd, hkv * d)
        t.add(f"blk.{i}.attn_v.weight", spec.n_embd, hkv * (spec.value_dim or d))
    t.add(f"blk.{i}.attn_output.weight", spec.heads(i) * (spec.value_dim or d), spec.n_embd)
    if qk_norm:
        t.add(f"blk.{i}.attn_q_norm.weight", d)
        t.add(f"blk.{i}.attn_k_norm.weight", d)
    if biases:
        t.add(f"blk.{i}.attn_output.bias", spec.n_embd)
    if spec.qkv_bias:
        t.add(f"blk.{i}.attn_q.bias", spec.heads(i) * d)
        t.add(f"blk.{i}.attn_k.bias", hkv * d)
        t.add(f"blk.{i}.attn_v.bias", hkv * (spec.value_dim or d))


def _dense_ffn(t: _Tensors, spec: Spec, i: int, n_ff: int) -> None:
    t.add(f"blk.{i}.ffn_gate.weight", spec.n_embd, n_ff)
    t.add(f"blk.{i}.ffn_up.weight", spec.n_embd, n_ff)
    t.add(f"blk.{i}.ffn_down.weight", n_ff, spec.n_embd)


def _experts(t: _Tensors, spec: Spec, i: int, biases: bool = False) -> None:
    e, ff = spec.experts, spec.expert_ff
    t.add(f"blk.{i}.ffn_gate_inp.weight", spec.n_embd, e, f32=True)
    if spec.fused_gate_up:
        t.add(f"blk.{i}.ffn_gate_up_exps.weight", spec.n_embd, 2 * ff, e)
    else:
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
    d_inner = _ssm_inner(spec)
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
    if not spec.mla_head:  # legacy: one attn_kv_b yields each head's K (without rope) and V
        nope = spec.head_dim - spec.rope_dim
        t.add(f"blk.{i}.attn_q.weight", spec.n_embd, spec.n_head * spec.head_dim)
        t.add(f"blk.{i}.attn_kv_a_mqa.weight", spec.n_embd, spec.kv_lora_rank + spec.rope_dim)
        t.add(f"blk.{i}.attn_kv_a_norm.weight", spec.kv_lora_rank)
        t.add(f"blk.{i}.attn_kv_b.weight", spec.kv_lora_rank, spec.n_head * (nope + spec.value_dim))
        t.add(f"blk.{i}.attn_output.weight", spec.n_head * spec.value_dim, spec.n_embd)
        return
    head, value = spec.mla_head, spec.mla_value or spec.mla_head
    if spec.q_lora_rank:
        t.add(f"blk.{i}.attn_q_a_norm.weight", spec.q_lora_rank)
        t.add(f"blk.{i}.attn_q_a.weight", spec.n_embd, spec.q_lora_rank)
        t.add(f"blk.{i}.attn_q_b.weight", spec.q_lora_rank, spec.n_head * (head + spec.rope_dim))
    else:
        t.add(f"blk.{i}.attn_q.weight", spec.n_embd, spec.n_head * (head + spec.rope_dim))
    t.add(f"blk.{i}.attn_kv_a_mqa.weight", spec.n_embd, spec.kv_lora_rank + spec.rope_dim)
    t.add(f"blk.{i}.attn_kv_a_norm.weight", spec.kv_lora_rank)
    t.add(f"blk.{i}.attn_k_b.weight", head, spec.kv_lora_rank, spec.n_head)
    t.add(f"blk.{i}.attn_v_b.weight", spec.kv_lora_rank, value, spec.n_head)
    t.add(f"blk.{i}.attn_output.weight", spec.n_head * value, spec.n_embd)


def _gated_attention(t: _Tensors, spec: Spec, i: int) -> None:
    """qwen3next / qwen35: the query projection also yields a per-element output gate."""
    d, hkv = spec.head_dim, spec.head_kv(i)
    t.add(f"blk.{i}.attn_q.weight", spec.n_embd, 2 * spec.n_head * d)
    t.add(f"blk.{i}.attn_k.weight", spec.n_embd, hkv * d)
    t.add(f"blk.{i}.attn_v.weight", spec.n_embd, hkv * d)
    t.add(f"blk.{i}.attn_output.weight", spec.n_head * d, spec.n_embd)
    t.add(f"blk.{i}.attn_q_norm.weight", d)
    t.add(f"blk.{i}.attn_k_norm.weight", d)


def _gated_delta_net(t: _Tensors, spec: Spec, i: int) -> None:
    key_dim, value_dim, v_heads = spec.ssm_state * spec.ssm_groups, spec.ssm_inner, spec.ssm_heads
    t.add(f"blk.{i}.attn_qkv.weight", spec.n_embd, 2 * key_dim + value_dim)
    t.add(f"blk.{i}.attn_gate.weight", spec.n_embd, value_dim)
    t.add(f"blk.{i}.ssm_conv1d.weight", spec.ssm_conv, 2 * key_dim + value_dim, f32=True)
    t.add(f"blk.{i}.ssm_dt.bias", v_heads)
    t.add(f"blk.{i}.ssm_a", v_heads)
    if spec.arch == "qwen3next":
        t.add(f"blk.{i}.ssm_ba.weight", spec.n_embd, 2 * v_heads, f32=True)
    else:
        t.add(f"blk.{i}.ssm_beta.weight", spec.n_embd, v_heads, f32=True)
        t.add(f"blk.{i}.ssm_alpha.weight", spec.n_embd, v_heads, f32=True)
    t.add(f"blk.{i}.ssm_norm.weight", spec.ssm_state)
    t.add(f"blk.{i}.ssm_out.weight", value_dim, spec.n_embd)


def _qwen_hybrid_block(t: _Tensors, spec: Spec, i: int, mtp: bool) -> None:
    t.add(f"blk.{i}.attn_norm.weight", spec.n_embd)
    t.add(f"blk.{i}.post_attention_norm.weight", spec.n_embd)
    if mtp or (i + 1) % spec.attention_interval == 0:
        _gated_attention(t, spec, i)
    else:
        _gated_delta_net(t, spec, i)
    if spec.experts:
        _experts(t, spec, i)
        t.add(f"blk.{i}.ffn_gate_inp_shexp.weight", spec.n_embd)
    else:
        _dense_ffn(t, spec, i, spec.n_ff)
    if mtp:
        t.add(f"blk.{i}.nextn.eh_proj.weight", 2 * spec.n_embd, spec.n_embd)
        t.add(f"blk.{i}.nextn.enorm.weight", spec.n_embd)
        t.add(f"blk.{i}.nextn.hnorm.weight", spec.n_embd)


def _nemotron_h_block(t: _Tensors, spec: Spec, i: int) -> None:
    t.add(f"blk.{i}.attn_norm.weight", spec.n_embd)
    kind = spec.layer_types[i]
    if kind == "M":
        _mamba2(t, spec, i)
    elif kind == "*":
        _attention(t, spec, i)
    else:  # an MoE block: up/down experts (ReLU squared, no gate) and an up/down shared expert
        if kind == "X":  # the multi-token-prediction block: its input fusion, attention, then the MoE sub-layer
            for name in ("nextn.enorm", "nextn.hnorm", "nextn.shared_head_norm", "post_attention_norm"):
                t.add(f"blk.{i}.{name}.weight", spec.n_embd)
            t.add(f"blk.{i}.nextn.eh_proj.weight", 2 * spec.n_embd, spec.n_embd)
            _attention(t, spec, i)
        e, ff, shared = spec.experts, spec.expert_ff, spec.shared_expert_ff
        width = spec.moe_latent or spec.n_embd
        t.add(f"blk.{i}.ffn_gate_inp.weight", spec.n_embd, e, f32=True)
        t.add(f"blk.{i}.exp_probs_b.bias", e)
        if spec.moe_latent:
            t.add(f"blk.{i}.ffn_latent_down.weight", spec.n_embd, width)
            t.add(f"blk.{i}.ffn_latent_up.weight", width, spec.n_embd)
        t.add(f"blk.{i}.ffn_down_exps.weight", ff, width, e)
        t.add(f"blk.{i}.ffn_up_exps.weight", width, ff, e)
        t.add(f"blk.{i}.ffn_down_shexp.weight", shared, spec.n_embd)
        t.add(f"blk.{i}.ffn_up_shexp.weight", spec.n_embd, shared)


def _laguna_block(t: _Tensors, spec: Spec, i: int) -> None:
    t.add(f"blk.{i}.attn_norm.weight", spec.n_embd)
    _attention(t, spec, i, qk_norm=True)
    t.add(f"blk.{i}.attn_gate.weight", spec.n_embd, spec.heads(i), f32=True)  # one output gate per head
    t.add(f"blk.{i}.ffn_norm.weight", spec.n_embd)
    if i == 0:  # the leading dense block
        _dense_ffn(t, spec, i, spec.n_ff)
    else:
        _experts(t, spec, i)
        t.add(f"blk.{i}.exp_probs_b.bias", spec.experts)


def _gemma4_block(t: _Tensors, spec: Spec, i: int) -> None:
    is_global = (i + 1) % spec.swa_pattern == 0
    shared = i >= spec.layers - spec.shared_kv_layers  # reads an earlier layer's cache: no K or V of its own
    d, hkv = (spec.global_head_dim if is_global else spec.head_dim), spec.head_kv(i)
    t.add(f"blk.{i}.attn_norm.weight", spec.n_embd)
    t.add(f"blk.{i}.attn_q.weight", spec.n_embd, spec.n_head * d)
    if not shared:
        t.add(f"blk.{i}.attn_k.weight", spec.n_embd, hkv * d)
    if not shared and (not is_global or spec.per_layer_input):  # 31B's global layers read V from K (attention_k_eq_v)
        t.add(f"blk.{i}.attn_v.weight", spec.n_embd, hkv * d)
    t.add(f"blk.{i}.attn_output.weight", spec.n_head * d, spec.n_embd)
    t.add(f"blk.{i}.attn_q_norm.weight", d)
    if not shared:
        t.add(f"blk.{i}.attn_k_norm.weight", d)
    t.add(f"blk.{i}.post_attention_norm.weight", spec.n_embd)
    if is_global and not any(name == "rope_freqs.weight" for name, _, _ in t.items):
        t.add("rope_freqs.weight", d // 2)
    t.add(f"blk.{i}.ffn_norm.weight", spec.n_embd)
    _dense_ffn(t, spec, i, spec.shared_kv_ff if shared and spec.shared_kv_ff else spec.n_ff)
    t.add(f"blk.{i}.post_ffw_norm.weight", spec.n_embd)
    if spec.experts:  # the MoE block beside the dense MLP: router (with its input scale), merged gate and up, per-expert scale
        t.add(f"blk.{i}.ffn_gate_inp.weight", spec.n_embd, spec.experts, f32=True)
        t.add(f"blk.{i}.ffn_gate_inp.scale", spec.n_embd)
        t.add(f"blk.{i}.pre_ffw_norm_2.weight", spec.n_embd)
        t.add(f"blk.{i}.post_ffw_norm_1.weight", spec.n_embd)
        t.add(f"blk.{i}.post_ffw_norm_2.weight", spec.n_embd)
        t.add(f"blk.{i}.ffn_gate_up_exps.weight", spec.n_embd, 2 * spec.expert_ff, spec.experts)
        t.add(f"blk.{i}.ffn_down_exps.weight", spec.expert_ff, spec.n_embd, spec.experts)
        t.add(f"blk.{i}.ffn_down_exps.scale", spec.experts)
    if spec.per_layer_input:
        t.add(f"blk.{i}.inp_gate.weight", spec.n_embd, spec.per_layer_input)
        t.add(f"blk.{i}.proj.weight", spec.per_layer_input, spec.n_embd)
        t.add(f"blk.{i}.post_norm.weight", spec.n_embd)


def _ssm_inner(spec: Spec) -> int:
    return spec.ssm_inner or 2 * spec.n_embd


def tensors(spec: Spec) -> _Tensors:
    t = _Tensors()
    t.add("token_embd.weight", spec.n_embd, spec.vocab)
    t.add("output_norm.weight", spec.n_embd)
    if not spec.tied:
        t.add("output.weight", spec.n_embd, spec.vocab)
    if spec.per_layer_input:
        width = spec.per_layer_input * spec.layers
        t.add("per_layer_token_embd.weight", width, spec.vocab)
        t.add("per_layer_model_proj.weight", spec.n_embd, width)
        t.add("per_layer_proj_norm.weight", spec.per_layer_input)
    for i in range(spec.layers):
        if spec.arch in ("qwen3next", "qwen35", "qwen35moe"):
            _qwen_hybrid_block(t, spec, i, mtp=i >= spec.layers - spec.nextn)
            continue
        if spec.arch == "nemotron_h_moe":
            _nemotron_h_block(t, spec, i)
            continue
        if spec.arch == "laguna":
            _laguna_block(t, spec, i)
            continue
        if spec.arch == "gemma4":
            _gemma4_block(t, spec, i)
            continue
        t.add(f"blk.{i}.attn_norm.weight", spec.n_embd)
        if spec.arch != "command-r":  # command-r runs attention and FFN in parallel off one norm
            t.add(f"blk.{i}.ffn_norm.weight", spec.n_embd)
        if spec.arch in ("llama", "qwen2", "mistral3", "command-r", "granite"):
            _attention(t, spec, i)
            _dense_ffn(t, spec, i, spec.n_ff)
        elif spec.arch == "phi3":
            _attention(t, spec, i)
            t.add(f"blk.{i}.ffn_up.weight", spec.n_embd, 2 * spec.n_ff)  # gate and up fused
            t.add(f"blk.{i}.ffn_down.weight", spec.n_ff, spec.n_embd)
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
                if spec.selection_bias:
                    t.add(f"blk.{i}.exp_probs_b.bias", spec.experts)
        else:
            raise ValueError(f"no tensor layout for {spec.arch}")
    return t


def _feed_forward_length(spec: Spec) -> int | list[int]:
    if spec.layer_types:  # nemotron_h: only MoE blocks have a feed-forward width
        return [spec.expert_ff if kind in "EX" else 0 for kind in spec.layer_types]
    if spec.shared_kv_ff:  # gemma4 E2B: the shared-KV layers' are twice as wide
        return [spec.shared_kv_ff if i >= spec.layers - spec.shared_kv_layers else spec.n_ff for i in range(spec.layers)]
    return spec.expert_ff if spec.arch == "granitehybrid" else spec.n_ff  # granite: the expert width


def _metadata(w: gguf.GGUFWriter, spec: Spec) -> None:
    a = spec.arch
    w.add_name(f"fitadvisor-bench-{spec.name}")
    w.add_block_count(spec.layers)
    w.add_context_length(spec.context_length)
    w.add_embedding_length(spec.n_embd)
    w.add_feed_forward_length(_feed_forward_length(spec))
    w.add_head_count(list(spec.n_head) if isinstance(spec.n_head, tuple) else spec.n_head)
    w.add_head_count_kv(list(spec.n_head_kv) if isinstance(spec.n_head_kv, tuple) else spec.n_head_kv)
    w.add_key_length(spec.global_head_dim or spec.head_dim)
    w.add_value_length(spec.global_head_dim or spec.value_dim or spec.head_dim)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_layer_norm_eps(1e-5)
    w.add_rope_freq_base(1e6)
    w.add_vocab_size(spec.vocab)
    w.add_rope_dimension_count(spec.rope_dim or spec.head_dim)
    if a in ("qwen35", "qwen35moe"):
        w.add_rope_dimension_sections([11, 11, 10, 0])
    if spec.sliding_window:
        w.add_sliding_window(spec.sliding_window)
        if a == "laguna":  # the first layer of each period is global
            w.add_array(f"{a}.attention.sliding_window_pattern", [i % spec.swa_pattern != 0 for i in range(spec.layers)])
        elif a == "gemma4":  # the last layer of each period is global
            w.add_array(f"{a}.attention.sliding_window_pattern", [(i + 1) % spec.swa_pattern != 0 for i in range(spec.layers)])
        else:
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
    if spec.moe_latent:
        w.add_moe_latent_size(spec.moe_latent)
    if a == "laguna":
        w.add_leading_dense_block_count(1)
    if spec.ssm_conv:
        w.add_ssm_conv_kernel(spec.ssm_conv)
        w.add_ssm_inner_size(_ssm_inner(spec))
        w.add_ssm_state_size(spec.ssm_state)
        w.add_ssm_time_step_rank(spec.ssm_heads)
        w.add_ssm_group_count(spec.ssm_groups)
    if spec.attention_interval:
        w.add_full_attention_interval(spec.attention_interval)
    if spec.nextn:
        w.add_nextn_predict_layers(spec.nextn)
    if spec.global_head_dim:  # gemma4: key_length is the global layers', *_swa the sliding layers'
        w.add_key_length_swa(spec.head_dim)
        w.add_value_length_swa(spec.head_dim)
        w.add_uint32(f"{a}.embedding_length_per_layer_input", spec.per_layer_input)
        if spec.shared_kv_layers:
            w.add_uint32(f"{a}.attention.shared_kv_layers", spec.shared_kv_layers)
    if spec.kv_lora_rank:
        w.add_kv_lora_rank(spec.kv_lora_rank)
        w.add_q_lora_rank(spec.q_lora_rank)
        if spec.mla_head:
            w.add_key_length_mla(spec.mla_head + spec.rope_dim)
            w.add_value_length_mla(spec.mla_value or spec.mla_head)
        w.add_leading_dense_block_count(1)
    if spec.embedding_scale:
        w.add_embedding_scale(spec.embedding_scale)
    if spec.residual_scale:
        w.add_residual_scale(spec.residual_scale)
    if spec.logit_scale:
        w.add_logit_scale(spec.logit_scale)
    if spec.no_rope:
        w.add_rope_scaling_finetuned(False)
    if spec.expert_gating:
        w.add_expert_gating_func(gguf.ExpertGatingFuncType(spec.expert_gating))
    if spec.expert_weights_norm:
        w.add_expert_weights_norm(True)
    if spec.expert_weights_scale:
        w.add_expert_weights_scale(spec.expert_weights_scale)
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

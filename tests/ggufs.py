"""Synthetic GGUF models for tests and benches, written with the `gguf` library (the test extra).

A model is its GGUF keys plus a tensor table with realistic shapes; the tensor data is left as a
sparse hole, so a "multi-GB" model costs a few kB of disk and the header is byte-for-byte what
llama.cpp's writer produces. `show_response` builds the /api/show answer Ollama's `GetModelInfo`
would give for the same keys and tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fitadvisor.models.architecture import (
    FULL,
    NO_CACHE,
    RECURRENT,
    SLIDING,
    Architecture,
)


@dataclass
class Model:
    arch: str
    kv: dict  # GGUF keys (general.architecture included)
    tensors: list[tuple[str, tuple[int, ...], str]] = field(default_factory=list)  # name, GGUF shape, ggml type

    def tensor(self, name: str, shape: tuple[int, ...], type_name: str = "Q4_K") -> None:
        self.tensors.append((name, shape, type_name))


def nbytes(shape: tuple[int, ...], type_name: str) -> int:
    """Tensor bytes from the gguf library's own block table (independent of fitadvisor's)."""
    import gguf

    block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[type_name]]
    elements = 1
    for dim in shape:
        elements *= dim
    return elements // block * size


def write(model: Model, path: Path) -> Path:
    """Header and tensor table as the gguf writer writes them; the data section left sparse."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(path, model.arch)
    for key, value in model.kv.items():
        if key == "general.architecture":
            continue
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            (writer.add_uint64 if value >= 2**32 else writer.add_uint32)(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        elif isinstance(value, str):
            writer.add_string(key, value)
        else:
            writer.add_array(key, list(value))
    data = 0
    for name, shape, type_name in model.tensors:
        size = nbytes(shape, type_name)
        writer.add_tensor_info(name, tuple(reversed(shape)), np.dtype(np.float32), size, gguf.GGMLQuantizationType[type_name])
        data += gguf.GGUFWriter.ggml_pad(size, writer.data_alignment)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    header = path.stat().st_size
    with open(path, "r+b") as file:
        file.truncate(gguf.GGUFWriter.ggml_pad(header, writer.data_alignment) + data)
    return path


def show_response(model: Model, verbose: bool = False) -> dict:
    """/api/show as Ollama's GetModelInfo builds it from the same GGUF (shared/reference/ollama.md §1.3)."""
    info = {}
    for key, value in model.kv.items():
        if key in ("general.name", "tokenizer.chat_template"):
            continue
        if isinstance(value, (list, tuple)):
            value = list(value) if verbose or len(value) <= 5 else []
        info[key] = value
    tensors = [{"name": name, "type": type_name, "shape": list(shape)} for name, shape, type_name in model.tensors]
    return {
        "modelfile": "", "parameters": "", "template": "{{ .Prompt }}",
        "details": {"format": "gguf", "family": model.arch, "families": [model.arch]},
        "model_info": info, "tensors": tensors, "capabilities": ["completion", "tools"],
    }


# --- models from architecture facts -------------------------------------------------------------


def from_architecture(arch: Architecture, weight_type: str = "Q4_K", tokens: bool = False) -> Model:
    """The GGUF a converter would write for `arch`: its keys in the converter's layout, its tensors.

    The layout differs from the Architecture's on purpose (per-layer arrays, attention intervals,
    sliding-window periods left implicit, MLA keys), so reading it back tests the reconstruction.
    """
    a = arch.name
    n = arch.block_count
    kv: dict = {
        "general.architecture": a, "general.name": f"synthetic {a}",
        f"{a}.block_count": n, f"{a}.context_length": arch.context_length,
        f"{a}.embedding_length": arch.embedding_length,
        f"{a}.attention.head_count": list(arch.per_layer_head_count) or arch.head_count,
        f"{a}.attention.key_length": arch.key_length, f"{a}.attention.value_length": arch.value_length,
    }
    if arch.feed_forward_length:
        kv[f"{a}.feed_forward_length"] = arch.feed_forward_length
    kv_heads = [arch.kv_heads(i) if kind in (FULL, SLIDING) else 0 for i, kind in enumerate(arch.layers)]
    interval = _attention_interval(arch.layers)
    if interval:  # qwen3next: attention every `interval` layers, one KV-head count
        kv[f"{a}.full_attention_interval"] = interval
        kv[f"{a}.attention.head_count_kv"] = arch.head_count_kv
    elif len(set(kv_heads)) > 1:
        kv[f"{a}.attention.head_count_kv"] = kv_heads
    else:
        kv[f"{a}.attention.head_count_kv"] = arch.head_count_kv
    trunk = arch.block_count - arch.draft_layers
    if arch.draft_layers:  # multi-token-prediction layers after the trunk (qwen3.5)
        kv[f"{a}.nextn_predict_layers"] = arch.draft_layers
    if NO_CACHE in arch.layers[:trunk] and not arch.per_layer_head_length:  # nemotron-h: MoE/MLP-only blocks carry a feed-forward size, Mamba2 blocks none
        width = arch.feed_forward_length or arch.expert_feed_forward_length
        kv[f"{a}.feed_forward_length"] = [width if kind == NO_CACHE else 0 for kind in arch.layers]
    if arch.sliding_window:
        kv[f"{a}.attention.sliding_window"] = arch.sliding_window
        if a not in ("gemma3", "gptoss", "gemma2"):
            kv[f"{a}.attention.sliding_window_pattern"] = [kind == SLIDING for kind in arch.layers]
    if arch.is_mla:  # llama.cpp's MLA convention: one latent head; per-head sizes in *_mla
        rope = arch.key_length - arch.kv_lora_rank
        kv.update({
            f"{a}.attention.kv_lora_rank": arch.kv_lora_rank, f"{a}.rope.dimension_count": rope,
            f"{a}.attention.key_length_mla": arch.key_length_mla or 128 + rope,
            f"{a}.attention.value_length_mla": arch.value_length_mla or 128,
        })
        if arch.query_lora_rank:
            kv[f"{a}.attention.q_lora_rank"] = arch.query_lora_rank
    if arch.kv_lora_rank_mha:  # a legacy deepseek2 file: the latent's width and the roped part, no *_mla keys
        kv[f"{a}.attention.kv_lora_rank"] = arch.kv_lora_rank_mha
        kv[f"{a}.rope.dimension_count"] = arch.rope_dimension_count
    for key in ("embedding_scale", "residual_scale", "logit_scale"):  # granite's multipliers
        if getattr(arch, key):
            kv[f"{a}.{key}"] = getattr(arch, key)
    if not arch.has_rope:  # granite-4.0-H: llama.cpp's converter turns RoPE off this way
        kv[f"{a}.rope.scaling.finetuned"] = False
    if arch.expert_weights_norm:
        kv[f"{a}.expert_weights_norm"] = True
    if arch.expert_weights_scale:
        kv[f"{a}.expert_weights_scale"] = arch.expert_weights_scale
    shared = len(arch.layers) - len(arch.layers.rstrip(NO_CACHE)) if arch.per_layer_head_length else 0
    if shared:  # gemma4 E models: the last layers share earlier caches, their kind told by the head width
        kv[f"{a}.attention.shared_kv_layers"] = shared
        kv[f"{a}.attention.sliding_window_pattern"] = [width == arch.key_length_swa for width in arch.per_layer_head_length]
    if arch.per_layer_feed_forward_length:
        kv[f"{a}.feed_forward_length"] = list(arch.per_layer_feed_forward_length)
    if arch.embedding_length_per_layer:
        kv[f"{a}.embedding_length_per_layer_input"] = arch.embedding_length_per_layer
    for key in ("attention.key_length_swa", "attention.value_length_swa"):
        if getattr(arch, key.split(".")[1]):
            kv[f"{a}.{key}"] = getattr(arch, key.split(".")[1])
    for key in ("expert_count", "expert_used_count", "expert_feed_forward_length", "expert_shared_count",
                "expert_shared_feed_forward_length", "moe_latent_size", "leading_dense_block_count"):
        if getattr(arch, key):
            kv[f"{a}.{key}"] = getattr(arch, key)
    if RECURRENT in arch.layers:
        kv.update({
            f"{a}.ssm.conv_kernel": arch.ssm_conv_kernel, f"{a}.ssm.state_size": arch.ssm_state_size,
            f"{a}.ssm.inner_size": arch.ssm_inner_size, f"{a}.ssm.group_count": arch.ssm_group_count,
        })
        if arch.ssm_time_step_rank:
            kv[f"{a}.ssm.time_step_rank"] = arch.ssm_time_step_rank
    if arch.vision:
        kv[f"{a}.vision.block_count"] = 2
    if tokens:
        kv["tokenizer.ggml.tokens"] = [f"t{i}" for i in range(arch.vocab_size)]
    model = Model(a, kv)
    _add_tensors(model, arch, weight_type)
    return model


def _attention_interval(layers: str) -> int:
    """k when exactly every k-th layer attends and all others are recurrent ("RRRA"), else 0."""
    if set(layers) != {FULL, RECURRENT}:
        return 0
    k = layers.index(FULL) + 1
    return k if all((kind == FULL) == ((i + 1) % k == 0) for i, kind in enumerate(layers)) else 0


def _add_tensors(model: Model, arch: Architecture, q: str) -> None:
    e, v = arch.embedding_length, arch.vocab_size
    model.tensor("token_embd.weight", (e, v), q)
    model.tensor("output_norm.weight", (e,), "F32")
    if not arch.tied_embeddings:
        model.tensor("output.weight", (e, v), "Q6_K")
    if arch.embedding_length_per_layer:
        model.tensor("per_layer_token_embd.weight", (arch.embedding_length_per_layer * arch.block_count, v), "F16")
    for i, kind in enumerate(arch.layers):
        p = f"blk.{i}"
        model.tensor(f"{p}.attn_norm.weight", (e,), "F32")
        drafting = i >= arch.block_count - arch.draft_layers
        if drafting:
            model.tensor(f"{p}.nextn.eh_proj.weight", (2 * e, e), "Q8_0")
        if kind in (FULL, SLIDING) or drafting:
            heads_kv = arch.kv_heads(i)
            if arch.fused_qkv:  # phi3 as Ollama converts it
                width = arch.head_count * arch.key_length + heads_kv * (arch.key_length + arch.value_length)
                model.tensor(f"{p}.attn_qkv.weight", (e, width), q)
            else:
                model.tensor(f"{p}.attn_q.weight", (e, arch.head_count * arch.key_length), q)
                model.tensor(f"{p}.attn_k.weight", (e, heads_kv * arch.key_length), q)
            if not arch.fused_qkv and not (kind == FULL and arch.value_from_key):  # gemma4's attention_k_eq_v: K is V
                model.tensor(f"{p}.attn_v.weight", (e, heads_kv * arch.value_length), q)
            model.tensor(f"{p}.attn_output.weight", (arch.head_count * arch.value_length, e), q)
            if arch.attention_bias:  # Qwen2
                for name, width in (("q", arch.head_count * arch.key_length), ("k", heads_kv * arch.key_length),
                                    ("v", heads_kv * arch.value_length)):
                    model.tensor(f"{p}.attn_{name}.bias", (width,), "F32")
        elif kind == RECURRENT:
            model.tensor(f"{p}.ssm_in.weight", (e, 2 * arch.ssm_inner_size), q)
            model.tensor(f"{p}.ssm_conv1d.weight", (arch.ssm_conv_kernel, arch.ssm_inner_size), "F32")
            model.tensor(f"{p}.ssm_out.weight", (arch.ssm_inner_size, e), q)
        if arch.is_moe and kind != RECURRENT:
            x, f = arch.expert_count, arch.expert_feed_forward_length
            model.tensor(f"{p}.ffn_gate_inp.weight", (e, x), "F32")
            if arch.expert_selection_bias:
                model.tensor(f"{p}.exp_probs_b.bias", (x,), "F32")
            w = arch.expert_input_width
            if arch.moe_latent_size:  # Nemotron 3 Super: the experts between projections to and from the latent
                model.tensor(f"{p}.ffn_latent_down.weight", (e, w), q)
                model.tensor(f"{p}.ffn_latent_up.weight", (w, e), q)
            if arch.expert_gate_up_fused:
                model.tensor(f"{p}.ffn_gate_up_exps.weight", (w, 2 * f, x), q)
            else:
                model.tensor(f"{p}.ffn_gate_exps.weight", (w, f, x), q)
                model.tensor(f"{p}.ffn_up_exps.weight", (w, f, x), q)
            model.tensor(f"{p}.ffn_down_exps.weight", (f, w, x), q)
        elif arch.feed_forward_length and kind != RECURRENT:
            model.tensor(f"{p}.ffn_gate.weight", (e, arch.feed_forward_length), q)
            model.tensor(f"{p}.ffn_up.weight", (e, arch.feed_forward_length), q)
            model.tensor(f"{p}.ffn_down.weight", (arch.feed_forward_length, e), q)
    if arch.vision_bytes:  # a vision tower inside the blob, left unquantized as Ollama's quantizer leaves it
        model.tensor("v.blk.0.attn_qkv.weight", (arch.vision_bytes // 2,), "F16")


def tiny_llama(blocks: int = 2, embd: int = 256, heads: int = 4, kv_heads: int = 2, ff: int = 512, vocab: int = 1024) -> Model:
    """A small dense llama, with a tokenizer, for reader tests."""
    a = "llama"
    kv = {
        "general.architecture": a, "general.name": "tiny", f"{a}.block_count": blocks, f"{a}.context_length": 4096,
        f"{a}.embedding_length": embd, f"{a}.feed_forward_length": ff, f"{a}.attention.head_count": heads,
        f"{a}.attention.head_count_kv": kv_heads, f"{a}.rope.freq_base": 10000.0,
        "tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": [f"tok{i}" for i in range(vocab)],
        "tokenizer.ggml.scores": [0.0] * vocab, "tokenizer.chat_template": "{{ messages }}",
    }
    model = Model(a, kv)
    head_dim = embd // heads
    arch = Architecture(
        name=a, block_count=blocks, embedding_length=embd, head_count=heads, head_count_kv=kv_heads, key_length=head_dim,
        value_length=head_dim, context_length=4096, layers=FULL * blocks, weights_bytes=0, vocab_size=vocab,
        feed_forward_length=ff,
    )
    _add_tensors(model, arch, "Q4_K")
    return model


# --- Ollama's store and registry layout -----------------------------------------------------------

MODEL_MEDIA = "application/vnd.ollama.image.model"
PROJECTOR_MEDIA = "application/vnd.ollama.image.projector"


def digest_of(label: str) -> str:
    """A stable sha256-shaped digest (blobs are looked up by digest, never re-hashed)."""
    import hashlib

    return "sha256:" + hashlib.sha256(label.encode()).hexdigest()


def manifest(layers: list[tuple[str, str, int]]) -> dict:
    """An Ollama manifest for (media type, digest, size) layers."""
    return {
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": digest_of("config"), "size": 485},
        "layers": [{"mediaType": media, "digest": digest, "size": size} for media, digest, size in layers],
    }


def pull_into_store(root: Path, name: str, model: Model, projector: Model | None = None, extra=()) -> dict:
    """Lay a model out in an Ollama store as `ollama pull` would: blobs by digest, the manifest by name."""
    from fitadvisor.models.catalog import ModelRef

    ref = ModelRef.parse(name)
    (root / "blobs").mkdir(parents=True, exist_ok=True)
    layers = []
    for media, part in ((MODEL_MEDIA, model), (PROJECTOR_MEDIA, projector)):
        if part is None:
            continue
        digest = digest_of(f"{name}/{media}")
        path = write(part, root / "blobs" / digest.replace(":", "-"))
        layers.append((media, digest, path.stat().st_size))
    for media, text in extra:  # template, params, license...
        digest = digest_of(text)
        (root / "blobs" / digest.replace(":", "-")).write_text(text)
        layers.append((media, digest, len(text)))
    data = manifest(layers)
    path = root / "manifests" / ref.host / ref.namespace / ref.model / ref.tag
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(__import__("json").dumps(data))
    return data


def projector() -> Model:
    """A small clip projector, as llava-style models ship beside the language model."""
    model = Model("clip", {"general.architecture": "clip", "clip.has_vision_encoder": True, "clip.vision.block_count": 2})
    for i in range(2):
        model.tensor(f"v.blk.{i}.attn_q.weight", (1024, 1024), "F16")
        model.tensor(f"v.blk.{i}.ffn_up.weight", (1024, 4096), "F16")
    model.tensor("mm.0.weight", (1024, 4096), "F16")
    return model

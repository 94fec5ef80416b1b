"""A streaming reader for GGUF headers, and the `Architecture` the header describes.

Only the header and the tensor table are read (a few MB of a multi-GB file), from any stream with
a `read(n)` method: a local file, or a range-reading stream over HTTP (registry.py). The `gguf`
package is not used at runtime: it maps the whole file with numpy.

Layout (GGUF v2/v3, little-endian): magic "GGUF", u32 version, u64 tensor count, u64 KV count,
then the KVs (string key, u32 type, value; arrays are u32 element type + u64 count + elements),
then per tensor: name, u32 n_dims, u64 dims, u32 ggml type, u64 offset into the data section.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from fitadvisor.bounded import MAX_MODEL_BYTES
from fitadvisor.errors import FitAdvisorError
from fitadvisor.models.architecture import (
    FULL,
    NO_CACHE,
    RECURRENT,
    SLIDING,
    Architecture,
)

MAGIC = b"GGUF"
READ_AHEAD = 1024 * 1024  # bytes asked of the stream whenever the buffer runs dry

# Limits no real model comes near, so a hostile or corrupt header costs bounded memory and time
# (bench/hostile.py measures the worst header they let through). The largest real headers, with a
# 262K-token vocabulary, its scores, types and merges, are ~15 MB and ~1.5M values; MoE models
# with merged experts have a few thousand tensors (older GGUFs with one tensor per expert ~40K).
MAX_HEADER = 64 * 1024 * 1024  # bytes from the start of the file to the end of the tensor table
MAX_STRING = 4 * 1024 * 1024  # one key or string value (chat templates are ~10-100 KB)
MAX_VALUES = 1 << 22  # array elements in the whole header: three times the largest real vocabulary's
MAX_NESTED = 1 << 16  # arrays inside arrays, in the whole header (each costs a Python list)
MAX_KEYS = 1 << 16
MAX_TENSORS = 1 << 17
MAX_DEPTH = 3  # arrays nested in arrays (real models use none); parsing never recurses further
MAX_DIM = 1 << 40  # one tensor dimension

# GGUF value types: id -> struct format (None: string / array, read specially)
_UINT8, _INT8, _UINT16, _INT16, _UINT32, _INT32, _FLOAT32, _BOOL, _STRING, _ARRAY, _UINT64, _INT64, _FLOAT64 = range(13)
_SCALAR_FORMATS = {
    _UINT8: "B", _INT8: "b", _UINT16: "H", _INT16: "h", _UINT32: "I", _INT32: "i", _FLOAT32: "f",
    _BOOL: "?", _UINT64: "Q", _INT64: "q", _FLOAT64: "d",
}

# ggml tensor types: id -> (name, elements per block, bytes per block), from ggml.c's type traits.
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}
GGML_TYPE_IDS = {name: type_id for type_id, (name, _, _) in GGML_TYPES.items()}


class Stream(Protocol):
    def read(self, size: int) -> bytes: ...


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # GGUF order: the fastest-varying dimension first
    type_name: str  # ggml type, as /api/show names it ("Q4_K")
    offset: int = 0  # into the data section

    @property
    def elements(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count

    @property
    def bytes(self) -> int:
        try:
            type_id = GGML_TYPE_IDS[self.type_name]
        except KeyError:
            raise FitAdvisorError(
                f"tensor {self.name} has the ggml type {self.type_name}, which this fitadvisor does not know: upgrade fitadvisor"
            ) from None
        _, block, size = GGML_TYPES[type_id]
        return -(-self.elements // block) * size


@dataclass(frozen=True)
class Header:
    version: int
    kv: dict
    tensors: tuple[TensorInfo, ...]
    size: int  # bytes from the start of the file to the end of the tensor table

    @property
    def architecture_name(self) -> str:
        return str(self.kv.get("general.architecture", ""))


class _Reader:
    """Sequential little-endian reads over a growing buffer, refilled from the stream on demand."""

    def __init__(self, stream: Stream, label: str):
        self.stream = stream
        self.label = label
        self.buffer = bytearray()
        self.pos = 0
        self.values = 0  # array elements read so far
        self.nested = 0  # arrays read as elements of arrays

    def _need(self, size: int) -> None:
        if self.pos + size > MAX_HEADER:  # checked before asking: a registry is never asked for more
            raise self.corrupt(f"a header larger than {MAX_HEADER >> 20} MiB (it asks for {size} more bytes)")
        missing = self.pos + size - len(self.buffer)
        while missing > 0:
            chunk = self.stream.read(max(missing, READ_AHEAD))
            if not chunk:
                raise FitAdvisorError(
                    f"{self.label} is truncated at byte {len(self.buffer)}: its GGUF header says more follows "
                    "(an interrupted download? fetch it again)"
                )
            self.buffer += chunk
            missing -= len(chunk)

    def unpack(self, fmt: str):
        size = struct.calcsize("<" + fmt)
        self._need(size)
        values = struct.unpack_from("<" + fmt, self.buffer, self.pos)
        self.pos += size
        return values[0] if len(values) == 1 else values

    def string(self) -> str:
        length = self.unpack("Q")
        if length > MAX_STRING:
            raise self.corrupt(f"a string of {length} bytes")
        self._need(length)
        raw = bytes(self.buffer[self.pos : self.pos + length])
        self.pos += length
        return raw.decode("utf-8", errors="replace")

    def _strings(self, count: int) -> list[str]:
        """A string array (a vocabulary: 100k+ entries), read without a call per field."""
        strings, buffer, unpack_length = [], self.buffer, struct.Struct("<Q").unpack_from
        for _ in range(count):
            if self.pos + 8 > len(buffer):
                self._need(8)
            (length,) = unpack_length(buffer, self.pos)
            if length > MAX_STRING:
                raise self.corrupt(f"a string of {length} bytes")
            end = self.pos + 8 + length
            if end > len(buffer):
                self._need(8 + length)
            strings.append(buffer[self.pos + 8 : end].decode("utf-8", errors="replace"))
            self.pos = end
        return strings

    def value(self, value_type: int, depth: int = 0):
        if value_type == _STRING:
            return self.string()
        if value_type == _ARRAY:
            element_type, count = self.unpack("I"), self.unpack("Q")
            self.values += count
            if self.values > MAX_VALUES:
                raise self.corrupt(f"an array of {count} elements (more than {MAX_VALUES} values in all)")
            if element_type in _SCALAR_FORMATS:
                fmt = _SCALAR_FORMATS[element_type]
                size = struct.calcsize(fmt) * count
                self._need(size)
                values = list(struct.unpack_from(f"<{count}{fmt}", self.buffer, self.pos))
                self.pos += size
                return values
            if element_type == _STRING:
                return self._strings(count)
            if element_type == _ARRAY:
                self.nested += count
                if depth >= MAX_DEPTH or self.nested > MAX_NESTED:
                    raise self.corrupt(f"arrays nested more than {MAX_DEPTH} deep or more than {MAX_NESTED} in all")
                return [self.value(element_type, depth + 1) for _ in range(count)]
            raise self.corrupt(f"an array of unknown type {element_type}")
        if value_type in _SCALAR_FORMATS:
            return self.unpack(_SCALAR_FORMATS[value_type])
        raise self.corrupt(f"a value of unknown type {value_type}")

    def corrupt(self, what: str) -> FitAdvisorError:
        return FitAdvisorError(f"{self.label} is not a valid GGUF file: {what} at byte {self.pos}")


def read_header(stream: Stream, label: str = "the model file") -> Header:
    """The KVs and tensor table of a GGUF stream, reading no further than the end of the tensor table."""
    reader = _Reader(stream, label)
    try:
        reader._need(4)
    except FitAdvisorError:
        raise FitAdvisorError(f"{label} is not a GGUF file: it is empty or shorter than a GGUF header") from None
    if bytes(reader.buffer[:4]) != MAGIC:
        raise FitAdvisorError(f"{label} is not a GGUF file (it starts with {bytes(reader.buffer[:4])!r}, not b'GGUF')")
    reader.pos = 4
    version = reader.unpack("I")
    if version not in (2, 3):
        hint = "a big-endian GGUF" if version > 0xFFFF else f"GGUF version {version}"
        raise FitAdvisorError(f"{label} is {hint}, which fitadvisor cannot read (it reads little-endian GGUF v2 and v3)")
    tensor_count, kv_count = reader.unpack("QQ")
    if tensor_count > MAX_TENSORS or kv_count > MAX_KEYS:
        raise reader.corrupt(f"{tensor_count} tensors and {kv_count} keys (at most {MAX_TENSORS} and {MAX_KEYS})")
    kv = {}
    for _ in range(kv_count):
        key = reader.string()
        kv[key] = reader.value(reader.unpack("I"))
    tensors = []
    for _ in range(tensor_count):
        name = reader.string()
        n_dims = reader.unpack("I")
        if n_dims > 8:
            raise reader.corrupt(f"a tensor {name!r} with {n_dims} dimensions")
        shape = tuple(reader.unpack("Q") for _ in range(n_dims))
        if any(dim > MAX_DIM for dim in shape):
            raise reader.corrupt(f"a tensor {name!r} with the shape {shape}")
        type_id, offset = reader.unpack("I"), reader.unpack("Q")
        if type_id not in GGML_TYPES:
            raise FitAdvisorError(
                f"{label}: tensor {name} has ggml type {type_id}, which this fitadvisor does not know: upgrade fitadvisor"
            )
        tensors.append(TensorInfo(name, shape, GGML_TYPES[type_id][0], offset))
    return Header(version, kv, tuple(tensors), reader.pos)


def read_header_bytes(stream: Stream, label: str = "the model file") -> tuple[Header, bytes]:
    """Like `read_header`, also returning the header's raw bytes (to cache them)."""
    recorder = _Recording(stream)
    header = read_header(recorder, label)
    return header, bytes(recorder.data[: header.size])


class _Recording:
    def __init__(self, stream: Stream):
        self.stream = stream
        self.data = bytearray()

    def read(self, size: int) -> bytes:
        chunk = self.stream.read(size)
        self.data += chunk
        return chunk


def read_file_header(path: Path) -> Header:
    try:
        with open(path, "rb") as file:
            return read_header(file, str(path))
    except FileNotFoundError:
        raise FitAdvisorError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise FitAdvisorError(f"{path} is a directory, not a GGUF file") from None
    except OSError as error:
        raise FitAdvisorError(f"cannot read {path}: {error.strerror or error}") from None


def read_architecture(path: Path, projector: Path | None = None) -> Architecture:
    """The architecture of a GGUF model file (and of a separate vision projector file, if any)."""
    header = read_file_header(Path(path))
    projector_bytes = tensor_bytes(read_file_header(projector).tensors) if projector else 0
    return architecture_from_kv(header.kv, header.tensors, projector_bytes)


VISION_TENSOR_PREFIXES = ("v.", "mm.")  # a vision tower and its projector inside the model blob


def k_quant_bytes(tensors) -> int:
    """Bytes of the text model's tensors in K-quant types (super-blocks of 256 with packed sub-block scales)."""
    return tensor_bytes(t for t in tensors if t.type_name.endswith("_K") and not t.name.startswith(VISION_TENSOR_PREFIXES))


def tensor_bytes(tensors) -> int:
    return sum(t.bytes for t in tensors)


# --- from GGUF keys to an Architecture ----------------------------------------------------------

# Architectures whose sliding-window layers llama.cpp derives from a period when the GGUF has no
# `attention.sliding_window_pattern` (`set_swa_pattern(n)`: every n-th layer is full attention).
SWA_PERIOD = {"gemma2": 2, "gemma3": 6, "gemma3n": 5, "gemma-embedding": 6, "cohere2": 4, "gptoss": 2, "gpt-oss": 2}  # Ollama and llama.cpp spell gpt-oss differently
# Architectures that cache MLA latents even without `key_length_mla` (Ollama's own engine).
_MLA_ALWAYS = {"glm4moelite"}
# Granite's graphs use rope.scaling.finetuned as RoPE's switch (llama.cpp v0.5.0 granite.cpp, granite-hybrid.cpp:
# rope_pattern); its converter writes it false for hybrid (non-Bamba) granite, so granite-4.0-H attends without RoPE.
_ROPE_SWITCHED = {"granite", "granitehybrid"}


class BlankedArray(FitAdvisorError):
    """A per-layer array came back as `[]` from a non-verbose /api/show: ask again with verbose."""


def swa_period_layers(period: int, block_count: int) -> list[bool]:
    """llama.cpp's `set_swa_pattern`: in each period of layers, all but the last slide."""
    return [period == 0 or (layer % period) < period - 1 for layer in range(block_count)]


def architecture_from_kv(kv: dict, tensors, projector_bytes: int = 0) -> Architecture:
    """An Architecture from GGUF keys and the tensor table, whether read from a file or from /api/show.

    Every number it uses is checked against what real models have (`KEY_LIMITS`), so a negative or
    absurd value is an error here rather than a nonsense estimate later.
    """
    arch = kv.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise FitAdvisorError("the model has no general.architecture key: it is not a model GGUF")
    if not _ARCH_NAME.match(arch):
        raise FitAdvisorError(f"the model's general.architecture {arch[:80]!r} is not an architecture name")
    keys = _Keys(kv, arch)
    blocks = keys.int("block_count")
    if blocks <= 0:
        raise FitAdvisorError(f"the {arch} model has no {arch}.block_count: fitadvisor cannot size it")
    weights = tensor_bytes(tensors)
    if weights > MAX_MODEL_BYTES:
        raise FitAdvisorError(f"the {arch} model's tensors add up to {weights} bytes, more than any real model (16 TiB)")
    embd = keys.int("embedding_length")
    heads = keys.layers("attention.head_count", blocks, 0)
    kv_heads = keys.layers("attention.head_count_kv", blocks, None) or heads
    head_count = max(heads)
    key_length = keys.int("attention.key_length") or (embd // head_count if head_count else 0)
    value_length = keys.int("attention.value_length") or (embd // head_count if head_count else 0)
    window = keys.int("attention.sliding_window")

    sliding = _sliding_layers(keys, arch, blocks, window)
    feed_forward = keys.layers("feed_forward_length", blocks, 0)
    ff_per_layer = isinstance(kv.get(f"{arch}.feed_forward_length"), list)
    interval = keys.int("full_attention_interval")
    conv_kernel, inner = keys.int("ssm.conv_kernel"), keys.int("ssm.inner_size")
    if keys.int("shortconv.l_cache"):  # LFM2's short convolutions: a (l_cache - 1) x n_embd f32 state
        conv_kernel, inner = keys.int("shortconv.l_cache"), embd
    recurrent = conv_kernel > 0 or keys.int("ssm.state_size") > 0
    # Multi-token-prediction layers follow the trunk; llama.cpp's main context gives them no cache
    # (only a drafting context, when speculative decoding with them is on, does).
    trunk = blocks - min(blocks, keys.int("nextn_predict_layers"))
    # gemma4's last layers reuse the cache of earlier ones (attention.shared_kv_layers) and keep none of their own.
    own_cache = trunk - min(trunk, keys.int("attention.shared_kv_layers"))
    kinds = []
    for layer in range(blocks):
        if layer >= own_cache:
            kinds.append(NO_CACHE)
        elif interval:  # qwen3next / qwen35: every interval-th layer attends, the rest are Gated DeltaNet
            kinds.append(FULL if (layer + 1) % interval == 0 else RECURRENT)
        elif kv_heads[layer] == 0:
            # nemotron-h: a layer with neither KV heads nor a dense FFN is Mamba2; with an FFN it is an MoE/MLP block
            mlp_only = ff_per_layer and feed_forward[layer] > 0
            kinds.append(RECURRENT if recurrent and not mlp_only else NO_CACHE)
        else:
            kinds.append(SLIDING if sliding[layer] else FULL)

    # Those shared layers still attend, each with its own kind's head width (gemma4: key = value).
    head_lengths = ()
    if own_cache < trunk and keys.int("attention.key_length_swa"):
        head_lengths = tuple(keys.int("attention.key_length_swa") if sliding[i] else key_length for i in range(blocks))
    attention_kv_heads = [kv_heads[i] for i, kind in enumerate(kinds) if kind in (FULL, SLIDING)]
    head_count_kv = max(attention_kv_heads, default=0)
    per_layer_kv = tuple(kv_heads) if len(set(attention_kv_heads)) > 1 else ()
    attention_heads = {heads[i] for i, kind in enumerate(kinds) if kind in (FULL, SLIDING)}
    per_layer_heads = tuple(heads) if len(attention_heads) > 1 else ()

    kv_lora_rank = keys.int("attention.kv_lora_rank")
    is_mla = kv_lora_rank > 0 and (f"{arch}.attention.key_length_mla" in kv or arch in _MLA_ALWAYS)
    # The decompressed value's width per head: llama.cpp's converter names it, Ollama's gives it as value_length.
    value_length_mla = keys.int("attention.value_length_mla") or (value_length if arch in _MLA_ALWAYS else 0)
    # The decompressed key's width per head (rope part included): Ollama's converter gives it as key_length.
    key_length_mla = keys.int("attention.key_length_mla") or (key_length if arch in _MLA_ALWAYS else 0)
    if is_mla:  # one latent "head": K = latent + rope part, V = latent
        head_count_kv, per_layer_kv = 1, ()
        key_length = kv_lora_rank + (keys.int("rope.dimension_count") or key_length - kv_lora_rank)
        value_length = kv_lora_rank

    by_name = {t.name: t for t in tensors}
    embedding = by_name.get("token_embd.weight")
    vocab = (embedding.shape[1] if embedding is not None and len(embedding.shape) > 1 else 0) or keys.int("vocab_size")
    if not vocab:
        tokens = kv.get("tokenizer.ggml.tokens")
        vocab = len(tokens) if isinstance(tokens, list) else 0
    expert_count, expert_used = keys.int("expert_count"), keys.int("expert_used_count")
    total_elements = sum(t.elements for t in tensors)
    expert_elements = sum(t.elements for t in tensors if "_exps" in t.name)
    active = total_elements - expert_elements
    if expert_count:
        active += expert_elements * expert_used // expert_count
    vision = any(k.endswith("vision.block_count") for k in kv) or projector_bytes > 0
    return _with_legacy_mtp_layers(tensors, Architecture(
        name=arch,
        block_count=blocks,
        embedding_length=embd,
        head_count=head_count,
        head_count_kv=head_count_kv,
        key_length=key_length,
        value_length=value_length,
        context_length=keys.int("context_length"),
        layers="".join(kinds),
        weights_bytes=weights,
        vocab_size=vocab,
        feed_forward_length=max(feed_forward),
        sliding_window=window if SLIDING in kinds else 0,
        expert_count=expert_count,
        expert_used_count=expert_used,
        expert_feed_forward_length=keys.int("expert_feed_forward_length"),
        expert_shared_count=keys.int("expert_shared_count"),
        expert_shared_feed_forward_length=keys.int("expert_shared_feed_forward_length"),
        moe_latent_size=keys.int("moe_latent_size"),
        leading_dense_block_count=keys.int("leading_dense_block_count"),
        ssm_conv_kernel=conv_kernel,
        ssm_state_size=keys.int("ssm.state_size"),
        ssm_inner_size=inner,
        ssm_group_count=keys.int("ssm.group_count"),
        ssm_time_step_rank=keys.int("ssm.time_step_rank"),
        kv_lora_rank=kv_lora_rank if is_mla else 0,
        value_length_mla=value_length_mla if is_mla else 0,
        key_length_mla=key_length_mla if is_mla else 0,
        query_lora_rank=keys.int("attention.q_lora_rank"),
        expert_weights_norm=bool(keys.int("expert_weights_norm")),
        expert_weights_scale=keys.real("expert_weights_scale"),
        expert_selection_bias=any(t.name.endswith(".exp_probs_b.bias") for t in tensors),
        expert_gate_up_fused=any(t.name.endswith(".ffn_gate_up_exps.weight") for t in tensors),
        token_embedding_bytes=embedding.bytes if embedding is not None else 0,
        vision_bytes=tensor_bytes(t for t in tensors if t.name.startswith(VISION_TENSOR_PREFIXES)),
        k_quant_bytes=k_quant_bytes(tensors),
        tied_embeddings="output.weight" not in by_name,
        projector_bytes=projector_bytes,
        draft_bytes=sum(t.bytes for t in tensors if block_index(t.name) >= trunk),
        draft_layers=blocks - trunk,
        vision=vision,
        parameters=_parameter_count(kv) or total_elements,
        active_parameters=active,
        per_layer_head_count_kv=per_layer_kv,
        per_layer_head_count=per_layer_heads,
        fused_qkv="blk.0.attn_qkv.weight" in by_name,
        attention_bias="blk.0.attn_q.bias" in by_name,
        embedding_scale=keys.real("embedding_scale"),
        residual_scale=keys.real("residual_scale"),
        logit_scale=keys.real("logit_scale"),
        has_rope=keys.flag("rope.scaling.finetuned", True) if arch in _ROPE_SWITCHED else True,
        kv_lora_rank_mha=0 if is_mla else kv_lora_rank,
        rope_dimension_count=0 if is_mla or not kv_lora_rank else keys.int("rope.dimension_count"),
        value_from_key=any(
            kind == FULL and f"blk.{i}.attn_k.weight" in by_name and f"blk.{i}.attn_v.weight" not in by_name
            for i, kind in enumerate(kinds)
        ),
        key_length_swa=keys.int("attention.key_length_swa"),
        value_length_swa=keys.int("attention.value_length_swa"),
        per_layer_head_length=head_lengths,
        per_layer_feed_forward_length=tuple(feed_forward) if ff_per_layer and len(set(feed_forward) - {0}) > 1 else (),
        embedding_length_per_layer=keys.int("embedding_length_per_layer_input"),
        per_layer_embedding_bytes=by_name["per_layer_token_embd.weight"].bytes if "per_layer_token_embd.weight" in by_name else 0,
    ))


_LEGACY_MTP_LAYER = re.compile(r"^mtp\.layers\.(\d+)\.")


def _with_legacy_mtp_layers(tensors, arch: Architecture) -> Architecture:
    """A file's mtp.* tensors as llama-server sees them. Ollama's published qwen35 and qwen35moe files keep their
    multi-token-prediction layers as mtp.* tensors, without nextn_predict_layers, and Ollama's llama/compat renames
    them to the layers after the trunk and sets that key (apply_qwen35_mtp_fixes, checked on v0.33.0-rc2)."""
    legacy = [t for t in tensors if t.name.startswith("mtp.")]
    if arch.name == "nemotron_h_moe" and legacy:
        # Ollama's nemotron_h_moe files (Nemotron 3 Super) keep their MTP layer as mtp.* tensors, which llama/compat
        # leaves to the loader's skip list (handle_nemotron_h_moe, checked on v0.33.0-rc2): never loaded, never drafted
        return replace(arch, skipped_bytes=tensor_bytes(legacy))
    if arch.name not in ("qwen35", "qwen35moe") or arch.draft_layers or not legacy:
        return arch
    indices = [int(match.group(1)) for t in legacy if (match := _LEGACY_MTP_LAYER.match(t.name))]
    added = max(indices) + 1 if indices else 1
    if added > arch.block_count:
        raise FitAdvisorError(f"the {arch.name} model's mtp.* tensors name {added} layers, more than its {arch.block_count}")

    def extended(per_layer: tuple) -> tuple:  # a per-layer fact of the trunk, the last layer's for the added ones
        return per_layer + per_layer[-1:] * added if per_layer else ()

    return replace(
        arch, block_count=arch.block_count + added, layers=arch.layers + NO_CACHE * added, draft_layers=added,
        draft_bytes=tensor_bytes(legacy), per_layer_head_count_kv=extended(arch.per_layer_head_count_kv),
        per_layer_head_count=extended(arch.per_layer_head_count), per_layer_head_length=extended(arch.per_layer_head_length),
        per_layer_feed_forward_length=extended(arch.per_layer_feed_forward_length),
    )


def block_index(tensor_name: str) -> int:
    """N of a `blk.N.*` tensor, -1 for the others (embeddings, output, vision)."""
    parts = tensor_name.split(".", 2)
    return int(parts[1]) if len(parts) > 2 and parts[0] == "blk" and parts[1].isdigit() else -1


def _sliding_layers(keys: _Keys, arch: str, blocks: int, window: int) -> list[bool]:
    if window <= 0:
        return [False] * blocks
    pattern = keys.kv.get(f"{arch}.attention.sliding_window_pattern")
    if isinstance(pattern, list):
        if not pattern:
            raise BlankedArray(f"{arch}.attention.sliding_window_pattern came back blanked")
        if len(pattern) != blocks:
            raise FitAdvisorError(f"{arch}.attention.sliding_window_pattern has {len(pattern)} entries for {blocks} layers")
        return [bool(x) for x in pattern]
    if isinstance(pattern, int) and not isinstance(pattern, bool):
        return swa_period_layers(pattern, blocks)
    if arch in SWA_PERIOD:
        return swa_period_layers(SWA_PERIOD[arch], blocks)
    # llama.cpp ignores the window of architectures it runs without SWA (phi3, mistral, qwen2...).
    return [False] * blocks


def _parameter_count(kv: dict) -> int:
    value = kv.get("general.parameter_count")
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MODEL_BYTES:
        raise FitAdvisorError(f"the model's general.parameter_count is {_short(value)}, not a parameter count")
    return value


_ARCH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}\Z")
# The most each key can be in a real model (with a wide margin); more is a corrupt or hostile file.
KEY_LIMITS = {
    "block_count": 4096,  # the deepest released models have ~130 layers
    "context_length": 1 << 27,  # 128M tokens (the longest trained context is 10M)
    "embedding_length": 1 << 20,
    "feed_forward_length": 1 << 24,
    "expert_feed_forward_length": 1 << 24,
    "vocab_size": 1 << 24,
}
_DEFAULT_KEY_LIMIT = 1 << 20  # heads, head sizes, experts, windows, SSM sizes


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Keys:
    """`<arch>.`-prefixed lookups, scalar or per-layer, each a whole number within `KEY_LIMITS`."""

    def __init__(self, kv: dict, arch: str):
        self.kv, self.arch = kv, arch

    def _check(self, name: str, value):
        limit = KEY_LIMITS.get(name, _DEFAULT_KEY_LIMIT)
        if name == "attention.sliding_window":
            limit = KEY_LIMITS["context_length"]
        if isinstance(value, bool):
            return int(value)
        if not isinstance(value, int):
            raise FitAdvisorError(f"the model's {self.arch}.{name} is {_short(value)}, not a whole number")
        if not 0 <= value <= limit:
            raise FitAdvisorError(
                f"the model's {self.arch}.{name} is {value}: outside 0..{limit}, which no real model is"
            )
        return value

    def int(self, name: str) -> int:
        value = self.kv.get(f"{self.arch}.{name}", 0)
        if isinstance(value, list):
            return max((self._check(name, v) for v in value), default=0)
        return self._check(name, value)

    def flag(self, name: str, default: bool) -> bool:
        value = self.kv.get(f"{self.arch}.{name}", default)
        if not isinstance(value, bool):
            raise FitAdvisorError(f"the model's {self.arch}.{name} is {_short(value)}, not true or false")
        return value

    def real(self, name: str) -> float:
        """A float key (a scale factor) within 0..`_DEFAULT_KEY_LIMIT`, to the 6 digits an f32 holds (1.8, not 1.7999999523)."""
        value = self.kv.get(f"{self.arch}.{name}", 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= _DEFAULT_KEY_LIMIT:
            raise FitAdvisorError(f"the model's {self.arch}.{name} is {_short(value)}, not a scale factor")
        return float(f"{value:.6g}")

    def layers(self, name: str, blocks: int, default: int | None) -> list[int] | None:
        key = f"{self.arch}.{name}"
        value = self.kv.get(key)
        if value is None:
            return None if default is None else [default] * blocks
        if isinstance(value, list):
            if not value:
                raise BlankedArray(f"{key} came back blanked")
            if len(value) != blocks:
                raise FitAdvisorError(f"the model's {key} has {len(value)} entries for {blocks} layers")
            return [self._check(name, v) for v in value]
        return [self._check(name, value)] * blocks

"""The curated model catalog (`data/models.toml`) and Ollama-style name resolution."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from fitadvisor.datafiles import Derived, read_data, read_toml
from fitadvisor.errors import FitAdvisorError
from fitadvisor.models import quantization, verdicts
from fitadvisor.models.architecture import NO_CACHE, SLIDING, Architecture, expand_pattern
from fitadvisor.models.gguf import k_quant_bytes, tensor_bytes

# Ollama's name rules (types/model/name.go): [host/][namespace/]model[:tag], parts of letters,
# digits, '_', '-' and '.', a tag up to 80 characters; names compare case-insensitively.
_PART = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"
_NAME = re.compile(rf"^(?:(?P<host>{_PART}(?::\d+)?)/)?(?:(?P<namespace>{_PART})/)?(?P<model>{_PART})(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{{0,79}}))?$")


@dataclass(frozen=True)
class ModelRef:
    """A parsed Ollama model reference, with Ollama's defaults filled in."""

    model: str
    tag: str = "latest"
    namespace: str = "library"
    host: str = "registry.ollama.ai"

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        match = _NAME.match(text.strip()) if isinstance(text, str) else None
        if not match or ".." in text:
            raise FitAdvisorError(
                f"invalid model name {text!r}: use an Ollama name such as devstral-small-2, qwen3-coder:30b or user/model:tag"
            )
        parts = match.groupdict()
        host, namespace = parts["host"], parts["namespace"]
        if host and not namespace:  # "user/model": the first part is a namespace, not a host
            host, namespace = None, host
        return cls(
            model=parts["model"].lower(),
            tag=(parts["tag"] or "latest").lower(),
            namespace=(namespace or "library").lower(),
            host=(host or "registry.ollama.ai").lower(),
        )

    @property
    def short(self) -> str:
        """The name as `ollama list` prints it (library models without their namespace)."""
        prefix = "" if (self.namespace == "library" and self.host == "registry.ollama.ai") else f"{self.namespace}/"
        if self.host != "registry.ollama.ai":
            prefix = f"{self.host}/{prefix}"
        return f"{prefix}{self.model}:{self.tag}"


@dataclass(frozen=True)
class FieldTest:
    """How a model did in the field notes' Claude Code task: the context, the evidence, other contexts tried."""

    evidence: str
    num_ctx: int | None = None  # None where it could not run at all (no tool support)
    other_contexts: str = ""

    def to_dict(self) -> dict:
        return {"num_ctx": self.num_ctx, "evidence": self.evidence, "other_contexts": self.other_contexts or None}


@dataclass(frozen=True)
class CatalogModel:
    """One curated model: its architecture, what is known of its agentic behaviour, and sources."""

    name: str
    tags: tuple[str, ...]
    shape: Architecture  # as the entry gives it: the weights are sized when `architecture` is first read
    quantization: str
    published_bytes: int | None  # the tag's size (the file, and a separate projector's blob), where the entry gives it
    tools: bool
    agentic: str  # the field verdict, a word of models/verdicts.py
    swe_bench_verified: float | None
    sources: dict[str, str]
    field_test: FieldTest | None = None  # None: untested in the field
    sized: Architecture | None = None  # already sized (a requantized model)
    draft_num_predict: int | None = None  # the PARAMETER draft_num_predict Ollama's library file sets, if any
    terminal_bench: float | None = None
    terminal_bench_version: str | None = None  # Terminal-Bench's release the score is on (2.0, 2.1)
    mtp_skipped: bool = False  # its multi-token-prediction layers are mtp.* tensors in the file that are never loaded

    @cached_property
    def architecture(self) -> Architecture:
        """The shape with its weights sized (the quantizer's work, done only for the models that are estimated, and
        kept in the derived cache)."""
        if self.sized:
            return self.sized
        sizes = _sizes().get(
            f"{self.reference} {self.quantization}", lambda: _sized(self.shape, self.quantization.upper(), self.published_bytes),
            lambda sizes: isinstance(sizes, dict) and tuple(sizes) == SIZED_FIELDS and all(type(n) is int and n >= 0 for n in sizes.values()),
        )
        arch = dataclasses.replace(self.shape, **sizes)
        return _without_mtp_layers(arch) if self.mtp_skipped else arch

    @property
    def download_bytes(self) -> int:
        """What `ollama pull` fetches: the model file and a separate projector's blob."""
        return self.architecture.weights_bytes + self.architecture.projector_bytes

    @property
    def reference(self) -> str:
        """The canonical `name:tag` (the first tag listed)."""
        return f"{self.name}:{self.tags[0]}"

    @property
    def parameters_b(self) -> float:
        return self.architecture.parameters / 1e9

    @property
    def requantizable(self) -> bool:
        """Whether other quantizations of it can be sized from its tensors (not for MXFP4 originals)."""
        return self.quantization.upper() in quantization.DEFAULT_TYPE

    def requantized(self, file_type: str, tag: str) -> CatalogModel:
        """The same model at another quantization, as Ollama publishes it under `tag`.

        The tensors the shape gives are re-typed by llama.cpp's quantizer rules; what the published
        file holds beyond them (a vision tower, small tensors) is carried over unchanged. A field
        verdict stays, saying which tag earned it.
        """
        arch = self.architecture
        table = quantization.quantize(arch, file_type)
        weights = arch.weights_bytes - quantization.weights_bytes(arch, self.quantization.upper()) + tensor_bytes(table)
        arch = dataclasses.replace(arch, weights_bytes=weights, token_embedding_bytes=quantization.token_embedding_bytes(table),
                                   per_layer_embedding_bytes=quantization.per_layer_embedding_bytes(table),
                                   k_quant_bytes=k_quant_bytes(table), draft_bytes=quantization.draft_bytes(table, arch))
        how = (f"{self.reference} ({self.quantization}, {self.download_bytes / 1e9:.1f} GB) with its tensors re-typed for {file_type} "
               "by llama.cpp's quantizer rules (fitadvisor/models/quantization.py)")
        sources = {**self.sources, "download_bytes": how}
        if self.field_test is not None:
            sources["agentic"] = f"{self.sources.get('agentic', 'field verdict')} (tested as {self.reference}, {self.quantization})"
        return dataclasses.replace(self, tags=(tag,), quantization=file_type, published_bytes=weights, sources=sources, sized=arch)


# Catalog keys named as Architecture's own fields, each optional: an absent one is the field's default.
OPTIONAL_FIELDS = (
    "key_length_swa", "value_length_swa", "vocab_size", "sliding_window", "expert_count", "expert_used_count",
    "expert_feed_forward_length", "expert_shared_count", "expert_shared_feed_forward_length",
    "moe_latent_size", "leading_dense_block_count", "ssm_conv_kernel", "ssm_state_size", "ssm_inner_size", "ssm_group_count",
    "ssm_time_step_rank", "kv_lora_rank", "value_length_mla", "key_length_mla", "query_lora_rank",
    "expert_weights_norm", "expert_weights_scale", "expert_selection_bias", "expert_gate_up_fused",
    "tied_embeddings", "fused_qkv", "value_from_key", "embedding_scale", "residual_scale", "logit_scale",
    "kv_lora_rank_mha", "rope_dimension_count", "vision", "embedding_length_per_layer", "has_rope", "attention_bias",
    "projector_bytes",
)


def _shape(entry: dict) -> Architecture:
    # Multi-token-prediction layers follow the trunk, counted in block_count as the GGUF counts them, with no cache
    # in the main context; `block_count` and `layer_pattern` describe the trunk.
    drafting = entry.get("nextn_predict_layers", 0)
    blocks = entry["block_count"] + drafting
    layers = expand_pattern(entry["layer_pattern"], blocks - drafting) + NO_CACHE * drafting
    per_layer_heads = _per_layer(entry, "head_count", layers)
    per_layer_kv_heads = _per_layer(entry, "head_count_kv", layers)
    # gemma4 E models: the last `shared_kv_layers` read the cache of earlier layers of their kind and keep none;
    # they attend with their kind's head width, and E2B's have a feed-forward twice as wide.
    shared = entry.get("shared_kv_layers", 0)
    head_lengths, ff_lengths = (), ()
    if shared:
        head_lengths = tuple(entry["key_length_swa"] if kind == SLIDING else entry["key_length"] for kind in layers)
        wide = entry.get("feed_forward_length_shared_kv", entry["feed_forward_length"])
        ff_lengths = tuple(wide if i >= blocks - shared else entry["feed_forward_length"] for i in range(blocks))
        layers = layers[: blocks - shared] + NO_CACHE * shared
    arch = Architecture(
        name=entry["architecture"],
        block_count=blocks,
        embedding_length=entry["embedding_length"],
        head_count=max(per_layer_heads or [entry["head_count"]]),
        head_count_kv=max(per_layer_kv_heads or [entry["head_count_kv"]]),
        key_length=entry["key_length"],
        value_length=entry["value_length"],
        context_length=entry["context_length"],
        layers=layers,
        weights_bytes=0,
        feed_forward_length=max(ff_lengths, default=entry.get("feed_forward_length", 0)),  # the widest layer's, as from a GGUF
        parameters=int(entry["parameters_b"] * 1e9),
        active_parameters=int(entry.get("active_parameters_b", entry["parameters_b"]) * 1e9),
        per_layer_head_count=tuple(per_layer_heads),
        per_layer_head_count_kv=tuple(per_layer_kv_heads),
        per_layer_head_length=head_lengths,
        per_layer_feed_forward_length=ff_lengths if len(set(ff_lengths)) > 1 else (),
        draft_layers=drafting,
        **{key: entry[key] for key in OPTIONAL_FIELDS if key in entry},
    )
    # A vision tower inside the blob is loaded but never read while decoding (Ollama keeps it unquantized).
    return dataclasses.replace(arch, vision_bytes=int(entry.get("vision_bytes", 0)))


SIZED_FIELDS = ("weights_bytes", "token_embedding_bytes", "per_layer_embedding_bytes", "k_quant_bytes", "draft_bytes")  # what sizing sets


def _sized(shape: Architecture, file_type: str, published: int | None) -> dict[str, int]:
    """The bytes of the shape's weights, its token embedding (and per-layer token inputs) and its K-quant tensors."""
    if file_type not in quantization.DEFAULT_TYPE:  # MXFP4 originals: the published size, the embedding at its mean width
        embedding = int(shape.vocab_size * shape.embedding_length * published / shape.parameters) if shape.parameters else 0
        return {"weights_bytes": published, "token_embedding_bytes": embedding,
                "per_layer_embedding_bytes": shape.per_layer_embedding_bytes, "k_quant_bytes": shape.k_quant_bytes,
                "draft_bytes": shape.draft_bytes}
    # Published sizes are the file (and a separate projector's blob, which is not the model's weights); without
    # one, the tensors at their types plus the vision tower the file carries.
    table = quantization.quantize(shape, file_type)
    download = published - shape.projector_bytes if published else tensor_bytes(table) + shape.vision_bytes
    return {"weights_bytes": int(download), "token_embedding_bytes": quantization.token_embedding_bytes(table),
            "per_layer_embedding_bytes": quantization.per_layer_embedding_bytes(table), "k_quant_bytes": k_quant_bytes(table),
            "draft_bytes": quantization.draft_bytes(table, shape)}


def _without_mtp_layers(arch: Architecture) -> Architecture:
    """The model as llama-server loads a file whose multi-token-prediction layers are mtp.* tensors it skips (Ollama's
    nemotron_h_moe files): the trunk alone, the layers' bytes still in the file (sized as the layers they are)."""
    n = arch.draft_layers
    trim = {name: getattr(arch, name)[:-n] for name in _PER_LAYER if getattr(arch, name)}
    return dataclasses.replace(arch, block_count=arch.block_count - n, layers=arch.layers[:-n], draft_layers=0,
                               draft_bytes=0, skipped_bytes=arch.draft_bytes, **trim)


_PER_LAYER = ("per_layer_head_count", "per_layer_head_count_kv", "per_layer_head_length", "per_layer_feed_forward_length")


@lru_cache(maxsize=1)
def _sizes() -> Derived:
    """The catalog's sized weights, kept between runs while the catalog and the code that sizes it stay the same."""
    code = [Path(__file__).with_name(f"{module}.py").read_bytes() for module in ("catalog", "quantization", "gguf", "architecture")]
    return Derived("catalog-sizes", [read_data("models.toml"), *code], deferred=True)


def _per_layer(entry: dict, key: str, layers: str) -> list[int]:
    """`head_count` / `head_count_kv` per layer where sliding-window layers have their own (`*_swa`)."""
    if f"{key}_swa" not in entry:
        return []
    return [entry[f"{key}_swa"] if kind == SLIDING else entry[key] for kind in layers]


@lru_cache(maxsize=1)
def load() -> tuple[CatalogModel, ...]:
    models = []
    for entry in read_toml("models.toml")["model"]:
        try:
            published = entry.get("download_bytes")
            quantized = entry.get("quantization", "")
            if published is None and quantized.upper() not in quantization.DEFAULT_TYPE:
                raise KeyError("download_bytes")  # an MXFP4 original is sized by its published file
            models.append(
                CatalogModel(
                    name=entry["name"],
                    tags=tuple(entry["tags"]),
                    shape=_shape(entry),
                    quantization=quantized,
                    published_bytes=None if published is None else int(published),
                    tools=entry["tools"],
                    agentic=verdicts.check(entry.get("agentic", verdicts.UNTESTED)),
                    swe_bench_verified=entry.get("swe_bench_verified"),
                    sources=dict(entry.get("sources", {})),
                    field_test=FieldTest(**entry["field_test"]) if "field_test" in entry else None,
                    draft_num_predict=entry.get("draft_num_predict"),
                    terminal_bench=entry.get("terminal_bench"),
                    terminal_bench_version=entry.get("terminal_bench_version"),
                    mtp_skipped=entry.get("mtp_skipped", False),
                )
            )
        except (KeyError, TypeError, ValueError) as error:
            raise FitAdvisorError(f"fitadvisor's model catalog has a bad entry {entry.get('name')!r} ({error}): reinstall fitadvisor") from None
    return tuple(models)


def find(name: str) -> CatalogModel | None:
    """The catalog entry an Ollama reference resolves to, or None.

    A tag the catalog does not list but that names a quantization of a listed one (`27b-q8_0`,
    `12b-it-fp16`, `q8_0` for the latest) is that entry re-typed for the quantization.
    """
    ref = ModelRef.parse(name)
    if ref.namespace != "library" or ref.host != "registry.ollama.ai":
        return None
    family = [model for model in load() if model.name == ref.model]
    for model in family:
        if ref.tag in (tag.lower() for tag in model.tags):
            return model
    base, file_type = quantization.file_type_of_tag(ref.tag) or ("", "")
    if not file_type:
        return None
    # `12b-it-q8_0` is a quantization of `12b`: the size leads an Ollama tag, variants follow it.
    wanted = base or "latest"
    matches = [(len(tag), model) for model in family for tag in (t.lower() for t in model.tags)
               if wanted == tag or wanted.startswith(f"{tag}-")]
    if not matches:
        return None
    model = max(matches, key=lambda match: match[0])[1]
    return model.requantized(file_type, ref.tag) if model.requantizable else None


def resolve(name: str) -> CatalogModel:
    """Like `find`, but an unknown name is an error that suggests the nearest known ones."""
    import difflib

    model = find(name)
    if model is not None:
        return model
    ref = ModelRef.parse(name)
    known = [f"{m.name}:{tag}" for m in load() for tag in m.tags]
    same_name = [k for k in known if k.split(":")[0] == ref.model]
    close = same_name or difflib.get_close_matches(ref.short, known, n=3, cutoff=0.5) or difflib.get_close_matches(
        ref.model, sorted({m.name for m in load()}), n=3, cutoff=0.5
    )
    hint = f" Did you mean {', '.join(close)}?" if close else " Run `fitadvisor models` for the list."
    raise FitAdvisorError(f"unknown model {name!r}: it is not in fitadvisor's catalog.{hint}")

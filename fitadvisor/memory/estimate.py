"""What Ollama will really load for a model at a context: weights + KV cache + compute + the rest.

Each term follows how the engine allocates (see releases.py for which engine runs what):
- llama-server (v0.30+) and Ollama's own engine allocate real ggml buffers: the KV cache by cell,
  padded to 256, and a compute buffer sized by the largest stage of the graph;
- Ollama's llama.cpp runner before v0.30 reports its own `GGML.GraphSize` estimate instead, which
  leaves the token-embedding table out and sizes the graph without flash attention.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from fitadvisor.errors import FitAdvisorError
from fitadvisor.hardware.machine import Gpu, Hardware
from fitadvisor.memory.budget import Budget, budget
from fitadvisor.memory import replay_cache as replay  # the replay of memory/graph/, its answers kept between runs
from fitadvisor.memory.placement import GpuShare, Layout, place_before_llama_server, place_llama_server
from fitadvisor.memory.releases import (
    KV_CACHE_BYTES,
    LLAMA_ENGINE,
    LLAMA_SERVER,
    SMALL_CUDA_BYTES,
    Release,
)
from fitadvisor.models.architecture import FULL, RECURRENT, SLIDING, Architecture, rs_snapshots
from fitadvisor.ollama.server_env import ServerSettings
from fitadvisor.units import format_ctx, format_gb, processor_label

if TYPE_CHECKING:
    from fitadvisor.memory.calibration import MeasuredSpeed

CACHE_PADDING = 256
# GraphSize's rough bytes per cache element (fs/ggml/ggml.go), not ggml's block sizes.
_GRAPHSIZE_KV_BYTES = {"f16": 2.0, "q8_0": 1.0, "q4_0": 0.5}


def pad(value: int, to: int = CACHE_PADDING) -> int:
    return -(-value // to) * to


@dataclass(frozen=True)
class Settings(ServerSettings):
    """How the server is asked to run the model: its settings (cache type, flash attention, slots), and for this
    estimate the context, the batch, the GPU spread and the release."""

    num_ctx: int | None = None  # None: the server's default context
    batch: int | None = None  # n_ubatch; None: what the release picks
    spread: bool = False  # OLLAMA_SCHED_SPREAD: always use every GPU
    draft_num_predict: int | None = None  # the model's or the request's draft_num_predict; None: unset
    release: Release = field(default_factory=lambda: Release.of(None))

    def with_model_drafting(self, own: int | None, arch: Architecture) -> Settings:
        """These settings as a model whose own parameters set draft_num_predict `own` runs under them: the request's
        value, where it gives one, wins (Ollama's modelOptions: the request's options over the model's parameters)."""
        if self.draft_num_predict is None and own and arch.draft_layers:
            return replace(self, draft_num_predict=own)
        return self


@dataclass
class Estimate:
    model: str
    source: str  # where the architecture came from: catalog, gguf, ollama, store, registry
    release: str
    engine: str
    requested_ctx: int | None
    num_ctx: int
    parallel: int
    kv_cache_type: str
    flash_attention: bool
    batch: int
    weights_bytes: int
    kv_cache_bytes: int  # with the drafting context's cache, where multi-token-prediction drafting is on
    compute_bytes: int
    other_bytes: int
    gpu_budget_bytes: int | None = None
    gpu_bytes: int = 0
    cpu_bytes: int = 0
    fits: bool | None = None
    notes: list[str] = field(default_factory=list)
    source_detail: str = ""  # how the source answered ("from fitadvisor's catalog", "read from x.gguf", ...)
    measured_total_bytes: int | None = None  # what `fitadvisor verify` measured for these settings on this machine
    drafting_cache_bytes: int = 0  # the part of kv_cache_bytes that drafting with multi-token-prediction layers adds
    drafting_compute_bytes: int = 0  # and of compute_bytes (the drafting context's own buffer)
    host_bytes: int = 0  # the input layer, which llama-server keeps in host memory whatever it offloads
    measured_speed: MeasuredSpeed | None = None  # and the speed it timed, if it did
    gpus: list[GpuShare] = field(default_factory=list)  # what each GPU holds
    budget: Budget | None = None  # the machine's one budget (memory/budget.py)
    planned_for: str | None = None  # which machine: this one, a described one, another host's
    warnings: list[str] = field(default_factory=list)  # what a person must know before using this context

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.compute_bytes + self.other_bytes

    @property
    def loaded_bytes(self) -> int:
        """The size to plan with: what `fitadvisor verify` measured for these settings here, else the estimate."""
        return self.measured_total_bytes or self.total_bytes

    @property
    def cpu_percent(self) -> int:
        """The CPU share `ollama ps` prints in its PROCESSOR column."""
        return round(self.cpu_bytes / self.total_bytes * 100) if self.total_bytes else 0

    @property
    def processor(self) -> str:
        """The PROCESSOR column `ollama ps` would show."""
        return processor_label(self.total_bytes, self.gpu_bytes)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "source": self.source,
            "source_detail": self.source_detail,
            "ollama_version": self.release,
            "engine": self.engine,
            "requested_ctx": self.requested_ctx,
            "num_ctx": self.num_ctx,
            "parallel": self.parallel,
            "kv_cache_type": self.kv_cache_type,
            "flash_attention": self.flash_attention,
            "batch": self.batch,
            "weights_bytes": self.weights_bytes,
            "kv_cache_bytes": self.kv_cache_bytes,
            "compute_bytes": self.compute_bytes,
            "other_bytes": self.other_bytes,
            "total_bytes": self.total_bytes,
            "gpu_budget_bytes": self.gpu_budget_bytes,
            "gpu_bytes": self.gpu_bytes,
            "cpu_bytes": self.cpu_bytes,
            "processor": self.processor,
            "gpus": [share.to_dict() for share in self.gpus],
            "budget": self.budget.to_dict() if self.budget else None,
            "planned_for": self.planned_for,
            "warnings": self.warnings,
            "fits": self.fits,
            "measured_total_bytes": self.measured_total_bytes,
            "drafting_cache_bytes": self.drafting_cache_bytes,
            "drafting_compute_bytes": self.drafting_compute_bytes,
            "host_bytes": self.host_bytes,
            "notes": self.notes,
        }


def kv_cache_bytes(
    arch: Architecture, num_ctx: int, parallel: int, cache_type: str, batch: int, release: Release, engine: str,
    flash_attention: bool = True,
) -> int:
    """Bytes of the KV cache (and recurrent state) for all slots."""
    if engine == LLAMA_ENGINE:
        return int(sum(_graphsize_kv_layers(arch, num_ctx * parallel, cache_type)))
    streams, stream_cells, stream_swa_cells = kv_cells(arch, num_ctx, parallel, batch, release, engine)
    full_width, swa_width = _cell_widths(arch, engine, flash_attention)
    recurrent = arch.count(RECURRENT) * parallel * arch.recurrent_state_floats * 4  # always f32
    # per_cell (2, 34/32, 18/32) and the widths are exact in binary, so the sum is the per-layer sum
    return int(streams * (stream_cells * full_width + stream_swa_cells * swa_width) * KV_CACHE_BYTES[cache_type] + recurrent)


@lru_cache(maxsize=256)  # recommend sizes each model's cache at every context it tries
def _cell_widths(arch: Architecture, engine: str, flash_attention: bool) -> tuple[int, int]:
    """Cache elements one cell of the full-attention layers together holds, and of the sliding-window layers."""
    attention_layers = [layer for layer, kind in enumerate(arch.layers) if kind in (FULL, SLIDING)]
    # Without flash attention llama.cpp stores V transposed, each layer's as wide as the widest layer's
    # (`n_embd_v_gqa_max`): gemma4's global layers then keep as much V as its sliding ones.
    transposed_v = engine == LLAMA_SERVER and not flash_attention and not arch.is_mla
    widest_v = max((arch.kv_heads(layer) * arch.value_width(layer) for layer in attention_layers), default=0)
    widths = {FULL: 0, SLIDING: 0}
    for layer in attention_layers:
        if engine == LLAMA_SERVER and arch.is_mla:
            values = 0  # llama.cpp: an MLA cache's V is a view of the latent K
        else:
            values = widest_v if transposed_v else arch.kv_heads(layer) * arch.value_width(layer)
        widths[arch.layers[layer]] += arch.kv_heads(layer) * arch.key_width(layer) + values
    return widths[FULL], widths[SLIDING]


def drafting_cache_bytes(
    arch: Architecture, num_ctx: int, parallel: int, batch: int, release: Release, engine: str, draft_tokens: int,
) -> int:
    """What drafting with multi-token-prediction layers adds to the cache, as llama.cpp allocates it.

    The drafting context caches only those layers, full attention over the main context's cells, in f16
    (llama-server's draft cache type unless --cache-type-k-draft says otherwise); the main context keeps
    `draft_tokens` extra snapshots of each recurrent layer's state per sequence, to roll rejected drafts
    back, where llama.cpp can (not qwen3next). (Measured on llama.cpp v0.5.0's C API: bench/engine/README.md.)
    """
    streams, stream_cells, _ = kv_cells(arch, num_ctx, parallel, batch, release, engine)
    drafting = streams * stream_cells * arch.draft_layers * arch.head_count_kv * (arch.key_length + arch.value_length) * 2
    snapshots = arch.count(RECURRENT) * parallel * rs_snapshots(arch.name, draft_tokens) * arch.recurrent_state_floats * 4
    return drafting + snapshots


def kv_cells(arch: Architecture, num_ctx: int, parallel: int, batch: int, release: Release, engine: str) -> tuple[int, int, int]:
    """The cache's streams, and the cells per stream of full-attention and sliding-window layers.

    Ollama's own engine keeps one stream for all slots. For llama-server Ollama passes
    `-c num_ctx*parallel -np parallel`; llama.cpp pads the context to 256, splits it into one stream
    per slot (kv_unified off) and pads each stream to 256 again. A sliding-window layer keeps window +
    batch per stream, padded, never more than the stream (0 cells for a model without such layers).
    """
    if engine == LLAMA_SERVER:
        streams, per_stream = parallel, pad(pad(num_ctx * parallel) // parallel)
    else:
        streams, per_stream = 1, pad(num_ctx * parallel)
    swa = min(per_stream, pad(release.swa_cells(arch, parallel, batch))) if SLIDING in arch.layers else 0
    return streams, per_stream, swa


def _graphsize_kv_layers(arch: Architecture, context: int, cache_type: str) -> list[float]:
    """Per-layer cache as Ollama's llama-runner estimate computes it: no padding, rough element sizes."""
    per_cell = _GRAPHSIZE_KV_BYTES[cache_type]
    layers = []
    for layer, kind in enumerate(arch.layers):
        if kind == RECURRENT:
            layers.append(arch.recurrent_state_floats * 4)
        elif kind in (FULL, SLIDING):
            layers.append(context * (arch.key_width(layer) + arch.value_width(layer)) * arch.kv_heads(layer) * per_cell)
        else:
            layers.append(0)
    return layers


def compute_buffer_bytes(
    arch: Architecture, n_ctx: int, swa_cells: int, batch: int, flash_attention: bool, streams: int = 1,
    cache_type: str = "f16", rs_snapshots: int = 0, outputs: int = 0,
) -> int:
    """llama.cpp's compute buffer for `n_ctx` cells per KV stream (one stream per slot), with `rs_snapshots`
    recurrent-state snapshots per sequence (llama-server's drafting keeps one per drafted token) and logits for
    `outputs` tokens of a ubatch (0: every token).

    Where fitadvisor has the architecture's graph (memory/graph/models/: every catalog architecture), the
    reservation itself is replayed through ggml's graph allocator, exact on recorded traces. A file of another
    architecture (a GGUF, a registry or a running server's model) gets a closed form, said in the estimate's
    notes: the largest of the attention, feed-forward and output stages. Each stage is linear in the batch;
    without flash attention the attention stage also holds the f32 score matrix (batch x context x heads) and
    the mask is f32 rather than f16.
    (Measured on real llama.cpp: shared/calibration/llamacpp-buffers.md, bench/engine/README.md.)
    """
    if replay.has_builder(arch):
        return replay.compute_buffer_bytes(
            arch, n_ctx, swa_cells, batch, streams, flash_attention, cache_type, cache_type, rs_snapshots, outputs,
        )
    mask, attention = _attention_stage(arch, n_ctx, swa_cells, batch, flash_attention)
    feed_forward = mask + 4 * batch * _feed_forward_floats_per_token(arch)
    output = 4 * (min(outputs or batch, batch) * arch.vocab_size + batch * 2 * arch.embedding_length)
    return max(attention, feed_forward, output)


def _attention_stage(arch: Architecture, n_ctx: int, swa_cells: int, batch: int, flash_attention: bool) -> tuple[int, int]:
    """The attention mask, and the attention stage it lies under."""
    n_embd, n_head, n_head_kv, head_dim = arch.embedding_length, arch.head_count, arch.head_count_kv, arch.key_length
    mask = (2 if flash_attention else 4) * batch * (n_ctx + swa_cells)
    attention = mask + 4 * batch * (3 * n_embd + 2 * n_head * head_dim + 2 * n_head_kv * head_dim)
    if not flash_attention:
        attention += 4 * batch * n_ctx * n_head
    return mask, attention


def drafting_compute_bytes(
    arch: Architecture, n_ctx: int, swa_cells: int, batch: int, flash_attention: bool, streams: int, cache_type: str,
    draft_tokens: int, outputs: int = 0,
) -> int:
    """What drafting with multi-token-prediction layers adds to the compute buffers, replayed where fitadvisor has
    the model's drafting graph (0 elsewhere): the drafting context's own buffer, and the main context's growth
    from keeping `draft_tokens` recurrent-state snapshots (its recurrent layers write them from the fused ops).
    """
    if not replay.has_drafting_builder(arch):
        return 0
    main = compute_buffer_bytes(arch, n_ctx, swa_cells, batch, flash_attention, streams, cache_type, 0, outputs)
    with_snapshots = compute_buffer_bytes(arch, n_ctx, swa_cells, batch, flash_attention, streams, cache_type, draft_tokens, outputs)
    return with_snapshots - main + replay.drafting_compute_bytes(arch, n_ctx, batch, streams, flash_attention)


def _feed_forward_floats_per_token(arch: Architecture) -> int:
    """f32 values the feed-forward stage spans per token of the batch, holes included.

    Below the stage lie the residual, the attention output, its projection (the stage's input) and
    that input's norm. The stage allocates gate, up and their product side by side; gate and up are
    freed, and the down projection reuses their hole when it fits, else lands on top. An MoE stage
    (`mul_mat_id`) does this for all routed experts at once; a shared expert runs after it, in the
    holes it left. (Traced in llama.cpp's graph allocator: bench/engine/README.md.)
    """
    n_embd = arch.embedding_length
    # MLA decompresses each head's value before the output projection; unknown width: the latent's.
    value_length = arch.value_length_mla if arch.is_mla and arch.value_length_mla else arch.value_length
    below = 3 * n_embd + arch.head_count * value_length

    def stage(hidden: int, output: int) -> int:
        return 3 * hidden + (output if output > 2 * hidden else 0)

    dense = stage(arch.feed_forward_length, n_embd)
    if not arch.is_moe:
        return below + dense
    used = arch.expert_used_count
    moe = stage(used * arch.expert_feed_forward_length, used * n_embd)
    return below + (max(dense, moe) if arch.leading_dense_block_count else moe)


def graphsize_bytes(arch: Architecture, context: int, batch: int, kv_total: float) -> int:
    """Ollama's `GGML.GraphSize` full-offload graph for the llama runner (fs/ggml/ggml.go, v0.14-v0.29).

    These are the non-fused worst cases: the `context * heads` terms are the f32 attention scores.
    """
    E, H, V = arch.embedding_length, arch.head_count, arch.vocab_size
    Hkv, Dk, C, b = arch.head_count_kv, arch.key_length, context, batch
    name = arch.name
    if name in ("llama", "llama4"):
        return int(max(4 * b * (1 + 4 * E + C * (1 + H)), 4 * b * (E + V)))
    if name == "qwen2":
        return int(max(4 * b * (E + V), 4 * b * (1 + 2 * E + C + C * H)))
    if name in ("gemma", "gemma2", "gemma3", "gemma3n"):
        full = max(4 * b * (E + V), 4 * b * (2 + C + C * H + 2 * E + 2 * Dk * H))
        return int(full * 4 if name == "gemma3n" else full)
    if name == "command-r":
        return int(max(4 * b * (E + V), 4 * b * (2 + 4 * E + C * (1 + H))))
    if name == "deepseek2":
        return int(max(4 * b * (3 * E + V), 4 * b * (3 * E + 2 + C * (1 + Hkv) + 2 * Dk * Hkv)))
    # Every other architecture: GraphSize's fallback, proportional to the cache.
    return int(H / max(1, Hkv) * kv_total / 6)


def estimate(
    arch: Architecture, settings: Settings, hardware: Hardware | None = None, model: str = "", source: str = "catalog"
) -> Estimate:
    """The loaded size of `arch` under `settings`, and how Ollama would place it on `hardware`."""
    release = settings.release
    engine = release.engine(arch)
    notes: list[str] = []
    if release.newer_than_modelled:
        notes.append(f"Ollama {release.label} is newer than the newest release fitadvisor models; estimating as the newest")

    engine_note = release.engine_note(arch)
    if engine_note:
        notes.append(engine_note)

    requested = settings.num_ctx
    if requested is None:
        num_ctx = release.default_num_ctx(hardware.gpu_total_bytes if hardware else 0)
        notes.append(f"no context given: Ollama {release.label} would use its default of {format_ctx(num_ctx)}")
    else:
        if requested < 1:
            raise FitAdvisorError(f"invalid context size {requested}: it must be at least 1 token")
        num_ctx = requested
    if num_ctx > arch.context_length:
        notes.append(
            f"{format_ctx(num_ctx)} is more than {model or arch.name} was trained for: Ollama caps num_ctx at "
            f"{format_ctx(arch.context_length)}"
        )
        num_ctx = arch.context_length
    num_ctx = max(num_ctx, 4)  # the scheduler's floor

    parallel = release.parallel(arch, settings.parallel)
    if parallel != settings.parallel:
        notes.append(f"Ollama runs {arch.name} models with one parallel slot whatever OLLAMA_NUM_PARALLEL says")
    gpus = hardware.gpus if hardware else ()
    flash_attention = release.flash_attention(arch, settings.flash_attention, gpus)
    lacking = release.gpu_without_flash_attention(arch, gpus)
    if lacking is not None and release.flash_attention(arch, settings.flash_attention):  # on but for that GPU
        major, minor = lacking.compute_capability
        forced = release.uses_llama_server and settings.flash_attention == "on"
        notes.append(
            f"the {lacking.name} (CUDA compute capability {major}.{minor}) lacks flash attention in Ollama {release.label}: "
            + ("OLLAMA_FLASH_ATTENTION=1 forces it on anyway" if forced else "Ollama turns it off for the whole model")
        )
    cache_type, cache_note = release.kv_cache_type(settings.kv_cache_type, flash_attention, settings.flash_attention)
    if cache_note:
        notes.append(cache_note)

    draft_tokens = settings.draft_num_predict or 0
    drafts = engine == LLAMA_SERVER and arch.draft_layers > 0 and release.drafts_with_mtp and draft_tokens > 0
    if engine == LLAMA_ENGINE:
        weights = arch.weights_bytes if arch.tied_embeddings else arch.weights_bytes - arch.token_embedding_bytes
    elif engine == LLAMA_SERVER and arch.draft_bytes and not drafts and release.skips_unused_mtp:
        # llama.cpp loads the multi-token-prediction layers only to draft with them
        weights = arch.weights_bytes - arch.draft_bytes
        notes.append(
            f"the model's multi-token-prediction layers ({format_gb(arch.draft_bytes)}) stay unloaded: Ollama "
            f"{release.label} drafts with them only where the model's parameters or the request set draft_num_predict "
            "(--draft-num-predict N estimates that)"
        )
    else:
        weights = arch.weights_bytes
        if engine == LLAMA_SERVER and arch.draft_bytes and not drafts:
            notes.append(
                f"the model's multi-token-prediction layers ({format_gb(arch.draft_bytes)}) load though nothing drafts "
                f"with them: the llama.cpp of Ollama {release.label} loads them whenever the file has them (until "
                "Ollama 0.32.6)"
            )
        elif drafts:
            notes.append(
                f"Ollama {release.label} drafts {draft_tokens} tokens a step with the model's multi-token-prediction layers "
                f"(draft_num_predict {draft_tokens}, --spec-type draft-mtp): their {format_gb(arch.draft_bytes)} load with it, and "
                f"the drafting context's cache and {'compute buffer' if replay.has_drafting_builder(arch) else 'logits (its compute buffer is not estimated)'} "
                "are counted"
            )

    if engine == LLAMA_SERVER and arch.skipped_bytes:
        weights -= arch.skipped_bytes
        notes.append(
            f"the file's mtp.* tensors ({format_gb(arch.skipped_bytes)}) are never loaded: Ollama's compatibility layer "
            "leaves them out of llama-server's model, so nothing drafts with them either"
        )

    batch = settings.batch
    if batch is None:
        available = hardware.gpu_budget_bytes(0) if hardware and hardware.gpus else (
            hardware.available_memory_bytes if hardware else 0
        )
        batch = release.batch(
            num_ctx * parallel,
            _predicted_server_bytes(arch, num_ctx, parallel),
            available,
            flash_attention,
            bool(hardware and hardware.is_cuda),
            bool(hardware and any(g.library == "cuda" and g.usable_bytes <= SMALL_CUDA_BYTES for g in hardware.gpus)),
        )
    elif batch < 1:
        raise FitAdvisorError(f"invalid batch size {batch}: it must be at least 1")

    drafting_cache = drafting_cache_bytes(arch, num_ctx, parallel, batch, release, engine, draft_tokens) if drafts else 0
    kv = kv_cache_bytes(arch, num_ctx, parallel, cache_type, batch, release, engine, flash_attention) + drafting_cache
    drafting_compute = 0
    if engine == LLAMA_ENGINE:
        compute = graphsize_bytes(arch, num_ctx * parallel, min(num_ctx, batch), kv)
        other = 0  # this era's runner leaves a separate projector unreserved
    else:
        # Attention runs per stream: the mask and scores span one stream's cells.
        streams, n_ctx, swa_cells = kv_cells(arch, num_ctx, parallel, batch, release, engine)
        outputs = release.outputs_max(parallel, draft_tokens if drafts else 0)
        compute = compute_buffer_bytes(arch, n_ctx, swa_cells, batch, flash_attention, streams, cache_type, 0, outputs)
        if not replay.has_builder(arch):
            notes.append(
                f"fitadvisor has no graph of {arch.name} models to replay: its compute buffer is a closed-form "
                "approximation (the graph's largest stage), not checked against llama.cpp"
            )
        output = 4 * arch.vocab_size * parallel  # logits buffer for one token per slot
        if drafts:  # the drafting context: its own compute buffer and logits
            drafting_compute = drafting_compute_bytes(
                arch, n_ctx, swa_cells, batch, flash_attention, streams, cache_type, draft_tokens, outputs,
            )
            compute += drafting_compute
            output *= 2
        other = arch.projector_bytes + output

    result = Estimate(
        model=model or arch.name,
        source=source,
        release=release.label,
        engine=engine,
        requested_ctx=requested,
        num_ctx=num_ctx,
        parallel=parallel,
        kv_cache_type=cache_type,
        flash_attention=flash_attention,
        batch=batch,
        weights_bytes=weights,
        kv_cache_bytes=kv,
        compute_bytes=compute,
        other_bytes=other,
        notes=notes,
        drafting_cache_bytes=drafting_cache,
        drafting_compute_bytes=drafting_compute,
        host_bytes=input_layer_bytes(arch) if engine == LLAMA_SERVER else 0,
    )
    if hardware is not None:
        _place(result, arch, hardware, release, engine, settings.spread)
    return result


def _predicted_server_bytes(arch: Architecture, num_ctx: int, parallel: int) -> int:
    """Ollama's deliberately crude `PredictServerVRAM`, which only steers its batch choice."""
    head_dim = arch.embedding_length // max(1, arch.head_count)
    kv = 2 * arch.block_count * max(1, arch.head_count_kv) * head_dim * min(num_ctx, arch.context_length) * parallel * 2
    return arch.weights_bytes + kv


def expert_share(arch: Architecture) -> float:
    """The share of an MoE model's parameters in its routed experts.

    With E experts of which k are used per token, total = dense + experts and active = dense +
    experts * k / E, so experts = (total - active) / (1 - k / E).
    """
    if not arch.is_moe or not arch.parameters or not arch.active_parameters:
        return 0.0
    used = arch.expert_used_count / arch.expert_count
    experts = (arch.parameters - arch.active_parameters) / (1 - used)
    return min(1.0, max(0.0, experts / arch.parameters))


def input_layer_bytes(arch: Architecture) -> int:
    """The input layer's tensors, which llama.cpp keeps on the CPU whatever it offloads ("very little benefit to
    offloading the input layer": llama-model.cpp dev_input, v0.5.0): the token embedding and gemma4's per-layer token
    table (both LLM_TENSOR_LAYER_INPUT in llama-arch.cpp; the table, above 4 GiB, is even read from disk on demand)."""
    return arch.token_embedding_bytes + arch.per_layer_embedding_bytes


def tied_output_bytes(arch: Architecture) -> int:
    """What a model without its own output tensor loads again: llama.cpp creates the output layer from token_embd
    (TENSOR_DUPLICATED), a second copy wherever the output layer is not on the CPU (llama-model-loader.cpp)."""
    return arch.token_embedding_bytes if arch.tied_embeddings else 0


def _place(result: Estimate, arch: Architecture, hardware: Hardware, release: Release, engine: str, spread: bool) -> None:
    """Split the model between the GPUs and the CPU the way Ollama's scheduler and llama.cpp do (placement.py).

    llama-server (v0.30+) keeps the input layer on the CPU and, for a model with tied embeddings, loads the token
    table again as the output layer with the last layer; it first moves an MoE model's expert tensors to the CPU,
    keeping attention, the dense weights and the cache on the GPUs, then brings experts back layer by layer while
    they fit.
    """
    total = result.total_bytes
    result.budget, result.planned_for = budget(hardware, release), hardware.planned_for
    if not hardware.gpus:
        result.gpu_budget_bytes = 0
        result.cpu_bytes, result.gpu_bytes = total, 0
        result.fits = total <= hardware.available_memory_bytes
        return
    gpus = list(zip(hardware.gpus, result.budget.per_gpu))
    result.gpu_budget_bytes = sum(budget for _, budget in gpus)
    output_copy = tied_output_bytes(arch) if engine == LLAMA_SERVER else 0
    weights, output, pad = result.weights_bytes - result.host_bytes, result.other_bytes + output_copy, 0
    projector = release.projector_bytes(arch)
    projector_on_gpu = release.projector_on_gpu(projector, hardware.gpus)
    if projector:
        pad = release.projector_fit_pad(projector, hardware.gpus)
        if pad or not projector_on_gpu:  # loaded after the fit on the first GPU, or kept on the CPU: out of the layers
            if arch.projector_bytes:
                output -= projector
            else:
                weights -= projector
    layout = Layout(
        arch.block_count, (weights + result.kv_cache_bytes) / arch.block_count, result.compute_bytes,
        output, spare_layer=engine == LLAMA_ENGINE,
    )
    if engine == LLAMA_SERVER:
        predicted = _predicted_server_bytes(arch, result.num_ctx, result.parallel)
        shares = place_llama_server(layout, [(gpu, each - pad) for gpu, each in gpus], predicted, spread)
        if pad:
            shares = _projector_on_first_gpu(shares, gpus, projector)
        if projector and not projector_on_gpu:
            result.notes.append(
                f"Ollama {release.label} keeps the vision projector ({format_gb(projector)}) on the CPU: a GPU "
                "has less free memory than it and 1 GiB (--no-mmproj-offload)"
            )
    elif len(gpus) == 1 and total <= gpus[0][1]:
        shares = layout.shares(gpus, [arch.block_count])  # fits whole: no spare layer is asked for
    else:
        shares = place_before_llama_server(layout, gpus, spread)
    holding = sum(1 for share in shares if share.layers)
    if holding > 1:  # each GPU that runs layers allocates its own compute buffer
        result.compute_bytes *= holding
        result.notes.append(f"split across {holding} GPUs, each with its own compute buffer")
    on_gpu = sum(share.layers for share in shares)
    result.fits = on_gpu == arch.block_count
    result.other_bytes += output_copy  # on a GPU with the output layer, as long as any layer is offloaded
    if not result.fits and engine == LLAMA_SERVER and arch.is_moe:
        shares = _experts_on_cpu(result, arch, shares, pad) or shares
    if not any(share.bytes for share in shares):  # nothing offloaded: the output layer reads token_embd itself
        result.other_bytes -= output_copy
    elif output_copy:
        result.notes.append(
            f"without an output tensor of its own, the model's output layer is a second copy of its token table "
            f"({format_gb(output_copy)}, with the last layer on the GPU: counted in other)"
        )
    if engine == LLAMA_SERVER and result.fits and result.host_bytes:
        # Ollama reports a model with every layer offloaded as its GPU buffers alone (llm/llama_server.go MemorySize)
        result.weights_bytes -= result.host_bytes
        result.notes.append(
            f"the input layer (the token table{' and the per-layer token table' if arch.per_layer_embedding_bytes else ''}, "
            f"{format_gb(result.host_bytes)}) stays in host memory, as "
            "llama-server keeps it: `ollama ps` leaves it out of a model wholly on the GPU, and so does this size"
        )
    result.gpus = shares
    result.gpu_bytes = sum(share.bytes for share in shares)
    result.cpu_bytes = result.total_bytes - result.gpu_bytes  # with each GPU's compute buffer


def _projector_on_first_gpu(shares: list[GpuShare], gpus: list[tuple[Gpu, int]], projector_bytes: int) -> list[GpuShare]:
    """The fit kept `projector_bytes` free on every GPU; llama.cpp's clip loads the projector on the first GPU that runs
    the model (ggml_backend_init_by_type GPU). Budgets are shown as they are without that pad."""
    first = next((i for i, share in enumerate(shares) if share.layers), None)
    return [
        replace(share, budget_bytes=budget, bytes=share.bytes + (projector_bytes if i == first else 0))
        for i, (share, (_, budget)) in enumerate(zip(shares, gpus))
    ]


def _experts_on_cpu(result: Estimate, arch: Architecture, shares: list[GpuShare], pad: int) -> list[GpuShare] | None:
    """llama.cpp's --fit for an MoE model: its experts on the CPU first, then back layer by layer while they fit
    (`pad`: the projector's room kept on every GPU, filled on one)."""
    experts = int(result.weights_bytes * expert_share(arch))
    budget = sum(share.budget_bytes for share in shares) - (len(shares) - 1) * (result.compute_bytes + pad)
    dense = result.total_bytes - result.host_bytes - experts
    if dense > budget:
        return None
    per_layer_experts = experts / arch.block_count
    layers = min(arch.block_count, int((budget - dense) // per_layer_experts)) if per_layer_experts else 0
    on_gpu = dense + int(layers * per_layer_experts)
    total_budget = sum(share.budget_bytes for share in shares) or 1
    return [
        GpuShare(share.name, share.budget_bytes, arch.block_count if len(shares) == 1 else share.layers,
                 int(on_gpu * share.budget_bytes / total_budget))
        for share in shares
    ]

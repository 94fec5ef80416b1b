"""How each Ollama release runs a model: engine, flash attention, batch, cache type, context.

Facts from Ollama's source as summarised in the project's reference notes (shared/reference/ollama.md):
v0.11.5-v0.29 ("era B") run some architectures in Ollama's own engine, which measures real
allocations, and the rest in its llama.cpp runner, whose memory Ollama *estimates* with
`GGML.GraphSize`; from v0.30 every GGUF model runs in upstream `llama-server`, which allocates
what llama.cpp allocates.
"""

from __future__ import annotations

from dataclasses import dataclass

from fitadvisor.errors import FitAdvisorError
from fitadvisor.hardware.machine import Gpu
from fitadvisor.models.architecture import Architecture
from fitadvisor.ollama.versions import Version, format_version, parse_version
from fitadvisor.units import GIB, MIB

OLDEST_MODELLED: Version = (0, 14, 0)  # the first release with Anthropic's /v1/messages
# 0.33.0-0.34.2 (Aug-Sep 2026) are modelled from Ollama's source at v0.33.0-rc2, the newest read; nothing below
# changed between v0.30.11 and it.
NEWEST_MODELLED: Version = (0, 34, 2)
LLAMA_SERVER_SINCE: Version = (0, 30, 0)  # commit 9db4bdbad: every GGUF model in llama-server
# Commit 630882621 (v0.30.0), server/sched.go automaticGenerationBatch: without flash attention on a CUDA GPU of
# at most 8 GiB, a context above 4096 gets a batch of 256.
SMALL_CUDA_BYTES = 8 * GIB
# llm/llama_server.go: the multimodal projector on the GPU only where every GPU has room for it and 1 GiB more, sized
# by the projector's tensors (also a vision tower inside the model file) from commit 836507378 (v0.30.11); from commit
# a6293eb51 (v0.31.2) that much is llama-server's fit target (LLAMA_ARG_FIT_TARGET) on every GPU.
PROJECTOR_SIZED_SINCE: Version = (0, 30, 11)
PROJECTOR_FIT_TARGET_SINCE: Version = (0, 31, 2)
PROJECTOR_HEADROOM = 1 * GIB
# Architectures whose vision tower inside the model file llama-server loads as the projector (compatClipArches).
_INLINE_PROJECTOR = {
    "gemma3", "gemma4", "qwen35", "qwen35moe", "qwen25vl", "qwen3vl", "qwen3vlmoe", "mistral3", "deepseekocr", "glmocr",
    "llama4", "nemotron_h_omni",
}
CUDA_FLASH_ATTENTION_6_X_SINCE: Version = (0, 31, 2)  # commit dba1e27fa: flash attention on CUDA 6.x GPUs
# llama.cpp PR #23861 (under review 2026-06-01; bindings took up its n_outputs_max on 2026-06-02): llama-server reserves
# logits for the tokens a ubatch may output, parallel x (1 + drafted tokens) (server_output_limits, read in llama.cpp
# v0.5.0), not for the whole ubatch. Ollama v0.30.0 pins llama.cpp b9452 (2026-06-01), v0.30.1 b9479 (2026-06-02):
# assumed from v0.30.1, the merge's build number not read. A real run under Ollama 0.32.13 (b10380) logs
# n_outputs_max = 5 at -np 1 --spec-draft-n-max 4 (github.com/hogeheer499-commits/strix-halo-guide, data/raw/2026-08-15/
# qwen38-27b-ollama-03213-vulkan-radv/qualification/context_64k_ollama_journal.log).
OUTPUTS_LIMITED_SINCE: Version = (0, 30, 1)
# llama.cpp PR #26296 (merged by 2026-08-01, as PR #26412 says): a model's multi-token-prediction tensors load only
# for --spec-type draft-mtp (model param load_mtp). Before it llama.cpp loaded them whenever the file has them (issue
# #26290): a real Ollama 0.32.0 run (b9888) of qwen3.6:35b-a3b, not drafting, loads all 41 layers, its model buffer
# the whole file's text tensors (github.com/hogeheer499-commits/strix-halo-guide, data/raw/2026-07-16/
# ollama-0311-0312-0320-controlled/0.32.0-server.log). Ollama v0.32.5 pins b10091 (2026-07-27), v0.32.6 b10242 (08-04).
UNUSED_MTP_SKIPPED_SINCE: Version = (0, 32, 6)
SMALL_CUDA_BATCH = 256

OLLAMA_ENGINE = "ollama"  # Ollama's Go engine (era B): memory measured by the runner
LLAMA_ENGINE = "llama"  # Ollama's llama.cpp runner (era B): memory estimated by GraphSize
LLAMA_SERVER = "llama-server"  # upstream llama-server (v0.30+)

# Architectures the Ollama engine runs in v0.14.0 (`OllamaEngineRequired`).
_OLLAMA_ENGINE_V0_14 = {
    "bert", "deepseek2", "deepseekocr", "gemma3", "gemma3n", "gptoss", "llama4", "mistral3", "mllama",
    "nomic-bert", "olmo3", "qwen25vl", "qwen3", "qwen3moe", "qwen3vl", "qwen3vlmoe",
}
# Architectures added to the Ollama engine later; they ran nowhere before (the release that turned
# flash attention on for them is the release that brought them).
_OLLAMA_ENGINE_ADDED: dict[str, Version] = {
    "glm4moelite": (0, 14, 3), "lfm2": (0, 14, 3), "glmocr": (0, 15, 5), "qwen3next": (0, 15, 5),
    "nemotron_h": (0, 17, 1), "nemotron_h_moe": (0, 17, 1), "lfm2moe": (0, 17, 1), "qwen35": (0, 17, 1),
    "qwen35moe": (0, 17, 1), "gemma4": (0, 20, 4),
}
# Ollama-engine architectures with flash attention on by default, and since when (`GGML.FlashAttention`).
_FLASH_ATTENTION_DEFAULT: dict[str, Version] = {
    "gptoss": (0, 11, 8), "qwen3": (0, 12, 4), "qwen3moe": (0, 12, 4), "gemma3": (0, 12, 6),
    "qwen3vl": (0, 12, 8), "mistral3": (0, 13, 2), "olmo3": (0, 13, 4), "bert": (0, 13, 5),
    **_OLLAMA_ENGINE_ADDED,
}
# Architectures Ollama runs with one parallel slot whatever OLLAMA_NUM_PARALLEL says (`server/sched.go`).
_SINGLE_SLOT = {
    "mllama", "qwen3vl", "qwen3vlmoe", "qwen35", "qwen35moe", "qwen3next", "lfm2", "lfm2moe",
    "nemotron_h", "nemotron_h_moe", "nemotron_h_omni",
}
# Sliding-window layers the Ollama engine keeps 4096 tokens for (`NewSWAMemCache(window, 4096)`).
_SWA_MEMORY_4096 = {"gptoss", "gemma4"}

# Architecture names Ollama's converter writes that llama.cpp does not know (its llama-arch.cpp, checked on
# llama.cpp v0.5.0 as bundled by node-llama-cpp 3.22.1), with llama.cpp's name for the same layout where it has one.
OLLAMA_ONLY_NAMES: dict[str, str | None] = {
    "glm4moelite": "deepseek2", "gptoss": "gpt-oss", "deepseekocr": "deepseek2ocr", "qwen25vl": "qwen2vl",
    "mllama": None, "olmo3": None, "glmocr": None, "nemotron_h_omni": None,
}

KV_CACHE_BYTES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}  # ggml block sizes per element
FLASH_ATTENTION_MODES = ("auto", "on", "off")
DEFAULT_BATCH = 512  # Ollama's num_batch


@dataclass(frozen=True)
class Release:
    """The behaviour of one Ollama version that decides what a model costs in memory."""

    version: Version

    @classmethod
    def of(cls, text: str | None) -> Release:
        """The release for a version string; None means the newest modelled one."""
        if text is None:
            return cls(NEWEST_MODELLED)
        version = parse_version(text)
        if version < OLDEST_MODELLED:
            raise FitAdvisorError(
                f"Ollama {format_version(version)} is older than {format_version(OLDEST_MODELLED)}, the first release "
                "that speaks Claude Code's /v1/messages: upgrade Ollama"
            )
        return cls(version)

    @property
    def label(self) -> str:
        return format_version(self.version)

    @property
    def no_server_note(self) -> str:
        """Said when no server answered and no --ollama-version was given, so this release was modelled."""
        return f"no Ollama server answered: modelled Ollama {self.label} (use --ollama-version to pick another)"

    @property
    def newer_than_modelled(self) -> bool:
        return self.version > NEWEST_MODELLED

    @property
    def uses_llama_server(self) -> bool:
        return self.version >= LLAMA_SERVER_SINCE

    def engine(self, arch: Architecture) -> str:
        if self.uses_llama_server:
            return LLAMA_SERVER
        added = _OLLAMA_ENGINE_ADDED.get(arch.name)
        if added is not None:
            if self.version < added:
                raise FitAdvisorError(
                    f"Ollama {self.label} cannot run {arch.name} models: they need Ollama {format_version(added)} or later"
                )
            return OLLAMA_ENGINE
        return OLLAMA_ENGINE if arch.name in _OLLAMA_ENGINE_V0_14 else LLAMA_ENGINE

    def engine_note(self, arch: Architecture) -> str | None:
        """Said when llama-server would refuse the file's architecture name as it stands."""
        if not self.uses_llama_server or arch.name not in OLLAMA_ONLY_NAMES:
            return None
        known_as = OLLAMA_ONLY_NAMES[arch.name]
        if known_as:
            return (
                f"llama.cpp does not know the architecture name {arch.name} (Ollama's name for its {known_as}): "
                f"estimated as llama.cpp's {known_as}, which has the same layout"
            )
        return f"llama.cpp does not run {arch.name} models: estimated with the generic memory model, unverified"

    def flash_attention(self, arch: Architecture, mode: str, gpus: tuple[Gpu, ...] = ()) -> bool:
        """Whether attention runs fused: `mode` is OLLAMA_FLASH_ATTENTION as auto (unset), on or off."""
        if mode not in FLASH_ATTENTION_MODES:
            raise FitAdvisorError(f"invalid flash-attention mode {mode!r}: use auto, on or off")
        if mode == "off":
            return False
        if self.uses_llama_server:
            # llm/llama_server.go LlamaServerFlashAttention: OLLAMA_FLASH_ATTENTION=1 wins; unset, it is off when a
            # GPU lacks support, else llama.cpp's `--flash-attn auto` enables it. It never asks the model's
            # SupportsFlashAttention (checked on v0.30.0, v0.31.2, v0.32.0 and v0.33.0-rc2), and llama.cpp runs K and
            # V heads of different sizes fused (deepseek-coder-v2's 192 and 128: bench/engine's deepseek2-legacy).
            return mode == "on" or self.gpu_without_flash_attention(arch, gpus) is None
        # Ollama's `SupportsFlashAttention`: K and V heads of one size (MLA caches are fused anyway).
        if not (arch.key_length == arch.value_length or arch.is_mla or arch.name in ("qwen35", "qwen3next")):
            return False
        if self.gpu_without_flash_attention(arch, gpus) is not None:  # llm/server.go: even when the user set it
            return False
        if mode == "on":
            return True
        since = _FLASH_ATTENTION_DEFAULT.get(arch.name)
        # The llama runner's "auto" lets llama.cpp use flash attention, but Ollama still accounts
        # memory with its non-fused GraphSize estimate, so memory-wise it counts as off.
        return self.engine(arch) == OLLAMA_ENGINE and since is not None and self.version >= since

    def gpu_without_flash_attention(self, arch: Architecture, gpus: tuple[Gpu, ...]) -> Gpu | None:
        """The first GPU Ollama would not run flash attention on (ml/device.go FlashAttentionSupported): a CUDA GPU
        of compute capability 7.2 (Jetson Xavier; commit aa45f7ce2), below 7.0 from v0.30.0 (commit 9db4bdbad),
        below 6.0 from v0.31.2 (commit dba1e27fa); before v0.30, gemma4 also needs 7.5 (llm/server.go, commit
        dde09129d, v0.20.4). Metal, ROCm, Vulkan and the CPU always support it; a GPU of unknown capability is taken
        to support it, as every CUDA GPU of data/hardware.toml but the Tesla M40 does."""
        for gpu in gpus:
            capability = gpu.compute_capability
            if gpu.library != "cuda" or capability is None:
                continue
            if capability == (7, 2):
                return gpu
            if self.uses_llama_server:
                floor = (6, 0) if self.version >= CUDA_FLASH_ATTENTION_6_X_SINCE else (7, 0)
            else:
                floor = (7, 5) if arch.name == "gemma4" and self.version >= (0, 20, 4) else (0, 0)
            if capability < floor:
                return gpu
        return None

    def kv_cache_type(self, requested: str, flash_attention: bool, flash_attention_mode: str) -> tuple[str, str | None]:
        """The cache type really used, and a note when Ollama would not honour the request."""
        if requested not in KV_CACHE_BYTES:
            raise FitAdvisorError(f"invalid KV-cache type {requested!r}: use f16, q8_0 or q4_0")
        if requested == "f16":
            return requested, None
        if not flash_attention:
            return "f16", f"a {requested} KV cache needs flash attention, which is off for this model: the cache stays f16"
        if not self.uses_llama_server and flash_attention_mode != "on":
            return "f16", (
                f"Ollama {self.label} quantizes the KV cache only with OLLAMA_FLASH_ATTENTION=1 set: "
                "the cache stays f16 (pass --flash-attention on)"
            )
        return requested, None

    def parallel(self, arch: Architecture, requested: int) -> int:
        if requested < 1:
            raise FitAdvisorError(f"invalid number of parallel slots {requested}: it must be at least 1")
        return 1 if arch.name in _SINGLE_SLOT else requested

    def default_num_ctx(self, gpu_total_bytes: int) -> int:
        """The context a model gets with no num_ctx anywhere: fixed before v0.15.5, then by total VRAM."""
        if self.version < (0, 15, 5):
            return 4096
        if gpu_total_bytes >= 47 * GIB:
            return 262144
        if gpu_total_bytes >= 23 * GIB:
            return 32768
        return 4096

    def swa_cells(self, arch: Architecture, parallel: int, batch: int) -> int:
        """Tokens a sliding-window layer keeps (before padding): for each slot's stream in llama-server,
        for all slots together in Ollama's engine."""
        if self.uses_llama_server:
            return arch.sliding_window + batch  # one stream per slot (kv_unified off), each window + batch
        if arch.name in _SWA_MEMORY_4096:
            return parallel * max(arch.sliding_window, 4096) + batch
        return parallel * (arch.sliding_window + (1 if parallel > 1 else 0)) + batch

    def batch(
        self, ctx_total: int, predicted_bytes: int, available_bytes: int, flash_attention: bool, cuda: bool,
        small_cuda: bool = False,
    ) -> int:
        """The physical batch (n_ubatch) Ollama asks for.

        Before v0.30 it is num_batch (512). From v0.30 Ollama picks 2048 above 32K context and 1024
        above 4K when its crude size prediction leaves room (60% / 75% of the memory, with the
        batch surcharge under 80%), and 512 on CUDA without flash attention, 256 there above a 4K
        context when a CUDA GPU has at most 8 GiB (`small_cuda`).
        """
        if not self.uses_llama_server:
            return DEFAULT_BATCH
        if cuda and not flash_attention:
            return SMALL_CUDA_BATCH if small_cuda and ctx_total > 4096 else DEFAULT_BATCH
        steps = [(32768, 2048, 0.60, 2 * GIB), (4096, 1024, 0.75, 768 * MIB)]
        for above, size, share, surcharge in steps:
            if ctx_total > above and predicted_bytes <= share * available_bytes and (
                predicted_bytes + surcharge <= 0.8 * available_bytes
            ):
                return size
        return DEFAULT_BATCH

    def projector_bytes(self, arch: Architecture) -> int:
        """What Ollama sizes the projector at (mmprojMemoryRequirement): a separate projector's tensors, else those of a
        vision tower inside the model file (v.*, mm.*) where llama-server loads it."""
        if not self.uses_llama_server:
            return 0
        return arch.projector_bytes or (arch.vision_bytes if arch.name in _INLINE_PROJECTOR else 0)

    def projector_on_gpu(self, projector_bytes: int, gpus: tuple[Gpu, ...]) -> bool:
        """Whether the vision projector is offloaded: not where a GPU has less than it and 1 GiB (shouldDisableMMProjOffload,
        "limited-vram": --no-mmproj-offload)."""
        if not projector_bytes or not gpus:
            return False
        if self.version < PROJECTOR_SIZED_SINCE:
            return True
        return all(gpu.usable_bytes >= projector_bytes + PROJECTOR_HEADROOM for gpu in gpus)

    def projector_fit_pad(self, projector_bytes: int, gpus: tuple[Gpu, ...]) -> int:
        """What llama-server's fit keeps free on each GPU beyond its own 1 GiB margin for a projector it loads later:
        the projector's size from v0.31.2 (mmprojFitTargetMiB: projector + 1 GiB, one value for every GPU)."""
        if self.version < PROJECTOR_FIT_TARGET_SINCE or not self.projector_on_gpu(projector_bytes, gpus):
            return 0
        return projector_bytes

    @property
    def drafts_with_mtp(self) -> bool:
        """Whether a model with multi-token-prediction layers can run llama-server with `--spec-type draft-mtp`: from
        v0.30.0 (commit 9db4bdbad, llm/llama_server.go hasMTPDraft and appendDraftArgs), and then only where the
        model's parameters (`PARAMETER draft_num_predict N`) or the request set draft_num_predict: for a model without
        a separate draft model, server/routes.go modelOptions sets an unset one to 0 (api/types.go's default of 4 is
        for separate draft models), and appendDraftArgs adds nothing at 0 (checked on v0.33.0-rc2). That many tokens
        are drafted a step (--spec-draft-n-max), and llama.cpp keeps as many extra recurrent-state snapshots per
        sequence to roll a rejected draft back."""
        return self.uses_llama_server

    @property
    def skips_unused_mtp(self) -> bool:
        """Whether llama-server leaves a model's multi-token-prediction layers unloaded when it does not draft with them
        (see UNUSED_MTP_SKIPPED_SINCE)."""
        return self.version >= UNUSED_MTP_SKIPPED_SINCE

    def outputs_max(self, parallel: int, draft_tokens: int) -> int:
        """The tokens of a ubatch llama-server reserves logits for (0: every token): one per slot and one per drafted
        token, since llama.cpp PR #23861 (see OUTPUTS_LIMITED_SINCE)."""
        if not self.uses_llama_server or self.version < OUTPUTS_LIMITED_SINCE:
            return 0
        return parallel * (1 + draft_tokens)

    @property
    def gpu_overhead_in_placement(self) -> bool:
        """OLLAMA_GPU_OVERHEAD shrinks what each GPU may hold only before v0.30; from v0.30 (commit 9db4bdbad) it is
        used for the default-context tier alone (server/routes.go), as llama-server's fit knows nothing of it."""
        return not self.uses_llama_server

    @property
    def gpu_reserve_bytes(self) -> int:
        """What Ollama keeps free on each GPU: MinimumMemory before v0.30, llama.cpp's fit margin after."""
        return 1 * GIB if self.uses_llama_server else 457 * MIB

    @property
    def metal_reserve_bytes(self) -> int:
        return 1 * GIB if self.uses_llama_server else 512 * MIB

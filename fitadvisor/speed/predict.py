"""How fast a loaded model will answer: decode tokens/s and the time to read Claude Code's opening prompt.

Decode is memory-bandwidth bound: each token reads the active weights (no vision tower) and the KV
cache filled so far, so seconds per token = bytes / (eta x bandwidth) + t0, plus an MoE routing cost,
with eta, t0 and the MoE cost fitted per backend (Metal, CUDA, ROCm, Vulkan, CPU) on public
measurements (data/speed-fit.toml, written by `python bench/speed.py --fit`). On a GPU each token also
does work per active weight (dequantizing it, more for K-quants), paid at the device's measured
compute throughput: it is what holds back chips whose compute is low for their bandwidth. Prompt processing is
compute bound: 2 FLOPs per active weight per token plus attention, over the device's measured
throughput (llama.cpp's pp512 scoreboards, data/speed.toml), with per-backend factors fitted on the
same table. Every number carries a +-band: the fit's own residuals on its measurements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from fitadvisor.datafiles import read_toml
from fitadvisor.hardware.machine import Hardware
from fitadvisor.memory.estimate import Estimate, kv_cache_bytes
from fitadvisor.memory.releases import Release
from fitadvisor.models.architecture import FULL, SLIDING, Architecture

BACKENDS = ("metal", "cuda", "rocm", "vulkan", "cpu")
POOLED = "gpu"  # the fit over every GPU backend: for a backend with too few measurements of its own


@dataclass(frozen=True)
class Span:
    """A range of plausible values, low to high."""

    low: float
    high: float

    def to_dict(self, digits: int = 1) -> dict:
        return {"low": round(self.low, digits), "high": round(self.high, digits)}


@dataclass(frozen=True)
class DecodeFit:
    """One device class's decode parameters: seconds per token = bytes / (eta x GB/s) + t0 (+ moe).

    Without flash attention the cache costs more than its bytes: attention runs per query head, so it
    reads as if each KV head were repeated for its query heads, times `kv_without_flash_attention`.
    """

    eta: float
    t0_ms: float
    moe_ms: float
    kv_without_flash_attention: float
    band_percent: float

    def seconds(self, gpu_bytes: float, bandwidth_gbs: float, moe: bool) -> float:
        return gpu_bytes / (self.eta * bandwidth_gbs * 1e9) + (self.t0_ms + (self.moe_ms if moe else 0.0)) / 1e3


@dataclass(frozen=True)
class DecodeWork:
    """Decode's work per weight beyond reading it, on a GPU: unpacking each weight from its quantized
    blocks and multiplying it, in units of one prompt token's work at the device's measured prompt
    throughput. K-quants (super-blocks of 256 weights with packed 6-bit sub-block scales) cost more per
    weight than the simple types (Q4_0/Q8_0: blocks of 32 with one scale; F16; MXFP4).

    seconds per token = (plain x (1 - K share) + k_quant x K share) x 2 x active params / reference FLOP/s
    """

    plain: float
    k_quant: float

    def seconds(self, active_parameters: float, k_quant_share: float, reference_flops: float) -> float:
        factor = self.plain * (1 - k_quant_share) + self.k_quant * k_quant_share
        return factor * 2 * active_parameters / reference_flops


@dataclass(frozen=True)
class PrefillFit:
    """One backend's prompt cost, in units of the device's reference throughput (pp512 of LLaMA-2 7B).

    seconds x reference FLOP/s = weights_factor x weight FLOPs (x moe_factor) + attention_factor x attention FLOPs
    """

    weights_factor: float
    attention_factor: float
    moe_factor: float
    band_percent: float

    def seconds(self, weight_flops: float, attention_flops: float, reference_flops: float, moe: bool) -> float:
        weights = self.weights_factor * weight_flops * (self.moe_factor if moe else 1.0)
        return (weights + self.attention_factor * attention_flops) / reference_flops


@dataclass(frozen=True)
class Speed:
    """What a user will feel: tokens/s at the first turn and with the context full, and the first wait."""

    first_turn: float | None  # decode tokens/s with the opening prompt in the cache
    full_context: float | None  # decode tokens/s with the whole context filled
    band_percent: float | None  # +- on both decode numbers: the fit's residuals (or the measurement's spread)
    opening_prompt_seconds: float | None  # reading Claude Code's opening prompt into an empty cache
    prompt_band_percent: float | None
    source: str  # "model" or "measured"
    backend: str
    notes: tuple[str, ...] = ()

    @property
    def decode(self) -> Span | None:
        """The whole plausible range: a full context at the slow end to the first turn at the fast end."""
        if self.first_turn is None or self.full_context is None:
            return None
        band = (self.band_percent or 0.0) / 100
        return Span(self.full_context * (1 - band), self.first_turn * (1 + band))

    @property
    def prompt_seconds(self) -> Span | None:
        if self.opening_prompt_seconds is None:
            return None
        band = (self.prompt_band_percent or 0.0) / 100
        return Span(self.opening_prompt_seconds * (1 - band), self.opening_prompt_seconds * (1 + band))

    def to_dict(self) -> dict:
        decode = None
        if self.first_turn is not None:  # a measured first turn may come without the model's full-context figure
            decode = {"first_turn": round(self.first_turn, 1),
                      "full_context": round(self.full_context, 1) if self.full_context is not None else None,
                      "band_percent": self.band_percent}
        return {
            "decode_tokens_per_second": decode,
            "opening_prompt_seconds": round(self.opening_prompt_seconds, 1) if self.opening_prompt_seconds is not None else None,
            "speed_source": self.source,
            "speed_backend": self.backend,
            "speed_notes": list(self.notes),
        }


@lru_cache(maxsize=1)
def _facts() -> dict:
    return read_toml("speed.toml")


@lru_cache(maxsize=1)
def _fit() -> dict:
    return read_toml("speed-fit.toml")


def decode_class(backend: str, names: list[str]) -> str:
    """The fitted class of a device: a class of data/speed.toml its name matches, else its backend."""
    if backend != "cpu":
        for entry in _facts()["decode"]["class"]:
            if any(re.search(entry["pattern"], name, re.IGNORECASE) for name in names):
                return entry["name"]
    return backend


def decode_fit(name: str) -> DecodeFit:
    """The fit of a device class, else of its backend (`metal-max` -> `metal`), else the pooled GPU fit."""
    fits = _fit()["decode"]
    return DecodeFit(**fits.get(name) or fits.get(name.split("-")[0]) or fits[POOLED])


def decode_work() -> DecodeWork:
    work = _fit()["decode_work"]
    return DecodeWork(work["plain"], work["k_quant"])


def prefill_fit(backend: str) -> PrefillFit:
    fits = _fit()["prefill"]
    return PrefillFit(**fits.get(backend, fits[POOLED]))


def opening_prompt_tokens() -> int:
    """Tokens Claude Code sends before the user types anything, interactive (the larger measured size)."""
    from fitadvisor.claude_code import facts as claude_code

    return max(claude_code().opening_prompt_tokens)


def backend_of(hardware: Hardware) -> str:
    """The ggml backend that reads the model: the GPU's library (Ollama's choice), else the CPU."""
    if not hardware.gpus:
        return "cpu"
    library = hardware.gpus[0].library
    return library if library in BACKENDS else POOLED


def _names(hardware: Hardware) -> list[str]:
    """The names to match device tables against: the system chip first, then each GPU."""
    return [name for name in (hardware.chip, hardware.cpu.name, *(gpu.name for gpu in hardware.gpus)) if name]


def ram_bandwidth(hardware: Hardware) -> tuple[float, str | None]:
    """What the CPU reads weights at (GB/s, as a theoretical bus figure), and a note when it is assumed or capped."""
    facts = _facts()["decode"]
    for limit in facts.get("cpu_read_limit", []):
        if any(re.search(limit["pattern"], name, re.IGNORECASE) for name in _names(hardware)):
            note = f"this CPU reads RAM at about {limit['effective_gbs']:g} GB/s, less than its memory bus ({limit['source']})"
            return limit["effective_gbs"] / decode_fit("cpu").eta, note
    if hardware.ram_bandwidth_gbs:
        return hardware.ram_bandwidth_gbs, None
    assumed = facts["assumed_ram_bandwidth_gbs"]
    return assumed, (
        f"RAM bandwidth unknown: assumed {assumed:g} GB/s (dual-channel DDR5-5600); "
        "DDR4-2666 would be half as fast, so decode would be too"
    )


def weight_bytes_per_token(arch: Architecture) -> float:
    """Weight bytes read per generated token.

    Only one row of an untied token-embedding table (or of gemma4's per-layer token table) is read, and a
    vision tower, multi-token-prediction layers or tensors never loaded not at all; an MoE model reads its shared weights and the
    experts it routes to, its active-parameter share.
    """
    read = arch.weights_bytes - arch.vision_bytes - (0 if arch.tied_embeddings else arch.token_embedding_bytes)
    read -= arch.per_layer_embedding_bytes + arch.draft_bytes + arch.skipped_bytes
    if arch.is_moe and arch.parameters and arch.active_parameters:
        read *= arch.active_parameters / arch.parameters
    return read


def kv_bytes_read(arch: Architecture, result: Estimate, tokens: int, release: Release) -> int:
    """KV cache (and recurrent state) read per token once `tokens` are in the context."""
    return kv_cache_bytes(arch, max(1, tokens), 1, result.kv_cache_type, result.batch, release, result.engine)


def kv_read_factor(arch: Architecture, result: Estimate, fit: DecodeFit) -> float:
    """What reading the cache costs per byte: 1 with flash attention, more without (see DecodeFit)."""
    if result.flash_attention or not arch.head_count_kv:
        return 1.0
    return arch.head_count / arch.head_count_kv * fit.kv_without_flash_attention


def decode_seconds(fit: DecodeFit, bytes_read: float, gpu_gbs: float | None, cpu_share: float,
                   cpu_fit: DecodeFit, ram_gbs: float, moe: bool, gpu_work_seconds: float = 0.0) -> float:
    """Seconds per token: the GPU's share at its bandwidth (plus its share of the work per weight), the
    CPU's at RAM's, each with its own fit."""
    on_cpu = bytes_read * cpu_share
    seconds = cpu_fit.seconds(on_cpu, ram_gbs, moe and gpu_gbs is None) if on_cpu else 0.0
    if gpu_gbs is not None:
        seconds += fit.seconds(bytes_read - on_cpu, gpu_gbs, moe) + gpu_work_seconds * (1 - cpu_share)
    return seconds


def k_quant_share(arch: Architecture) -> float:
    """The share of the text weights stored in K-quant types."""
    text = arch.weights_bytes - arch.vision_bytes
    return min(1.0, arch.k_quant_bytes / text) if text > 0 else 0.0


def decode_work_seconds(arch: Architecture, hardware: Hardware) -> float:
    """A token's work per weight on the GPU (DecodeWork), at the GPU's measured or bandwidth-scaled throughput."""
    reference = decode_reference_flops(hardware)
    if not reference:
        return 0.0
    return decode_work().seconds(arch.active_parameters or arch.parameters, k_quant_share(arch), reference)


# The decode fit has no run that drafts: each step reads the weights for one token. A drafting model can emit
# more tokens a step, when its drafts are accepted, at a rate the measurements do not give. The run quoted:
# github.com/hogeheer499-commits/strix-halo-guide, data/raw/2026-08-15/qwen38-27b-ollama-03213-vulkan-radv/README.md
# (nine warm runs at a 4K context: 20.42 tokens/s generating, "with Ollama-default MTP drafting").
DRAFTING_NOTE = (
    "the speed is for one token a step: drafting with the model's multi-token-prediction layers adds the drafts "
    "that are accepted, which no measurement behind the speed model does (a real Ollama 0.32.13 run of qwen3.8:27b, "
    "drafting 4 at a 4K context, decoded 20.4 tokens/s on a Ryzen AI Max+ 395, where the model gives 11)"
)


def decode_speed(arch: Architecture, result: Estimate, hardware: Hardware, first_turn_tokens: int,
                 release: Release) -> tuple[tuple[float, float] | None, float, list[str]]:
    """Tokens/s at the first turn and at a full context, the band (percent), and notes."""
    notes: list[str] = []
    fit, cpu_fit = decode_fit(decode_class(backend_of(hardware), _names(hardware))), decode_fit("cpu")
    gpu_gbs = hardware.memory_bandwidth_gbs if hardware.gpus else None
    if hardware.gpus and gpu_gbs is None:
        return None, fit.band_percent, ["the GPU's memory bandwidth is unknown, so its speed is too"]
    cpu_share = 1.0 if not hardware.gpus else (result.cpu_bytes / result.total_bytes if result.total_bytes else 0.0)
    ram_gbs, ram_note = ram_bandwidth(hardware)
    if cpu_share and ram_note:
        notes.append(ram_note)
    weights, kv_factor = weight_bytes_per_token(arch), kv_read_factor(arch, result, fit)
    first = weights + kv_factor * kv_bytes_read(arch, result, min(first_turn_tokens, result.num_ctx), release)
    full = weights + kv_factor * kv_bytes_read(arch, result, result.num_ctx, release)

    work = decode_work_seconds(arch, hardware) if hardware.gpus else 0.0

    def rate(bytes_read: float) -> float:
        return 1 / decode_seconds(fit, bytes_read, gpu_gbs, cpu_share, cpu_fit, ram_gbs, arch.is_moe, work)

    band = max(fit.band_percent, cpu_fit.band_percent) if 0 < cpu_share < 1 else (cpu_fit if cpu_share else fit).band_percent
    if result.drafting_cache_bytes:
        notes.append(DRAFTING_NOTE)
    return (rate(first), rate(full)), band, notes


def weight_flops(arch: Architecture, tokens: int) -> float:
    """2 FLOPs per active weight per prompt token."""
    return 2.0 * (arch.active_parameters or arch.parameters) * tokens


def pair_flops(width: float, tokens: int, depth: int) -> float:
    """Attention FLOPs of `tokens` new tokens over `depth` cached ones, `width` = heads x head dim summed
    over the layers: each new token at position p scores p keys and sums p values, 2 FLOPs per element each."""
    return 4.0 * width * (tokens * depth + tokens * tokens / 2)


def attention_flops(arch: Architecture, tokens: int, depth: int = 0) -> float:
    """Attention FLOPs to read `tokens` on top of `depth` cached ones (a sliding layer sees at most its window)."""
    width = arch.head_count * (arch.key_length + arch.value_length) / 2
    total = 0.0
    for kind in arch.layers:
        if kind == FULL:
            total += pair_flops(width, tokens, depth)
        elif kind == SLIDING:
            total += 4.0 * width * tokens * min(arch.sliding_window or tokens, depth + tokens)
    return total


@lru_cache(maxsize=64)
def reference_pp512(names: tuple[str, ...], bandwidth_gbs: float | None) -> float | None:
    """llama.cpp's pp512 of LLaMA-2 7B Q4_0 on the device these names describe (data/speed.toml), or None.

    Memoized: recommend asks it for the same machine at every model and context it sizes."""
    rows = [row for row in _facts()["prompt"]["device"] if any(re.search(row["pattern"], name, re.IGNORECASE) for name in names)]
    if bandwidth_gbs:
        exact = [row for row in rows if abs(row.get("bandwidth_gbs", 0) - bandwidth_gbs) < 0.03 * bandwidth_gbs]
        rows = exact or rows
    if not rows:
        return None
    return sum(sum(row["pp512"]) / 2 for row in rows) / len(rows)


def pp512_to_flops(pp512: float) -> float:
    return pp512 * 2 * _facts()["prompt"]["reference_parameters"]


def reference_throughput(hardware: Hardware) -> float | None:
    """FLOP/s of the GPU at llama.cpp's pp512 of LLaMA-2 7B Q4_0 (measured per chip, data/speed.toml)."""
    pp512 = reference_pp512(tuple(_names(hardware)), hardware.memory_bandwidth_gbs)
    return pp512_to_flops(pp512) if pp512 else None


def decode_reference_flops(hardware: Hardware) -> float | None:
    """The GPU's measured prompt throughput, else its bandwidth times its backend's typical pp512 per GB/s
    (data/speed-fit.toml: the median over the measured devices), for decode's work per weight."""
    measured = reference_throughput(hardware)
    if measured or not hardware.memory_bandwidth_gbs:
        return measured
    per_gbs = _fit()["decode_work"]["pp512_per_gbs"]
    return pp512_to_flops(per_gbs.get(backend_of(hardware), per_gbs[POOLED]) * hardware.memory_bandwidth_gbs)


def cpu_throughput(hardware: Hardware) -> float:
    """FLOP/s of the CPU's cores in prompt processing (measured GFLOPS per core, data/speed.toml)."""
    return max(1, hardware.cpu.cores) * _facts()["prompt"]["cpu_gflops_per_core"] * 1e9


def prompt_seconds(arch: Architecture, hardware: Hardware, tokens: int, on_gpu: bool) -> tuple[float | None, float]:
    """Seconds to read a `tokens`-long prompt into an empty cache, and the band (percent)."""
    backend = backend_of(hardware) if on_gpu else "cpu"
    fit = prefill_fit(backend)
    reference = reference_throughput(hardware) if on_gpu else cpu_throughput(hardware)
    if reference is None:
        return None, fit.band_percent
    return fit.seconds(weight_flops(arch, tokens), attention_flops(arch, tokens), reference, arch.is_moe), fit.band_percent


def format_rate(tokens_per_second: float) -> str:
    """Tokens/s: whole numbers from 10 up, one decimal below."""
    return f"{tokens_per_second:.0f}" if tokens_per_second >= 10 else f"{tokens_per_second:.1f}"


def format_decode(speed: Speed) -> str:
    """`42 -> 31 ±15%`: tokens/s at the first turn, then with the context full; `(measured)` when verify timed it."""
    if speed.first_turn is None:
        return "?"
    full = format_rate(speed.full_context) if speed.full_context is not None else "?"
    text = f"{format_rate(speed.first_turn)} -> {full} ±{speed.band_percent:.0f}%"
    return text + (" (measured)" if speed.source == "measured" else "")


def format_prompt_time(speed: Speed) -> str:
    """The opening prompt's reading time, with its band."""
    seconds = speed.opening_prompt_seconds
    if seconds is None:
        return "?"
    return (f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min") + f" ±{speed.prompt_band_percent:.0f}%"


def speed(arch: Architecture, result: Estimate, hardware: Hardware, release: Release) -> Speed:
    """Decode speed and opening-prompt time for `arch` loaded as `result` on `hardware`.

    A speed `fitadvisor verify` measured on this machine (`result.measured_speed`) replaces the model's: its decode rate is the
    first turn's, the model's slowdown carries it to a full context, and its prompt rate scales the
    model's prompt time.
    """
    opening = opening_prompt_tokens()
    decode, band, notes = decode_speed(arch, result, hardware, opening, release)
    on_gpu = bool(hardware.gpus) and result.gpu_bytes > 0
    seconds, prompt_band = prompt_seconds(arch, hardware, opening, on_gpu)
    if seconds is None:
        notes.append("no prompt-processing measurement for this GPU: the time to read the opening prompt is unknown")
    first, full = decode or (None, None)
    source = "model"
    measured = result.measured_speed
    if measured is not None:
        source = "measured"
        notes.append(
            f"measured by `fitadvisor verify` on {measured.date}: {measured.decode_tokens_per_second:.1f} tokens/s decoding, "
            f"{measured.prompt_tokens_per_second:.0f} tokens/s reading a prompt"
        )
        if first is not None and full is not None:
            full = measured.decode_tokens_per_second * full / first
        first = measured.decode_tokens_per_second
        if seconds is not None and measured.prompt_tokens_per_second > 0:
            modelled_time, _ = prompt_seconds(arch, hardware, measured.prompt_tokens, on_gpu)
            if modelled_time:
                seconds *= (measured.prompt_tokens / modelled_time) / measured.prompt_tokens_per_second
    return Speed(first, full, band, seconds, prompt_band, source, backend_of(hardware), tuple(notes))

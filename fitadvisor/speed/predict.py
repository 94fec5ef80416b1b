"""How fast a loaded model will answer: decode tokens/s and the time to read Claude Code's opening prompt.

Decode is memory-bandwidth bound: every token reads the active weights and the KV cache filled so
far, so seconds per token = bytes / (eta x bandwidth), plus MoE routing overhead. Prompt processing is
compute bound: 2 FLOPs per active parameter per token plus attention, at a throughput measured on
the same device (llama.cpp's pp512 scoreboards). Facts and their sources are in data/speed.toml.
Every result is a range: the spread of measured efficiencies, never one falsely precise number.
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


@dataclass(frozen=True)
class Span:
    """A range of plausible values, low to high."""

    low: float
    high: float

    def __mul__(self, factor: float) -> Span:
        return Span(self.low * factor, self.high * factor)

    def to_dict(self, digits: int = 1) -> dict:
        return {"low": round(self.low, digits), "high": round(self.high, digits)}


@dataclass(frozen=True)
class Speed:
    """What a user will feel: tokens/s while answering, and the wait before the first one."""

    decode: Span | None  # tokens/s: low = a full context on the slow end, high = the first turn on the fast end
    prompt_seconds: Span | None  # reading the opening prompt from an empty cache
    device: str  # the class whose efficiencies were used
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "tokens_per_second": self.decode.to_dict() if self.decode else None,
            "prompt_seconds": self.prompt_seconds.to_dict(0) if self.prompt_seconds else None,
            "device_class": self.device,
            "notes": list(self.notes),
        }


@lru_cache(maxsize=1)
def _facts() -> dict:
    return read_toml("speed.toml")


def _names(hardware: Hardware) -> list[str]:
    """The names to match device tables against: the system chip first, then each GPU."""
    return [name for name in (hardware.chip, *(gpu.name for gpu in hardware.gpus)) if name]


def decode_class(hardware: Hardware) -> tuple[str, Span]:
    """The efficiency class of the device the model is read from, and its eta range."""
    if not hardware.gpus:
        return "CPU", Span(*_facts()["decode"]["cpu_eta"])
    for entry in _facts()["decode"]["class"]:
        if any(re.search(entry["pattern"], name, re.IGNORECASE) for name in _names(hardware)) or entry["pattern"] == ".":
            return entry["name"], Span(*entry["eta"])
    raise AssertionError("speed.toml needs a catch-all decode class")


def ram_bandwidth(hardware: Hardware) -> tuple[Span, bool]:
    """Bandwidth of the RAM the CPU reads from, and whether it is an assumption rather than probed."""
    if hardware.ram_bandwidth_gbs:
        return Span(hardware.ram_bandwidth_gbs, hardware.ram_bandwidth_gbs), False
    return Span(*_facts()["decode"]["assumed_ram_bandwidth_gbs"]), True


def weight_bytes_per_token(arch: Architecture) -> float:
    """Weight bytes read per generated token.

    Only one row of an untied token-embedding table is read; an MoE model reads its shared weights
    and the experts it routes to, i.e. its active-parameter share of the file.
    """
    read = arch.weights_bytes - (0 if arch.tied_embeddings else arch.token_embedding_bytes)
    if arch.is_moe and arch.parameters and arch.active_parameters:
        read *= arch.active_parameters / arch.parameters
    return read


def kv_bytes_read(arch: Architecture, result: Estimate, tokens: int, release: Release) -> int:
    """KV cache (and recurrent state) read per token once `tokens` are in the context."""
    return kv_cache_bytes(arch, max(1, tokens), 1, result.kv_cache_type, result.batch, release, result.engine)


def decode_speed(arch: Architecture, result: Estimate, hardware: Hardware, first_turn_tokens: int, release: Release) -> tuple[Span | None, str, list[str]]:
    """Tokens/s from the first turn (`first_turn_tokens` in the cache) to a full context."""
    facts = _facts()["decode"]
    notes: list[str] = []
    device, eta = decode_class(hardware)
    weights = weight_bytes_per_token(arch)
    fast_bytes = weights + kv_bytes_read(arch, result, min(first_turn_tokens, result.num_ctx), release)
    slow_bytes = weights + kv_bytes_read(arch, result, result.num_ctx, release)
    cpu_share = result.cpu_bytes / result.total_bytes if (hardware.gpus and result.total_bytes) else 0.0
    ram, assumed = ram_bandwidth(hardware)
    cpu_eta = Span(*facts["cpu_eta"])

    gpu_bw = hardware.memory_bandwidth_gbs if hardware.gpus else None
    if hardware.gpus and gpu_bw is None:
        return None, device, ["the GPU's memory bandwidth is unknown, so its speed is too"]
    overhead = Span(*facts["moe_extra_ms"]) * 1e-3 if arch.is_moe else Span(0.0, 0.0)
    if (not hardware.gpus or cpu_share) and assumed:
        notes.append(f"RAM bandwidth unknown: assumed {ram.low:g}-{ram.high:g} GB/s (dual-channel DDR4/DDR5)")

    def seconds(bytes_read: float, gpu_eta: float, ram_gbs: float, ram_eta: float, extra: float) -> float:
        on_cpu = bytes_read * (1.0 if not hardware.gpus else cpu_share)
        on_gpu = bytes_read - on_cpu
        time = on_cpu / (ram_eta * ram_gbs * 1e9) + extra
        if on_gpu:
            time += on_gpu / (gpu_eta * gpu_bw * 1e9)
        return time

    low = 1 / seconds(slow_bytes, eta.low, ram.low, cpu_eta.low, overhead.high)
    high = 1 / seconds(fast_bytes, eta.high, ram.high, cpu_eta.high, overhead.low)
    return Span(low, high), device, notes


def prompt_flops(arch: Architecture, tokens: int) -> float:
    """FLOPs to read `tokens` of prompt into an empty cache: 2 per active weight per token, plus attention.

    Attention at depth d costs 2·d·heads·(key_length + value_length) per layer; summed over the prompt
    that is tokens²·heads·(k + v) per full-attention layer, and tokens·window·2·heads·(k + v) per
    sliding-window layer.
    """
    active = arch.active_parameters or arch.parameters
    weights = 2.0 * active * tokens
    per_depth = 2.0 * arch.head_count * (arch.key_length + arch.value_length)
    attention = 0.0
    for kind in arch.layers:
        if kind == FULL:
            attention += per_depth * tokens * tokens / 2
        elif kind == SLIDING:
            window = min(arch.sliding_window or tokens, tokens)
            attention += per_depth * tokens * window
    return weights + attention


def prompt_throughput(hardware: Hardware, on_gpu: bool) -> tuple[Span | None, str | None]:
    """Effective prompt FLOP/s of the device that does the work, and where that figure comes from."""
    facts = _facts()["prompt"]
    if not on_gpu:
        cores = max(1, hardware.cpu.cores)
        per_core = Span(*facts["cpu_gflops_per_core"])
        return per_core * (cores * 1e9), f"{cores} CPU cores"
    rows = [
        row for row in facts["device"]
        if any(re.search(row["pattern"], name, re.IGNORECASE) for name in _names(hardware))
    ]
    if hardware.memory_bandwidth_gbs:
        exact = [row for row in rows if abs(row.get("bandwidth_gbs", 0) - hardware.memory_bandwidth_gbs) < 0.03 * hardware.memory_bandwidth_gbs]
        rows = exact or rows
    if not rows:
        return None, None
    low = min(row["pp512"][0] for row in rows)
    high = max(row["pp512"][1] for row in rows)
    per_token = 2 * facts["reference_parameters"]
    return Span(low * per_token, high * per_token), "measured pp512"


def prompt_seconds(arch: Architecture, hardware: Hardware, tokens: Span, on_gpu: bool) -> Span | None:
    """Seconds to process an opening prompt of `tokens` (a range of prompt sizes)."""
    facts = _facts()["prompt"]
    throughput, _ = prompt_throughput(hardware, on_gpu)
    if throughput is None:
        return None
    efficiency = Span(*(facts["moe_efficiency"] if arch.is_moe else facts["dense_efficiency"]))
    fast = prompt_flops(arch, int(tokens.low)) / (throughput.high * efficiency.high)
    slow = prompt_flops(arch, int(tokens.high)) / (throughput.low * efficiency.low)
    return Span(fast, slow)


def speed(arch: Architecture, result: Estimate, hardware: Hardware, prompt_tokens: Span, release: Release) -> Speed:
    """Decode speed and opening-prompt time for `arch` loaded as `result` on `hardware`."""
    decode, device, notes = decode_speed(arch, result, hardware, int(prompt_tokens.low), release)
    on_gpu = bool(hardware.gpus) and result.gpu_bytes > 0
    prompt = prompt_seconds(arch, hardware, prompt_tokens, on_gpu)
    if prompt is None:
        notes.append("no prompt-processing measurement for this GPU: the time to read the opening prompt is unknown")
    return Speed(decode, prompt, device, tuple(notes))

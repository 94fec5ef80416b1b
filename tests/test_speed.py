"""The speed model against published llama.cpp measurements (shared/reference/hardware.md §6)."""

from dataclasses import replace

import pytest

from fitadvisor.hardware.machine import Cpu, Gpu, Hardware
from fitadvisor.memory.estimate import Settings, estimate
from fitadvisor.memory.releases import Release
from fitadvisor.models import catalog
from fitadvisor.models.architecture import Architecture
from fitadvisor.speed.predict import (
    Span,
    decode_speed,
    kv_bytes_read,
    prompt_flops,
    prompt_seconds,
    speed,
    weight_bytes_per_token,
)
from fitadvisor.units import GIB

RELEASE = Release.of(None)


def gpu_machine(name: str, bandwidth: float, vram_gib: int = 80, vendor: str = "nvidia", library: str = "cuda") -> Hardware:
    gpu = Gpu(vendor, name, vram_gib * GIB, library=library)
    return Hardware("linux", None, Cpu("cpu", 8, 16), 64 * GIB, 60 * GIB, False, (gpu,), bandwidth)


def apple(chip: str, bandwidth: float, ram_gib: int = 64) -> Hardware:
    gpu = Gpu("apple", chip, int(ram_gib * GIB * 0.75), library="metal")
    return Hardware("darwin", chip, Cpu(chip, 12, 12), ram_gib * GIB, ram_gib * GIB, True, (gpu,), bandwidth)


def cpu_only(cores: int, bandwidth: float | None) -> Hardware:
    return Hardware("linux", None, Cpu("cpu", cores, cores), 64 * GIB, 60 * GIB, False, (), bandwidth, ram_bandwidth_gbs=bandwidth)


# LLaMA-2 7B Q4_0, the model every scoreboard row ran (3.56 GiB file, 6.74B parameters).
LLAMA2_7B = Architecture(
    name="llama", block_count=32, embedding_length=4096, head_count=32, head_count_kv=32, key_length=128,
    value_length=128, context_length=4096, layers="A" * 32, weights_bytes=int(3.56 * GIB), vocab_size=32000,
    feed_forward_length=11008, token_embedding_bytes=int(32000 * 4096 * 0.5625), parameters=6_740_000_000,
    active_parameters=6_740_000_000,
)


def decode_range(arch: Architecture, hardware: Hardware, ctx: int = 256) -> Span:
    result = estimate(arch, Settings(num_ctx=ctx, release=RELEASE), hardware)
    span, _, _ = decode_speed(arch, result, hardware, 128, RELEASE)
    return span


def near(measured: float, span: Span, tolerance: float) -> bool:
    return span.low * (1 - tolerance) <= measured <= span.high * (1 + tolerance)


@pytest.mark.parametrize(
    "hardware, measured",
    [
        (apple("Apple M4 Pro", 273), 50.74),
        (apple("Apple M2", 102.4, 16), 21.91),
        (apple("Apple M4 Max", 546, 128), 83.06),
        (apple("Apple M2 Ultra", 800, 192), 94.27),
        (gpu_machine("NVIDIA GeForce RTX 4090", 1008, 24), 186.21),
        (gpu_machine("NVIDIA GeForce RTX 3060", 360, 12), 75.57),
        (gpu_machine("AMD Radeon RX 7900 XTX", 960, 24, "amd", "rocm"), 182.63),
    ],
)
def test_dense_decode_range_covers_the_scoreboards(hardware, measured):
    """tg128 of LLaMA-2 7B Q4_0 from llama.cpp discussions 4167, 15013 and 10879."""
    assert near(measured, decode_range(LLAMA2_7B, hardware), 0.05)


@pytest.mark.parametrize(
    "hardware, measured",
    [
        (gpu_machine("NVIDIA GeForce RTX 4090", 1008, 24), 225.22),
        (gpu_machine("NVIDIA GeForce RTX 3090", 936, 24), 161.77),
        (apple("Apple M1 Pro", 204.8, 32), 45.68),
        (apple("Apple M4 Max", 410, 36), 92.36),
    ],
)
def test_moe_decode_reads_only_the_active_experts(hardware, measured):
    """gpt-oss-20b tg128 (llama.cpp discussion 15396): a 14 GB file decoding like a 2-3 GB one."""
    arch = catalog.resolve("gpt-oss:20b").architecture
    span = decode_range(arch, hardware)
    assert near(measured, span, 0.25)
    dense = replace(arch, active_parameters=arch.parameters)
    assert decode_range(dense, hardware).high < span.low  # reading every expert would be far slower


def test_the_kv_cache_read_slows_long_contexts_as_measured():
    """DGX Spark, Qwen3-Coder-30B-A3B Q8_0: tg32 60.92 at depth 0, 30.80 at 32K (a 1.98x slowdown)."""
    arch = replace(catalog.resolve("qwen3-coder:30b").architecture, weights_bytes=int(30.25 * GIB))
    spark = Hardware("linux", None, Cpu("GB10", 20, 20), 128 * GIB, 120 * GIB, True,
                     (Gpu("nvidia", "NVIDIA GB10", 120 * GIB, library="cuda"),), 273)
    result = estimate(arch, Settings(num_ctx=32768, release=RELEASE), spark)
    weights = weight_bytes_per_token(arch)
    slowdown = (weights + kv_bytes_read(arch, result, 32768, RELEASE)) / (weights + kv_bytes_read(arch, result, 1, RELEASE))
    assert 1.98 / 1.1 < slowdown < 1.98 * 1.1
    full_context, _, _ = decode_speed(arch, result, spark, 1, RELEASE)
    assert near(60.92, decode_range(arch, spark), 0.1)
    assert abs(full_context.low - 30.80) < 0.2 * 30.80  # the slow end: a full 32K context


def test_weights_read_per_token():
    dense = LLAMA2_7B
    assert weight_bytes_per_token(dense) == dense.weights_bytes - dense.token_embedding_bytes  # one embedding row read
    assert weight_bytes_per_token(replace(dense, tied_embeddings=True)) == dense.weights_bytes  # the table is the output layer
    moe = catalog.resolve("qwen3-coder:30b").architecture
    share = moe.active_parameters / moe.parameters
    assert weight_bytes_per_token(moe) == pytest.approx((moe.weights_bytes - moe.token_embedding_bytes) * share)


def test_prompt_flops_are_weights_plus_attention():
    no_attention = replace(LLAMA2_7B, layers="-" * 32)
    assert prompt_flops(no_attention, 1000) == 2 * 6.74e9 * 1000
    one_k = prompt_flops(LLAMA2_7B, 1000) - prompt_flops(no_attention, 1000)
    two_k = prompt_flops(LLAMA2_7B, 2000) - prompt_flops(no_attention, 2000)
    assert two_k == pytest.approx(4 * one_k)  # attention grows with the square of the prompt
    sliding = replace(LLAMA2_7B, layers="S" * 32, sliding_window=500)
    assert prompt_flops(sliding, 4000) - prompt_flops(no_attention, 4000) == pytest.approx(
        2 * (prompt_flops(sliding, 2000) - prompt_flops(no_attention, 2000))  # linear past the window
    )


def tokens_per_second(arch: Architecture, hardware: Hardware, tokens: int, on_gpu: bool = True) -> Span:
    seconds = prompt_seconds(arch, hardware, Span(tokens, tokens), on_gpu)
    return Span(tokens / seconds.high, tokens / seconds.low)


@pytest.mark.parametrize(
    "model, hardware, tokens, measured",
    [
        ("qwen3:30b", apple("Apple M1 Max", 409.6, 32), 512, 618.64),  # Q4_K_M pp512, raw llama-bench output
        ("gpt-oss:20b", gpu_machine("NVIDIA DGX Spark GB10", 273, 120), 2048, 3782.76),  # benches/dgx-spark.md
        ("gpt-oss:120b", gpu_machine("NVIDIA DGX Spark GB10", 273, 120), 2048, 1937.54),
    ],
)
def test_moe_prompt_processing_against_measurements(model, hardware, tokens, measured):
    assert near(measured, tokens_per_second(catalog.resolve(model).architecture, hardware, tokens), 0.05)


def test_cpu_prompt_processing_scales_with_cores():
    """i7-8700, 6 cores: LLaMA 7B Q4_K_M pp512 19.83 tokens/s; 7950X, 16 cores: LLaMA-3.1-8B Q4_0 123.46."""
    assert near(19.83, tokens_per_second(LLAMA2_7B, cpu_only(6, 41.6), 512, on_gpu=False), 0.05)
    llama3_8b = replace(LLAMA2_7B, parameters=8_030_000_000, active_parameters=8_030_000_000)
    assert near(123.46, tokens_per_second(llama3_8b, cpu_only(16, 83.2), 512, on_gpu=False), 0.05)


def test_unknown_gpu_gives_no_false_numbers():
    hardware = gpu_machine("GPU", None, 24)
    result = estimate(LLAMA2_7B, Settings(num_ctx=4096, release=RELEASE), hardware)
    measured = speed(LLAMA2_7B, result, hardware, Span(18200, 24100), RELEASE)
    assert measured.decode is None and measured.prompt_seconds is None
    assert any("bandwidth" in note for note in measured.notes)


def test_cpu_only_with_unknown_ram_bandwidth_assumes_a_stated_range():
    hardware = cpu_only(8, None)
    result = estimate(LLAMA2_7B, Settings(num_ctx=4096, release=RELEASE), hardware)
    measured = speed(LLAMA2_7B, result, hardware, Span(18200, 24100), RELEASE)
    assert measured.decode.low < measured.decode.high < 30
    assert any("assumed" in note for note in measured.notes)


def test_a_model_spilling_to_ram_decodes_slower():
    arch = catalog.resolve("devstral-small-2").architecture
    big, small = gpu_machine("NVIDIA GeForce RTX 4090", 1008, 48), gpu_machine("NVIDIA GeForce RTX 4090", 1008, 16)
    fits = estimate(arch, Settings(num_ctx=32768, release=RELEASE), big)
    spills = estimate(arch, Settings(num_ctx=32768, release=RELEASE), small)
    assert fits.cpu_bytes == 0 < spills.cpu_bytes
    fast, _, _ = decode_speed(arch, fits, big, 20000, RELEASE)
    slow, _, _ = decode_speed(arch, spills, small, 20000, RELEASE)
    assert slow.high < fast.low / 2

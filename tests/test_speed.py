"""The speed model's structure, checked by hand: bandwidth-bound decode with a fixed cost per token,
MoE active share, KV growth, no vision bytes, prompt FLOPs, and measured speed in place of the model.
How well it matches published measurements is bench/speed.py's job, not these tests'."""

import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from fitadvisor.cli import cli
from fitadvisor.hardware.machine import Cpu, Gpu, Hardware
from fitadvisor.memory.calibration import MeasuredSpeed
from fitadvisor.memory.estimate import Settings, estimate
from fitadvisor.memory.releases import Release
from fitadvisor.models import catalog
from fitadvisor.models.architecture import Architecture
from fitadvisor.speed import predict
from fitadvisor.speed.predict import (
    BACKENDS,
    POOLED,
    DecodeFit,
    DecodeWork,
    PrefillFit,
    attention_flops,
    decode_fit,
    decode_speed,
    decode_work_seconds,
    kv_bytes_read,
    opening_prompt_tokens,
    pair_flops,
    prompt_seconds,
    speed,
    weight_bytes_per_token,
    weight_flops,
)
from fitadvisor.units import GIB

RELEASE = Release.of(None)


def gpu_machine(name: str, bandwidth: float | None, vram_gib: int = 80, vendor: str = "nvidia", library: str = "cuda") -> Hardware:
    gpu = Gpu(vendor, name, vram_gib * GIB, library=library)
    return Hardware("linux", None, Cpu("cpu", 8, 16), 64 * GIB, 60 * GIB, False, (gpu,), bandwidth, ram_bandwidth_gbs=80.0)


def apple(chip: str, bandwidth: float, ram_gib: int = 64) -> Hardware:
    gpu = Gpu("apple", chip, int(ram_gib * GIB * 0.75), library="metal")
    return Hardware("darwin", chip, Cpu(chip, 12, 12), ram_gib * GIB, ram_gib * GIB, True, (gpu,), bandwidth)


def cpu_only(cores: int, bandwidth: float | None, name: str = "cpu") -> Hardware:
    return Hardware("linux", None, Cpu(name, cores, cores), 64 * GIB, 60 * GIB, False, (), bandwidth, ram_bandwidth_gbs=bandwidth)


# LLaMA-2 7B Q4_0 (3.56 GiB file, 6.74B parameters, 32 full-attention layers of 32 heads of 128).
LLAMA2_7B = Architecture(
    name="llama", block_count=32, embedding_length=4096, head_count=32, head_count_kv=32, key_length=128,
    value_length=128, context_length=4096, layers="A" * 32, weights_bytes=int(3.56 * GIB), vocab_size=32000,
    feed_forward_length=11008, token_embedding_bytes=int(32000 * 4096 * 0.5625), parameters=6_740_000_000,
    active_parameters=6_740_000_000,
)


def loaded(arch: Architecture, hardware: Hardware, ctx: int = 4096, flash_attention: str = "on"):
    return estimate(arch, Settings(num_ctx=ctx, flash_attention=flash_attention, release=RELEASE), hardware)


def test_decode_time_is_bytes_over_bandwidth_plus_a_fixed_cost():
    fit = DecodeFit(eta=0.8, t0_ms=1.0, moe_ms=2.0, kv_without_flash_attention=1.0, band_percent=10)
    assert fit.seconds(8e9, 100, moe=False) == pytest.approx(8e9 / (0.8 * 100e9) + 0.001)  # 0.101 s
    assert fit.seconds(8e9, 100, moe=True) == pytest.approx(0.103)  # routing adds its own time
    # Twice the bandwidth halves only the bandwidth part: a fast chip is held back by t0.
    assert fit.seconds(8e9, 200, moe=False) == pytest.approx(0.05 + 0.001)


def test_first_turn_and_full_context_by_hand():
    """An RTX 4090 (1008 GB/s): weights, plus the cache at the opening prompt and at the whole context."""
    hardware = gpu_machine("NVIDIA GeForce RTX 4090", 1008, 24)
    result = loaded(LLAMA2_7B, hardware)
    fit = decode_fit("cuda")
    weights = weight_bytes_per_token(LLAMA2_7B)
    (first, full), band, _ = decode_speed(LLAMA2_7B, result, hardware, 2048, RELEASE)
    cache_at = {n: 32 * 32 * 128 * 2 * 2 * n for n in (2048, 4096)}  # f16 K and V, every layer: 512 KiB a token
    assert kv_bytes_read(LLAMA2_7B, result, 2048, RELEASE) == cache_at[2048]
    work = decode_work_seconds(LLAMA2_7B, hardware)
    assert first == pytest.approx(1 / (fit.seconds(weights + cache_at[2048], 1008, False) + work))
    assert full == pytest.approx(1 / (fit.seconds(weights + cache_at[4096], 1008, False) + work))
    assert full < first and band == fit.band_percent


def test_without_flash_attention_the_cache_costs_per_query_head():
    hardware = gpu_machine("NVIDIA GeForce RTX 4090", 1008, 24)
    gqa = replace(LLAMA2_7B, head_count_kv=8)  # 4 query heads per KV head
    fit = decode_fit("cuda")
    on, _, _ = decode_speed(gqa, loaded(gqa, hardware, flash_attention="on"), hardware, 4096, RELEASE)
    off_result = loaded(gqa, hardware, flash_attention="off")
    off, _, _ = decode_speed(gqa, off_result, hardware, 4096, RELEASE)
    cache = kv_bytes_read(gqa, off_result, 4096, RELEASE)
    expected = weight_bytes_per_token(gqa) + 4 * fit.kv_without_flash_attention * cache
    assert off[1] == pytest.approx(1 / (fit.seconds(expected, 1008, False) + decode_work_seconds(gqa, hardware)))
    assert off[1] < on[1]


def test_moe_reads_its_active_share_and_no_vision_tower():
    moe = catalog.resolve("qwen3-coder:30b").architecture
    share = moe.active_parameters / moe.parameters
    assert weight_bytes_per_token(moe) == pytest.approx((moe.weights_bytes - moe.token_embedding_bytes) * share)
    assert weight_bytes_per_token(replace(LLAMA2_7B, tied_embeddings=True)) == LLAMA2_7B.weights_bytes  # the table is the output layer
    with_vision = replace(LLAMA2_7B, weights_bytes=LLAMA2_7B.weights_bytes + 400_000_000, vision_bytes=400_000_000, vision=True)
    assert weight_bytes_per_token(with_vision) == weight_bytes_per_token(LLAMA2_7B)


def test_moe_pays_its_routing_cost_on_top_of_its_bytes():
    hardware = apple("Apple M4 Pro", 273, 48)
    arch = catalog.resolve("gpt-oss:20b").architecture
    (first, _), _, _ = decode_speed(arch, loaded(arch, hardware), hardware, 1, RELEASE)
    fit = decode_fit("metal")
    bytes_read = weight_bytes_per_token(arch) + kv_bytes_read(arch, loaded(arch, hardware), 1, RELEASE)
    work = decode_work_seconds(arch, hardware)
    assert 1 / first == pytest.approx(fit.seconds(bytes_read, 273, False) + fit.moe_ms / 1e3 + work)
    dense = replace(arch, active_parameters=arch.parameters)
    (dense_first, _), _, _ = decode_speed(dense, loaded(dense, hardware), hardware, 1, RELEASE)
    assert dense_first < first / 3  # reading every expert would be far slower


def test_decode_work_per_weight_by_hand():
    """An RTX 4090: pp512 of LLaMA-2 7B is 11992.70 tokens/s, so a 7B model's plain weights take
    `plain` x 2 x 6.74e9 FLOPs at 11992.70 x 2 x 6.74e9 FLOP/s a token; K-quants cost `k_quant` instead."""
    work = DecodeWork(plain=1.5, k_quant=3.0)
    assert work.seconds(6.74e9, 0.0, 11992.70 * 2 * 6.74e9) == pytest.approx(1.5 / 11992.70)
    assert work.seconds(6.74e9, 1.0, 1e12) == pytest.approx(2 * work.seconds(6.74e9, 0.0, 1e12))
    assert work.seconds(6.74e9, 0.5, 1e12) == pytest.approx(2.25 * 2 * 6.74e9 / 1e12)
    fitted = predict.decode_work()
    assert fitted.k_quant > fitted.plain > 0  # as the measurements fitted them (bench/speed.py --fit)
    rtx_4090 = gpu_machine("NVIDIA GeForce RTX 4090", 1008, 24)
    assert decode_work_seconds(LLAMA2_7B, rtx_4090) == pytest.approx(fitted.plain / 11992.70)
    k_quants = replace(LLAMA2_7B, k_quant_bytes=LLAMA2_7B.weights_bytes)
    assert decode_work_seconds(k_quants, rtx_4090) == pytest.approx(fitted.k_quant / 11992.70)


def test_decode_work_on_a_gpu_without_a_prompt_measurement_scales_with_its_bandwidth():
    """No pp512 for an RTX 3080 Ti in data/speed.toml: its bandwidth times CUDA's median pp512 per GB/s."""
    hardware = gpu_machine("NVIDIA GeForce RTX 3080 Ti", 912, 12)
    assert predict.reference_throughput(hardware) is None
    per_gbs = predict._fit()["decode_work"]["pp512_per_gbs"]["cuda"]
    assert decode_work_seconds(LLAMA2_7B, hardware) == pytest.approx(predict.decode_work().plain / (per_gbs * 912))
    assert decode_work_seconds(LLAMA2_7B, gpu_machine("GPU", None, 24)) == 0.0  # nothing to scale


def test_k_quant_share_comes_from_the_tensor_types():
    devstral = catalog.resolve("devstral-small-2").architecture  # Q4_K_M: Q4_K and Q6_K, an F32 norm or two
    assert 0.9 < predict.k_quant_share(devstral) <= 1.0
    assert predict.k_quant_share(catalog.resolve("gpt-oss:20b").architecture) == 0.0  # MXFP4
    assert predict.k_quant_share(catalog.resolve("qwen3-coder:30b-a3b-q8_0").architecture) == 0.0


def test_device_classes_and_backends_have_their_own_fits():
    assert {*BACKENDS, POOLED} <= set(predict._fit()["decode"])
    assert predict.decode_class("metal", ["Apple M2 Ultra"]) == "metal-ultra"
    assert predict.decode_class("metal", ["Apple M4 Max"]) == "metal-max"
    assert predict.decode_class("metal", ["Apple M4 Pro"]) == "metal"
    assert predict.decode_class("cpu", ["Apple M4 Max"]) == "cpu"
    assert decode_fit("no-such-backend") == decode_fit(POOLED)
    ultra = apple("Apple M2 Ultra", 800, 192)
    assert predict.backend_of(ultra) == "metal" and predict.backend_of(cpu_only(8, 80)) == "cpu"


def test_layers_left_on_the_cpu_are_read_at_ram_speed():
    arch = catalog.resolve("devstral-small-2").architecture
    big, small = gpu_machine("NVIDIA GeForce RTX 4090", 1008, 48), gpu_machine("NVIDIA GeForce RTX 4090", 1008, 16)
    fits, spills = loaded(arch, big, 32768), loaded(arch, small, 32768)
    assert fits.cpu_bytes == 0 < spills.cpu_bytes
    (fast, _), _, _ = decode_speed(arch, fits, big, 20000, RELEASE)
    (slow, _), _, _ = decode_speed(arch, spills, small, 20000, RELEASE)
    share = spills.cpu_bytes / spills.total_bytes
    read = weight_bytes_per_token(arch) + kv_bytes_read(arch, spills, 20000, RELEASE)
    gpu_work = decode_work_seconds(arch, small) * (1 - share)  # the CPU's layers do their work on the CPU's fit
    expected = (decode_fit("cuda").seconds(read * (1 - share), 1008, False) + gpu_work
                + decode_fit("cpu").seconds(read * share, 80.0, False))
    assert 1 / slow == pytest.approx(expected)
    assert slow < fast / 2


def test_cpu_only_with_unknown_ram_assumes_one_stated_bandwidth():
    hardware = cpu_only(8, None)
    result = loaded(LLAMA2_7B, hardware)
    (first, _), _, notes = decode_speed(LLAMA2_7B, result, hardware, 1, RELEASE)
    assumed = predict._facts()["decode"]["assumed_ram_bandwidth_gbs"]
    read = weight_bytes_per_token(LLAMA2_7B) + kv_bytes_read(LLAMA2_7B, result, 1, RELEASE)
    assert 1 / first == pytest.approx(decode_fit("cpu").seconds(read, assumed, False))
    assert any("assumed" in note for note in notes)


def test_ryzen_ai_max_cpu_reads_slower_than_its_bus():
    hardware = cpu_only(16, 256, name="AMD RYZEN AI MAX+ 395 w/ Radeon 8060S")
    result = loaded(LLAMA2_7B, hardware)
    (first, _), _, notes = decode_speed(LLAMA2_7B, result, hardware, 1, RELEASE)
    read = weight_bytes_per_token(LLAMA2_7B) + kv_bytes_read(LLAMA2_7B, result, 1, RELEASE)
    assert first == pytest.approx(100e9 / read, rel=1e-6)  # ~100 GB/s as the CPU really reads, not 256
    assert any("less than its memory bus" in note for note in notes)


def test_unknown_gpu_gives_no_false_numbers():
    hardware = gpu_machine("GPU", None, 24)
    measured = speed(LLAMA2_7B, loaded(LLAMA2_7B, hardware), hardware, RELEASE)
    assert measured.decode is None and measured.prompt_seconds is None
    assert measured.to_dict()["decode_tokens_per_second"] is None
    assert any("bandwidth" in note for note in measured.notes)


def test_prompt_flops_are_weights_plus_attention_by_hand():
    assert weight_flops(LLAMA2_7B, 1000) == 2 * 6.74e9 * 1000
    width = 32 * 128  # heads x head dim, per layer
    assert attention_flops(LLAMA2_7B, 1000) == pytest.approx(32 * 4 * width * 1000 * 1000 / 2)
    assert attention_flops(LLAMA2_7B, 1000, depth=500) == pytest.approx(pair_flops(32 * width, 1000, 500))
    assert attention_flops(LLAMA2_7B, 2000) == pytest.approx(4 * attention_flops(LLAMA2_7B, 1000))  # the square of the prompt
    sliding = replace(LLAMA2_7B, layers="S" * 32, sliding_window=500)
    assert attention_flops(sliding, 4000) == pytest.approx(2 * attention_flops(sliding, 2000))  # linear past the window


def test_prompt_seconds_by_hand():
    """An M4 Max (546 GB/s bin): its pp512 of LLaMA-2 7B is 885.68 tokens/s, i.e. 885.68 x 2 x 6.74e9 FLOP/s."""
    hardware = apple("Apple M4 Max", 546, 128)
    fit = predict.prefill_fit("metal")
    seconds, band = prompt_seconds(LLAMA2_7B, hardware, 24000, on_gpu=True)
    reference = 885.68 * 2 * 6.74e9
    expected = (fit.weights_factor * weight_flops(LLAMA2_7B, 24000) + fit.attention_factor * attention_flops(LLAMA2_7B, 24000)) / reference
    assert seconds == pytest.approx(expected) and band == fit.band_percent
    moe = PrefillFit(1.0, 1.0, 2.0, 10)
    assert moe.seconds(1e12, 0, 1e12, moe=True) == 2 * moe.seconds(1e12, 0, 1e12, moe=False)


def test_cpu_prompt_processing_scales_with_cores():
    one, _ = prompt_seconds(LLAMA2_7B, cpu_only(4, 80), 1000, on_gpu=False)
    two, _ = prompt_seconds(LLAMA2_7B, cpu_only(8, 80), 1000, on_gpu=False)
    assert one == pytest.approx(2 * two)


def test_measured_speed_takes_the_models_place():
    hardware = gpu_machine("NVIDIA GeForce RTX 4090", 1008, 24)
    result = loaded(LLAMA2_7B, hardware)
    model = speed(LLAMA2_7B, result, hardware, RELEASE)
    result.measured_speed = MeasuredSpeed(150.0, 4000.0, 1000, "2026-12-01")
    measured = speed(LLAMA2_7B, result, hardware, RELEASE)
    assert model.source == "model" and measured.source == "measured"
    assert measured.first_turn == 150.0
    assert measured.full_context == pytest.approx(150.0 * model.full_context / model.first_turn)  # the model's slowdown
    modelled_rate = 1000 / prompt_seconds(LLAMA2_7B, hardware, 1000, True)[0]
    assert measured.opening_prompt_seconds == pytest.approx(model.opening_prompt_seconds * modelled_rate / 4000.0)
    data = measured.to_dict()
    assert data["speed_source"] == "measured" and data["decode_tokens_per_second"]["first_turn"] == 150.0


def test_opening_prompt_is_claude_codes_interactive_size():
    assert 12_000 < opening_prompt_tokens() < 16_000  # Claude Code 2.1.332 interactive: 56 KB (data/claude_code.toml)


def test_estimate_shows_speed_in_text_and_json(monkeypatch, tmp_path):
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("FITADVISOR_CONFIG_DIR", str(tmp_path))
    args = ["estimate", "devstral-small-2", "--ctx", "64k", "--memory", "64GB", "--gpu-memory", "24GB", "--chip", "RTX 4090"]
    text = CliRunner().invoke(cli, args)
    assert text.exit_code == 0, text.output
    assert "tokens/s (first turn -> 64K filled)" in text.output and "opening prompt" in text.output
    data = CliRunner().invoke(cli, [*args, "--json"])
    speed_json = json.loads(data.output)
    decode = speed_json["decode_tokens_per_second"]
    assert set(decode) == {"first_turn", "full_context", "band_percent"}
    assert decode["first_turn"] > decode["full_context"] > 0 and decode["band_percent"] > 0
    assert speed_json["opening_prompt_seconds"] > 0 and speed_json["speed_source"] == "model"


def test_a_drafting_model_says_its_speed_leaves_the_accepted_drafts_out():
    """The decode fit reads the weights once per token; drafting's accepted tokens are not in any measurement."""
    arch = catalog.find("qwen3.8:27b").architecture
    mac = apple("Apple M4 Max", 546, 128)
    for drafts, said in ((4, True), (None, False)):
        result = estimate(arch, Settings(num_ctx=4096, release=RELEASE, draft_num_predict=drafts), mac)
        assert (result.drafting_cache_bytes > 0) == said
        assert (predict.DRAFTING_NOTE in speed(arch, result, mac, RELEASE).notes) == said

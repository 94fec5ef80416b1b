"""The memory model, term by term, against hand computations from architecture facts."""

import dataclasses
from pathlib import Path

import engine_bench
import pytest

from fitadvisor.errors import FitAdvisorError
from fitadvisor.memory.estimate import Settings, compute_buffer_bytes, estimate
from fitadvisor.memory.graph import compute as replay
from fitadvisor.memory.graph.llm import GraphParams
from fitadvisor.memory.releases import Release
from fitadvisor.models.architecture import RECURRENT, Architecture
from fitadvisor.models.catalog import resolve

V0_14 = Release.of("0.14.0")
NEWEST = Release.of(None)
CTX = 65536


def kv(model: str, release: Release = V0_14, **settings) -> int:
    arch = resolve(model).architecture
    return estimate(arch, Settings(num_ctx=CTX, batch=512, release=release, **settings)).kv_cache_bytes


# Per token and layer, an attention layer caches kv_heads x (key_length + value_length) f16 values.
def test_sliding_window_gemma3_keeps_window_plus_batch_on_local_layers():
    # gemma3:27b: 62 layers, 5 local : 1 global -> 10 global + 52 local; 16 KV heads of 128.
    per_token = 16 * (128 + 128) * 2
    global_layers = 10 * CTX * per_token
    local_layers = 52 * (1024 + 512) * per_token  # window + one batch, already a multiple of 256
    assert kv("gemma3:27b") == global_layers + local_layers
    assert kv("gemma3:27b", NEWEST) == global_layers + local_layers


def test_sliding_window_gpt_oss_differs_by_engine():
    # gpt-oss:20b: 24 layers alternating sliding (128) / full; 8 KV heads of 64.
    per_token = 8 * (64 + 64) * 2
    full = 12 * CTX * per_token
    # Ollama's engine keeps 4096 tokens on its sliding layers; llama.cpp keeps window + batch, padded to 256.
    assert kv("gpt-oss:20b", V0_14) == full + 12 * (4096 + 512) * per_token
    assert kv("gpt-oss:20b", NEWEST) == full + 12 * 768 * per_token


@pytest.mark.parametrize(
    "model, attention_layers, kv_heads, head_dim, recurrent_layers, d_conv, d_inner, n_groups, d_state",
    [
        ("granite4:32b-a9b-h", 4, 8, 128, 36, 4, 8192, 1, 128),
        ("nemotron-3-nano:30b", 6, 2, 128, 23, 4, 4096, 8, 128),
        ("qwen3-coder-next", 12, 2, 256, 36, 4, 4096, 16, 128),
    ],
)
def test_hybrid_models_cache_attention_layers_and_a_fixed_recurrent_state(
    model, attention_layers, kv_heads, head_dim, recurrent_layers, d_conv, d_inner, n_groups, d_state
):
    attention = attention_layers * CTX * kv_heads * 2 * head_dim * 2
    state_per_layer = ((d_conv - 1) * (d_inner + 2 * n_groups * d_state) + d_state * d_inner) * 4  # f32
    expected = attention + recurrent_layers * state_per_layer
    assert kv(model, NEWEST) == expected
    # The recurrent state does not grow with the context; attention does.
    arch = resolve(model).architecture
    doubled = estimate(arch, Settings(num_ctx=2 * CTX, batch=512, release=NEWEST)).kv_cache_bytes
    assert doubled == 2 * attention + recurrent_layers * state_per_layer


def test_mla_caches_one_latent_head_per_layer():
    # glm-4.7-flash: 47 layers, MLA with kv_lora_rank 512 + rope 64 as K, 512 as V, one head.
    assert kv("glm-4.7-flash", Release.of("0.14.3")) == 47 * CTX * 1 * (576 + 512) * 2


def test_legacy_deepseek2_without_mla_caches_full_heads():
    # deepseek-coder-v2:16b: 27 layers, 16 heads of K 192 / V 128.
    assert kv("deepseek-coder-v2:16b") == 27 * CTX * 16 * (192 + 128) * 2


def test_kv_cache_types_use_ggml_block_sizes():
    f16 = kv("qwen3-coder:30b", NEWEST)
    assert kv("qwen3-coder:30b", NEWEST, kv_cache_type="q8_0", flash_attention="on") == f16 * 34 // 64
    assert kv("qwen3-coder:30b", NEWEST, kv_cache_type="q4_0", flash_attention="on") == f16 * 18 // 64


def test_quantized_cache_needs_flash_attention():
    arch = resolve("qwen3-coder:30b").architecture
    result = estimate(arch, Settings(num_ctx=CTX, kv_cache_type="q8_0", flash_attention="off", release=NEWEST))
    assert result.kv_cache_type == "f16"
    assert any("flash attention" in note for note in result.notes)


def test_flash_attention_for_k_and_v_heads_of_different_sizes_only_with_llama_server():
    # deepseek-coder-v2: K 192, V 128. Ollama's own check (SupportsFlashAttention) turned it off before v0.30;
    # llama-server's --flash-attn auto runs it fused, and a q8_0 cache with it.
    arch = resolve("deepseek-coder-v2:16b").architecture
    before = estimate(arch, Settings(num_ctx=CTX, kv_cache_type="q8_0", flash_attention="on", release=Release.of("0.29.0")))
    assert (before.flash_attention, before.kv_cache_type) == (False, "f16")
    now = estimate(arch, Settings(num_ctx=CTX, kv_cache_type="q8_0", release=NEWEST))
    assert (now.flash_attention, now.kv_cache_type) == (True, "q8_0")


def test_parallel_slots_multiply_the_context():
    one = kv("qwen3-coder:30b", NEWEST)
    assert kv("qwen3-coder:30b", NEWEST, parallel=2) == 2 * one


def test_context_is_padded_to_256_cells():
    arch = resolve("qwen3-coder:30b").architecture
    odd = estimate(arch, Settings(num_ctx=65536 + 1, batch=512, release=NEWEST)).kv_cache_bytes
    assert odd == kv("qwen3-coder:30b", NEWEST) // 65536 * (65536 + 256)


def test_context_above_training_is_capped_and_said():
    arch = resolve("qwen2.5-coder:32b").architecture  # trained for 32K
    result = estimate(arch, Settings(num_ctx=131072, release=NEWEST))
    assert (result.requested_ctx, result.num_ctx) == (131072, 32768)
    assert any("caps num_ctx" in note for note in result.notes)


def test_flash_attention_off_adds_the_score_matrix():
    arch = resolve("qwen3-coder:30b").architecture
    on = compute_buffer_bytes(arch, 131072, 0, 512, flash_attention=True)
    off = compute_buffer_bytes(arch, 131072, 0, 512, flash_attention=False)
    assert on < 1e9 < 4 * 512 * 131072 * arch.head_count <= off  # f32 scores: batch x context x heads


# The feed-forward stage as llama.cpp's graph allocator lays it out (traced: bench/engine/README.md):
# residual, attention output, its projection and norm below; gate, up and their product side by side;
# the down projection in the hole gate and up leave, or on top when it outgrows it. Vocabularies are
# cut to 32K so that the output stage stays below it, as in the engine benchmark.
def _feed_forward_compute(model: str, **changes) -> tuple[Architecture, int]:
    """The compute buffer at 4096 cells and a batch of 512, flash attention on (gpt-oss: 768 sliding cells)."""
    arch = dataclasses.replace(resolve(model).architecture, vocab_size=32000, **changes)
    swa_cells = 768 if arch.sliding_window else 0
    return arch, compute_buffer_bytes(arch, 4096, swa_cells, 512, flash_attention=True)


def test_moe_down_projection_lands_on_top_when_it_outgrows_the_hole_of_gate_and_up():
    # granitehybrid has a graph (memory/graph/models/granite_hybrid.py): the replay shows where the down projection goes.
    arch, _ = _feed_forward_compute("granite4:small-h")  # 10 of 72 experts of 768, n_embd 4096
    E, k, F = 4096, 10, 768
    assert (arch.embedding_length, arch.expert_used_count, arch.expert_feed_forward_length) == (E, k, F)
    assert k * E > 2 * k * F
    params = GraphParams(n_tokens=512, n_seqs=1, n_outputs=512, n_kv=4096, n_stream=1, flash_attn=True)
    steps = {(kind, name): offset for kind, name, _, offset in replay.reserve(arch, params, record=True).events}
    last = arch.block_count - 1
    assert steps["alloc", f"ffn_moe_down-{last}"] == steps["alloc", f"ffn_moe_swiglu-{last}"] + 4 * 512 * k * F
    assert steps["alloc", f"ffn_moe_swiglu-{last}"] == steps["alloc", f"ffn_moe_up-{last}"] + 4 * 512 * k * F


def test_moe_down_projection_reuses_the_hole_of_gate_and_up_when_it_fits():
    # gpt-oss has a graph (memory/graph/models/openai_moe.py): the replay shows where the down projection goes.
    arch, compute = _feed_forward_compute("gpt-oss:20b")  # 4 of 32 experts of 2880, n_embd 2880
    E, k, F = 2880, 4, 2880
    assert k * E <= 2 * k * F
    params = GraphParams(n_tokens=512, n_seqs=1, n_outputs=512, n_kv=4096, n_stream=1, flash_attn=True, n_kv_swa=768)
    steps = {(kind, name): offset for kind, name, _, offset in replay.reserve(arch, params, record=True).events}
    last = arch.block_count - 1
    assert steps["alloc", f"ffn_moe_down-{last}"] == steps["free", f"ffn_moe_gate_biased-{last}"]
    assert round(compute / 2**20, 4) == 97.1465  # what llama.cpp logs for the bench's 2-layer gpt-oss


def test_a_leading_dense_block_lays_gate_up_and_their_product_side_by_side():
    # deepseek-coder-v2 (a legacy GGUF without MLA keys; memory/graph/models/deepseek2.py builds its graph): a dense
    # FFN of 10944 on layer 0, then 6 of 64 experts of 1408. Its recorded traces (deepseek2-legacy-*) hold this layout.
    arch, _ = _feed_forward_compute("deepseek-coder-v2")
    assert (arch.leading_dense_block_count, arch.feed_forward_length, arch.kv_lora_rank_mha) == (1, 10944, 512)
    params = GraphParams(n_tokens=512, n_seqs=1, n_outputs=512, n_kv=4096, n_stream=1, flash_attn=True)
    steps = {(kind, name): offset for kind, name, _, offset in replay.reserve(arch, params, record=True).events}
    width = 4 * 512 * 10944
    assert steps["alloc", "ffn_up-0"] == steps["alloc", "ffn_gate-0"] + width
    assert steps["alloc", "ffn_swiglu-0"] == steps["alloc", "ffn_up-0"] + width


def test_llama_runner_reports_graphsize_estimate_without_token_embeddings():
    # Ollama v0.14 runs qwen2 in its llama.cpp runner and accounts memory with GraphSize.
    arch = resolve("cogito:32b").architecture
    result = estimate(arch, Settings(num_ctx=32768, release=V0_14))
    assert result.engine == "llama"
    assert result.weights_bytes == arch.weights_bytes - arch.token_embedding_bytes
    E, H, V, C, b = arch.embedding_length, arch.head_count, arch.vocab_size, 32768, 512
    assert result.compute_bytes == max(4 * b * (E + V), 4 * b * (1 + 2 * E + C + C * H))


def test_unsupported_release_and_architecture_are_clear_errors():
    with pytest.raises(FitAdvisorError, match="older than 0.14.0"):
        Release.of("0.13.5")
    arch = resolve("qwen3-coder-next").architecture
    with pytest.raises(FitAdvisorError, match="need Ollama 0.15.5"):
        estimate(arch, Settings(num_ctx=CTX, release=V0_14))


def test_architecture_rejects_a_layer_pattern_of_the_wrong_length():
    arch = resolve("qwen3-coder:30b").architecture
    with pytest.raises(ValueError):
        dataclasses.replace(arch, layers="A" * 3)


def test_llama_server_pads_each_slot_stream_to_256_cells():
    # llama-server gets -c 2*4200 -np 2: 8400 -> 8448 cells, split in two streams of 4224, each padded to 4352.
    arch = resolve("qwen3-coder:30b").architecture  # 48 layers, 4 KV heads of 128
    result = estimate(arch, Settings(num_ctx=4200, parallel=2, batch=512, release=NEWEST))
    assert result.kv_cache_bytes == 2 * 4352 * 48 * 4 * (128 + 128) * 2


def test_llama_server_sliding_window_per_slot_stream():
    # gpt-oss:20b with two slots: each stream keeps pad256(128 + 512) = 768 cells on its 12 sliding layers.
    per_token = 8 * (64 + 64) * 2
    assert kv("gpt-oss:20b", NEWEST, parallel=2) == 2 * (12 * CTX * per_token + 12 * 768 * per_token)


def test_llama_server_mla_caches_the_latent_key_only():
    # llama.cpp reads MLA's V as a view of the cached latent K (kv_lora_rank 512 + rope 64).
    assert kv("glm-4.7-flash", NEWEST) == 47 * CTX * 1 * 576 * 2


def test_llama_server_attention_stage_spans_one_stream():
    arch = resolve("qwen3-coder:30b").architecture
    one = estimate(arch, Settings(num_ctx=8192, parallel=1, batch=512, flash_attention="off", release=NEWEST))
    two = estimate(arch, Settings(num_ctx=8192, parallel=2, batch=512, flash_attention="off", release=NEWEST))
    assert two.compute_bytes == one.compute_bytes


@pytest.mark.parametrize("release", [V0_14, NEWEST], ids=["llama-runner", "llama-server"])
def test_every_term_is_whole_bytes(release):
    # magistral runs in Ollama 0.14's llama runner, whose GraphSize estimate works in fractions.
    arch = resolve("magistral:24b").architecture
    result = estimate(arch, Settings(num_ctx=CTX, release=release)).to_dict()
    for key in ("weights_bytes", "kv_cache_bytes", "compute_bytes", "other_bytes", "total_bytes"):
        assert type(result[key]) is int, key


def test_expert_share_from_total_and_active_parameters():
    from fitadvisor.memory.estimate import expert_share

    arch = resolve("qwen3-coder:30b").architecture  # 30.5B total, 3.3B active, 8 of 128 experts
    experts = (30.5 - 3.3) / (1 - 8 / 128)
    assert expert_share(arch) == pytest.approx(experts / 30.5)
    assert expert_share(resolve("devstral-small-2").architecture) == 0


def test_llama_server_keeps_an_moe_models_dense_part_on_the_gpu():
    # qwen3-coder:30b at 64K on a 12 GiB GPU: the experts go to the CPU first, the rest stays on the GPU.
    from fitadvisor.hardware.machine import Cpu, Gpu, Hardware
    from fitadvisor.memory.estimate import expert_share

    arch = resolve("qwen3-coder:30b").architecture
    gpu = Gpu("nvidia", "RTX 4070", 12 * 1024**3, library="cuda")
    hardware = Hardware("linux", None, Cpu("cpu", 8, 16), 64 * 1024**3, 60 * 1024**3, False, (gpu,))
    result = estimate(arch, Settings(num_ctx=CTX, batch=512, release=NEWEST), hardware)
    dense = result.total_bytes - int(result.weights_bytes * expert_share(arch))
    assert not result.fits and dense < result.gpu_bytes <= result.gpu_budget_bytes
    layers_v0_14 = estimate(arch, Settings(num_ctx=CTX, batch=512, release=V0_14), hardware)
    assert layers_v0_14.gpu_bytes <= layers_v0_14.gpu_budget_bytes


def test_an_architecture_name_llama_cpp_does_not_know_is_said_in_the_llama_server_era():
    arch = dataclasses.replace(resolve("qwen3-coder:30b").architecture, name="glm4moelite")
    notes = estimate(arch, Settings(num_ctx=CTX, release=NEWEST)).notes
    assert any("does not know the architecture name glm4moelite" in note and "deepseek2" in note for note in notes)
    assert not any("architecture name" in note for note in estimate(arch, Settings(num_ctx=CTX, release=Release.of("0.15.0"))).notes)
    unknown = dataclasses.replace(arch, name="mllama")
    assert any("does not run mllama" in note for note in estimate(unknown, Settings(num_ctx=CTX, release=NEWEST)).notes)
    assert not any("architecture" in note for note in estimate(resolve("qwen3-coder:30b").architecture, Settings(num_ctx=CTX, release=NEWEST)).notes)


def test_gemma4_sliding_and_global_layers_cache_their_own_head_sizes():
    layers = "SSSSSA" * 2
    arch = Architecture(
        name="gemma4", block_count=12, embedding_length=5376, head_count=32, head_count_kv=16, key_length=512,
        value_length=512, key_length_swa=256, value_length_swa=256, context_length=262144, layers=layers,
        weights_bytes=1, sliding_window=1024, per_layer_head_count_kv=tuple(16 if k == "S" else 4 for k in layers),
    )
    cache = estimate(arch, Settings(num_ctx=CTX, batch=512, release=NEWEST)).kv_cache_bytes
    sliding = 10 * (1024 + 512) * 16 * (256 + 256) * 2
    global_ = 2 * CTX * 4 * (512 + 512) * 2
    assert cache == sliding + global_
    # Without flash attention V is stored transposed, every layer's rows as wide as the widest (16 x 256).
    transposed = estimate(arch, Settings(num_ctx=CTX, batch=512, flash_attention="off", release=NEWEST)).kv_cache_bytes
    assert transposed == sliding + 2 * CTX * (4 * 512 + 16 * 256) * 2


def test_multi_token_prediction_layers_load_only_where_draft_num_predict_is_set():
    """llama.cpp loads MTP layers only to draft with them; Ollama's llama-server launch asks for that from v0.30.0
    (commit 9db4bdbad: hasMTPDraft, appendDraftArgs `--spec-type draft-mtp`), but only where the model's parameters or
    the request set draft_num_predict: server/routes.go modelOptions zeroes an unset one (checked on v0.33.0-rc2)."""
    arch = dataclasses.replace(resolve("qwen3-coder:30b").architecture, draft_bytes=300_000_000, draft_layers=1)
    unset = estimate(arch, Settings(num_ctx=CTX, release=NEWEST))
    assert unset.weights_bytes == arch.weights_bytes - arch.draft_bytes
    assert unset.drafting_cache_bytes == unset.drafting_compute_bytes == 0
    assert any("stay unloaded" in note for note in unset.notes)
    drafting = estimate(arch, Settings(num_ctx=CTX, release=NEWEST, draft_num_predict=4))
    assert drafting.weights_bytes == arch.weights_bytes
    assert any("drafts 4 tokens a step with the model's multi-token-prediction layers" in note for note in drafting.notes)
    assert estimate(arch, Settings(num_ctx=CTX, release=V0_14, draft_num_predict=4)).weights_bytes == arch.weights_bytes


def test_drafting_adds_its_layers_cache_and_recurrent_snapshots():
    # A qwen3.5 shape: 3 Gated DeltaNet layers to 1 attention layer, and one multi-token-prediction layer after them.
    arch = Architecture(
        name="qwen35", block_count=9, embedding_length=5120, head_count=24, head_count_kv=4, key_length=256,
        value_length=256, context_length=262144, layers="RRRARRRA-", weights_bytes=1, ssm_conv_kernel=4,
        ssm_state_size=128, ssm_inner_size=6144, ssm_group_count=16, draft_bytes=1, draft_layers=1,
        feed_forward_length=17408, vocab_size=248320,
    )
    settings = Settings(num_ctx=CTX, batch=512, release=NEWEST, draft_num_predict=4)
    plain = dataclasses.replace(arch, draft_bytes=0, draft_layers=0)
    added = estimate(arch, settings).kv_cache_bytes - estimate(plain, settings).kv_cache_bytes
    drafting_layer = CTX * 4 * (256 + 256) * 2  # f16, whatever the main cache's type
    snapshots = 6 * 4 * arch.recurrent_state_floats * 4  # 4 drafted tokens' states of each recurrent layer
    assert added == drafting_layer + snapshots
    # Its own compute buffer, the drafting graph replayed: llama.cpp v0.5.0 logged 126.0176 MiB for this shape at
    # 4096 cells (the main context's, with 4 snapshots per recurrent layer, stays the same here); one more row of logits.
    drafted = estimate(arch, dataclasses.replace(settings, num_ctx=4096))
    main = estimate(plain, dataclasses.replace(settings, num_ctx=4096))
    assert drafted.compute_bytes - main.compute_bytes == drafted.drafting_compute_bytes
    assert round(drafted.drafting_compute_bytes / 2**20, 4) == 126.0176
    assert drafted.other_bytes - main.other_bytes == 4 * 248320
    assert estimate(arch, Settings(num_ctx=CTX, batch=512, release=Release.of("0.20.4"))).kv_cache_bytes == (
        estimate(plain, Settings(num_ctx=CTX, batch=512, release=Release.of("0.20.4"))).kv_cache_bytes
    )


def test_an_architecture_without_a_graph_gets_the_closed_form_and_says_so():
    arch = resolve("qwen3-coder:30b").architecture
    replayed = estimate(arch, Settings(num_ctx=CTX, batch=512, release=NEWEST))
    assert not any("closed-form" in note for note in replayed.notes)
    other = dataclasses.replace(arch, name="starcoder2")  # no graph in memory/graph/models/
    result = estimate(other, Settings(num_ctx=CTX, batch=512, release=NEWEST))
    assert any("no graph of starcoder2 models" in note and "closed-form" in note for note in result.notes)
    closed_form = compute_buffer_bytes(other, CTX, 0, 512, flash_attention=True, outputs=1)  # llama-server's one row
    assert result.compute_bytes == closed_form != replayed.compute_bytes


@pytest.mark.parametrize(
    ("model", "main_mib", "drafting_mib", "rolls_back"),
    [("qwen3next-mtp", 312.7637, 44.0117, False), ("nemotron_h_moe-mtp", 281.0117, 30.5098, True)],
)
def test_qwen3next_and_nemotron_h_moe_draft_with_their_own_graph(model, main_mib, drafting_mib, rolls_back):
    """Ollama drafts with any model that has nextn_predict_layers where draft_num_predict is set (v0.33.0-rc2
    llm/llama_server.go hasMTPDraft, server/routes.go modelOptions), and llama.cpp v0.5.0 builds both a graph_mtp. Both contexts' buffers are what it logged for the synthetic models at
    4096 cells (tests/data/alloc-traces/); qwen3next keeps no recurrent-state snapshots (llm_arch_supports_rs_rollback).
    The traces reserve logits for every token of a batch, as the llama.cpp of Ollama 0.30.0 still does."""
    trace = engine_bench.load("record_trace")
    case = trace.read(next((Path(__file__).parent / "data" / "alloc-traces").glob(f"{model}-4096-*-draft4-mtp.trace.gz")))
    arch = trace.architecture_of(case.architecture)
    drafted = estimate(arch, Settings(num_ctx=4096, batch=512, release=Release.of("0.30.0"), draft_num_predict=4))
    assert round(drafted.drafting_compute_bytes / 2**20, 4) == drafting_mib
    assert round((drafted.compute_bytes - drafted.drafting_compute_bytes) / 2**20, 4) == main_mib
    drafting_layer = 4096 * arch.head_count_kv * (arch.key_length + arch.value_length) * 2
    snapshots = arch.count(RECURRENT) * 4 * arch.recurrent_state_floats * 4 if rolls_back else 0
    assert drafted.drafting_cache_bytes == drafting_layer + snapshots
    assert not any("not estimated" in note for note in drafted.notes)


def test_llama_server_keeps_the_input_layer_in_host_memory():
    """llama.cpp keeps the input layer (token_embd and gemma4's per_layer_token_embd, LLM_TENSOR_LAYER_INPUT) on the CPU
    whatever it offloads (llama-model.cpp dev_input, v0.5.0) and builds a tied model's output layer from a second copy of
    token_embd; Ollama reports a model wholly on the GPU as its GPU buffers (llm/llama_server.go MemorySize, v0.33.0-rc2)."""
    from fitadvisor.hardware.probe import detect

    settings = Settings(num_ctx=CTX, release=NEWEST)
    e2b = resolve("gemma4:e2b").architecture  # tied, with its 4.7 GB per-layer token table
    six_gb = detect(gpu_memory="6GB", memory="32GB")
    placed, unplaced = estimate(e2b, settings, six_gb), estimate(e2b, settings)
    assert placed.host_bytes == e2b.token_embedding_bytes + e2b.per_layer_embedding_bytes
    assert placed.fits and placed.cpu_bytes == 0 and placed.gpu_bytes == placed.total_bytes
    assert placed.weights_bytes == e2b.weights_bytes - placed.host_bytes
    assert placed.other_bytes - unplaced.other_bytes == e2b.token_embedding_bytes  # the output layer's copy
    assert placed.gpu_bytes + e2b.per_layer_embedding_bytes > placed.budget.per_gpu[0]  # with the table it would not fit
    assert any("stays in host memory" in note for note in placed.notes)
    assert estimate(e2b, Settings(num_ctx=CTX, release=Release.of("0.24.0")), six_gb).host_bytes == 0

    coder = resolve("qwen3-coder:30b").architecture  # its own output tensor: no copy
    big = detect(gpu_memory="48GB", memory="64GB")
    placed, unplaced = estimate(coder, settings, big), estimate(coder, settings)
    assert not coder.tied_embeddings and placed.fits and placed.other_bytes == unplaced.other_bytes
    assert unplaced.weights_bytes - placed.weights_bytes == coder.token_embedding_bytes == placed.host_bytes
    on_cpu = estimate(coder, settings, detect(gpus="none", memory="64GB", ram_bandwidth=89.6))
    assert on_cpu.weights_bytes == coder.weights_bytes and on_cpu.cpu_bytes == on_cpu.total_bytes

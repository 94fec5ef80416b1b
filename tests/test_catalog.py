"""The catalog offline: every tag it lists and every quantization of them, sized from real tensor types."""

import dataclasses
import json

import pytest
from click.testing import CliRunner
from test_cli import fitadvisor

from fitadvisor.cli import cli
from fitadvisor.memory.estimate import Settings, estimate
from fitadvisor.memory.releases import Release
from fitadvisor.models import catalog, quantization
from fitadvisor.models.architecture import FULL, SLIDING
from fitadvisor.speed.predict import weight_bytes_per_token

ALL_TAGS = [f"{model.name}:{tag}" for model in catalog.load() for tag in model.tags]
REQUANTIZABLE = [model for model in catalog.load() if model.requantizable]
NO_SERVER = "http://127.0.0.1:9"  # refused at once: nothing but the catalog can answer


@pytest.mark.parametrize("tag", ALL_TAGS)
def test_every_catalog_tag_estimates_offline(tag):
    result = CliRunner().invoke(cli, ["estimate", tag, "--ctx", "64k", "--host", NO_SERVER, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    model = catalog.find(tag)
    assert data["weights_bytes"] > 0 and data["kv_cache_bytes"] > 0
    # the token table may stay in host memory, multi-token-prediction layers unloaded where nothing drafts with them
    arch = model.architecture
    assert abs(data["weights_bytes"] - arch.weights_bytes) <= arch.token_embedding_bytes + arch.draft_bytes + arch.skipped_bytes


def test_the_2026_families_are_listed_with_sources():
    rows = {row["model"]: row for row in json.loads(CliRunner().invoke(cli, ["models", "--json"]).output)["models"]}
    for name in ("qwen3.5:27b", "qwen3.5:35b", "qwen3.6:27b", "qwen3.6:35b", "gemma4:31b", "gemma4:26b", "laguna-xs.2:latest", "gemma3:12b",
                 "qwen3.5:0.8b", "qwen3.5:2b", "qwen3.5:122b", "gemma4:e2b", "gemma4:e4b"):
        assert {"architecture", "context_length", "download_bytes", "tools", "agentic"} <= set(rows[name]["sources"]), name
        assert rows[name]["agentic"] == "untested"


@pytest.mark.parametrize("model", REQUANTIZABLE, ids=lambda m: m.reference)
def test_each_quantization_of_a_catalog_model_resolves_and_orders_by_size(model):
    sizes = []
    for suffix in ("q4_K_M", "q8_0", "fp16"):
        tag = f"{model.name}:{model.tags[0]}-{suffix}"
        found = catalog.find(tag)
        assert found is not None and found.reference == tag.lower() and found.quantization == quantization.TAG_FILE_TYPES[suffix.lower()]
        assert found.architecture.layers == model.architecture.layers
        sizes.append(found.architecture.weights_bytes)
    assert sizes[0] < sizes[1] < sizes[2]
    # The tag of the catalog's own quantization is the catalog's published size.
    assert sizes[0] == model.architecture.weights_bytes or model.quantization != "Q4_K_M"


def test_a_field_verdict_says_which_quantization_earned_it():
    tested = catalog.find("devstral-small-2:24b")
    other = catalog.find("devstral-small-2:24b-q8_0")
    assert other.agentic == tested.agentic and "tested as devstral-small-2:24b, Q4_K_M" in other.sources["agentic"]


def test_variant_words_after_the_size_and_a_bare_quantization_name_the_same_model():
    assert catalog.find("gemma3:12b-it-q8_0").architecture.layers == catalog.find("gemma3:12b").architecture.layers
    assert catalog.find("qwen3.6:35b-a3b-bf16").quantization == "BF16"
    assert catalog.find("glm-4.7-flash:q8_0").architecture.block_count == 47
    assert catalog.find("gpt-oss:20b-q8_0") is None  # published only as its MXFP4 original
    assert catalog.find("qwen3.6:270b-q8_0") is None


@pytest.mark.parametrize("model", [m for m in REQUANTIZABLE if m.quantization == "Q4_K_M"], ids=lambda m: m.reference)
def test_the_tensor_table_accounts_for_the_published_size(model):
    """The tensors the shape gives, typed by the quantizer's rules, are the file less any vision tower.

    A catalog shape that is wrong (a missing FFN, a wrong width) shows up here as a size that
    does not match what Ollama publishes.
    """
    arch = model.architecture
    tensors = quantization.weights_bytes(arch, "Q4_K_M")
    parameters = sum(t.elements for t in quantization.quantize(arch, "Q4_K_M"))
    if arch.vision:  # a vision tower of 0.4-0.6B parameters, mostly kept at 16 bits
        assert 0 <= model.download_bytes - tensors <= max(1.2e9, 0.12 * model.download_bytes)
    else:
        assert abs(tensors / model.download_bytes - 1) < 0.08
        assert abs(parameters / arch.parameters - 1) < 0.06


def test_an_ollama_q8_0_tag_against_its_published_size():
    # ollama.com/library/gemma4:26b-a4b-it-q8_0: 28GB (a tensor table at Q8_0 plus its 16-bit vision tower)
    assert abs(catalog.find("gemma4:26b-a4b-it-q8_0").download_bytes / 28e9 - 1) < 0.03


def _types(arch, file_type):
    return {t.name: t.type_name for t in quantization.quantize(arch, file_type)}


def test_q4_k_m_keeps_the_output_and_some_value_and_down_projections_at_q6_k():
    arch = catalog.find("llama3.1:8b").architecture  # 32 layers, untied
    types = _types(arch, "Q4_K_M")
    assert types["output.weight"] == "Q6_K" and types["token_embd.weight"] == "Q4_K"
    six = [i for i in range(32) if types[f"blk.{i}.attn_v.weight"] == "Q6_K"]
    # use_more_bits: the first and last eighth, and every third layer between them
    assert six == [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]
    assert [i for i in range(32) if types[f"blk.{i}.ffn_down.weight"] == "Q6_K"] == six
    assert {types[f"blk.{i}.attn_q.weight"] for i in range(32)} == {"Q4_K"}
    assert types["blk.0.attn_norm.weight"] == "F32"


def test_rows_the_block_does_not_divide_fall_back_and_tied_embeddings_take_the_output_type():
    arch = catalog.find("phi4-mini").architecture  # n_embd 3072 = 12 x 256, tied
    assert _types(arch, "Q4_K_M")["token_embd.weight"] == "Q6_K"
    # a row of 2880 (gpt-oss's width) is not a whole number of 256-wide K-quant blocks
    wide = dataclasses.replace(catalog.find("qwen3:8b").architecture, embedding_length=2880)
    types = _types(wide, "Q4_K_M")
    assert types["blk.5.attn_q.weight"] == "Q5_0" and types["output.weight"] == "Q8_0"


def test_moe_layers_take_the_down_projection_rule_from_the_layer_number():
    arch = catalog.find("qwen3-coder:30b").architecture  # 48 layers of 128 experts
    types = _types(arch, "Q4_K_M")
    assert types["blk.0.ffn_down_exps.weight"] == "Q6_K" and types["blk.6.ffn_down_exps.weight"] == "Q4_K"
    assert types["blk.0.ffn_gate_inp.weight"] == "F32"


def test_f16_and_q8_0_files_are_nearly_uniform():
    arch = catalog.find("qwen3:8b").architecture
    assert set(_types(arch, "F16").values()) == {"F16", "F32"}
    assert set(_types(arch, "Q8_0").values()) == {"Q8_0", "F32"}


def test_gated_delta_net_projections_count_as_value_projections():
    """llama.cpp files attn_qkv with attn_v: Qwen3.5's DeltaNet layers share the use_more_bits count."""
    arch = catalog.find("qwen3.6:27b").architecture
    types = _types(arch, "Q4_K_M")
    attention = [i for i, kind in enumerate(arch.layers) if kind == FULL]
    assert len(attention) == 16 and all(f"blk.{i}.attn_qkv.weight" in types for i in range(3))
    assert types["blk.0.attn_qkv.weight"] == "Q6_K"  # the first of 64 value-like projections


def test_sliding_window_layers_keep_their_own_heads_and_widths():
    gemma = catalog.find("gemma4:31b").architecture
    sliding, full = gemma.layers.index(SLIDING), gemma.layers.index(FULL)
    assert (gemma.kv_heads(sliding), gemma.key_width(sliding)) == (16, 256)
    assert (gemma.kv_heads(full), gemma.key_width(full)) == (4, 512)
    laguna = catalog.find("laguna-xs.2").architecture
    assert laguna.count(FULL) == 10 and laguna.count(SLIDING) == 30
    assert {laguna.heads(i) for i in range(40)} == {48, 64} and laguna.head_count == 64


def test_an_unknown_model_offline_names_the_nearest_catalog_models():
    result = fitadvisor("estimate", "qwen3.9:27b", "--host", NO_SERVER)
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
    assert "Did you mean qwen3.8:27b" in result.stderr


def test_the_rules_reproduce_a_published_ollama_file():
    """gemma4:e2b Q4_K_M as `ollama show --verbose` listed it (a public benchmark log, 2026-09-06).

    35 text blocks, and 63 value projections in all: its vision and audio towers' attn_v tensors,
    after the text blocks, count towards use_more_bits too. Blocks 0-22 as listed there.
    """
    table = []
    for i in range(35):
        table += [quantization.Tensor(f"blk.{i}.attn_v.weight", (1536, 256)), quantization.Tensor(f"blk.{i}.ffn_down.weight", (6144, 1536))]
    table += [quantization.Tensor(f"v.blk.{i}.attn_v.weight", (768, 768)) for i in range(28)]
    types = {t.name: t.type_name for t in quantization.assign_types(table, "Q4_K_M", "gemma4", n_layer=35)}
    listed_q6_k = {
        "attn_v": [0, 1, 2, 3, 4, 5, 6, 9, 12, 15, 18, 21],
        "ffn_down": [0, 1, 2, 3, 6, 9, 12, 15, 18, 21],
    }
    for role, blocks in listed_q6_k.items():
        assert [i for i in range(23) if types[f"blk.{i}.{role}.weight"] == "Q6_K"] == blocks, role
        assert {types[f"blk.{i}.{role}.weight"] for i in range(23) if i not in blocks} == {"Q4_K"}


@pytest.mark.parametrize("tag, registry_gib", [("qwen3.5:2b-q4_K_M", 1.81), ("qwen3.5:4b-q8_0", 4.92)])
def test_qwen3_5_quantizations_against_the_registry(tag, registry_gib):
    """Layer sizes read from Ollama's registry manifests (a public project's notes, 2026-06-01), in GiB.

    qwen3.5:2b is published as q8_0; its q4_K_M file is that one's tensors re-typed, the vision tower kept.
    """
    assert abs(catalog.find(tag).download_bytes / (registry_gib * 2**30) - 1) < 0.04


@pytest.mark.parametrize("tag, published_gb", [("gemma4:e2b-it-q8_0", 8.1), ("gemma4:e2b-it-bf16", 10.0)])
def test_gemma4_e_quantizations_against_ollamas_sizes(tag, published_gb):
    """Ollama's gemma4 tag table (a public model catalogue: e2b-it-q8_0 8.1 GB, e2b-it-bf16 10 GB), which holds
    only with the per-layer token table at 16 bits in every file."""
    assert abs(catalog.find(tag).download_bytes / (published_gb * 1e9) - 1) < 0.04


def test_gemma4_e2b_tensors_as_llama_cpp_loads_them():
    """llama.cpp v0.5.0 src/models/gemma4.cpp: per-layer token inputs, and 20 shared-KV layers that attend with their
    kind's head width (every 5th layer global, 512; else 256) through a feed-forward twice as wide (double-wide MLP)."""
    arch = catalog.find("gemma4:e2b").architecture
    assert arch.layers == "SSSSA" * 3 + "-" * 20
    table = {t.name: t for t in quantization.quantize(arch, "Q4_K_M")}
    assert table["per_layer_token_embd.weight"].shape == (256 * 35, 262144)
    assert table["per_layer_token_embd.weight"].type_name == table["per_layer_model_proj.weight"].type_name == "F16"
    assert table["blk.19.attn_q.weight"].shape == (1536, 8 * 512) and table["blk.18.attn_q.weight"].shape == (1536, 8 * 256)
    assert table["blk.14.ffn_down.weight"].shape == (6144, 1536) and table["blk.15.ffn_down.weight"].shape == (12288, 1536)
    assert {"blk.0.inp_gate.weight", "blk.34.proj.weight"} <= set(table)


def test_deepseek_coder_v2_tensors_as_its_legacy_file_has_them():
    """llama.cpp v0.5.0 src/models/deepseek2.cpp on a file without MLA keys: the latent's projection and norm, and one
    attn_kv_b that decompresses each head's unroped K and its V; so typed, the table is the published Q4_0 file."""
    arch = catalog.find("deepseek-coder-v2:16b").architecture
    table = {t.name: t for t in quantization.quantize(arch, "Q4_0")}
    assert table["blk.0.attn_kv_a_mqa.weight"].shape == (2048, 512 + 64)
    assert table["blk.0.attn_kv_b.weight"].shape == (512, 16 * (128 + 128))
    assert "blk.0.attn_k.weight" not in table and "blk.0.attn_v.weight" not in table
    assert abs(quantization.weights_bytes(arch, "Q4_0") / catalog.find("deepseek-coder-v2:16b").download_bytes - 1) < 0.01
    assert abs(sum(t.elements for t in table.values()) / arch.parameters - 1) < 0.01


def test_gemma4_e2b_caches_only_the_layers_before_the_shared_ones():
    arch = catalog.find("gemma4:e2b").architecture
    cache = estimate(arch, Settings(num_ctx=65536, batch=512, release=Release.of(None))).kv_cache_bytes
    sliding = 12 * (512 + 512) * 1 * (256 + 256) * 2  # a 512-token window plus a batch, one KV head of 256
    global_ = 3 * 65536 * 1 * (512 + 512) * 2
    assert cache == sliding + global_


def test_the_per_layer_token_table_is_not_read_per_token():
    arch = catalog.find("gemma4:e4b").architecture
    assert arch.per_layer_embedding_bytes > 5e9  # 42 x 256 x 262144 at 16 bits
    assert weight_bytes_per_token(arch) == arch.weights_bytes - arch.vision_bytes - arch.per_layer_embedding_bytes


def test_ollama_launchs_local_recommendations_resolve_offline():
    """`ollama launch`'s recommendedModels (cmd/launch/models.go, v0.33.0-rc2): the local ones are plain `gemma4` and
    `qwen3.5`; the `:cloud` ones run on Ollama's servers and load nothing here."""
    assert catalog.find("gemma4").reference == "gemma4:e4b"
    assert catalog.find("qwen3.5").reference == "qwen3.5:9b"


# bytes per element of the ggml types the MTP block of a Q4_K_M file uses (ggml's block sizes: 144 bytes a 256-block
# for Q4_K, 210 for Q6_K, 34 a 32-block for Q8_0)
_PER_ELEMENT = {"Q4_K": 144 / 256, "Q6_K": 210 / 256, "Q8_0": 34 / 32, "F32": 4}


def test_qwen3_5_27b_carries_its_multi_token_prediction_layer():
    """Ollama's qwen3.5 files bundle one MTP layer (legacy mtp.* tensors, which Ollama v0.33.0-rc2's llama/compat
    renames to the layer after the 64 of the trunk, with nextn_predict_layers 1): a full-attention layer with the
    trunk's FFN, the projection of the joined embedding and hidden state, norms. The projection is at Q4_K: Ollama's
    `ollama create --quantize` keeps it at Q8_0 since June 2026, but its library file of qwen3.8:27b holds no q8_0
    tensor (tests/data/ollama-runs.toml)."""
    arch = catalog.resolve("qwen3.5:27b").architecture
    assert (arch.block_count, arch.draft_layers, arch.layers[-2:]) == (65, 1, "A-")
    e, ff = 5120, 17408
    block = {  # as the Qwen3.5-27B checkpoint's mtp.* tensors give them; the last layer takes more bits (use_more_bits)
        "attn_q": (e * 24 * 256 * 2, "Q4_K"), "attn_k": (e * 4 * 256, "Q4_K"), "attn_v": (e * 4 * 256, "Q6_K"),
        "attn_output": (24 * 256 * e, "Q4_K"), "eh_proj": (2 * e * e, "Q4_K"), "ffn_gate": (e * ff, "Q4_K"),
        "ffn_up": (e * ff, "Q4_K"), "ffn_down": (ff * e, "Q6_K"), "norms": (5 * e + 2 * 256, "F32"),  # and q, k norms
    }
    assert sum(n for n, _ in block.values()) == 424_699_392  # the checkpoint's MTP block
    assert arch.draft_bytes == sum(int(n * _PER_ELEMENT[kind]) for n, kind in block.values())
    assert arch.weights_bytes == quantization.weights_bytes(arch, "Q4_K_M") + arch.vision_bytes


def test_qwen3_5_drafts_as_a_gguf_with_nextn_predict_layers_does(tmp_path):
    """`estimate qwen3.5:27b` leaves the MTP layer unloaded unless draft_num_predict is set, and with it loads the layer
    and adds the drafting context's cache and compute buffer, as for the GGUF the catalog's shape converts to."""
    import ggufs

    from fitadvisor.models.gguf import read_architecture

    arch = catalog.resolve("qwen3.5:27b").architecture
    unset = json.loads(CliRunner().invoke(cli, ["estimate", "qwen3.5:27b", "--ctx", "64k", "--host", NO_SERVER, "--json"]).output)
    drafting = json.loads(CliRunner().invoke(
        cli, ["estimate", "qwen3.5:27b", "--ctx", "64k", "--host", NO_SERVER, "--json", "--draft-num-predict", "4"]).output)
    assert drafting["weights_bytes"] - unset["weights_bytes"] == arch.draft_bytes
    assert unset["drafting_cache_bytes"] == unset["drafting_compute_bytes"] == 0
    snapshots = 48 * 4 * arch.recurrent_state_floats * 4  # 4 drafted tokens' states of each Gated DeltaNet layer
    assert drafting["drafting_cache_bytes"] == 65536 * 4 * (256 + 256) * 2 + snapshots  # one f16 layer over the cells
    assert drafting["drafting_compute_bytes"] > 0
    from_gguf = read_architecture(ggufs.write(ggufs.from_architecture(arch), tmp_path / "qwen35.gguf"))
    settings = Settings(num_ctx=65536, release=Release.of(None), draft_num_predict=4)
    for term in ("kv_cache_bytes", "compute_bytes", "drafting_cache_bytes", "drafting_compute_bytes", "other_bytes"):
        assert getattr(estimate(from_gguf, settings), term) == drafting[term], term


@pytest.mark.parametrize(("version", "loads"), [("0.32.0", True), ("0.32.5", True), ("0.32.6", False), (None, False)])
def test_the_layers_nothing_drafts_with_load_until_llama_cpp_skipped_them(version, loads):
    """Until llama.cpp PR #26296 (Ollama 0.32.6) every multi-token-prediction tensor in the file loads, as a real Ollama
    0.32.0 run of qwen3.6:35b-a3b shows (its model buffer is the whole file's text tensors, no drafting)."""
    arch = catalog.resolve("qwen3.6:35b").architecture
    result = estimate(arch, Settings(num_ctx=65536, release=Release.of(version)))
    assert result.weights_bytes == arch.weights_bytes - (0 if loads else arch.draft_bytes)
    assert result.drafting_cache_bytes == result.drafting_compute_bytes == 0
    assert any(("load though nothing drafts" if loads else "stay unloaded") in note for note in result.notes)


def test_nemotron_3_supers_mtp_layer_is_in_its_download_and_never_in_memory():
    """Its file keeps the checkpoint's MTP layer (attention and a 512-expert MoE block) as mtp.* tensors llama-server
    never loads (Ollama's llama/compat skips them) and never drafts with: sized as that layer, left out of memory."""
    model = catalog.resolve("nemotron-3-super")
    arch = model.architecture
    assert (arch.block_count, arch.draft_layers, len(arch.layers)) == (88, 0, 88)
    assert model.download_bytes == 86_000_000_000 == arch.weights_bytes and 2e9 < arch.skipped_bytes < 3e9
    for version in ("0.30.0", "0.32.5", None):
        drafted = estimate(arch, Settings(num_ctx=65536, release=Release.of(version), draft_num_predict=4))
        assert drafted.weights_bytes == arch.weights_bytes - arch.skipped_bytes
        assert drafted.drafting_cache_bytes == drafted.drafting_compute_bytes == 0
        assert any("mtp.* tensors" in note and "never loaded" in note for note in drafted.notes)


def test_a_pulled_model_whose_parameters_set_draft_num_predict_is_estimated_drafting(tmp_path, monkeypatch):
    """A model whose params layer sets draft_num_predict drafts by default in Ollama: estimate reads it from the store,
    as --draft-num-predict would set it, and --draft-num-predict 0 turns it off again."""
    import ggufs

    arch = catalog.resolve("qwen3.5:27b").architecture
    ggufs.pull_into_store(tmp_path, "qwen3.5:27b", ggufs.from_architecture(arch),
                          extra=[("application/vnd.ollama.image.params", '{"draft_num_predict": 3}')])
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path))

    def run(*extra):
        return json.loads(CliRunner().invoke(cli, ["estimate", "qwen3.5:27b", "--ctx", "64k", "--host", NO_SERVER, "--json", *extra]).output)

    own, asked, off = run(), run("--draft-num-predict", "3"), run("--draft-num-predict", "0")
    assert own["source"] == asked["source"] == "store"
    terms = ("weights_bytes", "kv_cache_bytes", "compute_bytes", "drafting_cache_bytes", "drafting_compute_bytes", "total_bytes")
    assert {t: own[t] for t in terms} == {t: asked[t] for t in terms}
    from fitadvisor.models.ollama_store import find

    stored = find("qwen3.5:27b").architecture()
    assert own["drafting_cache_bytes"] > 0 and off["drafting_cache_bytes"] == 0 and off["weights_bytes"] == own["weights_bytes"] - stored.draft_bytes
    assert any("draft_num_predict 3 is the model's own parameter" in note for note in own["notes"])
    assert not any("own parameter" in note for note in asked["notes"] + off["notes"])


def test_latent_moe_tensors_as_llama_cpp_loads_them():
    """llama.cpp v0.5.0 src/models/nemotron-h.cpp: with moe_latent_size the experts are {latent, n_ff_exp} and
    {n_ff_exp, latent}, between ffn_latent_down and ffn_latent_up, which the quantizer gives the default type (their
    names hold neither ffn_up nor ffn_down); the shared expert stays at n_embd. Nano's widths, with a latent."""
    nano = catalog.find("nemotron-3-nano:30b").architecture
    arch = dataclasses.replace(nano, moe_latent_size=1024)
    table = {t.name: t for t in quantization.quantize(arch, "Q4_K_M")}
    moe = next(i for i, kind in enumerate(arch.layers) if kind == "-")
    p, e, f = f"blk.{moe}", nano.embedding_length, nano.expert_feed_forward_length
    assert table[f"{p}.ffn_latent_down.weight"].shape == (e, 1024) and table[f"{p}.ffn_latent_up.weight"].shape == (1024, e)
    assert table[f"{p}.ffn_latent_up.weight"].type_name == "Q4_K"
    assert table[f"{p}.ffn_latent_down.weight"].type_name == "Q5_0"  # Q4_K's fallback: 256 does not divide 2688
    assert table[f"{p}.ffn_up_exps.weight"].shape == (1024, f, 128) and table[f"{p}.ffn_down_exps.weight"].shape == (f, 1024, 128)
    assert table[f"{p}.ffn_up_shexp.weight"].shape == (e, nano.shared_expert_width)
    assert "ffn_latent_down" not in "".join(t.name for t in quantization.quantize(nano, "Q4_K_M"))

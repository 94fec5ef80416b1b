"""The GGUF header reader and the Architecture it builds, against files the `gguf` library wrote."""

import dataclasses
import io

import ggufs
import pytest

from fitadvisor.errors import FitAdvisorError
from fitadvisor.memory.estimate import Settings, estimate
from fitadvisor.memory.releases import Release
from fitadvisor.models import catalog
from fitadvisor.models.architecture import FULL, SLIDING
from fitadvisor.models.gguf import (
    GGML_TYPES,
    TensorInfo,
    architecture_from_kv,
    read_architecture,
    read_file_header,
    read_header,
)

# Fields that describe the model's shape; sizes (weights, parameters) differ from the catalog's
# rounded figures by design, and are checked against the tensor table instead.
SHAPE_FIELDS = [
    f.name for f in dataclasses.fields(catalog.load()[0].architecture)
    if f.name not in ("weights_bytes", "token_embedding_bytes", "k_quant_bytes", "parameters", "active_parameters", "projector_bytes",
                      "per_layer_embedding_bytes", "draft_bytes")
]
CATALOG_MODELS = [
    "gemma3:27b", "gpt-oss:20b", "granite4:32b-a9b-h", "nemotron-3-nano:30b", "qwen3-coder-next",
    "glm-4.7-flash", "qwen3-coder:30b", "devstral-small-2", "deepseek-coder-v2:16b", "functiongemma",
    "qwen3.6:27b", "qwen3.6:35b", "gemma4:31b", "gemma4:26b", "laguna-xs.2", "phi4-mini", "gemma4:e2b", "gemma4:e4b",
    "granite4:3b", "qwen2.5-coder:7b",
]


def test_block_sizes_match_the_gguf_library():
    import gguf

    for type_id, (name, block, size) in GGML_TYPES.items():
        assert gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(type_id)] == (block, size), name
        assert gguf.GGMLQuantizationType(type_id).name == name


def test_header_matches_what_the_gguf_library_reads(tmp_path):
    import gguf

    path = ggufs.write(ggufs.tiny_llama(), tmp_path / "tiny.gguf")
    header = read_file_header(path)
    reference = gguf.GGUFReader(path)
    assert header.version == 3
    assert header.kv["general.architecture"] == "llama"
    assert header.kv["llama.block_count"] == 2
    assert header.kv["llama.rope.freq_base"] == 10000.0
    assert header.kv["tokenizer.ggml.tokens"][:3] == ["tok0", "tok1", "tok2"]
    assert len(header.kv["tokenizer.ggml.tokens"]) == 1024
    assert header.kv["tokenizer.chat_template"] == "{{ messages }}"
    assert [(t.name, list(t.shape), t.type_name, t.offset, t.bytes) for t in header.tensors] == [
        (t.name, [int(d) for d in t.shape], t.tensor_type.name, int(t.data_offset) - reference.data_offset, int(t.n_bytes))
        for t in reference.tensors
    ]
    # Only the header and tensor table were read: the data section starts after it.
    assert header.size <= reference.data_offset < header.size + 32


@pytest.mark.parametrize("name", CATALOG_MODELS)
def test_architecture_from_a_converted_gguf_matches_the_catalog(tmp_path, name):
    """Per-layer arrays, attention intervals, implicit sliding periods and MLA keys rebuild the catalog's layers."""
    expected = catalog.resolve(name).architecture
    model = ggufs.from_architecture(expected)
    arch = read_architecture(ggufs.write(model, tmp_path / "m.gguf"))
    assert {f: getattr(arch, f) for f in SHAPE_FIELDS} == {f: getattr(expected, f) for f in SHAPE_FIELDS}
    assert arch.weights_bytes == sum(ggufs.nbytes(shape, kind) for _, shape, kind in model.tensors)
    drafting = [ggufs.nbytes(shape, kind) for n, shape, kind in model.tensors if n.startswith(f"blk.{expected.block_count - 1}.")]
    assert arch.draft_bytes == (sum(drafting) if expected.draft_layers else 0)
    k_quants = [(shape, kind) for n, shape, kind in model.tensors if kind.endswith("_K") and not n.startswith(("v.", "mm."))]
    assert 0 < arch.k_quant_bytes == sum(ggufs.nbytes(shape, kind) for shape, kind in k_quants) < arch.weights_bytes
    embd = next((shape, kind) for n, shape, kind in model.tensors if n == "token_embd.weight")
    assert arch.token_embedding_bytes == ggufs.nbytes(*embd)
    per_layer = [ggufs.nbytes(shape, kind) for n, shape, kind in model.tensors if n == "per_layer_token_embd.weight"]
    assert arch.per_layer_embedding_bytes == sum(per_layer)
    for release in (Release.of("0.20.4"), Release.of(None)):  # Ollama engine era and llama-server
        settings = Settings(num_ctx=65536, batch=512, release=release)
        assert estimate(arch, settings).kv_cache_bytes == estimate(expected, settings).kv_cache_bytes


def test_moe_active_parameters_count_the_used_share_of_expert_tensors(tmp_path):
    expected = catalog.resolve("qwen3-coder:30b").architecture
    model = ggufs.from_architecture(expected)
    arch = read_architecture(ggufs.write(model, tmp_path / "m.gguf"))
    elements = {n: _elements(shape) for n, shape, _ in model.tensors}
    experts = sum(v for n, v in elements.items() if "_exps" in n)
    assert arch.parameters == sum(elements.values())
    assert arch.active_parameters == sum(elements.values()) - experts + experts * 8 // 128


def _elements(shape):
    count = 1
    for dim in shape:
        count *= dim
    return count


def test_parameter_count_key_wins_over_the_tensor_sum(tmp_path):
    model = ggufs.tiny_llama()
    model.kv["general.parameter_count"] = 123_456_789
    assert read_architecture(ggufs.write(model, tmp_path / "m.gguf")).parameters == 123_456_789


def _kv(arch="gemma3", blocks=12, **extra):
    return {
        "general.architecture": arch, f"{arch}.block_count": blocks, f"{arch}.embedding_length": 256,
        f"{arch}.attention.head_count": 4, f"{arch}.attention.head_count_kv": 2, f"{arch}.context_length": 8192, **extra,
    }


def test_sliding_layers_follow_llama_cpp_conventions():
    gemma3 = architecture_from_kv(_kv(**{"gemma3.attention.sliding_window": 1024}), [])
    assert gemma3.layers == "SSSSSA" * 2 and gemma3.sliding_window == 1024
    gptoss = architecture_from_kv(_kv("gptoss", 4, **{"gptoss.attention.sliding_window": 128}), [])
    assert gptoss.layers == "SASA"
    period = architecture_from_kv(_kv(**{"gemma3.attention.sliding_window": 512, "gemma3.attention.sliding_window_pattern": 4}), [])
    assert period.layers == "SSSA" * 3
    explicit = [i % 3 != 0 for i in range(12)]
    mimo = architecture_from_kv(_kv("mimo2", **{"mimo2.attention.sliding_window": 128, "mimo2.attention.sliding_window_pattern": explicit}), [])
    assert mimo.layers == "".join(SLIDING if s else FULL for s in explicit)
    no_window = architecture_from_kv(_kv(), [])  # gemma3 without a window (rnj-1): all full attention
    assert no_window.layers == "A" * 12 and no_window.sliding_window == 0
    phi3 = architecture_from_kv(_kv("phi3", **{"phi3.attention.sliding_window": 2047}), [])  # llama.cpp ignores it
    assert phi3.layers == "A" * 12 and phi3.sliding_window == 0


def test_mla_in_both_conventions_caches_one_latent_head():
    llama_cpp = _kv("deepseek2", 4, **{
        "deepseek2.attention.head_count_kv": 1, "deepseek2.attention.key_length": 576, "deepseek2.attention.value_length": 512,
        "deepseek2.attention.kv_lora_rank": 512, "deepseek2.rope.dimension_count": 64,
        "deepseek2.attention.key_length_mla": 192, "deepseek2.attention.value_length_mla": 128,
    })
    ollama = _kv("glm4moelite", 4, **{  # Ollama's own converter: per-head sizes, MLA implied by the architecture
        "glm4moelite.attention.head_count_kv": 20, "glm4moelite.attention.key_length": 192,
        "glm4moelite.attention.value_length": 256, "glm4moelite.attention.kv_lora_rank": 512,
        "glm4moelite.rope.dimension_count": 64,
    })
    for kv in (llama_cpp, ollama):
        arch = architecture_from_kv(kv, [])
        assert (arch.head_count_kv, arch.key_length, arch.value_length, arch.kv_lora_rank) == (1, 576, 512, 512)
    assert architecture_from_kv(llama_cpp, []).value_length_mla == 128
    assert architecture_from_kv(ollama, []).value_length_mla == 256  # GLM-4.7-Flash's v_head_dim
    legacy = _kv("deepseek2", 4, **{  # 2024 GGUF: no *_mla keys, so every head's K and V are cached
        "deepseek2.attention.head_count_kv": 16, "deepseek2.attention.key_length": 192,
        "deepseek2.attention.value_length": 128, "deepseek2.attention.kv_lora_rank": 512,
    })
    arch = architecture_from_kv(legacy, [])
    assert (arch.head_count_kv, arch.key_length, arch.value_length, arch.kv_lora_rank) == (16, 192, 128, 0)


def test_mamba_layers_without_kv_heads_are_recurrent_and_others_uncached():
    kv = _kv("nemotron_h", 4, **{
        "nemotron_h.attention.head_count_kv": [0, 0, 2, 0], "nemotron_h.feed_forward_length": [0, 512, 0, 0],
        "nemotron_h.ssm.conv_kernel": 4, "nemotron_h.ssm.state_size": 128, "nemotron_h.ssm.inner_size": 1024,
        "nemotron_h.ssm.group_count": 8,
    })
    arch = architecture_from_kv(kv, [])
    assert arch.layers == "R-AR" and arch.head_count_kv == 2
    assert arch.recurrent_state_floats == 3 * (1024 + 2 * 8 * 128) + 128 * 1024


def test_latent_moe_width_is_read():
    kv = _kv("nemotron_h_moe", 2, **{
        "nemotron_h_moe.attention.head_count_kv": [2, 0], "nemotron_h_moe.feed_forward_length": [0, 2688],
        "nemotron_h_moe.expert_count": 512, "nemotron_h_moe.expert_used_count": 22,
        "nemotron_h_moe.expert_feed_forward_length": 2688, "nemotron_h_moe.moe_latent_size": 1024,
    })
    arch = architecture_from_kv(kv, [])
    assert arch.moe_latent_size == 1024 and arch.expert_input_width == 1024
    assert architecture_from_kv({**kv, "nemotron_h_moe.moe_latent_size": 0}, []).expert_input_width == arch.embedding_length


def test_multi_token_prediction_layers_after_the_trunk_get_no_cache():
    kv = _kv("qwen35", 9, **{
        "qwen35.full_attention_interval": 4, "qwen35.nextn_predict_layers": 1, "qwen35.ssm.conv_kernel": 4,
        "qwen35.ssm.state_size": 128, "qwen35.ssm.inner_size": 1024, "qwen35.ssm.group_count": 4,
    })
    tensors = [TensorInfo("blk.7.ffn_up.weight", (1024, 512), "Q8_0"), TensorInfo("blk.8.ffn_up.weight", (1024, 512), "Q8_0"),
               TensorInfo("blk.8.nextn.eh_proj.weight", (512, 256), "F16"), TensorInfo("output.weight", (256, 1000), "Q8_0")]
    arch = architecture_from_kv(kv, tensors)
    assert arch.layers == "RRRARRRA-"
    assert arch.draft_bytes == tensors[1].bytes + tensors[2].bytes


def test_ollamas_legacy_mtp_tensors_are_the_layer_after_the_trunk(tmp_path):
    """Ollama's published qwen3.5 files keep their MTP layer as mtp.* tensors, without nextn_predict_layers; Ollama's
    llama/compat renames them to the layer after the trunk and sets the key (apply_qwen35_mtp_fixes, v0.33.0-rc2)."""
    nextn = catalog.resolve("qwen3.5:27b").architecture
    model = ggufs.from_architecture(nextn)
    trunk = {k: v[:64] if isinstance(v, list) and len(v) == 65 else v for k, v in model.kv.items()}  # per-layer arrays
    legacy = ggufs.Model(model.arch, {k: v for k, v in trunk.items() if not k.endswith("nextn_predict_layers")})
    legacy.kv["qwen35.block_count"] = 64
    renames = {"blk.64.nextn.eh_proj.weight": "mtp.fc.weight"}
    for name, shape, kind in model.tensors:
        legacy.tensor(renames.get(name, name.replace("blk.64.", "mtp.layers.0.")), shape, kind)
    arch = read_architecture(ggufs.write(legacy, tmp_path / "legacy.gguf"))
    expected = read_architecture(ggufs.write(model, tmp_path / "nextn.gguf"))
    assert (arch.block_count, arch.layers, arch.draft_layers) == (65, expected.layers, 1)
    assert arch.draft_bytes == expected.draft_bytes == sum(ggufs.nbytes(s, k) for n, s, k in model.tensors if n.startswith("blk.64."))
    settings = Settings(num_ctx=65536, release=Release.of(None), draft_num_predict=4)
    assert estimate(arch, settings).total_bytes == estimate(expected, settings).total_bytes
    plain = ggufs.Model(model.arch, dict(legacy.kv), [t for t in legacy.tensors if not t[0].startswith("mtp.")])
    assert read_architecture(ggufs.write(plain, tmp_path / "plain.gguf")).draft_layers == 0
    plain.tensor("mtp.layers.9999.attn_norm.weight", (5120,), "F32")  # a hostile file's layer number: one clear error
    with pytest.raises(FitAdvisorError, match="mtp"):
        read_architecture(ggufs.write(plain, tmp_path / "hostile.gguf"))


def test_per_layer_kv_heads_are_kept_when_attention_layers_differ():
    arch = architecture_from_kv(_kv("llama", 3, **{"llama.attention.head_count_kv": [8, 4, 8]}), [])
    assert arch.head_count_kv == 8 and arch.per_layer_head_count_kv == (8, 4, 8)


def test_key_length_defaults_to_embedding_over_heads():
    arch = architecture_from_kv(_kv("llama", 2), [])
    assert arch.key_length == arch.value_length == 64


@pytest.mark.parametrize("cut", [0, 3, 7, 23, 200, 5000, -100, -1])
def test_a_truncated_file_is_one_clear_error(tmp_path, cut):
    path = ggufs.write(ggufs.tiny_llama(), tmp_path / "full.gguf")
    size = read_file_header(path).size
    data = path.read_bytes()[: cut if cut >= 0 else size + cut]
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(data)
    with pytest.raises(FitAdvisorError) as error:
        read_architecture(broken)
    message = str(error.value)
    assert "\n" not in message
    if len(data) < 4:
        assert "not a GGUF file" in message
    else:
        assert f"truncated at byte {len(data)}" in message


def test_not_a_gguf_file(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(FitAdvisorError, match="not a GGUF file"):
        read_architecture(path)
    with pytest.raises(FitAdvisorError, match="not a GGUF file"):
        read_header(io.BytesIO(b""), "empty")


def test_a_corrupt_length_is_reported_not_allocated():
    data = b"GGUF" + (3).to_bytes(4, "little") + (0).to_bytes(8, "little") + (1).to_bytes(8, "little") + (2**40).to_bytes(8, "little")
    with pytest.raises(FitAdvisorError, match="not a valid GGUF file: a string of 1099511627776 bytes at byte 32"):
        read_header(io.BytesIO(data), "x.gguf")


def test_unsupported_versions(tmp_path):
    for version, words in ((1, "GGUF version 1"), (3 << 24, "big-endian")):
        data = b"GGUF" + version.to_bytes(4, "little") + b"\0" * 16
        with pytest.raises(FitAdvisorError, match=words):
            read_header(io.BytesIO(data), "x.gguf")


def test_reads_stop_at_the_tensor_table(tmp_path):
    """A multi-GB (sparse) model: the reader asks for the header plus at most one read-ahead chunk."""
    from fitadvisor.models.gguf import READ_AHEAD

    path = ggufs.write(ggufs.from_architecture(catalog.resolve("qwen3-coder:30b").architecture), tmp_path / "big.gguf")
    assert path.stat().st_size > 10**10

    class Counting(io.FileIO):
        asked = 0

        def read(self, size=-1):
            data = super().read(size)
            Counting.asked += len(data)
            return data

    with Counting(path) as file:
        header = read_header(file)
    assert header.size <= Counting.asked < header.size + READ_AHEAD


def test_cli_estimates_a_gguf_file_and_rejects_a_truncated_one(tmp_path):
    import json

    from test_cli import fitadvisor

    path = ggufs.write(ggufs.from_architecture(catalog.resolve("gemma3:27b").architecture), tmp_path / "gemma3.gguf")
    run = fitadvisor("estimate", str(path), "--ctx", "64k", "--json", "--ollama-version", "0.14.0")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["source"] == "gguf" and data["model"] == "gemma3.gguf"
    expected = estimate(catalog.resolve("gemma3:27b").architecture, Settings(num_ctx=65536, release=Release.of("0.14.0")))
    assert data["kv_cache_bytes"] == expected.kv_cache_bytes
    broken = tmp_path / "broken.gguf"
    with open(path, "rb") as file:  # not read_bytes(): the sparse file is 15 GB
        broken.write_bytes(file.read(1000))
    run = fitadvisor("estimate", str(broken))
    assert run.returncode != 0
    assert run.stderr.strip() == f"fitadvisor: error: {broken} is truncated at byte 1000: its GGUF header says more follows (an interrupted download? fetch it again)"


def test_gemma4_sliding_layers_have_their_own_head_size_and_shared_layers_no_cache():
    kv = _kv("gemma4", 8, **{
        "gemma4.attention.sliding_window": 1024, "gemma4.attention.sliding_window_pattern": [True, True, True, False] * 2,
        "gemma4.attention.head_count_kv": [16, 16, 16, 4] * 2, "gemma4.attention.key_length": 512,
        "gemma4.attention.value_length": 512, "gemma4.attention.key_length_swa": 256, "gemma4.attention.value_length_swa": 256,
        "gemma4.attention.shared_kv_layers": 2,
    })
    arch = architecture_from_kv(kv, [])
    assert arch.layers == "SSSASS--"
    assert (arch.key_width(0), arch.value_width(0), arch.key_width(3), arch.value_width(3)) == (256, 256, 512, 512)
    assert arch.per_layer_head_count_kv == (16, 16, 16, 4) * 2


def test_fused_expert_gate_and_up_are_read_from_the_tensor_table(tmp_path):
    """A file whose experts' gate and up are one tensor (ffn_gate_up_exps) says so; the replay reads them that way."""
    separate = catalog.resolve("qwen3.6:35b").architecture
    fused = dataclasses.replace(separate, expert_gate_up_fused=True)
    for expected in (separate, fused):
        model = ggufs.from_architecture(expected)
        arch = read_architecture(ggufs.write(model, tmp_path / "m.gguf"))
        assert arch.expert_gate_up_fused == expected.expert_gate_up_fused
        assert arch.weights_bytes == sum(ggufs.nbytes(shape, kind) for _, shape, kind in model.tensors)


def test_granite_without_rope_is_read_from_its_switch(tmp_path):
    """granite's rope.scaling.finetuned (llama.cpp v0.5.0 granite-hybrid.cpp: RoPE's switch, written false for
    granite-4.0-H); another architecture's key changes nothing, and a value that is not a flag is one clear error."""
    expected = catalog.resolve("granite4:32b-a9b-h").architecture
    assert not expected.has_rope
    model = ggufs.from_architecture(dataclasses.replace(expected, has_rope=True))
    assert read_architecture(ggufs.write(model, tmp_path / "rope.gguf")).has_rope
    model.kv["granitehybrid.rope.scaling.finetuned"] = "no"
    with pytest.raises(FitAdvisorError, match="rope.scaling.finetuned is .*not true or false"):
        read_architecture(ggufs.write(model, tmp_path / "bad.gguf"))
    llama = ggufs.tiny_llama()
    llama.kv["llama.rope.scaling.finetuned"] = False
    assert read_architecture(ggufs.write(llama, tmp_path / "llama.gguf")).has_rope


def test_a_nemotron_h_moe_files_mtp_tensors_are_never_loaded(tmp_path):
    """Ollama's nemotron_h_moe files (Nemotron 3 Super) keep their MTP layer as mtp.* tensors that llama/compat leaves
    to the loader's skip list (handle_nemotron_h_moe, v0.33.0-rc2): in the file, never in llama-server's memory."""
    super_ = catalog.resolve("nemotron-3-super:120b").architecture
    model = ggufs.from_architecture(super_)
    plain = read_architecture(ggufs.write(model, tmp_path / "plain.gguf"))
    mtp = [("mtp.layers.0.mixer.experts.0.up_proj.weight", (4096, 2688), "Q4_K"), ("mtp.layers.0.norm.weight", (4096,), "F32")]
    for name, shape, kind in mtp:
        model.tensor(name, shape, kind)
    arch = read_architecture(ggufs.write(model, tmp_path / "mtp.gguf"))
    skipped = sum(ggufs.nbytes(shape, kind) for _, shape, kind in mtp)
    assert (arch.skipped_bytes, arch.weights_bytes - plain.weights_bytes, arch.draft_layers) == (skipped, skipped, 0)
    for version, loaded in (("0.18.0", True), ("0.30.0", False), (None, False)):
        settings = Settings(num_ctx=65536, release=Release.of(version))
        difference = estimate(arch, settings).weights_bytes - estimate(plain, settings).weights_bytes
        assert difference == (skipped if loaded else 0), version  # Ollama's own engine: not known to skip them

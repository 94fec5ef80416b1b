"""Malformed and hostile GGUF files: each is one clear error within seconds under a 3 GiB cap, or a
correct answer; nonsense values never become an estimate."""

import struct

import pytest
from hostile import (
    ARRAY,
    F32,
    I32,
    STRING,
    U32,
    U64,
    assert_clean_failure,
    gguf,
    gguf_array,
    gguf_kv,
    gguf_string,
    gguf_tensor,
    llama_keys,
    llama_tensors,
    run_capped,
    sparse_file,
)

from fitadvisor.errors import FitAdvisorError
from fitadvisor.models.gguf import MAX_DEPTH, MAX_HEADER, MAX_STRING, read_architecture


def estimate_file(path, deadline: float = 20):
    return run_capped(["estimate", str(path), "--ctx", "4k"], deadline)


@pytest.mark.parametrize("name, head, message", [
    ("a 2^28-element array", gguf(llama_keys() + [gguf_kv("x", ARRAY, gguf_array(U32, 1 << 28))]), "an array of 268435456"),
    ("2^32 strings", gguf(llama_keys() + [gguf_kv("x", ARRAY, gguf_array(STRING, 1 << 32))]), "an array of 4294967296"),
    ("2^32 tensors", gguf(llama_keys(), tensor_count=1 << 32), "4294967296 tensors"),
    ("2^40 keys", gguf([], kv_count=1 << 40), "keys"),
    ("a 2^40-byte string", gguf([gguf_kv("x", STRING, struct.pack("<Q", 1 << 40))]), "a string of"),
    ("arrays nested 2000 deep", gguf(llama_keys() + [gguf_kv("x", ARRAY, gguf_array(ARRAY, 1) * 2000)]), "nested more than"),
    ("2^20 empty nested arrays", gguf(llama_keys() + [gguf_kv("x", ARRAY, gguf_array(ARRAY, 1 << 25))]), "an array of"),
    ("a header past the budget", gguf(llama_keys() + [gguf_kv("s", STRING, gguf_string(bytes(MAX_STRING)))] * 17), "larger than 64 MiB"),
])
def test_sparse_hostile_headers_end_quickly_under_the_cap(tmp_path, name, head, message):
    path = sparse_file(tmp_path / "hostile.gguf", head, 2 << 30)  # 2 GB of zeros after the header
    code, _, err, seconds = estimate_file(path)
    assert_clean_failure(code, err, message)
    assert seconds < 15, name


@pytest.mark.parametrize("change, message", [
    ({"llama.block_count": (U32, struct.pack("<I", 30_000_000))}, "llama.block_count is 30000000"),
    ({"llama.attention.head_count": (I32, struct.pack("<i", -8))}, "llama.attention.head_count is -8"),
    ({"llama.embedding_length": (I32, struct.pack("<i", -4096))}, "llama.embedding_length is -4096"),
    ({"llama.context_length": (F32, struct.pack("<f", float("nan")))}, "llama.context_length is nan"),
    ({"llama.feed_forward_length": (F32, struct.pack("<f", float("inf")))}, "not a whole number"),
    ({"llama.attention.head_count_kv": (STRING, gguf_string("eight"))}, "not a whole number"),
    ({"llama.expert_weights_scale": (F32, struct.pack("<f", float("nan")))}, "llama.expert_weights_scale is nan"),
    ({"llama.expert_weights_scale": (STRING, gguf_string("2.5"))}, "not a scale factor"),
    ({"general.parameter_count": (STRING, gguf_string("24B"))}, "general.parameter_count"),
    ({"general.architecture": (STRING, gguf_string("\x1b]52;c;ZWNobyBoaQ==\x07llama"))}, "not an architecture name"),
])
def test_nonsense_values_are_refused_before_any_estimate(tmp_path, change, message):
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf(llama_keys(**change), llama_tensors()))
    code, out, err, seconds = estimate_file(path)
    assert_clean_failure(code, err, message)
    assert "\x1b" not in err and out == ""
    assert seconds < 10


def test_a_tensor_of_absurd_size_is_refused(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf(llama_keys(), llama_tensors() + [gguf_tensor("blk.1.ffn_up.weight", (1 << 40, 1 << 40))]))
    with pytest.raises(FitAdvisorError, match="more than any real model"):
        read_architecture(path)


def test_nesting_within_the_limit_still_parses(tmp_path):
    nested = gguf_kv("x", ARRAY, gguf_array(ARRAY, 1) * MAX_DEPTH + gguf_array(U32, 0))
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf(llama_keys() + [nested], llama_tensors()))
    assert read_architecture(path).block_count == 2


def test_a_header_just_under_the_budget_is_read(tmp_path):
    """The budget is real: a header of 56 MiB (three times the largest real one) parses."""
    big = [gguf_kv(f"s{i}", STRING, gguf_string(bytes(MAX_STRING))) for i in range(14)]
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf(llama_keys() + big, llama_tensors()))
    assert path.stat().st_size < MAX_HEADER
    assert read_architecture(path).name == "llama"

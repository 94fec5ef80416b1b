import pytest

from fitadvisor.errors import FitAdvisorError
from fitadvisor.units import format_ctx, format_gb, parse_ctx, parse_size


@pytest.mark.parametrize(
    "text, tokens",
    [("65536", 65536), ("64k", 65536), ("64K", 65536), ("128k", 131072), ("1m", 1048576), ("1M", 1048576), (" 32k ", 32768)],
)
def test_parse_ctx(text, tokens):
    assert parse_ctx(text) == tokens


@pytest.mark.parametrize("text", ["abc", "0", "-5", "64kb", "", "k", "0k"])
def test_parse_ctx_rejects(text):
    with pytest.raises(FitAdvisorError, match="invalid context size"):
        parse_ctx(text)


@pytest.mark.parametrize(
    "text, size", [("48GB", 48 * 1024**3), ("48G", 48 * 1024**3), ("24GiB", 24 * 1024**3), ("512MB", 512 * 1024**2), ("1.5TB", int(1.5 * 1024**4))]
)
def test_parse_size_treats_sold_sizes_as_binary(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "48", "0GB", "GB", "48 GB extra", "99999TB", "9" * 400 + "GB"])
def test_parse_size_rejects(text):
    with pytest.raises(FitAdvisorError, match="invalid size"):
        parse_size(text)


def test_format_gb_matches_ollama_ps():
    assert format_gb(37_900_000_000) == "37 GB"
    assert format_gb(9_460_000_000) == "9.5 GB"
    assert format_gb(900_000_000) == "900 MB"
    assert format_gb(804_352) == "804 KB"


def test_format_ctx():
    assert format_ctx(65536) == "64K"
    assert format_ctx(40960) == "40K"
    assert format_ctx(1000) == "1000"

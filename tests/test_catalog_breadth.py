"""Offline breadth: every tag of a catalog family answers `estimate` and `recommend --candidates` with neither a
server nor the registry in reach, and a name the catalog lacks is one line naming the nearest catalog models."""

import json
import re

import pytest
from cli_run import fitadvisor

from fitadvisor.models import catalog

NO_SERVER = "http://127.0.0.1:9"  # refused at once (conftest points the registry there too)
M4_PRO_48 = ("--chip", "Apple M4 Pro", "--memory", "48GB")
RTX_4090 = ("--gpus", "RTX 4090")
TAGS = [f"{model.name}:{tag}" for model in catalog.load() for tag in model.tags]
FAMILIES = sorted({model.name for model in catalog.load()})


def considered(names: list[str], machine: tuple[str, ...], *extra: str) -> set[str]:
    """The models `recommend --candidates` ranked or excluded, offline, for `machine`."""
    run = fitadvisor("recommend", "--candidates", ",".join(names), "--host", NO_SERVER, *machine, "--top", "1000", "--json", *extra)
    assert run.returncode == 0, run.stderr
    advice = json.loads(run.stdout)
    return {pick["model"] for pick in advice["recommendations"]} | {excluded["model"] for excluded in advice["excluded"]}


@pytest.mark.parametrize("machine", [M4_PRO_48, RTX_4090], ids=["m4-pro-48", "rtx-4090"])
def test_recommend_considers_every_catalog_tag_offline(machine):
    assert considered(TAGS, machine, "--max-ctx", "64k") == {catalog.find(tag).reference for tag in TAGS}


def test_each_familys_quantization_tags_are_candidates_offline():
    """The tags Ollama's library lists under each size: the quantizations, after Ollama's variant words."""
    names = ["qwen3.6:27b-q8_0", "qwen3.5:35b-a3b-q4_K_M", "gemma4:31b-it-q8_0", "gemma4:e4b-it-bf16", "gemma3:12b-it-q4_K_M",
             "devstral-small-2:24b-instruct-2512-q8_0", "ministral-3:8b-instruct-2512-q4_K_M", "glm-4.7-flash:q8_0",
             "nemotron-3-nano:30b-a3b-q8_0", "llama3.1:8b-instruct-q5_K_M", "qwen2.5-coder:7b-instruct-q6_K", "laguna-xs.2:q8_0"]
    assert considered(names, M4_PRO_48, "--max-ctx", "64k") == {name.lower() for name in names}


@pytest.mark.parametrize("family", FAMILIES)
def test_a_plain_family_name_estimates_or_names_its_sizes(family):
    """`ollama pull FAMILY` takes the tag `latest`: where the catalog knows what it names, the bare name estimates;
    where not, one line lists the family's sizes instead of a guess."""
    run = fitadvisor("estimate", family, "--host", NO_SERVER, "--json")
    if catalog.find(family) is not None:
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["model"] == catalog.find(family).reference
    else:
        assert run.returncode != 0 and len(run.stderr.strip().splitlines()) == 1
        assert "Did you mean" in run.stderr and all(f"{family}:{tag}" in run.stderr for m in catalog.load() if m.name == family for tag in m.tags)


def test_ollamas_latest_tags_resolve_to_the_size_ollama_publishes_under_them():
    assert catalog.find("gpt-oss").reference == "gpt-oss:20b"
    assert catalog.find("granite4").reference == "granite4:3b"
    assert catalog.find("ministral-3").reference == "ministral-3:8b"
    assert catalog.find("qwen3.6:latest").reference == "qwen3.6:35b"


@pytest.mark.parametrize("name, nearest", [("qwen3:4b", "qwen3:8b"), ("gemma3:1b", "gemma3:4b"), ("granite4:micro-h", "granite4:micro"),
                                           ("qwen3.8:9b", "qwen3.8:27b"), ("gemma3:27b-it-qat", "gemma3:27b")])
@pytest.mark.parametrize("command", ["estimate", "recommend"])
def test_a_model_the_catalog_lacks_is_one_line_naming_the_nearest(name, nearest, command):
    args = ("estimate", name) if command == "estimate" else ("recommend", "--candidates", name, *M4_PRO_48)
    run = fitadvisor(*args, "--host", NO_SERVER)
    assert run.returncode != 0 and run.stdout == "" and len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr and "Did you mean" in run.stderr and nearest in run.stderr


def test_every_swe_bench_figure_says_whose_number_it_is_and_every_gap_where_it_was_looked_for():
    for model in catalog.load():
        source = model.sources.get("swe_bench_verified", "")
        if model.swe_bench_verified is None:
            assert source.startswith("none") and re.search(r"\d{4}-\d{2}-\d{2}", source), model.reference  # and when
        else:
            assert source.startswith(("maker's number", "third party's number", "as the field notes give it")), model.reference


def test_every_terminal_bench_figure_names_its_release_and_whose_number_it_is():
    scored = [model for model in catalog.load() if model.terminal_bench is not None]
    assert scored
    for model in scored:
        assert model.terminal_bench_version in ("2.0", "2.1"), model.reference  # scores of different releases differ
        assert model.sources["terminal_bench"].startswith(("maker's number", "third party's number")), model.reference

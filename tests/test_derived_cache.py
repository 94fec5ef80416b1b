"""The derived cache: parsed data tables and the catalog's sized weights, kept between runs and never trusted blindly."""

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fitadvisor import datafiles
from fitadvisor.datafiles import Derived, parse_toml, read_data, read_toml
from fitadvisor.files import cache_dir
from fitadvisor.models import catalog


def never():
    raise AssertionError("derived again, though the cache held it")


def is_int(value):
    return type(value) is int


def test_a_kept_value_is_read_back_without_deriving_it():
    assert Derived("kind", [b"input"]).get("answer", lambda: 42, is_int) == 42
    assert Derived("kind", [b"input"]).get("answer", never, is_int) == 42
    assert (cache_dir() / "derived" / "kind.json").is_file()


@pytest.mark.parametrize("inputs, version", [([b"other input"], "0.1.0"), ([b"input", b""], "0.1.0"), ([b"input"], "9.9.9")])
def test_other_inputs_or_another_version_derive_again(inputs, version, monkeypatch):
    Derived("kind", [b"input"]).get("answer", lambda: 42, is_int)
    monkeypatch.setattr(datafiles, "__version__", version)
    assert Derived("kind", inputs).get("answer", lambda: 43, is_int) == 43


@pytest.mark.parametrize("damage", [
    lambda text: text[: len(text) // 2],  # cut short
    lambda text: text.replace(":42", ":41"),  # an entry changed under its check
    lambda text: "\x00\xff not json",
    lambda text: text.split("\n")[0] + "\n[1, 2]",  # not a table
])
def test_a_damaged_cache_is_set_aside_and_derived_again(damage):
    Derived("kind", [b"input"]).get("answer", lambda: 42, is_int)
    path = cache_dir() / "derived" / "kind.json"
    path.write_text(damage(path.read_text()))
    assert Derived("kind", [b"input"]).get("answer", lambda: 43, is_int) == 43
    assert [p.name for p in path.parent.iterdir() if ".damaged-" in p.name]
    assert Derived("kind", [b"input"]).get("answer", never, is_int) == 43  # and kept again


def test_an_entry_that_fails_its_check_is_derived_again():
    Derived("kind", [b"input"]).get("answer", lambda: "not a number", lambda value: True)
    assert Derived("kind", [b"input"]).get("answer", lambda: 43, is_int) == 43


def test_a_cache_that_cannot_be_written_is_skipped(monkeypatch, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # a file where the cache directory would be
    assert Derived("kind", [b"input"]).get("answer", lambda: 42, is_int) == 42


def test_a_cache_that_is_not_a_regular_file_is_set_aside():
    path = cache_dir() / "derived" / "kind.json"
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    assert Derived("kind", [b"input"]).get("answer", lambda: 42, is_int) == 42
    assert Derived("kind", [b"input"]).get("answer", never, is_int) == 42


def test_a_cached_table_is_the_parsed_file():
    read_toml("hardware.toml")  # kept
    assert read_toml("hardware.toml") == parse_toml(read_data("hardware.toml").decode())


def test_catalog_sizes_are_the_quantizer_s_and_are_kept():
    catalog._sizes.cache_clear()  # the kept sizes of this test's cache directory
    model = catalog.find("qwen3-coder:30b")
    sized = catalog._sized(model.shape, model.quantization.upper(), model.published_bytes)
    fresh = dataclasses.replace(model).architecture  # a new object: sized, or read back
    assert {name: getattr(fresh, name) for name in catalog.SIZED_FIELDS} == sized
    catalog._sizes.cache_clear()
    kept = catalog._sizes().get(f"{model.reference} {model.quantization}", never, lambda sizes: True)
    assert kept == sized


def test_replayed_compute_buffers_are_the_replay_s_and_are_kept(monkeypatch):
    from fitadvisor.memory import replay_cache
    from fitadvisor.memory.graph import compute

    arch = catalog.resolve("llama3.1:8b").architecture
    params = (65536, 0, 512, 1, True, "f16", "f16", 0)
    replay_cache._kept.cache_clear()
    replay_cache._answers.cache_clear()  # this test's cache directory
    assert replay_cache.compute_buffer_bytes(arch, *params) == compute.compute_buffer_bytes(arch, *params)
    assert replay_cache.has_builder(arch) is compute.has_builder(arch) is True
    kept = replay_cache.compute_buffer_bytes(arch, *params)
    replay_cache._kept.cache_clear()
    replay_cache._answers.cache_clear()
    monkeypatch.setattr(compute, "compute_buffer_bytes", lambda *args: never())
    monkeypatch.setattr(compute, "has_builder", lambda *args: never())
    assert replay_cache.compute_buffer_bytes(arch, *params) == kept and replay_cache.has_builder(arch) is True  # read back


ROOT = Path(__file__).resolve().parent.parent
M4_PRO = ["--memory", "48GB", "--chip", "Apple M4 Pro"]


def recommend_process(env: dict, *machine: str) -> subprocess.CompletedProcess:
    """`recommend` for `machine` in a process of its own, which says on its last stderr line whether it imported the graph."""
    script = (
        "import sys\n"
        "from fitadvisor.cli import main\n"
        "try:\n    main(['recommend', '--ollama-version', '0.34.2', *sys.argv[1:]])\n"
        "except SystemExit:\n    pass\n"
        "graph = any(name.startswith('fitadvisor.memory.graph') for name in sys.modules)  # any of it: its import is slow\n"
        "print('graph imported' if graph else 'graph not imported', file=sys.stderr)\n"
    )
    return subprocess.run([sys.executable, "-c", script, *machine], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)


def test_a_second_recommend_reads_the_replay_s_answers_without_importing_the_graph(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    first, second = (recommend_process(env, *M4_PRO) for _ in range(2))
    assert first.stderr.strip().endswith("graph imported") and first.stdout
    assert second.stderr.strip().endswith("graph not imported") and second.stdout == first.stdout


def test_a_kind_with_too_many_entries_starts_afresh(monkeypatch):
    monkeypatch.setattr(datafiles, "DERIVED_ENTRIES", 3)
    kept = Derived("kind", [b"input"])
    for n in range(4):
        kept.get(f"entry {n}", lambda: n, is_int)
    again = Derived("kind", [b"input"])
    assert again.get("entry 3", never, is_int) == 3
    assert again.get("entry 0", lambda: 10, is_int) == 10  # dropped when the fourth came


def test_a_deferred_kind_is_written_once_when_dropped():
    path = cache_dir() / "derived" / "kind.json"
    kept = Derived("kind", [b"input"], deferred=True)
    for n in range(3):
        kept.get(f"entry {n}", lambda: n, is_int)
    assert not path.exists()  # nothing written per entry
    del kept
    again = Derived("kind", [b"input"], deferred=True)
    assert [again.get(f"entry {n}", never, is_int) for n in range(3)] == [0, 1, 2]


def ship(tmp_path, entries):
    """A shipped folder holding one kind, as the wheel's build writes it."""
    kept = Derived("kind", [b"input"])
    for name, value in entries.items():
        kept.get(name, lambda value=value: value, is_int)
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (cache_dir() / "derived" / "kind.json").rename(shipped / "kind.json")
    return shipped


def test_what_the_build_derived_is_read_where_the_cache_has_none(tmp_path, monkeypatch):
    monkeypatch.setattr(datafiles, "SHIPPED", ship(tmp_path, {"answer": 42}))
    kept = Derived("kind", [b"input"])
    assert kept.get("answer", never, is_int) == 42
    assert kept.get("another", lambda: 7, is_int) == 7  # a new entry goes to the user's cache, with the shipped ones
    assert Derived("kind", [b"input"]).get("another", never, is_int) == 7
    assert (tmp_path / "shipped" / "kind.json").is_file()


@pytest.mark.parametrize("inputs, damage", [([b"other input"], None), ([b"input"], lambda text: text.replace(":42", ":41"))])
def test_what_the_build_derived_for_other_inputs_or_damaged_is_derived_again_and_left_alone(tmp_path, monkeypatch, inputs, damage):
    shipped = ship(tmp_path, {"answer": 42})
    if damage:
        (shipped / "kind.json").write_text(damage((shipped / "kind.json").read_text()))
    before = (shipped / "kind.json").read_text()
    monkeypatch.setattr(datafiles, "SHIPPED", shipped)
    assert Derived("kind", inputs).get("answer", lambda: 43, is_int) == 43
    assert [p.name for p in shipped.iterdir()] == ["kind.json"] and (shipped / "kind.json").read_text() == before


def test_the_build_derives_what_a_first_recommend_needs_and_the_same_answers(tmp_path):
    """The wheel's build (setup.py) runs flows/prederive.py; with its files a first recommend on any of these machines
    replays no graph and prints what one deriving everything prints."""
    subprocess.run([sys.executable, "-m", "fitadvisor.flows.prederive", str(tmp_path / "shipped")], cwd=ROOT,
                   check=True, capture_output=True, timeout=600)
    assert {"graph-replay.json", "catalog-sizes.json", "table-models.toml.json"} <= {p.name for p in (tmp_path / "shipped").iterdir()}
    for machine in (M4_PRO, ["--gpus", "RTX 4090", "--memory", "64GB"], ["--gpus", "none", "--memory", "32GB"]):
        runs = {}
        for shipped in ("shipped", "none"):
            env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / f"cache-{shipped}"), "FITADVISOR_SHIPPED_DERIVED": str(tmp_path / shipped)}
            runs[shipped] = recommend_process(env, *machine)
            shutil.rmtree(tmp_path / f"cache-{shipped}", ignore_errors=True)
        assert runs["shipped"].stderr.strip().endswith("graph not imported"), machine
        assert runs["none"].stderr.strip().endswith("graph imported"), machine
        assert runs["shipped"].stdout == runs["none"].stdout and "Pick:" in runs["shipped"].stdout

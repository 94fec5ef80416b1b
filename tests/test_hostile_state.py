"""Local state that is damaged or out of reach repairs itself or is skipped with a note; streams of
status cannot flood a log; a model's answer of any size or shape is classified quickly."""

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner
from hostile import run_capped

from fitadvisor.claude.toolcheck import CHECK_TOOLS, classify
from fitadvisor.cli import cli
from fitadvisor.datafiles import Derived
from fitadvisor.files import remove_tree
from fitadvisor.ollama.progress import LINE_BURST, LINE_EVERY, PullProgress, StatusLines

NOBODY = 65534


def test_an_unreadable_ollama_store_is_skipped_with_a_note():
    """The Linux service's store is 0750: a user outside its group still gets the catalog's answer."""
    home = Path(tempfile.mkdtemp(prefix="hostile-home-"))
    try:
        home.chmod(0o755)
        (home / ".ollama" / "models" / "manifests").mkdir(parents=True)
        (home / ".ollama").chmod(0o750 if os.geteuid() == 0 else 0o000)
        script = (
            "import os\n"
            "from fitadvisor.models import catalog, ollama_store, resolve\n"
            "catalog.load()  # read while allowed: a dropped root can no longer read the interpreter's own files\n"
            f"if os.geteuid() == 0: os.setegid({NOBODY}); os.seteuid({NOBODY})\n"
            "found = resolve.resolve_model('devstral-small-2')\n"
            "print(found.source, '|', found.note)\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "OLLAMA_MODELS"}
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env={**env, "HOME": str(home)})
    finally:
        (home / ".ollama").chmod(0o755)
        subprocess.run(["rm", "-rf", str(home)], check=False)
    assert run.returncode == 0, run.stderr
    source, note = run.stdout.strip().split(" | ")
    assert source == "catalog" and f"Ollama's store at {home}/.ollama/models is not readable by this user, so it was skipped" in note


def test_a_non_utf8_calibration_store_is_set_aside(private_config_dir):
    private_config_dir.mkdir(parents=True)
    store = private_config_dir / "calibration.toml"
    store.write_bytes(b"format = 1\n\xff\xfe broken")
    code, out, err, _ = run_capped(["estimate", "devstral-small-2", "--ctx", "64k"], 30)
    assert code == 0, err
    assert "was damaged" in out + err
    assert not store.exists() and list(private_config_dir.glob("calibration.toml.damaged-*"))
    assert run_capped(["estimate", "devstral-small-2", "--ctx", "64k"], 30)[0] == 0


def test_a_non_finite_measurement_is_set_aside(private_config_dir):
    from fitadvisor.memory import calibration

    private_config_dir.mkdir(parents=True)
    (private_config_dir / "calibration.toml").write_text(
        'format = 1\n[[observation]]\nmodel = "m:latest"\nestimate_model = "m"\ndigest = ""\nnum_ctx = 65536\n'
        'kv_cache_type = "f16"\nflash_attention = "auto"\nparallel = 1\nollama_version = "0.14.0"\nsize_bytes = 1\n'
        'size_vram_bytes = 1\nprocessor = "100% GPU"\nmachine = "x"\nmeasured_at = "2026-01-01"\n'
        "decode_tokens_per_second = nan\n"
    )
    store = calibration.load()
    assert store.observations == [] and "decode_tokens_per_second" in store.problem


def test_clear_cache_empties_the_registry_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    headers = tmp_path / "fitadvisor" / "headers"
    headers.mkdir(parents=True)
    (headers / "sha256-x.gguf").write_bytes(b"GGUF")
    result = CliRunner().invoke(cli, ["models", "--clear-cache"])
    assert result.exit_code == 0 and "Cleared the registry cache" in result.output
    assert not headers.exists()


def test_clear_cache_also_empties_the_derived_cache_and_says_what_it_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tmp_path / "fitadvisor"
    for kind in ("table-models.toml", "graph-replay"):  # as a run keeps them: a parsed table, a replayed buffer
        assert Derived(kind, [b"inputs"]).get("entry", lambda: 1, lambda value: value == 1) == 1
    (folder / "derived" / "graph-replay.json.damaged-20260101-000000").write_text("{")  # one set aside
    manifest = folder / "manifests" / "registry.ollama.ai" / "library" / "qwen3"
    manifest.mkdir(parents=True)
    (manifest / "8b").write_text("{}")
    (folder / "params").mkdir()
    (folder / "params" / f"sha256-{'0' * 64}").write_text('{"draft_num_predict": 3}')

    result = CliRunner().invoke(cli, ["models", "--clear-cache", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == {"cleared": str(folder), "removed": {"manifests": 1, "headers": 0, "params": 1, "derived": 3}}
    assert not (folder / "derived").exists() and not (folder / "manifests").exists()

    result = CliRunner().invoke(cli, ["models", "--clear-cache"])
    assert result.exit_code == 0
    assert "(manifests: 0, GGUF headers: 0, params layers: 0) and the derived cache" in result.output and "files: 0" in result.output


def test_clearing_a_cache_folder_that_is_a_link_leaves_what_it_points_to(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.json").write_text("{}")
    (tmp_path / "derived").symlink_to(elsewhere)
    assert remove_tree(tmp_path / "derived") == 0
    assert (elsewhere / "keep.json").exists()


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_status_lines_on_a_non_terminal_are_throttled():
    stream, clock = io.StringIO(), Clock()
    lines = StatusLines(stream, clock)
    for step in range(10_000):  # an endless create stream, one new status per event, 1 ms apart
        clock.now = step / 1000
        lines({"status": f"step {step}"})
    lines.close()
    shown = stream.getvalue().splitlines()
    assert len(shown) <= LINE_BURST + 10 / LINE_EVERY + 2
    assert shown[0] == "step 0" and shown[-1] == "step 9999"


def test_pull_progress_on_a_non_terminal_is_throttled_and_survives_odd_events():
    stream, clock = io.StringIO(), Clock()
    progress = PullProgress(stream, clock)
    for step in range(5_000):
        clock.now = step / 1000
        progress({"status": f"pulling {step}", "total": "lots", "completed": [1]})
    progress.close()
    assert len(stream.getvalue().splitlines()) <= LINE_BURST + 5 / LINE_EVERY + 2


def test_a_two_megabyte_answer_is_classified_quickly():
    for text in ('{"a": "' * 300_000, "{" * 2_000_000, ('{"x": [' + "1," * 100) * 10_000):
        start = time.monotonic()
        assert classify([{"type": "text", "text": text}], CHECK_TOOLS)[0] == "no-tool-call"
        assert time.monotonic() - start < 3


def test_a_tool_name_that_is_a_list_is_an_unknown_tool():
    verdict, detail = classify([{"type": "tool_use", "name": ["Read"], "input": {"file_path": "x"}}], CHECK_TOOLS)
    assert verdict == "unknown-tool" and '["Read"]' in detail

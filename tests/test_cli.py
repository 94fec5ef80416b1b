"""The CLI as a user runs it: a separate process, one-line errors, JSON contracts."""

import json
import os
import subprocess
import sys
import tempfile

import cli_run
import pytest
from click.testing import CliRunner

from fitadvisor import __version__
from fitadvisor.cli import cli

NO_SERVER = "127.0.0.1:9"  # nothing listens there: no server answers


def process(*args, cwd=None):
    """`python -m fitadvisor` as its own process, run from outside the checkout so the installed package (with its
    data) is what runs: the contract the in-process runs below stand for."""
    cwd = cwd or tempfile.gettempdir()
    env = {**os.environ, "OLLAMA_HOST": NO_SERVER}
    return subprocess.run(
        [sys.executable, "-m", "fitadvisor", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60
    )


def fitadvisor(*args, cwd=None):
    return cli_run.fitadvisor(*args, env={"OLLAMA_HOST": NO_SERVER}, cwd=cwd or tempfile.gettempdir())


def test_estimate_json_contract(tmp_path):
    run = process("estimate", "devstral-small-2", "--ctx", "64k", "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    for key in ("model", "requested_ctx", "num_ctx", "weights_bytes", "kv_cache_bytes", "compute_bytes", "other_bytes", "total_bytes"):
        assert key in data
    assert data["model"] == "devstral-small-2:24b"
    assert data["requested_ctx"] == data["num_ctx"] == 65536
    assert data["total_bytes"] == sum(data[k] for k in ("weights_bytes", "kv_cache_bytes", "compute_bytes", "other_bytes"))


def test_estimate_readable_output_in_decimal_gb(tmp_path):
    run = fitadvisor("estimate", "devstral-small-2:latest", "--ctx", "64K", "--ollama-version", "0.14.0", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "KV cache" in run.stdout and " GB" in run.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["estimate", "devstrall-small-2"], "Did you mean devstral-small-2"),
        (["estimate", "devstral-small-2", "--ctx", "abc"], "invalid context size 'abc'"),
        (["estimate", "devstral-small-2", "--ctx", "0"], "invalid context size '0'"),
        (["estimate", "devstral-small-2", "--memory", "lots"], "invalid size 'lots'"),
        (["estimate", "devstral-small-2", "--ollama-version", "banana"], "invalid Ollama version"),
        (["estimate", "devstral-small-2", "--kv-cache", "q2"], "q2"),
        (["estimate"], "Missing argument"),
        (["nonsense"], "No such command"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(args, message):
    run = process(*args)
    assert run.returncode != 0
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fitadvisor: error:"), run.stderr
    assert message in lines[0]


def test_models_lists_the_catalog():
    run = fitadvisor("models", "--json")
    assert run.returncode == 0, run.stderr
    names = [m["model"] for m in json.loads(run.stdout)["models"]]
    assert "devstral-small-2:24b" in names and "glm-4.7-flash:latest" in names


@pytest.mark.parametrize("command", ["recommend", "estimate", "models", "probe", "apply", "alias", "doctor", "verify", "calibration"])
def test_every_command_has_help(command):
    run = fitadvisor(command, "--help")
    assert run.returncode == 0, run.stderr
    assert "Usage:" in run.stdout


def test_version():
    run = process("--version")
    assert run.returncode == 0 and run.stdout == CliRunner().invoke(cli, ["--version"]).output == f"fitadvisor, version {__version__}\n"


def test_version_is_answered_before_the_command_line_is_imported():
    script = "import sys\nfrom fitadvisor.launch import main\nmain()\nprint(' '.join(m for m in sys.modules if m.startswith(('click', 'fitadvisor.cli'))), file=sys.stderr)\n"
    run = subprocess.run([sys.executable, "-c", script, "--version"], capture_output=True, text=True, timeout=60)
    assert run.stdout == f"fitadvisor, version {__version__}\n" and run.stderr.strip() == ""


def test_a_model_too_big_for_a_planned_mac_is_split_like_ollama_did():
    # Field: cogito:32b at 128K on a 48 GB M4 Pro under Ollama 0.14.0 showed "41%/59% CPU/GPU".
    args = ["estimate", "cogito:32b", "--ctx", "128k", "--memory", "48GB", "--chip", "Apple M4 Pro", "--ollama-version", "0.14.0"]
    data = json.loads(fitadvisor(*args, "--json").stdout)
    assert data["fits"] is False and data["gpu_bytes"] + data["cpu_bytes"] == data["total_bytes"]
    assert abs(data["cpu_bytes"] / data["total_bytes"] - 0.41) <= 0.05
    readable = fitadvisor(*args).stdout
    assert "Does not fit" in readable and "CPU/GPU" in readable


# Third-party modules and the core's data tables: what `--help` has no use for.
HEAVY = ("httpx", "jinja2", "psutil", "fitadvisor.hardware", "fitadvisor.models", "fitadvisor.memory", "fitadvisor.recommend")


def imported_after(*args, host="127.0.0.1:9") -> set[str]:
    """The heavy modules a separate process has imported once `fitadvisor ARGS` has run."""
    script = (
        "import sys\nfrom fitadvisor.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print(' '.join(m for m in sys.modules if m.startswith({HEAVY!r})), file=sys.stderr)\n"
    )
    env = {**os.environ, "OLLAMA_HOST": host}
    run = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, timeout=60)
    return set(run.stderr.strip().splitlines()[-1].split()) if run.stderr.strip() else set()


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_version_and_help_import_nothing_heavy(args):
    assert imported_after(*args) == set()


def test_recommend_for_a_named_release_contacts_nothing_and_imports_no_http(fake_ollama):
    loaded = imported_after("recommend", "--ollama-version", "0.32.15", "--memory", "48GB", "--chip", "Apple M4 Pro",
                            host=fake_ollama.url)
    assert "fitadvisor.models.catalog" in loaded and "httpx" not in loaded
    assert fake_ollama.requests == []


def test_no_server_is_found_without_importing_http():
    assert "httpx" not in imported_after("recommend", "--memory", "48GB", "--chip", "Apple M4 Pro")


def test_errors_end_as_one_line_where_cli_runner_sees_them(monkeypatch):
    """The click group itself turns errors into one line and an exit code, so in-process runs see what users see."""
    bad = fitadvisor("estimate", "devstral-small-2", "--ctx", "abc")
    assert (bad.returncode, bad.stdout) == (2, "") and bad.stderr.startswith("fitadvisor: error: invalid context size")

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("fitadvisor.flows.estimate.estimate_with_speed", broken)
    bug = fitadvisor("estimate", "devstral-small-2")
    assert bug.returncode == 70 and bug.stderr.splitlines() == [
        "fitadvisor: error: internal error: RuntimeError: boom (set FITADVISOR_DEBUG=1 for the traceback and please report it)"
    ]

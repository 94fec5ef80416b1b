"""`apply`'s plan and Modelfile: names, the estimate gate, the Modelfile itself and how it is written."""

import io
import json
import os
import stat

import pytest

from fitadvisor.claude import configure
from fitadvisor.errors import FitAdvisorError
from fitadvisor.flows.apply import plan_apply
from fitadvisor.flows.context import RunContext
from fitadvisor.flows.options import AliasOptions, EngineOptions, MachineOptions
from fitadvisor.ollama.progress import PullProgress, bar_line

# A machine the catalog's devstral-small-2 fits at 64K, and one it does not; no server asked for its version.
ROOMY = {"gpu_memory": "32GB", "memory": "64GB", "ollama_version": "0.14.0"}
SMALL = {"gpu_memory": "12GB", "memory": "64GB", "ollama_version": "0.14.0"}


def make_plan(tmp_path, model="devstral-small-2", ctx=65536, host=None, name=None, force=False, alias_name="claude-local",
              anthropic_traffic=False, **machine):
    machine = {**ROOMY, **machine}
    engine = EngineOptions(ollama_version=machine.pop("ollama_version"))
    run = RunContext(host, MachineOptions(**machine))
    return plan_apply(run, model, ctx, engine, AliasOptions(alias_name, "bash", anthropic_traffic), name, tmp_path, force)


@pytest.mark.parametrize(
    "model, ctx, name",
    [
        ("devstral-small-2", 65536, "devstral-small-2-64k"),
        ("devstral-small-2:24b", 131072, "devstral-small-2-128k"),
        ("qwen3-coder:30b", 1048576, "qwen3-coder-1m"),
        ("someone/their-model:q8_0", 50000, "their-model-q8_0-50000"),
        ("gpt-oss:20b", 65536, "gpt-oss-64k"),  # the size gpt-oss:latest names
        ("gpt-oss:120b", 65536, "gpt-oss-120b-64k"),
        ("qwen3-coder:7b", 65536, "qwen3-coder-7b-64k"),  # a catalog family, a tag the catalog lacks
        ("registry.example.com:5000/team/coder:latest", 32768, "coder-32k"),
    ],
)
def test_derived_name_is_model_with_tag_unless_latest_plus_context(model, ctx, name):
    assert configure.derived_name(model, ctx) == name


def test_modelfile_has_from_and_num_ctx_and_says_what_was_estimated(tmp_path):
    plan = make_plan(tmp_path)
    lines = plan.modelfile_text.splitlines()
    assert [line for line in lines if line and not line.startswith("#")] == ["FROM devstral-small-2", "PARAMETER num_ctx 65536"]
    estimated = next(line for line in lines if line.startswith("# fitadvisor estimated:"))
    assert "devstral-small-2:24b at 64K" in estimated and "fits the GPU budget" in estimated
    assert "#   ollama create devstral-small-2-64k -f Modelfile.devstral-small-2-64k" in lines
    assert plan.modelfile == tmp_path / "Modelfile.devstral-small-2-64k"
    assert plan.name == "devstral-small-2-64k" and plan.model == "devstral-small-2"


def test_too_big_for_the_gpu_is_refused_without_force(tmp_path):
    with pytest.raises(FitAdvisorError, match=r"GPU budget.*pass --force"):
        make_plan(tmp_path, **SMALL)
    plan = make_plan(tmp_path, force=True, **SMALL)
    assert any("applying anyway because of --force" in w for w in plan.warnings)
    assert "does not fit the GPU budget" in plan.modelfile_text


def test_apply_checks_the_fit_with_the_engine_options_given(tmp_path):
    """`apply --kv-cache q8_0` or `--parallel 2` is checked against the cache and slots it will run with, as `estimate` is."""
    from click.testing import CliRunner

    from fitadvisor.cli import cli

    args = ["apply", "devstral-small-2", "--ctx", "64k", "--dry-run", "--no-create", "--json", "--dir", str(tmp_path),
            "--gpu-memory", "24GB", "--memory", "64GB", "--ollama-version", "0.32.15"]
    f16 = CliRunner().invoke(cli, args)
    assert f16.exit_code == 2 and "the GPU budget is" in f16.stderr
    q8_0 = CliRunner().invoke(cli, [*args, "--kv-cache", "q8_0"])
    assert q8_0.exit_code == 0, q8_0.output
    assert json.loads(q8_0.output)["estimate"]["kv_cache_type"] == "q8_0"
    two_slots = CliRunner().invoke(cli, [*args, "--kv-cache", "q8_0", "--parallel", "2"])
    assert two_slots.exit_code == 2 and "the GPU budget is" in two_slots.stderr


def test_cpu_only_machine_is_a_warning_not_a_refusal(tmp_path):
    plan = make_plan(tmp_path, gpu_memory=None, memory="128GB")
    assert any("no GPU found" in w for w in plan.warnings)
    with pytest.raises(FitAdvisorError, match="free RAM"):
        make_plan(tmp_path, gpu_memory=None, memory="8GB")


def test_unknown_model_needs_force_and_then_goes_without_estimate(tmp_path):
    with pytest.raises(FitAdvisorError, match="--force applies it without an estimate"):
        make_plan(tmp_path, model="someone/custom-coder:7b")
    plan = make_plan(tmp_path, model="someone/custom-coder:7b", force=True)
    assert plan.estimate is None and plan.name == "custom-coder-7b-64k"
    assert "fitadvisor made no estimate" in plan.modelfile_text and "FROM someone/custom-coder:7b" in plan.modelfile_text


def test_context_beyond_training_is_capped_as_ollama_caps_it(tmp_path):
    plan = make_plan(tmp_path, ctx=4 * 1048576, force=True)
    trained = plan.estimate.num_ctx
    assert trained < 4 * 1048576
    assert plan.num_ctx == trained and plan.name == configure.derived_name("devstral-small-2", trained)
    assert f"PARAMETER num_ctx {trained}" in plan.modelfile_text
    assert plan.alias.num_ctx == trained


def test_name_rules(tmp_path):
    with pytest.raises(FitAdvisorError, match="base model itself"):
        make_plan(tmp_path, name="devstral-small-2:latest")
    with pytest.raises(FitAdvisorError, match="invalid model name"):
        make_plan(tmp_path, name="x; rm -rf ~")
    plan = make_plan(tmp_path, name="me/devstral:64k")
    assert plan.modelfile.name == "Modelfile.me_devstral_64k" and plan.modelfile.parent == tmp_path
    assert plan.create_command.startswith("ollama create me/devstral:64k -f ")


def test_create_command_quotes_the_path(tmp_path):
    directory = tmp_path / "it's a dir"
    directory.mkdir()
    plan = make_plan(directory)
    assert plan.create_command == f"ollama create devstral-small-2-64k -f '{tmp_path}/it'\"'\"'s a dir/Modelfile.devstral-small-2-64k'"


def test_compaction_at_64k_and_a_warning_where_it_cannot_work(tmp_path):
    plan = make_plan(tmp_path)
    assert plan.compaction.works and plan.compaction.at_tokens == 65536 - 23_000  # data/claude_code.toml, 2.1.332
    assert not any("compact" in w for w in plan.warnings)
    small = make_plan(tmp_path, ctx=32768, force=True)
    assert any("too small for Claude Code" in w for w in small.warnings)


def test_alias_runs_the_derived_model_at_its_context(tmp_path):
    plan = make_plan(tmp_path, alias_name="claude-dev", host="localhost:11500", anthropic_traffic=True)
    env = dict(plan.alias.environment())
    assert plan.alias.argv == ["claude", "--model", "devstral-small-2-64k"]
    assert env["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] == "65536" and env["ANTHROPIC_BASE_URL"] == "http://localhost:11500"
    assert "CLAUDE_CODE_AUTO_COMPACT_WINDOW" not in env  # below 100K Claude Code 2.1.332 warns and ignores it
    assert "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC" not in env
    assert plan.alias_text.startswith("# Claude Code") and "alias claude-dev=" in plan.alias_text


# -- writing the Modelfile ---------------------------------------------------------------------------


def test_modelfile_written_then_unchanged_then_backed_up_when_different(tmp_path):
    plan = make_plan(tmp_path)
    first = configure.write_modelfile(plan)
    assert first.action == "written" and first.backup is None
    assert plan.modelfile.read_text() == plan.modelfile_text
    assert stat.S_IMODE(plan.modelfile.stat().st_mode) == 0o666 & ~_umask()

    assert configure.write_modelfile(plan).action == "unchanged"
    assert sorted(os.listdir(tmp_path)) == ["Modelfile.devstral-small-2-64k"]

    plan.modelfile.write_text("FROM something-else\n# my own edits\n")
    plan.modelfile.chmod(0o600)
    third = configure.write_modelfile(plan)
    assert third.action == "replaced" and third.backup.read_text() == "FROM something-else\n# my own edits\n"
    assert plan.modelfile.read_text() == plan.modelfile_text
    assert stat.S_IMODE(plan.modelfile.stat().st_mode) == 0o600


def test_modelfile_directory_must_exist(tmp_path):
    plan = make_plan(tmp_path / "missing")
    with pytest.raises(FitAdvisorError, match="does not exist"):
        configure.write_modelfile(plan)


def test_modelfile_write_failure_is_one_line_and_leaves_the_old_file(tmp_path, monkeypatch):
    plan = make_plan(tmp_path)
    plan.modelfile.write_text("FROM mine\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refuse)  # files.py imports tempfile when it writes
    with pytest.raises(FitAdvisorError, match="cannot write .*Permission denied.*nothing was changed"):
        configure.write_modelfile(plan)
    assert plan.modelfile.read_text() == "FROM mine\n"


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# -- pull progress ---------------------------------------------------------------------------------


def test_bar_line_shows_bytes_rate_and_eta():
    line = bar_line("pulling 3a8f2b1c9d0e", 8_310_000_000, 18_560_000_000, 52_000_000)
    assert line.startswith("pulling 3a8f2b1c9d0e [")
    assert " 45%" in line and "8.31 GB/18.56 GB" in line and "52 MB/s" in line and "ETA 3m17s" in line


class Terminal(io.StringIO):
    def isatty(self):
        return True


def pull_events(total=2_000_000_000):
    yield {"status": "pulling manifest"}
    for completed in range(0, total + 1, total // 4):
        yield {"status": "pulling 3a8f2b1c9d0e", "digest": "sha256:3a8f2b1c9d0e", "total": total, "completed": completed}
    yield {"status": "verifying sha256 digest"}
    yield {"status": "success"}


def test_progress_bar_on_a_terminal_with_colour_unless_no_color():
    for environ, coloured in (({}, True), ({"NO_COLOR": "1"}, False)):
        clock = iter(range(100))
        stream = Terminal()
        progress = PullProgress(stream, clock=lambda: float(next(clock)), environ=environ)
        for event in pull_events():
            progress(event)
        progress.close()
        out = stream.getvalue()
        assert "\r\x1b[K" in out and "100%" in out and "2.00 GB/2.00 GB" in out and "500 MB/s" in out
        assert ("\x1b[32m" in out) is coloured
        assert out.endswith("verifying sha256 digest\nsuccess\n")


def test_no_bar_when_not_a_terminal():
    stream = io.StringIO()
    progress = PullProgress(stream, environ={})
    for event in pull_events():
        progress(event)
    progress.close()
    assert stream.getvalue() == "pulling manifest\npulling 3a8f2b1c9d0e (2.00 GB)\nverifying sha256 digest\nsuccess\n"

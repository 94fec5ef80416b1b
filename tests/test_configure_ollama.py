"""`apply` and `alias` against the stand-in Ollama: the exact requests, pulls, failures, and the CLI as users run it."""

import json
import os
import subprocess
import sys

import pytest
from fake_ollama import FakeModel

from fitadvisor.claude import configure
from fitadvisor.errors import FitAdvisorError
from fitadvisor.flows.apply import alias_for, apply_model, plan_apply
from fitadvisor.flows.context import RunContext
from fitadvisor.flows.options import AliasOptions, MachineOptions
from fitadvisor.ollama.client import Client, OllamaError

ROOMY = {"gpu_memory": "32GB", "memory": "64GB"}
CREATE_BODY = {"model": "devstral-small-2-64k", "from": "devstral-small-2", "parameters": {"num_ctx": 65536}}


def apply(fake, tmp_path, **options):
    run = RunContext(fake.url, MachineOptions(**ROOMY))
    plan = plan_apply(run, "devstral-small-2", 65536, alias=AliasOptions(shell="bash"), directory=tmp_path,
                      server_wide=options.pop("server_wide", False))
    return apply_model(run, plan, **options)


def test_apply_creates_the_derived_model_with_exactly_the_documented_request(fake_ollama, tmp_path):
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    statuses = []
    done = apply(fake_ollama, tmp_path, on_status=statuses.append)

    creates = fake_ollama.requests_to("/api/create")
    assert len(creates) == 1 and creates[0].method == "POST" and creates[0].body == CREATE_BODY
    assert done.created and not done.pulled
    assert fake_ollama.find("devstral-small-2-64k").num_ctx == 65536
    assert [s["status"] for s in statuses][-1] == "success"
    assert (tmp_path / "Modelfile.devstral-small-2-64k").exists()
    assert not fake_ollama.requests_to("/api/pull")
    assert any("Created devstral-small-2-64k" in line for line in done.lines)


def test_estimate_uses_the_running_servers_release(fake_ollama, tmp_path):
    fake_ollama.version = "0.30.1"
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    done = apply(fake_ollama, tmp_path)
    assert done.plan.estimate.release.startswith("0.30")


def test_missing_base_model_is_said_and_nothing_is_created(fake_ollama, tmp_path):
    with pytest.raises(FitAdvisorError) as error:
        apply(fake_ollama, tmp_path)
    message = str(error.value)
    assert "devstral-small-2 is not in Ollama" in message and "--pull" in message
    assert f"`ollama create devstral-small-2-64k -f {tmp_path}/Modelfile.devstral-small-2-64k`" in message
    assert not fake_ollama.requests_to("/api/create") and not fake_ollama.requests_to("/api/pull")


def test_pull_on_missing_with_pull_then_create(fake_ollama, tmp_path):
    fake_ollama.registry["devstral-small-2:latest"] = FakeModel("devstral-small-2:latest", size=3_000_000_000)
    progress = []
    done = apply(fake_ollama, tmp_path, pull=True, on_progress=progress.append)

    paths = [r.path for r in fake_ollama.requests if r.path in ("/api/show", "/api/pull", "/api/create")]
    # The estimate first asks the server for the installed model's architecture (not there yet: the catalog answers).
    assert paths == ["/api/show", "/api/show", "/api/pull", "/api/show", "/api/create"]
    assert fake_ollama.requests_to("/api/pull")[0].body == {"model": "devstral-small-2"}
    assert fake_ollama.requests_to("/api/create")[0].body == CREATE_BODY
    assert done.pulled and done.created
    assert any(event.get("completed") == 3_000_000_000 for event in progress)


def test_pull_failure_inside_a_200_stream_is_one_error(fake_ollama, tmp_path):
    with pytest.raises(OllamaError, match="file does not exist"):
        apply(fake_ollama, tmp_path, pull=True)
    assert not fake_ollama.requests_to("/api/create")


def test_error_line_inside_a_200_create_stream(fake_ollama, tmp_path):
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    fake_ollama.mode = "stream-error"
    with pytest.raises(OllamaError, match="an error line inside a 200 stream"):
        apply(fake_ollama, tmp_path)


def test_a_model_without_tools_is_a_warning(fake_ollama, tmp_path):
    fake_ollama.add(FakeModel("devstral-small-2:latest", capabilities=["completion"]))
    done = apply(fake_ollama, tmp_path)
    assert done.created and any("does not support tools" in w for w in done.warnings)


def test_dry_run_writes_creates_and_pulls_nothing(fake_ollama, tmp_path):
    rc = tmp_path / ".bashrc"
    rc.write_text("# mine\n")
    done = apply(fake_ollama, tmp_path, pull=True, dry_run=True, install_alias=True, rc_file=rc)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".bashrc"] and rc.read_text() == "# mine\n"
    assert {r.method for r in fake_ollama.requests} <= {"GET", "POST"} and not fake_ollama.requests_to("/api/create")
    assert not fake_ollama.requests_to("/api/pull")
    assert any("Would pull devstral-small-2" in line for line in done.lines)
    assert any(line.startswith("Would add the claude-local alias") for line in done.lines)
    assert done.to_dict()["created"] is False


def test_no_create_only_prints_the_command(fake_ollama, tmp_path):
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    done = apply(fake_ollama, tmp_path, create=False)
    assert not fake_ollama.requests_to("/api/create") and not done.created
    assert f"    ollama create devstral-small-2-64k -f {tmp_path}/Modelfile.devstral-small-2-64k" in done.lines


def test_alias_without_ctx_reads_num_ctx_from_ollama(fake_ollama):
    fake_ollama.add(FakeModel("devstral-small-2-128k:latest", num_ctx=131072))
    result = alias_for(RunContext(fake_ollama.url), "devstral-small-2-128k", options=AliasOptions(shell="bash")).to_dict()
    assert result["num_ctx"] == 131072 and result["environment"]["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] == "131072"
    assert result["warnings"] == []
    assert configure.alias_context(Client(fake_ollama.url), "not-there") is None


def test_alias_with_ctx_uses_the_derived_name_without_asking_ollama(fake_ollama):
    result = alias_for(RunContext(fake_ollama.url), "devstral-small-2:24b", 65536, options=AliasOptions(shell="zsh")).to_dict()
    assert result["model"] == "devstral-small-2-64k" and fake_ollama.requests == []
    assert result["compaction"]["works"] and result["compaction"]["at_tokens"] == 65536 - 23_000
    assert result["warnings"] == []


# -- the CLI as a user runs it ------------------------------------------------------------------------


def fitadvisor(*args, cwd, home, host="127.0.0.1:9"):
    env = {**os.environ, "OLLAMA_HOST": host, "HOME": str(home), "SHELL": "/bin/zsh", "XDG_CONFIG_HOME": str(home / ".config")}
    env.pop("ZDOTDIR", None)
    return subprocess.run([sys.executable, "-m", "fitadvisor", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


@pytest.fixture
def place(tmp_path, home):
    work = tmp_path / "work"
    work.mkdir()
    return work, home


def test_server_down_prints_the_exact_create_command(place):
    work, home = place
    run = fitadvisor("apply", "devstral-small-2", "--ctx", "64k", "--gpu-memory", "32GB", "--memory", "64GB", cwd=work, home=home)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "    ollama create devstral-small-2-64k -f Modelfile.devstral-small-2-64k" in lines
    assert (work / "Modelfile.devstral-small-2-64k").read_text().splitlines()[-2:] == [
        "FROM devstral-small-2", "PARAMETER num_ctx 65536"
    ]
    assert "compacts the conversation when it reaches about 42K tokens of the 64K window" in run.stdout
    assert run.stdout.rstrip().endswith("claude --model devstral-small-2-64k'")  # the alias comes last


def test_apply_json_contract(fake_ollama, place):
    work, home = place
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    run = fitadvisor("apply", "devstral-small-2", "--ctx", "64k", "--gpu-memory", "32GB", "--memory", "64GB", "--json",
                     cwd=work, home=home, host=fake_ollama.url)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert {"name", "from", "num_ctx", "modelfile", "created", "alias"} <= data.keys()
    assert data["name"] == "devstral-small-2-64k" and data["from"] == "devstral-small-2" and data["num_ctx"] == 65536
    assert data["created"] is True and data["modelfile"] == str(work / "Modelfile.devstral-small-2-64k")
    assert data["alias"].startswith("# Claude Code") and "alias claude-local=" in data["alias"]
    assert fake_ollama.requests_to("/api/create")[0].body == CREATE_BODY


def test_install_alias_twice_then_a_new_context(fake_ollama, place):
    work, home = place
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    zshrc = home / ".zshrc"
    zshrc.write_text("# my settings\nsetopt autocd\n")
    args = ["apply", "devstral-small-2", "--gpu-memory", "32GB", "--memory", "64GB", "--install-alias"]

    for _ in range(2):
        run = fitadvisor(*args, "--ctx", "64k", cwd=work, home=home, host=fake_ollama.url)
        assert run.returncode == 0, run.stderr
    text = zshrc.read_text()
    assert text.startswith("# my settings\nsetopt autocd\n") and text.count(">>> fitadvisor alias claude-local >>>") == 1
    assert "already has this claude-local alias" in run.stdout
    backups = sorted(home.glob(".zshrc.fitadvisor-*.bak"))
    assert len(backups) == 1 and backups[0].read_text() == "# my settings\nsetopt autocd\n"

    run = fitadvisor(*args, "--ctx", "128k", "--force", cwd=work, home=home, host=fake_ollama.url)
    assert run.returncode == 0, run.stderr
    text = zshrc.read_text()
    assert text.count(">>> fitadvisor alias claude-local >>>") == 1
    assert "devstral-small-2-128k" in text and "devstral-small-2-64k" not in text
    assert len(list(home.glob(".zshrc.fitadvisor-*.bak"))) == 2


def test_unwritable_rc_file_is_one_line_and_unchanged(fake_ollama, place):
    work, home = place
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    zshrc = home / ".zshrc"
    zshrc.write_text("# mine\n")
    zshrc.chmod(0o444)
    run = fitadvisor("apply", "devstral-small-2", "--ctx", "64k", "--gpu-memory", "32GB", "--memory", "64GB",
                     "--install-alias", cwd=work, home=home, host=fake_ollama.url)
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert lines[-1].startswith(f"fitadvisor: error: cannot write {zshrc}") and "unchanged" in lines[-1]
    assert not any(line.startswith("fitadvisor: error") for line in lines[:-1])
    assert zshrc.read_text() == "# mine\n" and not list(home.glob(".zshrc.*"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["apply", "x;rm -rf ~", "--ctx", "64k"], "invalid model name"),
        (["apply", "devstral-small-2", "--ctx", "64k", "--alias-name", "a;b"], "invalid alias name"),
        (["apply", "devstral-small-2", "--ctx", "64k", "--host", "http://h/$(id)"], "invalid Ollama host"),
        (["apply", "devstral-small-2"], "--ctx is required"),
        (["apply", "devstral-small-2", "--ctx", "64k", "--rc-file", "x"], "--rc-file goes with --install-alias"),
        (["alias", "$(id)"], "invalid model name"),
    ],
)
def test_bad_input_is_one_line(place, args, message):
    work, home = place
    run = fitadvisor(*args, "--gpu-memory", "32GB", "--memory", "64GB", cwd=work, home=home) if args[0] == "apply" else fitadvisor(
        *args, cwd=work, home=home
    )
    assert run.returncode != 0 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fitadvisor: error:") and message in lines[0], run.stderr
    assert list(work.iterdir()) == []


def test_alias_prints_only_the_alias_on_stdout(place):
    work, home = place
    run = fitadvisor("alias", "devstral-small-2", "--ctx", "64k", "--shell", "fish", cwd=work, home=home)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("# Claude Code") and run.stdout.rstrip().endswith("end")
    assert "function claude-local" in run.stdout and "Warning:" not in run.stdout
    assert "Note: Claude Code 2.1.332 compacts the conversation when it reaches about 42K tokens" in run.stderr


# -- server-wide context and `ollama launch claude` ---------------------------------------------------


def test_server_wide_writes_and_creates_nothing_and_shows_each_platform(fake_ollama, tmp_path):
    fake_ollama.version = "0.33.0"
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    done = apply(fake_ollama, tmp_path, server_wide=True)

    assert list(tmp_path.iterdir()) == [] and not fake_ollama.requests_to("/api/create") and not done.created
    assert done.plan.alias.model == "devstral-small-2" and done.plan.alias.argv == ["claude", "--model", "devstral-small-2"]
    assert dict(done.plan.alias.environment())["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] == "65536"
    text = "\n".join(done.lines)
    for step in ("launchctl setenv OLLAMA_CONTEXT_LENGTH 65536", "Settings > Context length > 64k",  # macOS
                 'Environment="OLLAMA_CONTEXT_LENGTH=65536"', "sudo systemctl daemon-reload",  # Linux (systemd)
                 "setx OLLAMA_CONTEXT_LENGTH 65536"):  # Windows
        assert step in text
    assert "no Modelfile and no new model" in text
    data = done.to_dict()
    assert data["server_wide"] is True and data["name"] == "devstral-small-2"


def test_launch_command_adds_what_ollama_launch_leaves_out(fake_ollama, tmp_path):
    """`ollama launch claude` (cmd/launch/claude.go @ v0.33.0-rc2) sets the opus/sonnet/haiku tiers and the sub-agent
    model, but not the fable tier, forced sub-agents or the window: those go in front of it."""
    fake_ollama.version = "0.33.0"
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    done = apply(fake_ollama, tmp_path)
    command = done.launch_command
    assert command.endswith("ollama launch claude --model devstral-small-2-64k")
    assert command.startswith(f"OLLAMA_HOST={fake_ollama.url} ")
    for given in ("ANTHROPIC_DEFAULT_FABLE_MODEL=devstral-small-2-64k", "CLAUDE_CODE_SUBAGENT_MODEL_FORCE=1",
                  "CLAUDE_CODE_MAX_CONTEXT_TOKENS=65536", "CLAUDE_CODE_USE_FOUNDRY=0"):
        assert given in command
    assert "ANTHROPIC_DEFAULT_OPUS_MODEL" not in command and "ANTHROPIC_BASE_URL" not in command  # launch sets these
    assert any("The 64K context belongs to devstral-small-2-64k alone" in line for line in done.lines)


def test_no_launch_command_for_a_server_before_0_15(fake_ollama, tmp_path):
    fake_ollama.version = "0.14.3"
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    assert apply(fake_ollama, tmp_path).launch_command is None

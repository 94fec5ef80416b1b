"""`doctor` against the stand-in Ollama: each finding, and the exit code."""

import json
import os

import cli_run
import pytest
from fake_ollama import FakeModel
from helpers_ollama import CPU_ONLY_BOX, RTX_4090_BOX

from fitadvisor.flows.doctor import doctor
from fitadvisor.ollama.client import Client
from fitadvisor.ollama import server_env as serverenv


@pytest.fixture
def claude_on_path(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    claude = bin_dir / "claude"
    claude.write_text("#!/bin/sh\nexit 0\n")
    claude.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return claude


def run_doctor(fake, environ=None, hardware=RTX_4090_BOX):
    return doctor(Client(fake.url, timeout=2), serverenv.read(environ or {}), hardware)


def findings(report, check=None, status=None):
    return [f for f in report.findings if (check is None or f.check == check) and (status is None or f.status == status)]


def test_all_well(fake_ollama, claude_on_path):
    fake_ollama.version = "0.32.15"
    fake_ollama.add(FakeModel("devstral-small-2-64k:latest", num_ctx=65536))
    report = run_doctor(fake_ollama)
    assert report.ok, [f for f in report.findings if f.status == "fail"]
    assert report.claude == str(claude_on_path)
    assert [m.name for m in report.models] == ["devstral-small-2-64k:latest"] and report.models[0].num_ctx == 65536
    # 24 GiB of VRAM: v0.15.5+ defaults to 32K, too small, but the model sets its own
    assert report.default_num_ctx == 32768
    (default,) = findings(report, "default-context")
    assert default.status == "warn" and "devstral-small-2-64k:latest sets its own" in default.message


def test_old_server(fake_ollama, claude_on_path):
    fake_ollama.version = "0.13.5"
    report = run_doctor(fake_ollama)
    assert not report.ok
    (old,) = findings(report, "ollama", "fail")
    assert "Ollama 0.13.5" in old.message and "too old" in old.message and "upgrade Ollama" in old.fix


@pytest.mark.parametrize("version, hardware, environ, expected", [
    ("0.15.4", RTX_4090_BOX, {}, 4096),  # the fixed default before v0.15.5
    ("0.32.15", CPU_ONLY_BOX, {}, 4096),  # no GPU: the lowest tier
    ("0.32.15", RTX_4090_BOX, {}, 32768),
    ("0.32.15", RTX_4090_BOX, {"OLLAMA_CONTEXT_LENGTH": "16384"}, 16384),
])
def test_too_small_default_context(fake_ollama, claude_on_path, version, hardware, environ, expected):
    fake_ollama.version = version
    fake_ollama.add(FakeModel("devstral-small-2:latest"))  # tools, but no num_ctx of its own
    report = run_doctor(fake_ollama, environ, hardware)
    assert report.default_num_ctx == expected and not report.ok
    (default,) = findings(report, "default-context", "fail")
    assert "OLLAMA_CONTEXT_LENGTH=65536" in default.fix and "fitadvisor apply" in default.fix
    (model,) = findings(report, "model", "warn")
    assert "too small for Claude Code" in model.message


def test_large_default_context_is_fine(fake_ollama, claude_on_path):
    fake_ollama.version = "0.32.15"
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    report = run_doctor(fake_ollama, {"OLLAMA_CONTEXT_LENGTH": "131072"})
    assert report.ok and findings(report, "default-context")[0].status == "ok"


def test_model_without_tools(fake_ollama, claude_on_path):
    fake_ollama.add(FakeModel("devstral-small-2-64k:latest", num_ctx=65536))
    fake_ollama.add(FakeModel("deepseek-r1:8b", tool_behaviour="unsupported"))
    report = run_doctor(fake_ollama)
    (no_tools,) = [f for f in findings(report, "model", "warn") if "deepseek-r1:8b" in f.message]
    assert "has no tool support" in no_tools.message
    assert report.ok  # another model can drive Claude Code


def test_no_model_with_tools_is_a_failure(fake_ollama, claude_on_path):
    fake_ollama.add(FakeModel("deepseek-r1:8b", tool_behaviour="unsupported"))
    report = run_doctor(fake_ollama)
    assert not report.ok and findings(report, "model", "fail")


def test_server_variables(fake_ollama, claude_on_path):
    fake_ollama.version = "0.20.0"
    fake_ollama.add(FakeModel("m-64k:latest", num_ctx=65536))
    report = run_doctor(fake_ollama, {"OLLAMA_KV_CACHE_TYPE": "q8_0", "OLLAMA_NUM_PARALLEL": "4", "OLLAMA_FLASH_ATTENTION": "yes"})
    messages = " | ".join(f.message for f in findings(report, status="warn"))
    assert "quantizes the KV cache only with flash attention forced on" not in messages  # "yes" reads as on
    assert "OLLAMA_FLASH_ATTENTION=yes is not a boolean: Ollama reads it as 1" in messages
    assert "OLLAMA_NUM_PARALLEL=4" in messages and "4x the memory" in messages
    report = run_doctor(fake_ollama, {"OLLAMA_KV_CACHE_TYPE": "q8_0", "OLLAMA_FLASH_ATTENTION": "0", "OLLAMA_NUM_PARALLEL": "x"})
    messages = " | ".join(f.message for f in findings(report, status="warn"))
    assert "the cache stays f16" in messages and "forced off" in messages and "OLLAMA_NUM_PARALLEL=x is not a whole number" in messages


def test_loaded_models_and_their_split(fake_ollama, claude_on_path):
    fake_ollama.add(FakeModel("m-64k:latest", num_ctx=65536, loaded_size=20_000_000_000, loaded_vram=15_000_000_000))
    Client(fake_ollama.url).load("m-64k")
    report = run_doctor(fake_ollama)
    (loaded,) = findings(report, "loaded")
    assert loaded.status == "warn" and "25%/75% CPU/GPU" in loaded.message and "64K context" in loaded.message


def test_claude_missing(fake_ollama, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    fake_ollama.add(FakeModel("m-64k:latest", num_ctx=65536))
    report = run_doctor(fake_ollama)
    assert not report.ok and "npm install -g @anthropic-ai/claude-code" in findings(report, "claude", "fail")[0].fix


@pytest.mark.parametrize("mode, message", [("malformed", "malformed JSON"), ("hang", "did not answer /api/version within 0.5 s")])
def test_misbehaving_server_is_a_finding(fake_ollama, claude_on_path, mode, message):
    fake_ollama.mode, fake_ollama.hang_seconds = mode, 2
    report = doctor(Client(fake_ollama.url, timeout=0.5), serverenv.read({}), RTX_4090_BOX)
    assert not report.ok and message in findings(report, "ollama", "fail")[0].message


def fitadvisor(*args, host, path=None):
    env = {"OLLAMA_HOST": host, **({"PATH": path} if path else {})}
    for name in ("OLLAMA_CONTEXT_LENGTH", "OLLAMA_KV_CACHE_TYPE", "OLLAMA_FLASH_ATTENTION", "OLLAMA_NUM_PARALLEL"):
        env[name] = None
    return cli_run.fitadvisor(*args, env=env)


def test_cli_exit_codes_and_json(fake_ollama, claude_on_path):
    fake_ollama.version = "0.32.15"
    fake_ollama.add(FakeModel("devstral-small-2-64k:latest", num_ctx=65536))
    path = f"{claude_on_path.parent}{os.pathsep}{os.environ['PATH']}"
    good = fitadvisor("doctor", "--json", host=fake_ollama.url, path=path)
    assert good.returncode == 0, good.stdout
    data = json.loads(good.stdout)
    assert data["ok"] is True and data["ollama_version"] == "0.32.15" and data["models"][0]["tools"] is True
    fake_ollama.version = "0.12.0"
    old = fitadvisor("doctor", host=fake_ollama.url, path=path)
    assert old.returncode == 1 and "too old" in old.stdout and "fix: upgrade Ollama" in old.stdout


def test_cli_server_down(claude_on_path):
    run = fitadvisor("doctor", "--timeout", "0.5", host="127.0.0.1:9")
    assert run.returncode == 1 and "cannot reach Ollama at http://127.0.0.1:9" in run.stdout and run.stderr == ""


def test_render_honours_no_color(fake_ollama, claude_on_path, monkeypatch):
    from fitadvisor.commands.doctor import render

    fake_ollama.version = "0.12.0"
    report = run_doctor(fake_ollama)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "\033[" in render(report)
    monkeypatch.setenv("NO_COLOR", "1")
    text = render(report)
    assert "\033[" not in text and "XX Ollama 0.12.0" in text and "   fix: upgrade Ollama" in text


@pytest.mark.parametrize(
    "content, status, words",
    [
        ('{"env": {"ANTHROPIC_DEFAULT_FABLE_MODEL": "claude-fable-5-2", "CLAUDE_CODE_USE_FOUNDRY": "1", "EDITOR": "vi"}}',
         "fail", "ANTHROPIC_DEFAULT_FABLE_MODEL, CLAUDE_CODE_USE_FOUNDRY in its env"),
        ('{"env": {"EDITOR": "vi"}, "theme": "dark"}', "ok", "overrides none of the alias's variables"),
        ("{not json", "info", "its env overrides are unchecked"),
    ],
)
def test_claude_settings_env_that_would_defeat_the_alias(fake_ollama, claude_on_path, tmp_path, monkeypatch, content, status, words):
    """Claude Code 2.1.332 applies settings.json's env over the shell's: an ANTHROPIC_MODEL there beat the exported one."""
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path))
    (tmp_path / "settings.json").write_text(content)
    (finding,) = findings(run_doctor(fake_ollama), "claude-settings")
    assert finding.status == status and words in finding.message


def test_no_claude_settings_file_is_no_finding(fake_ollama, claude_on_path):
    assert findings(run_doctor(fake_ollama), "claude-settings") == []


def test_the_servers_own_default_context_from_a_loaded_model(fake_ollama, claude_on_path):
    """This shell reckons 32K (24 GiB of VRAM, no OLLAMA_CONTEXT_LENGTH here), but the server was given 8K where the
    shell cannot see (the app, launchctl, systemd): a loaded model with no num_ctx of its own shows it in /api/ps."""
    fake_ollama.version, fake_ollama.default_num_ctx = "0.32.15", 8192
    fake_ollama.add(FakeModel("qwen3-coder:30b", family="qwen3moe"))
    Client(fake_ollama.url).load("qwen3-coder:30b")
    report = run_doctor(fake_ollama)
    (default,) = findings(report, "default-context")
    assert default.status == "fail" and "at 8K context (seen on the loaded qwen3-coder:30b" in default.message
    assert "this shell suggested 32K" in default.message and "--server-wide" in default.fix
    assert report.default_num_ctx == 8192


def test_a_default_read_from_the_shell_says_so(fake_ollama, claude_on_path):
    fake_ollama.version = "0.32.15"
    fake_ollama.add(FakeModel("devstral-small-2-64k:latest", num_ctx=65536))
    Client(fake_ollama.url).load("devstral-small-2-64k")  # its own num_ctx: says nothing of the server's default
    (default,) = findings(run_doctor(fake_ollama), "default-context")
    assert "read from this shell, not the server" in default.message


def test_a_server_newer_than_modelled_gets_a_note(fake_ollama, claude_on_path):
    fake_ollama.version = "0.35.1"
    notes = [f.message for f in findings(run_doctor(fake_ollama), "ollama", "info")]
    assert notes == ["Ollama 0.35.1 is newer than the newest release fitadvisor models (0.34.2): its estimates follow that one"]


@pytest.mark.parametrize(
    "content, status",
    [
        ('{"permissions": {"defaultMode": "auto"}}', "warn"),
        ('{"theme": "dark"}', "info"),  # Claude Code 2.1.332 then starts interactive sessions in auto mode
        ('{"permissions": {"defaultMode": "acceptEdits"}}', "ok"),
        ('{"permissions": ["auto"]}', "info"),
    ],
)
def test_auto_permission_mode_is_flagged(fake_ollama, claude_on_path, tmp_path, monkeypatch, content, status):
    """data/claude_code.toml [permission_mode]: auto mode's safety check does not run through Ollama."""
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path))
    (tmp_path / "settings.json").write_text(content)
    (finding,) = findings(run_doctor(fake_ollama), "claude-permission-mode")
    assert finding.status == status
    assert status == "ok" or "Shift+Tab" in finding.message

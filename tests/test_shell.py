"""The Claude Code alias, sourced in real shells, and its installation into rc files."""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fitadvisor.claude import alias as shell
from fitadvisor.claude import quoting
from fitadvisor.errors import FitAdvisorError

MODEL = "devstral-small-2-64k"
HOSTILE = [
    "it's",
    'say "hi"',
    "$(touch pwned)",
    "`touch pwned`",
    "a; touch pwned #",
    "back\\slash\\",
    "two\nlines",
    "*",
    "{a,b}",
    "~",
    "%self",
    "(touch pwned)",
    "‘curly’ quotes",
    "$HOME",
    "--flag",
]


def intended_env(model=MODEL, base_url="http://127.0.0.1:11434", num_ctx="65536", traffic_off=True):
    """Claude Code 2.1.332's variables (data/claude_code.toml), spelled out here so that the data cannot drift unseen."""
    env = {
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_AUTH_TOKEN": "ollama",
        "ANTHROPIC_API_KEY": "",
        **{variable: model for variable in (
            "ANTHROPIC_MODEL", "ANTHROPIC_DEFAULT_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL",
            "ANTHROPIC_DEFAULT_HAIKU_MODEL", "ANTHROPIC_DEFAULT_FABLE_MODEL", "ANTHROPIC_SMALL_FAST_MODEL",
            "CLAUDE_CODE_SUBAGENT_MODEL", "CLAUDE_CODE_WORKFLOW_SUBAGENT_MODEL")},
        "CLAUDE_CODE_SUBAGENT_MODEL_FORCE": "1",
        "CLAUDE_CODE_ATTRIBUTION_HEADER": "0",
        **{f"CLAUDE_CODE_USE_{provider}": "0" for provider in (
            "BEDROCK", "VERTEX", "FOUNDRY", "ANTHROPIC_AWS", "ANTHROPIC_GOOGLE_CLOUD", "MANTLE", "GATEWAY")},
    }
    if num_ctx:  # the auto-compact window only where Claude Code accepts it: 100K and up
        env["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] = num_ctx
        if int(num_ctx) >= 100_000:
            env["CLAUDE_CODE_AUTO_COMPACT_WINDOW"] = num_ctx
    if traffic_off:
        env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] = "1"
        env["CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL"] = "1"
    return env


# -- sourcing the alias in real shells ---------------------------------------------------------------

# Each shell runs the alias with awkward arguments, then prints what the alias may have left behind.
AFTER = {
    "bash": 'claude-local -p "two words" "*" \'$HOME\'; echo "after:${ANTHROPIC_API_KEY-unset}:${ANTHROPIC_BASE_URL-unset}"',
    "zsh": 'claude-local -p "two words" "*" \'$HOME\'; echo "after:${ANTHROPIC_API_KEY-unset}:${ANTHROPIC_BASE_URL-unset}"',
    "fish": "claude-local -p 'two words' '*' '$HOME'; echo after:$ANTHROPIC_API_KEY:(set -q ANTHROPIC_BASE_URL; and echo set; or echo unset)",
}


def interactive(shell_name: str, home: Path, command: str, env: dict) -> subprocess.CompletedProcess:
    """The shell as a user starts it, reading the rc file in `home`."""
    if shutil.which(shell_name) is None:
        pytest.skip(f"{shell_name} is not installed (.ci/run installs it)")
    argv = {"bash": ["bash", "-i", "-c", command], "zsh": ["zsh", "-i", "-c", command], "fish": ["fish", "-c", command]}[shell_name]
    return subprocess.run(argv, env=env, cwd=home, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


@pytest.fixture
def user(tmp_path, home):
    """A home directory and a `claude` on PATH that records its arguments and environment."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "claude-run.json"
    stub = bin_dir / "claude"
    stub.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'env': dict(os.environ)}}, open({str(record)!r}, 'w'))\n"
    )
    stub.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "TERM": "dumb",
        # What a user may already export: the alias must override these for claude, and only for claude.
        "ANTHROPIC_API_KEY": "sk-ant-real-key",
        "CLAUDE_CODE_USE_BEDROCK": "1",
        "CLAUDE_CODE_USE_FOUNDRY": "1",
        "ANTHROPIC_SMALL_FAST_MODEL": "claude-haiku-4-5",
        "UNRELATED": "kept",
    }

    class User:
        def run(self, shell_name, command):
            return interactive(shell_name, home, command, env)

        def claude(self):
            assert record.exists(), "the alias did not run claude"
            return json.loads(record.read_text())

    user = User()
    user.home, user.env, user.tmp = home, env, tmp_path
    return user


@pytest.mark.parametrize("shell_name", ["bash", "zsh", "fish"])
def test_installed_alias_runs_claude_with_exactly_the_intended_environment(user, shell_name):
    alias = shell.make_alias("claude-local", MODEL, "localhost:11434", 65536)
    rc_file = shell.default_rc_file(shell_name, user.env)
    shell.install(rc_file, alias.name, shell.render(alias, shell_name))

    run = user.run(shell_name, AFTER[shell_name])

    assert run.returncode == 0, run.stderr
    seen = user.claude()
    assert seen["argv"] == ["--model", MODEL, "-p", "two words", "*", "$HOME"]
    expected = intended_env(base_url="http://localhost:11434")
    claude_vars = {k: v for k, v in seen["env"].items() if k.startswith(("ANTHROPIC_", "CLAUDE_CODE_"))}
    assert claude_vars == expected
    assert seen["env"]["UNRELATED"] == "kept"
    # Nothing leaks into the shell: the user's own key is back, the base URL was never set there.
    assert "after:sk-ant-real-key:unset" in run.stdout


@pytest.mark.parametrize("shell_name", ["bash", "zsh", "fish"])
def test_anthropic_traffic_option_and_unknown_context(user, shell_name):
    alias = shell.make_alias("claude_big", "qwen3-coder:30b", None, None, anthropic_traffic=True)
    rc_file = shell.default_rc_file(shell_name, user.env)  # as `fitadvisor alias ... >> ~/.zshrc` leaves it
    rc_file.parent.mkdir(parents=True, exist_ok=True)
    rc_file.write_text(shell.render(alias, shell_name))
    run = user.run(shell_name, "claude_big")
    assert run.returncode == 0, run.stderr
    seen = user.claude()
    assert seen["argv"] == ["--model", "qwen3-coder:30b"]
    claude_vars = {k: v for k, v in seen["env"].items() if k.startswith(("ANTHROPIC_", "CLAUDE_CODE_"))}
    assert claude_vars == intended_env(model="qwen3-coder:30b", num_ctx=None, traffic_off=False)


@pytest.mark.parametrize("shell_name", ["bash", "zsh", "fish"])
@pytest.mark.parametrize("hostile", HOSTILE)
def test_quoting_alone_keeps_hostile_values_inert(user, shell_name, hostile):
    """Even without validation, every value reaches claude literally and nothing runs."""
    alias = shell.Alias("claude-local", hostile, hostile, None)  # bypasses make_alias's validation on purpose
    rc_file = shell.default_rc_file(shell_name, user.env)
    shell.install(rc_file, alias.name, shell.render(alias, shell_name))

    run = user.run(shell_name, "claude-local")

    assert run.returncode == 0, run.stderr
    seen = user.claude()
    assert seen["argv"] == ["--model", hostile]
    assert seen["env"]["ANTHROPIC_BASE_URL"] == hostile
    assert seen["env"]["CLAUDE_CODE_SUBAGENT_MODEL"] == hostile
    assert not list(user.home.rglob("pwned")) and not (user.tmp / "pwned").exists()


def test_powershell_function_sets_and_restores_each_variable():
    """pwsh is not installed here: check the rendered function's structure and quoting."""
    alias = shell.make_alias("claude-local", MODEL, None, 65536)
    text = shell.render(alias, "powershell")
    assert text.splitlines()[1] == "function claude-local {"
    for name, value in intended_env().items():
        assert f"        '{name}' = '{value}'" in text.splitlines()
    assert "& 'claude' '--model' 'devstral-small-2-64k' @args" in text
    assert text.index("GetEnvironmentVariable") < text.index("try {") < text.index("@args") < text.index("finally {")
    assert text.count("{") == text.count("}")
    hostile = shell.render(shell.Alias("claude-local", "x'; Remove-Item -Recurse ~ #’", "http://h:1", None), "powershell")
    assert "'x''; Remove-Item -Recurse ~ #’’'" in hostile


def test_powershell_quote_doubles_every_kind_of_single_quote():
    assert quoting.ps_quote("a'b‘c’d‚e‛f") == "'a''b‘‘c’’d‚‚e‛‛f'"
    assert quoting.ps_quote("$env:HOME `n") == "'$env:HOME `n'"


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["claude local", "claude;rm", "-x", "1claude", "", "a$(id)", "ä", "x" * 65, "claude\n"])
def test_hostile_alias_names_are_refused(name):
    with pytest.raises(FitAdvisorError, match="invalid alias name"):
        shell.make_alias(name, MODEL, None, 65536)


@pytest.mark.parametrize("model", ["x;rm -rf ~", "$(id)", "a b", "../x", "x\ny", "`id`", "-rf"])
def test_hostile_model_names_are_refused(model):
    with pytest.raises(FitAdvisorError, match="invalid model name"):
        shell.make_alias("claude-local", model, None, 65536)


@pytest.mark.parametrize(
    "host", ["http://x;touch pwned", "http://127.0.0.1:11434/$(id)", "ftp://host", "http://a b", "http://h:1/path", "http://'x'"]
)
def test_hostile_hosts_are_refused(host):
    with pytest.raises(FitAdvisorError, match="invalid Ollama host"):
        shell.make_alias("claude-local", MODEL, host, 65536)


@pytest.mark.parametrize(
    "host, url",
    [
        ("localhost:11434", "http://localhost:11434"),
        ("https://ollama.example.com", "https://ollama.example.com:443"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_hosts_become_plain_base_urls(host, url):
    assert shell.make_alias("claude-local", MODEL, host, None).base_url == url


def test_host_defaults_to_ollama_host(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.5:9999")
    assert shell.make_alias("claude-local", MODEL, None, None).base_url == "http://10.0.0.5:9999"


def test_detect_shell_and_rc_files():
    assert shell.detect_shell({"SHELL": "/usr/bin/zsh"}) == "zsh"
    assert shell.detect_shell({"SHELL": "/opt/homebrew/bin/fish"}) == "fish"
    assert shell.detect_shell({"SHELL": "/usr/local/bin/pwsh"}) == "powershell"
    if sys.platform != "win32":
        assert shell.detect_shell({"SHELL": "/bin/dash"}) == "bash"
    env = {"HOME": "/home/u"}
    assert shell.default_rc_file("zsh", env) == Path("/home/u/.zshrc")
    assert shell.default_rc_file("zsh", {**env, "ZDOTDIR": "/home/u/.zsh"}) == Path("/home/u/.zsh/.zshrc")
    assert shell.default_rc_file("fish", env) == Path("/home/u/.config/fish/config.fish")
    assert shell.default_rc_file("fish", {**env, "XDG_CONFIG_HOME": "/x"}) == Path("/x/fish/config.fish")
    with pytest.raises(FitAdvisorError, match="unknown shell"):
        shell.default_rc_file("tcsh", env)


# -- the rc-file block -----------------------------------------------------------------------------


def definition(ctx):
    return shell.render(shell.make_alias("claude-local", f"devstral-small-2-{ctx // 1024}k", None, ctx), "zsh")


USER_TEXT = "# my zshrc\nexport PATH=$HOME/bin:$PATH\nalias ll='ls -l'"  # no newline at the end


def test_install_twice_leaves_one_block_and_a_new_context_replaces_it(tmp_path):
    rc = tmp_path / ".zshrc"
    rc.write_text(USER_TEXT)
    rc.chmod(0o640)

    first = shell.install(rc, "claude-local", definition(65536))
    assert first.action == "added" and first.backup.read_text() == USER_TEXT
    after_first = rc.read_text()
    assert after_first.startswith(USER_TEXT + "\n")
    assert after_first.count("# >>> fitadvisor alias claude-local >>>") == 1

    again = shell.install(rc, "claude-local", definition(65536))
    assert again.action == "unchanged" and again.backup is None
    assert rc.read_text() == after_first

    third = shell.install(rc, "claude-local", definition(131072))
    assert third.action == "replaced" and third.backup.read_text() == after_first
    text = rc.read_text()
    assert text.count("# >>> fitadvisor alias claude-local >>>") == 1 == text.count("# <<< fitadvisor alias claude-local <<<")
    assert "devstral-small-2-128k" in text and "devstral-small-2-64k" not in text
    assert text.startswith(USER_TEXT + "\n")
    assert stat.S_IMODE(rc.stat().st_mode) == 0o640


def test_replacing_keeps_everything_outside_the_block_byte_for_byte(tmp_path):
    rc = tmp_path / ".zshrc"
    rc.write_text(USER_TEXT + "\n")
    shell.install(rc, "claude-local", definition(65536))
    shell.install(rc, "other", definition(65536).replace("claude-local", "other"))
    with open(rc, "ab") as f:
        f.write(b"# after the blocks \xff not utf-8\r\n")
    before = rc.read_bytes()
    shell.install(rc, "claude-local", definition(131072))
    after = rc.read_bytes()
    begin, end = (m.encode() for m in shell.markers("claude-local"))
    assert before[: before.index(begin)] == after[: after.index(begin)]
    assert before[before.index(end) :].split(b"\n", 1)[1] == after[after.index(end) :].split(b"\n", 1)[1]
    assert b"devstral-small-2-128k" in after and b"# >>> fitadvisor alias other >>>" in after


def test_crlf_files_get_a_crlf_block(tmp_path):
    rc = tmp_path / "profile.ps1"
    rc.write_bytes(b"Set-Alias g git\r\n")
    shell.install(rc, "claude-local", shell.render(shell.make_alias("claude-local", MODEL, None, 65536), "powershell"))
    data = rc.read_bytes()
    assert data.startswith(b"Set-Alias g git\r\n") and b"\n" not in data.replace(b"\r\n", b"")


def test_new_rc_file_and_missing_directory_are_created(tmp_path):
    rc = tmp_path / ".config" / "fish" / "config.fish"
    result = shell.install(rc, "claude-local", definition(65536))
    assert result.action == "added" and result.backup is None
    assert rc.read_text().startswith("# >>> fitadvisor alias claude-local >>>\n")


def test_dry_run_writes_nothing(tmp_path):
    rc = tmp_path / ".zshrc"
    rc.write_text(USER_TEXT)
    assert shell.install(rc, "claude-local", definition(65536), dry_run=True).action == "added"
    assert rc.read_text() == USER_TEXT and os.listdir(tmp_path) == [".zshrc"]


def test_a_symlinked_rc_file_stays_a_link(tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "zshrc").write_text(USER_TEXT)
    link = tmp_path / ".zshrc"
    link.symlink_to(dotfiles / "zshrc")
    shell.install(link, "claude-local", definition(65536))
    assert link.is_symlink() and "fitadvisor alias" in (dotfiles / "zshrc").read_text()


def test_damaged_block_is_refused_not_guessed(tmp_path):
    rc = tmp_path / ".zshrc"
    damaged = USER_TEXT + "\n# >>> fitadvisor alias claude-local >>>\nalias claude-local=x\n"
    rc.write_text(damaged)
    with pytest.raises(FitAdvisorError, match="damaged"):
        shell.install(rc, "claude-local", definition(65536))
    assert rc.read_text() == damaged


def test_read_only_rc_file_is_one_clear_error_and_unchanged(tmp_path):
    rc = tmp_path / ".zshrc"
    rc.write_text(USER_TEXT)
    rc.chmod(0o444)
    with pytest.raises(FitAdvisorError) as error:
        shell.install(rc, "claude-local", definition(65536))
    assert "cannot write" in str(error.value) and "unchanged" in str(error.value) and "\n" not in str(error.value)
    assert rc.read_text() == USER_TEXT and os.listdir(tmp_path) == [".zshrc"]


def unprivileged_python() -> str:
    """A Python the unprivileged user may run (this one may live under /root); fitadvisor.claude.alias needs only the stdlib."""
    for python in (sys.executable, shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")):
        try:
            check = subprocess.run([python, "-c", "import sys; assert sys.version_info >= (3, 10)"], user=65534, capture_output=True, timeout=30)
        except (OSError, TypeError):
            continue
        if check.returncode == 0:
            return python
    pytest.skip("no Python the unprivileged user can run")


def test_unwritable_directory_is_one_clear_error_and_loses_nothing():
    """Run as an unprivileged user when the tests run as root, so that permissions really apply."""
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp())
    try:
        base.chmod(0o755)
        home = base / "home"
        home.mkdir()
        rc = home / ".zshrc"
        rc.write_text(USER_TEXT)
        if as_root:
            os.chown(home, 65534, 65534)
            os.chown(rc, 65534, 65534)
        home.chmod(0o555)
        code = (
            "import sys; from pathlib import Path; from fitadvisor.claude import alias as shell; from fitadvisor.errors import FitAdvisorError\n"
            "try:\n"
            f"    shell.install(Path({str(rc)!r}), 'claude-local', sys.stdin.read())\n"
            "except FitAdvisorError as e:\n"
            "    print(e)\n"
        )
        python = unprivileged_python() if as_root else sys.executable
        run = subprocess.run(
            [python, "-I", "-c", f"import sys; sys.path.insert(0, {str(Path(shell.__file__).parents[2])!r})\n{code}"],
            input=definition(65536), capture_output=True, text=True, timeout=30,
            user=65534 if as_root else None, group=65534 if as_root else None,
        )
        assert run.returncode == 0, run.stderr
        lines = run.stdout.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"cannot write {rc}") and "unchanged" in lines[0]
        assert rc.read_text() == USER_TEXT
        assert sorted(os.listdir(home)) == [".zshrc"]
    finally:
        home.chmod(0o755)
        shutil.rmtree(base)

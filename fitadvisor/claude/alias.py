"""Claude Code aliases for zsh, bash, fish and PowerShell, and their installation into a shell's rc file.

Every value that reaches an alias is validated first and then quoted for its shell by the templates'
filters, so that no model name, host or alias name can run code when the rc file is read. The rc file
is changed only inside a block between two marker lines, atomically, after a backup.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from fitadvisor.errors import FitAdvisorError

SHELLS = ("zsh", "bash", "fish", "powershell")

_ALIAS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}\Z")
_BASE_URL = re.compile(r"https?://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?\Z")


# -- the alias ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alias:
    """A command that runs Claude Code against a local Ollama model, setting its environment for that run only."""

    name: str  # the command the user types, e.g. claude-local
    model: str  # what `claude --model` and every model variable get
    base_url: str  # ANTHROPIC_BASE_URL: the Ollama server
    num_ctx: int | None  # the model's context, Claude Code's window; None when unknown
    anthropic_traffic: bool = False  # let Claude Code reach Anthropic for telemetry, updates, the plugin marketplace

    def environment(self) -> list[tuple[str, str]]:
        """Each variable and why (data/claude_code.toml holds the lists, with their sources)."""
        from fitadvisor.claude_code import facts, window_environment

        cc = facts()
        env = [
            ("ANTHROPIC_BASE_URL", self.base_url),
            # A bearer token and an empty key: a key would make interactive Claude Code contact Anthropic
            # and ask a question whose default answer breaks the setup.
            ("ANTHROPIC_AUTH_TOKEN", "ollama"),
            ("ANTHROPIC_API_KEY", ""),
            # Every model name Claude Code may ask for (tiers, background calls, sub-agents) must be one Ollama has.
            *((variable, self.model) for variable in cc.model_variables),
            (cc.force_subagent_model, "1"),
            # A stable first system line keeps Ollama's prompt cache valid from one turn to the next.
            ("CLAUDE_CODE_ATTRIBUTION_HEADER", "0"),
            # The real window, so that Claude Code compacts before Ollama's context fills.
            *window_environment(self.num_ctx),
        ]
        if not self.anthropic_traffic:
            env += [("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"), ("CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL", "1")]
        # Users who export these for work would otherwise reach another provider instead of Ollama.
        env += [(switch, "0") for switch in cc.provider_switches]
        return env

    @property
    def argv(self) -> list[str]:
        return ["claude", "--model", self.model]

    def launch_command(self) -> str:
        """The same run through Ollama's `ollama launch claude` (bash/zsh syntax): it sets some of the variables itself
        and passes the rest of the environment on, so the others go in front of it."""
        from fitadvisor.claude.quoting import sh_quote, sh_value
        from fitadvisor.claude_code import facts

        own = set(facts().launch_sets)
        given = [f"{name}={sh_value(value)}" for name, value in self.environment() if name not in own]
        if self.base_url != base_url("127.0.0.1:11434"):  # launch reads the server's address from OLLAMA_HOST
            given.insert(0, f"OLLAMA_HOST={sh_quote(self.base_url)}")
        return " ".join([*given, "ollama", "launch", "claude", "--model", sh_quote(self.model)])


def make_alias(name: str, model: str, host: str | None, num_ctx: int | None, anthropic_traffic: bool = False) -> Alias:
    """An Alias from user input, every part validated."""
    from fitadvisor.models.catalog import ModelRef

    ModelRef.parse(model)
    return Alias(check_alias_name(name), model.strip(), base_url(host), num_ctx, anthropic_traffic)


def check_alias_name(name: str) -> str:
    if not isinstance(name, str) or not _ALIAS_NAME.match(name):
        raise FitAdvisorError(
            f"invalid alias name {name!r}: use letters, digits, '_' and '-', starting with a letter or '_' (e.g. claude-local)"
        )
    return name


def base_url(host: str | None) -> str:
    """The Ollama server as Claude Code needs it: http(s)://host:port and nothing else."""
    from fitadvisor.ollama.client import resolve_host

    url = resolve_host(host)
    if not _BASE_URL.match(url):
        raise FitAdvisorError(f"invalid Ollama host {url!r} for the alias: use http(s)://host[:port], without a path")
    return url


def render(alias: Alias, shell: str) -> str:
    """The alias definition for `shell`, ending with a newline, ready to paste or append to an rc file."""
    from fitadvisor.claude.templates import render_template
    from fitadvisor.units import format_ctx

    check_alias_name(alias.name)  # used unquoted where a shell cannot quote a function name
    context = f" with a {format_ctx(alias.num_ctx)} context" if alias.num_ctx else ""
    return render_template(
        f"alias.{check_shell(shell)}.j2",
        alias=alias,
        env=alias.environment(),
        description=f"Claude Code on the Ollama model {alias.model}{context} (written by fitadvisor)",
    )


def check_shell(shell: str) -> str:
    if shell not in SHELLS:
        raise FitAdvisorError(f"unknown shell {shell!r}: use one of {', '.join(SHELLS)}")
    return shell


def detect_shell(environ: dict | None = None) -> str:
    """The user's shell from $SHELL; PowerShell on Windows; else bash, whose alias syntax also suits sh, dash and ksh."""
    environ = os.environ if environ is None else environ
    name = Path(environ.get("SHELL", "")).name.lower()
    if name in ("zsh", "bash", "fish"):
        return name
    if name in ("pwsh", "powershell", "pwsh.exe", "powershell.exe") or sys.platform == "win32":
        return "powershell"
    return "bash"


def default_rc_file(shell: str, environ: dict | None = None) -> Path:
    """The file each shell reads at the start of an interactive session."""
    environ = os.environ if environ is None else environ
    home = Path(environ.get("HOME") or Path.home())
    config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    if check_shell(shell) == "zsh":
        return Path(environ.get("ZDOTDIR") or home) / ".zshrc"
    if shell == "bash":  # Terminal windows on macOS start login shells, which read .bash_profile
        return home / (".bash_profile" if sys.platform == "darwin" else ".bashrc")
    if shell == "fish":
        return config / "fish" / "config.fish"
    if sys.platform == "win32":
        return home / "Documents" / "PowerShell" / "Microsoft.PowerShell_profile.ps1"
    return config / "powershell" / "Microsoft.PowerShell_profile.ps1"


# -- the rc-file block ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    rc_file: Path
    action: str  # "added", "replaced", "unchanged"
    backup: Path | None = None


def markers(alias_name: str) -> tuple[str, str]:
    return f"# >>> fitadvisor alias {alias_name} >>>", f"# <<< fitadvisor alias {alias_name} <<<"


def with_block(text: str, alias_name: str, definition: str) -> tuple[str, str]:
    """`text` with the block for `alias_name` added or replaced; everything outside it kept byte for byte.

    Returns the new text and "added", "replaced" or "unchanged".
    """
    begin, end = markers(check_alias_name(alias_name))
    newline = "\r\n" if "\r\n" in text else "\n"
    block_lines = [begin, "# Written by fitadvisor; running it again replaces this block.", *definition.rstrip("\n").splitlines(), end]
    block = newline.join(block_lines) + newline
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == begin]
    ends = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == end]
    if not starts and not ends:
        separator = "" if not text or text.endswith("\n") else newline
        return text + separator + block, "added"
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise FitAdvisorError(
            f"the fitadvisor block for {alias_name} is damaged (its marker lines {begin!r} and {end!r} are not one pair): "
            "fix or remove it by hand, then run this again"
        )
    old = "".join(lines[starts[0] : ends[0] + 1])
    if not old.endswith(("\n", "\r")):  # the end marker was the last line, without a newline
        block = block[: -len(newline)]
    if old == block:
        return text, "unchanged"
    return "".join(lines[: starts[0]]) + block + "".join(lines[ends[0] + 1 :]), "replaced"


def install(rc_file: Path, alias_name: str, definition: str, dry_run: bool = False) -> Installed:
    """Put the alias into `rc_file` inside its marked block: idempotent, backed up, atomic.

    A symlinked rc file (dotfile managers) is followed, so the link stays a link; a hard-linked one is
    rewritten in place, so its links stay one file; owner, group and mode are kept. Only a regular file
    is written (a FIFO, device or directory is refused at once). A read-only rc file is left alone: its
    owner made it so. Concurrent installs wait for each other, so none loses another's block.
    """
    from fitadvisor.files import locked, read_regular, replace_file

    target = Path(os.path.realpath(rc_file.expanduser()))
    try:
        if not dry_run:
            target.parent.mkdir(parents=True, exist_ok=True)
        with locked(target):
            old, info = read_regular(target)
            new, action = with_block(old or "", alias_name, definition)
            if dry_run or action == "unchanged":
                return Installed(target, action)
            if info is not None and not info.st_mode & 0o222:
                raise PermissionError(13, "the file is read-only")
            saved = replace_file(target, new, old, info)
    except OSError as error:
        reason = error.strerror or str(error)
        raise FitAdvisorError(
            f"cannot write {target} ({reason}); it is unchanged. Paste the alias into it yourself, or pick another file with --rc-file"
        ) from None
    return Installed(target, action, saved)

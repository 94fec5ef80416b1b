"""The real Claude Code CLI for the tests: the release pinned in data/claude_code.toml, installed from npm once.

It lands in tests/.work/claude-code/ (ignored by git), so the README's plain `pytest` installs it too; where
Node.js or npm is missing, the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fitadvisor.datafiles import read_toml

WORK = Path(__file__).resolve().parent / ".work" / "claude-code"


def pinned() -> tuple[str, str]:
    """The package and release to drive: data/claude_code.toml's, or FITADVISOR_CLAUDE_CODE_VERSION's
    (bench/claude_code_release.py reruns the tests against npm's newest that way)."""
    import os

    cli = read_toml("claude_code.toml")["cli"]
    return cli["package"], os.environ.get("FITADVISOR_CLAUDE_CODE_VERSION") or cli["version"]


def claude_binary() -> Path:
    """The pinned `claude` executable, installed on first use; skips the calling test where npm is missing."""
    package, version = pinned()
    binary = WORK / version / "node_modules" / ".bin" / "claude"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("the real Claude Code CLI needs Node.js and npm")
    target = WORK / version
    target.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(target), f"{package}@{version}"],
        capture_output=True, text=True, timeout=600,
    )
    if run.returncode != 0 or not binary.exists():
        pytest.fail(f"npm could not install {package}@{version}: {run.stderr.strip()[-500:]}")
    return binary


def clean_environment(home: Path, **variables: str) -> dict[str, str]:
    """An environment for the real CLI with nothing of the developer's: its own HOME, no Anthropic variables."""
    import os

    return {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "TERM": "dumb",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", **variables}


def run_claude(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """The pinned CLI with `args` (e.g. ["-p", "say hi", "--model", "m"]), its stdin closed."""
    return subprocess.run([str(claude_binary()), *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)

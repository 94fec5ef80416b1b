"""`fitadvisor ARGS` run inside the test process through click's CliRunner, answered like `subprocess.run`.

The click group itself turns every error into one line and an exit code, so what a user sees is what
CliRunner sees; tests/test_cli.py keeps a few real processes as the contract (`python -m fitadvisor`).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from fitadvisor.cli import cli


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def fitadvisor(*args: str, env: dict[str, str | None] | None = None, cwd: Path | str | None = None) -> Ran:
    """Run the CLI with `env` laid over this process's environment (None unsets a variable), in `cwd`."""
    with _working_directory(cwd):
        result = CliRunner().invoke(cli, list(args), env=env)
    return Ran(result.exit_code, result.stdout, result.stderr)


@contextmanager
def _working_directory(path):
    before = os.getcwd()
    if path is not None:
        os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)

"""Is the pinned Claude Code still the newest? `python bench/claude_code_release.py`

Asks npm for the newest @anthropic-ai/claude-code, says whether data/claude_code.toml's pinned release is behind
it, and if so reruns the tests that drive the real CLI through the alias (tests/test_claude_code.py) against the
newest, side by side with the pinned one. It never fails CI: a new Claude Code release is news for the team (update
the facts, then the pin), not a broken build. Exit status: 0 when the pin is current or the newest passes too, 1 when
the newest fails where the pinned release passes, 2 when npm cannot be asked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fitadvisor.datafiles import read_toml  # noqa: E402

TESTS = ["tests/test_claude_code.py", "tests/test_fake_anthropic.py"]


def newest(package: str) -> str | None:
    npm = shutil.which("npm")
    if npm is None:
        return None
    run = subprocess.run([npm, "view", package, "version"], capture_output=True, text=True, timeout=120)
    return run.stdout.strip() or None if run.returncode == 0 else None


def run_tests(version: str) -> tuple[bool, str]:
    """The alias tests against `version`, installed into tests/.work/claude-code/ as the tests install the pinned one."""
    env = {**os.environ, "FITADVISOR_CLAUDE_CODE_VERSION": version}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", *TESTS], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=1800)
    summary = (run.stdout.strip().splitlines() or ["no output"])[-1]
    return run.returncode == 0, summary


def main() -> int:
    cli = read_toml("claude_code.toml")["cli"]
    package, pinned = cli["package"], cli["version"]
    latest = newest(package)
    if latest is None:
        print(f"npm could not say which {package} is the newest (is npm installed and the registry reachable?)")
        return 2
    if latest == pinned:
        print(f"{package}: the pinned {pinned} is the newest on npm.")
        return 0
    print(f"{package}: pinned {pinned}, newest on npm {latest}. Running the alias tests against both:")
    results = {version: run_tests(version) for version in (pinned, latest)}
    for version, (passed, summary) in results.items():
        print(f"  {version:<12} {'pass' if passed else 'FAIL'}  {summary}")
    if results[pinned][0] and not results[latest][0]:
        print(f"{latest} breaks what {pinned} does: read its changes, update data/claude_code.toml, then the pin.")
        return 1
    print(f"Check {latest}'s variables and compaction against data/claude_code.toml, then move the pin.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the wheel ships: every package folder of fitadvisor/, so an installed fitadvisor imports what a checkout does."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_in_pyproject():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    listed = set(re.findall(r'"(fitadvisor(?:\.[a-z_]+)*)"', text.split("packages = [", 1)[1].split("]", 1)[0]))
    folders = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "fitadvisor").rglob("__init__.py")}
    assert folders <= listed, f"not in pyproject's packages, so missing from an installed fitadvisor: {sorted(folders - listed)}"

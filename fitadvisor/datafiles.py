"""Files that ship inside the package: the data tables and the templates."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from fitadvisor.errors import FitAdvisorError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def _folder(package: str) -> Traversable:
    """An installed data package, or its top-level folder when running from a source checkout."""
    try:
        return resources.files(f"fitadvisor.{package}")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / package


def read_toml(name: str) -> dict:
    """A TOML table from `data/` (installed as `fitadvisor.data`)."""
    try:
        return tomllib.loads(_folder("data").joinpath(name).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise FitAdvisorError(f"fitadvisor's data file {name} is missing or damaged ({error}): reinstall fitadvisor") from None


def read_template(name: str) -> str:
    return _folder("templates").joinpath(name).read_text(encoding="utf-8")

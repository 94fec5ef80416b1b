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


def copy_data_tree(name: str, target: Path) -> None:
    """Copy the folder `name` of `data/` (e.g. the trial's fixture repository) to `target`, which must not exist."""

    def copy(source: Traversable, destination: Path) -> None:
        destination.mkdir(parents=True)
        for entry in source.iterdir():
            if entry.is_dir():
                if entry.name != "__pycache__":
                    copy(entry, destination / entry.name)
            else:
                (destination / entry.name).write_bytes(entry.read_bytes())

    source = _folder("data").joinpath(name)
    if not source.is_dir():
        raise FitAdvisorError(f"fitadvisor's data folder {name} is missing: reinstall fitadvisor")
    copy(source, target)

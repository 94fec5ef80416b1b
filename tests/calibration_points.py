"""Loaded sizes Ollama reported on a real machine, and fitadvisor's estimate for each (shared by tests and bench)."""

from __future__ import annotations

import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from dataclasses import dataclass
from pathlib import Path

from fitadvisor.hardware.probe import detect
from fitadvisor.memory.estimate import Estimate, Settings, estimate
from fitadvisor.memory.releases import Release
from fitadvisor.models.catalog import resolve

POINTS_FILE = Path(__file__).parent / "data" / "ollama-loaded-sizes.toml"
# The field machine, as the file header describes it.
MACHINE = {"memory": "48GB", "chip": "Apple M4 Pro"}
OLLAMA_VERSION = "0.14.0"


@dataclass(frozen=True)
class Point:
    model: str
    num_ctx: int
    loaded_gb: float
    processor: str | None

    @property
    def observed_bytes(self) -> float:
        """The middle of the interval `ollama ps` prints as loaded_gb (whole GB cut off from 10 GB up)."""
        return (self.loaded_gb + 0.5) * 1e9 if self.loaded_gb >= 10 else self.loaded_gb * 1e9

    @property
    def cpu_percent(self) -> int | None:
        if self.processor is None:
            return None
        if self.processor == "100% GPU":
            return 0
        match = re.match(r"(\d+)%/(\d+)% CPU/GPU", self.processor)
        return int(match.group(1)) if match else 100


def load_points() -> list[Point]:
    data = tomllib.loads(POINTS_FILE.read_text())
    return [Point(o["model"], o["num_ctx"], o["loaded_gb"], o.get("processor")) for o in data["observation"]]


def estimate_point(point: Point) -> Estimate:
    model = resolve(point.model)
    settings = Settings(num_ctx=point.num_ctx, release=Release.of(OLLAMA_VERSION))
    return estimate(model.architecture, settings, detect(**MACHINE), model=model.reference)


def relative_error(point: Point, result: Estimate) -> float:
    return (result.total_bytes - point.observed_bytes) / point.observed_bytes

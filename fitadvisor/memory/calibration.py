"""The calibration store: what `fitadvisor verify` measured on this machine, for later estimates.

One TOML file under the user's config directory. An observation is keyed by model, context, the
server settings that change memory, the Ollama release and the machine, so an estimate uses it only
when all of them match. A damaged store is moved aside and reported, never fatal: it only holds
measurements that `verify` can take again.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from fitadvisor.files import config_dir
from fitadvisor.hardware.machine import Hardware
from fitadvisor.units import GIB, format_gb

if TYPE_CHECKING:
    from fitadvisor.memory.estimate import Estimate, Settings

STORE_NAME = "calibration.toml"
FORMAT = 1


def store_path() -> Path:
    return config_dir() / STORE_NAME


def machine_summary(hardware: Hardware) -> str:
    """This machine in one stable line: what decides where a model fits (not free memory, which moves)."""
    parts = [hardware.os, hardware.chip or hardware.cpu.name, f"{hardware.memory_bytes / GIB:.0f} GiB RAM"]
    parts += [f"{gpu.name} {gpu.memory_bytes / GIB:.1f} GiB" for gpu in hardware.gpus]
    return ", ".join(part for part in parts if part)


@dataclass(frozen=True)
class MeasuredSpeed:
    """Decode and prompt tokens/s from Ollama's own timings of one request `verify` made."""

    decode_tokens_per_second: float
    prompt_tokens_per_second: float
    prompt_tokens: int  # how long the timed prompt was
    date: str


@dataclass(frozen=True)
class Observation:
    """One model loaded by `verify`, as `/api/ps` reported it."""

    model: str  # the Ollama name, e.g. "devstral-small-2-64k:latest"
    estimate_model: str  # the name estimates use for the same weights ("" when fitadvisor could not resolve it)
    digest: str
    num_ctx: int  # the context Ollama really used (per slot)
    kv_cache_type: str  # OLLAMA_KV_CACHE_TYPE as configured
    flash_attention: str  # OLLAMA_FLASH_ATTENTION: auto, on, off
    parallel: int  # OLLAMA_NUM_PARALLEL
    ollama_version: str
    size_bytes: int  # total, CPU + GPU
    size_vram_bytes: int
    processor: str  # as `ollama ps` prints it
    machine: str  # machine_summary()
    measured_at: str  # ISO 8601, UTC
    estimated_bytes: int = 0  # fitadvisor's estimate at the time (0: none)
    # Ollama's own timings of one timed request (0: not measured): eval_count / eval_duration, and
    # prompt_eval_count / prompt_eval_duration for a prompt of prompt_tokens tokens.
    decode_tokens_per_second: float = 0.0
    prompt_tokens_per_second: float = 0.0
    prompt_tokens: int = 0

    def key(self) -> tuple:
        return (self.estimate_model or self.model, self.num_ctx, self.kv_cache_type, self.flash_attention,
                self.parallel, self.ollama_version, self.machine)

    @property
    def date(self) -> str:
        return self.measured_at[:10]

    @property
    def speed(self) -> MeasuredSpeed | None:
        if self.decode_tokens_per_second <= 0:
            return None
        return MeasuredSpeed(self.decode_tokens_per_second, self.prompt_tokens_per_second, self.prompt_tokens, self.date)


@dataclass
class Store:
    observations: list[Observation]
    path: Path
    problem: str | None = None  # set when the file was damaged and moved aside

    def to_dict(self) -> dict:
        return {"path": str(self.path), "problem": self.problem, "observations": [asdict(o) for o in self.observations]}


def load() -> Store:
    """The stored observations; a damaged file is moved aside and reported in `problem`."""
    from fitadvisor.files import load_state

    path = store_path()
    observations, problem = load_state(path, _parse, "calibration store", "measurements are not used")
    return Store(observations, path, problem)


def _parse(text: str) -> list[Observation]:
    from fitadvisor.datafiles import parse_toml

    data = parse_toml(text)  # TOMLDecodeError is a ValueError
    if data.get("format") != FORMAT or not isinstance(data.get("observation", []), list):
        raise ValueError(f"unknown layout (format {data.get('format')!r})")
    types = {f.name: {"int": int, "float": (int, float)}.get(f.type, str) for f in fields(Observation)}
    observations = []
    for entry in data.get("observation", []):
        if not isinstance(entry, dict) or set(entry) - set(types):
            raise ValueError("an observation has unknown fields")
        observation = Observation(**entry)  # a missing field is a TypeError
        for name, expected in types.items():
            value = getattr(observation, name)
            if not isinstance(value, expected):
                raise ValueError(f"{name} of {observation.model!r} is not a {getattr(expected, '__name__', 'number')}")
            if expected is not str and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} of {observation.model!r} is {value}")
        observations.append(observation)
    return observations


def record(observation: Observation) -> Store:
    """Add an observation, replacing an older one with the same key; written atomically."""
    import tomli_w

    store = load()
    kept = [o for o in store.observations if o.key() != observation.key()]
    store.observations = [*kept, observation]
    text = tomli_w.dumps({"format": FORMAT, "observation": [asdict(o) for o in store.observations]})
    header = "# Measurements taken by `fitadvisor verify`; safe to delete (verify measures again).\n"
    _write(store.path, header + text)
    return store


def _write(path: Path, text: str) -> None:
    from fitadvisor.errors import FitAdvisorError
    from fitadvisor.files import atomic_write

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
    except OSError as error:
        raise FitAdvisorError(
            f"cannot write the calibration store {path} ({error.strerror}): set FITADVISOR_CONFIG_DIR to a writable directory"
        ) from None


def lookup(
    store: Store, model: str, num_ctx: int | None, kv_cache_type: str, flash_attention: str, parallel: int,
    ollama_version: str, machine: str,
) -> Observation | None:
    """The newest observation for this model at these settings on this machine (at any context when
    `num_ctx` is None), if any."""
    wanted = (kv_cache_type, flash_attention, parallel, ollama_version, machine)
    names = {model, full_name(model)}
    matches = [
        o for o in store.observations
        if (o.estimate_model in names or full_name(o.model) in names) and o.key()[2:] == wanted
        and num_ctx in (None, o.num_ctx)
    ]
    return max(matches, key=lambda o: o.measured_at, default=None)


def apply_measurement(result: Estimate, asked_name: str, settings: Settings, hardware: Hardware, store: Store) -> None:
    """Add to `result` what `verify` measured for this model and these settings on this machine, if anything.

    Settings are matched as asked (as `verify` records the server's variables), the context as Ollama runs it.
    A timed speed also applies at another context when both loads sit wholly on the GPU: the first turn
    decodes the same whatever room the cache was given.
    """
    def newest(num_ctx: int | None) -> Observation | None:
        found = None
        for name in dict.fromkeys((result.model, asked_name)):
            found = found or lookup(
                store, name, num_ctx, settings.kv_cache_type, settings.flash_attention, settings.parallel, result.release,
                machine_summary(hardware),
            )
        return found

    found = newest(result.num_ctx)
    timed = found if found and found.speed else None
    if timed is None and result.cpu_bytes == 0:
        other = newest(None)
        timed = other if other and other.speed and other.size_vram_bytes == other.size_bytes else None
    result.measured_speed = timed.speed if timed else None
    if found:
        result.measured_total_bytes = found.size_bytes
        result.notes.append(
            f"measured on this machine by `fitadvisor verify` on {found.date}: {format_gb(found.size_bytes)} loaded "
            f"({found.processor}) for {found.model}"
        )


def full_name(name: str) -> str:
    """`devstral-small-2` -> `devstral-small-2:latest`, as Ollama names it."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"

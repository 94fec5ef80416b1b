"""The trial store: the verdicts `fitadvisor trial` reached on this machine, which `recommend` uses first.

One TOML file beside `verify`'s calibration store. A damaged file is moved aside and reported, never fatal:
it only holds verdicts that `trial` can reach again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from fitadvisor.files import config_dir, load_state
from fitadvisor.models import verdicts

STORE_NAME = "trials.toml"
FORMAT = 1


@dataclass(frozen=True)
class TrialRecord:
    """One run of Claude Code against a model, graded."""

    model: str  # the Ollama name it ran, e.g. "glm-4.7-flash:latest"
    digest: str  # the model's digest as Ollama listed it
    num_ctx: int
    verdict: str  # a word of models/verdicts.py
    evidence: str  # what decided it
    tool_calls: list[str]
    seconds: float
    claude_md_written: bool
    facts_found: list[str]
    hallucinated_paths: list[str]
    claude_code_version: str
    ollama_version: str
    tried_at: str  # ISO 8601, UTC

    @property
    def date(self) -> str:
        return self.tried_at[:10]


@dataclass
class TrialStore:
    records: list[TrialRecord]
    path: Path
    problem: str | None = None  # set when the file was damaged and moved aside


def store_path() -> Path:
    return config_dir() / STORE_NAME


def load() -> TrialStore:
    path = store_path()
    records, problem = load_state(path, _parse, "trial store", "local trial verdicts are not used")
    return TrialStore(records, path, problem)


_TYPES = {"int": int, "float": (int, float), "str": str, "bool": bool, "list[str]": list}


def _parse(text: str) -> list[TrialRecord]:
    from fitadvisor.datafiles import parse_toml

    data = parse_toml(text)  # TOMLDecodeError is a ValueError
    if data.get("format") != FORMAT or not isinstance(data.get("trial", []), list):
        raise ValueError(f"unknown layout (format {data.get('format')!r})")
    types = {f.name: _TYPES[f.type] for f in fields(TrialRecord)}
    records = []
    for entry in data.get("trial", []):
        if not isinstance(entry, dict) or set(entry) != set(types):
            raise ValueError("a trial has missing or unknown fields")
        for name, expected in types.items():
            value = entry[name]
            if not isinstance(value, expected) or (expected is list and not all(isinstance(v, str) for v in value)):
                raise ValueError(f"{name} of {entry.get('model')!r} has the wrong type")
        verdicts.check(entry["verdict"])
        records.append(TrialRecord(**entry))
    return records


def record(trial: TrialRecord) -> TrialStore:
    """Add a verdict, replacing an older one for the same model digest and context; written atomically."""
    import tomli_w

    from fitadvisor.errors import FitAdvisorError
    from fitadvisor.files import atomic_write

    store = load()
    same = (trial.model, trial.digest, trial.num_ctx)
    store.records = [r for r in store.records if (r.model, r.digest, r.num_ctx) != same] + [trial]
    header = "# Verdicts reached by `fitadvisor trial` on this machine; safe to delete (trial reaches them again).\n"
    text = header + tomli_w.dumps({"format": FORMAT, "trial": [asdict(r) for r in store.records]})
    try:
        store.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(store.path, text)
    except OSError as error:
        raise FitAdvisorError(
            f"cannot write the trial store {store.path} ({error.strerror}): set FITADVISOR_CONFIG_DIR to a writable directory"
        ) from None
    return store


def latest(store: TrialStore, names: set[str]) -> TrialRecord | None:
    """The newest verdict for a model known by any of `names` (Ollama names, compared as Ollama compares them)."""
    wanted = {_canonical(n) for n in names}
    return max((r for r in store.records if _canonical(r.model) in wanted), key=lambda r: r.tried_at, default=None)


def _canonical(name: str) -> str:
    from fitadvisor.errors import FitAdvisorError
    from fitadvisor.models.catalog import ModelRef

    try:
        return ModelRef.parse(name).short
    except FitAdvisorError:
        return name


def verdict_of(name: str, store: TrialStore) -> tuple[str, str]:
    """A model's verdict and where it comes from: this machine's newest trial, else the catalog's field verdict."""
    from fitadvisor.errors import FitAdvisorError
    from fitadvisor.models import catalog

    try:
        known = catalog.find(name)
    except FitAdvisorError:
        known = None
    names = {name} | ({f"{known.name}:{tag}" for tag in known.tags} if known else set())
    trial = latest(store, names)
    if trial is not None:
        return trial.verdict, f"your trial, {trial.date}"
    return (known.agentic, "field notes") if known else (verdicts.UNTESTED, "")

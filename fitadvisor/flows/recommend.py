"""`recommend`: the candidates (the catalog, the server's models, or the ones named), ranked for the machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fitadvisor.errors import FitAdvisorError
from fitadvisor.flows.context import RunContext
from fitadvisor.flows.options import EngineOptions

if TYPE_CHECKING:
    from fitadvisor.memory.estimate import Estimate
    from fitadvisor.memory.releases import Release
    from fitadvisor.ollama.client import Client
    from fitadvisor.ollama.responses import Listing, TagEntry
    from fitadvisor.recommend.rank import Advice, Candidate, Excluded


@dataclass
class Server:
    """What the Ollama server (if any) told us: the release to model and the models it has."""

    release: Release
    models: Listing[TagEntry] | None = None  # /api/tags entries; None when no server answered
    client: Client | None = None
    notes: list[str] = field(default_factory=list)


def contact(run: RunContext, version: str | None, required: bool) -> Server:
    """Ask the server for its version and models; no server is fine unless `required` (--installed).

    A release named with --ollama-version is a plan: nothing is asked, so nothing is marked installed.
    """
    from fitadvisor.memory.releases import Release
    from fitadvisor.ollama.client import OllamaError, OllamaUnreachable

    if version is not None and not required:
        return Server(Release.of(version))
    client = run.client
    try:
        server_version = client.version()
        models = client.tags()
    except (OllamaUnreachable, OllamaError) as error:
        if required:
            raise FitAdvisorError(f"--installed needs a running Ollama: {error}") from None
        release = Release.of(version)
        return Server(release, notes=[] if version else [release.no_server_note])
    return Server(Release.of(version or server_version), models, client)


def installed_names(server: Server) -> list[str]:
    return [entry.name for entry in server.models or []]


def catalog_candidates(installed: list[str]) -> list[Candidate]:
    from fitadvisor.models import catalog
    from fitadvisor.recommend.rank import Candidate

    have = {model.reference for name in installed if (model := _find(name))}
    return [Candidate.of_catalog(m, m.reference in have) for m in catalog.load()]


def local_candidates(server: Server) -> tuple[list[Candidate], list[Excluded]]:
    """The models the server has, as candidates; those whose architecture cannot be read are excluded."""
    from fitadvisor.models.resolve import resolve_model
    from fitadvisor.recommend.rank import Candidate, Excluded

    candidates, seen = [], set()
    excluded = [Excluded("?", reason) for reason in server.models.rejected] if server.models is not None else []
    for name in installed_names(server):
        model = _find(name)
        if model is not None:
            if model.reference not in seen:
                seen.add(model.reference)
                candidates.append(Candidate.of_catalog(model, True, name))
            continue
        try:
            tools = server.client.show(name).tools
            resolved = resolve_model(name, server.client)
        except FitAdvisorError as error:
            excluded.append(Excluded(name, f"cannot read its architecture: {error}"))
            continue
        candidates.append(Candidate(name, resolved.architecture, tools, source=resolved.source, installed=True,
                                    draft_num_predict=resolved.draft_num_predict))
    return candidates, excluded


def named_candidates(names: str, installed: list[str], client: Client | None) -> list[Candidate]:
    """--candidates: catalog entries keep their field verdicts; other models are resolved and untested."""
    from fitadvisor.models.resolve import resolve_model
    from fitadvisor.recommend.rank import Candidate

    have = {model.reference for name in installed if (model := _find(name))}
    candidates = []
    for name in [part.strip() for part in names.split(",") if part.strip()]:
        model = _find(name)
        if model is not None:
            candidates.append(Candidate.of_catalog(model, model.reference in have or name in installed))
        else:
            resolved = resolve_model(name, client)
            candidates.append(Candidate(resolved.name, resolved.architecture, None, source=resolved.source, installed=name in installed,
                                        draft_num_predict=resolved.draft_num_predict))
    if not candidates:
        raise FitAdvisorError("--candidates needs at least one model name, e.g. --candidates devstral-small-2,qwen3-coder:30b")
    return candidates


def _find(name: str):
    from fitadvisor.models import catalog

    try:
        return catalog.find(name)
    except FitAdvisorError:  # a name Ollama allows but the catalog's parser does not: just not a catalog model
        return None


@dataclass
class Recommendation:
    """`recommend`'s answer: the advice, and the pick as `ollama launch claude` would run it, where the release has it."""

    advice: Advice
    launch_command: str | None = None

    def to_dict(self) -> dict:
        return {**self.advice.to_dict(), "launch_command": self.launch_command}


def launch_command(advice: Advice) -> str | None:
    """`ollama launch claude` for the derived model `apply` creates, where the modelled release has it."""
    from fitadvisor.claude.naming import derived_name
    from fitadvisor.claude_code import facts
    from fitadvisor.ollama.versions import parse_version

    pick = advice.pick
    if pick is None or advice.release.version < parse_version(facts().launch_since):
        return None
    return f"ollama launch claude --model {derived_name(pick.model, pick.num_ctx)}"


def recommend_models(
    run: RunContext,
    engine: EngineOptions | None = None,
    min_ctx: int | None = None,
    top: int | None = 5,
    installed: bool = False,
    candidates: str | None = None,
    max_ctx: int | None = None,
) -> Advice:
    """The Advice for the run's machine, with the server's installed models marked."""
    from fitadvisor.memory import calibration
    from fitadvisor.recommend.rank import recommend

    engine = engine or EngineOptions()
    hardware = run.hardware
    server = contact(run, engine.ollama_version, required=installed)
    names = installed_names(server)
    excluded = []
    if candidates:
        pool = named_candidates(candidates, names, server.client)
        if installed:
            pool = [c for c in pool if c.installed]
    elif installed:
        pool, excluded = local_candidates(server)
    else:
        pool = catalog_candidates(names)
    if installed and not pool and not excluded:
        raise FitAdvisorError(f"Ollama at {server.client.host} has none of these models: pull one with `ollama pull devstral-small-2`")
    settings = engine.estimate_settings(server.release)
    store = run.calibration
    measured = None
    if store is not None:  # this machine: `verify`'s measurements apply

        def measured(result: Estimate) -> None:
            calibration.apply_measurement(result, result.model, settings, hardware, store)

    pool, trial_problem = judged_by_trials(pool)
    advice = recommend(hardware, pool, settings, min_ctx=min_ctx, top=top, measured=measured, max_ctx=max_ctx)
    advice.excluded[:0] = excluded
    advice.notes.extend(server.notes)
    advice.notes += [problem for problem in (store and store.problem, trial_problem) if problem]
    advice.notes += [
        f"{c.name}: your trial of {c.trial.date} ({c.agentic}) decides, not the field notes."
        for c in pool if c.trial and c.name in {p.model for p in advice.recommendations} | {e.model for e in advice.excluded}
    ]
    return advice


def judged_by_trials(pool: list[Candidate]) -> tuple[list[Candidate], str | None]:
    """Each candidate with the newest verdict `fitadvisor trial` reached for it on this machine, if any."""
    from fitadvisor.models import trials

    store = trials.load()
    judged = []
    for candidate in pool:
        model = _find(candidate.name)
        names = {candidate.name} | ({f"{model.name}:{tag}" for tag in model.tags} if model else set())
        judged.append(candidate.with_trial(trials.latest(store, names)))
    return judged, store.problem

"""`fitadvisor recommend`: the best agentic-coding model and context this machine can run, and why."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from fitadvisor.commands.options import (
    ctx_option,
    engine_options,
    hardware_options,
    host_option,
    json_option,
)
from fitadvisor.errors import FitAdvisorError
from fitadvisor.units import format_ctx

if TYPE_CHECKING:
    from fitadvisor.memory.estimate import Estimate
    from fitadvisor.memory.releases import Release
    from fitadvisor.ollama.client import Client
    from fitadvisor.recommend.rank import Advice, Candidate, Excluded

SERVER_TIMEOUT = 1.0  # seconds: a local server answers at once, and a refused connection fails at once


@dataclass
class Server:
    """What the Ollama server (if any) told us: the release to model and the models it has."""

    release: Release
    models: list[dict] | None = None  # /api/tags entries; None when no server answered
    client: Client | None = None
    notes: list[str] = field(default_factory=list)


def contact(host: str | None, version: str | None, required: bool) -> Server:
    """Ask the server for its version and models; no server is fine unless `required` (--installed)."""
    from fitadvisor.memory.releases import Release
    from fitadvisor.ollama.client import Client, OllamaError, OllamaUnreachable

    client = Client(host, timeout=SERVER_TIMEOUT)
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
    return [str(entry.get("name") or entry.get("model")) for entry in server.models or [] if entry.get("name") or entry.get("model")]


def catalog_candidates(installed: list[str]) -> list[Candidate]:
    from fitadvisor.models import catalog
    from fitadvisor.recommend.rank import Candidate

    have = {model.reference for name in installed if (model := _find(name))}
    return [
        Candidate(m.reference, m.architecture, m.tools, m.agentic, m.swe_bench_verified, "catalog", m.reference in have)
        for m in catalog.load()
    ]


def local_candidates(server: Server) -> tuple[list[Candidate], list[Excluded]]:
    """The models the server has, as candidates; those whose architecture cannot be read are excluded."""
    from fitadvisor.models.resolve import resolve_model
    from fitadvisor.recommend.rank import Candidate, Excluded

    candidates, excluded, seen = [], [], set()
    for name in installed_names(server):
        model = _find(name)
        if model is not None:
            if model.reference not in seen:
                seen.add(model.reference)
                candidates.append(
                    Candidate(name, model.architecture, model.tools, model.agentic, model.swe_bench_verified, "catalog", True)
                )
            continue
        try:
            tools = "tools" in (server.client.show(name).get("capabilities") or [])
            resolved = resolve_model(name, host=server.client.host)
        except FitAdvisorError as error:
            excluded.append(Excluded(name, f"cannot read its architecture: {error}"))
            continue
        candidates.append(Candidate(name, resolved.architecture, tools, source=resolved.source, installed=True))
    return candidates, excluded


def named_candidates(names: str, installed: list[str], host: str | None = None) -> list[Candidate]:
    """--candidates: catalog entries keep their field verdicts; other models are resolved and untested."""
    from fitadvisor.models.resolve import resolve_model
    from fitadvisor.recommend.rank import Candidate

    have = {model.reference for name in installed if (model := _find(name))}
    candidates = []
    for name in [part.strip() for part in names.split(",") if part.strip()]:
        model = _find(name)
        if model is not None:
            candidates.append(
                Candidate(model.reference, model.architecture, model.tools, model.agentic, model.swe_bench_verified,
                          "catalog", model.reference in have or name in installed)
            )
        else:
            resolved = resolve_model(name, host=host)
            candidates.append(Candidate(resolved.name, resolved.architecture, None, source=resolved.source, installed=name in installed))
    if not candidates:
        raise FitAdvisorError("--candidates needs at least one model name, e.g. --candidates devstral-small-2,qwen3-coder:30b")
    return candidates


def _find(name: str):
    from fitadvisor.models import catalog

    try:
        return catalog.find(name)
    except FitAdvisorError:  # a name Ollama allows but the catalog's parser does not: just not a catalog model
        return None


def run(
    min_ctx: int | None = None,
    top: int | None = 5,
    installed: bool = False,
    candidates: str | None = None,
    kv_cache: str = "f16",
    flash_attention: str = "auto",
    parallel: int = 1,
    batch: int | None = None,
    ollama_version: str | None = None,
    memory: str | None = None,
    gpu_memory: str | None = None,
    chip: str | None = None,
    host: str | None = None,
) -> Advice:
    """The Advice for this machine (or the overridden one), with the server's installed models marked."""
    from fitadvisor.hardware.probe import detect
    from fitadvisor.memory.estimate import Settings
    from fitadvisor.recommend.rank import recommend

    hardware = detect(memory=memory, gpu_memory=gpu_memory, chip=chip)
    server = contact(host, ollama_version, required=installed)
    names = installed_names(server)
    excluded = []
    if candidates:
        pool = named_candidates(candidates, names, server.client.host if server.client else host)
        if installed:
            pool = [c for c in pool if c.installed]
    elif installed:
        pool, excluded = local_candidates(server)
    else:
        pool = catalog_candidates(names)
    if installed and not pool and not excluded:
        raise FitAdvisorError(f"Ollama at {server.client.host} has none of these models: pull one with `ollama pull devstral-small-2`")
    settings = Settings(kv_cache_type=kv_cache, flash_attention=flash_attention, parallel=parallel, batch=batch, release=server.release)
    measured, store_problem = None, None
    if memory is None and gpu_memory is None and chip is None:  # this machine: `verify`'s measurements apply
        from fitadvisor.commands.estimate import use_measurement
        from fitadvisor.memory import calibration

        store = calibration.load()
        store_problem = store.problem

        def measured(result: Estimate) -> None:
            use_measurement(result, result.model, settings, hardware, store)

    pool, trial_problem = judged_by_trials(pool)
    advice = recommend(hardware, pool, settings, min_ctx=min_ctx, top=top, measured=measured)
    advice.excluded[:0] = excluded
    advice.notes.extend(server.notes)
    advice.notes += [problem for problem in (store_problem, trial_problem) if problem]
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


def to_json(advice: Advice) -> dict:
    pick = advice.pick
    return {
        "hardware": advice.hardware.to_dict(advice.release.gpu_reserve_bytes, advice.release.metal_reserve_bytes),
        "recommendations": [p.to_dict() for p in advice.recommendations],
        "excluded": [e.to_dict() for e in advice.excluded],
        "ollama_version": advice.release.label,
        "min_ctx": advice.min_ctx,
        "budget_bytes": advice.budget_bytes,
        "budget": advice.budget_label,
        "pick": pick.model if pick else None,
        "next_command": pick.next_command if pick else None,
        "warnings": advice.warnings,
        "notes": advice.notes,
        "instead": advice.instead,
        "hints": advice.hints,
        "trial": advice.trial.to_dict() if advice.trial else None,
    }


def render(advice: Advice) -> str:
    from fitadvisor.recommend.rank import format_duration, format_span, gb

    picks = advice.recommendations
    lines = [
        f"Memory for the model: {gb(advice.budget_bytes)} {advice.budget_label}; Ollama {advice.release.label}; "
        f"contexts from {format_ctx(advice.min_ctx)} up.",
        "",
    ]
    if picks:
        rows = [("MODEL", "CONTEXT", "LOADED / BUDGET", "TOK/S", "1ST PROMPT", "VERDICT")]
        for pick in picks:
            name = pick.model + (" *" if pick.candidate.installed else "")
            loaded = f"{gb(pick.estimate.loaded_bytes)} / {gb(pick.budget_bytes)}"
            rows.append((name, format_ctx(pick.num_ctx), loaded, format_span(pick.speed.decode), format_duration(pick.speed.prompt_seconds), pick.verdict))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
        lines.append(
            "TOK/S: answering speed from a full context (low) to the first turn (high). 1ST PROMPT: reading Claude Code's "
            "~20K-token opening prompt, again after each compaction or /clear."
        )
        if any(p.candidate.installed for p in picks):
            lines.append("* installed in Ollama")
        lines.append("")
    if advice.excluded:
        lines.append("Excluded:")
        lines += [f"  {e.model}: {e.reason}" for e in advice.excluded]
        lines.append("")
    pick = advice.pick
    if pick is not None:
        lines.append(f"Pick: {pick.model} at {format_ctx(pick.num_ctx)} context: {pick.reason}.")
    if advice.trial:
        lines.append(f"Worth a trial: {advice.trial.text}: `{advice.trial.command}`")
    lines += advice.warnings
    lines += [f"Note: {note}" for note in advice.notes]
    if advice.instead:
        lines.append(f"What would work instead: {advice.instead}")
    lines += advice.hints
    if pick is not None:
        lines += ["", "Next:", f"  {pick.next_command}"]
    return "\n".join(lines)


@click.command("recommend")
@ctx_option(name="--min-ctx", help="The least context to consider (default 64k: Claude Code's opening prompt alone is ~20K tokens).")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="How many models to list.")
@click.option("--installed", is_flag=True, help="Only models the Ollama server already has.")
@click.option("--candidates", metavar="MODEL[,MODEL...]", help="Only these models (catalog names or other Ollama references).")
@engine_options
@hardware_options
@host_option
@json_option
def command(ctx: int | None, as_json: bool, **options) -> None:
    """Pick the best agentic-coding model and context this machine can really run under Ollama.

    \b
    Examples:  fitadvisor recommend
               fitadvisor recommend --memory 48GB --chip "Apple M4 Pro"
               fitadvisor recommend --gpu-memory 24GB --memory 64GB --json
    """
    advice = run(min_ctx=ctx, **options)
    click.echo(json.dumps(to_json(advice), indent=2) if as_json else render(advice))

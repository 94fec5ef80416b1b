"""`estimate`: one model at one context, on this machine (with what `verify` measured here) or a described one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fitadvisor.flows.context import RunContext
from fitadvisor.flows.options import EngineOptions

if TYPE_CHECKING:
    from fitadvisor.memory.estimate import Estimate, Settings
    from fitadvisor.memory.releases import Release
    from fitadvisor.models.resolve import ResolvedModel
    from fitadvisor.speed.predict import Speed


def engine_settings(engine: EngineOptions, release: Release, num_ctx: int | None = None) -> Settings:
    """The estimator's settings: what was given, Ollama's defaults for the rest."""
    from fitadvisor.memory.estimate import Settings

    return Settings(num_ctx=num_ctx, release=release, **engine.settings())


def estimate_model(
    run: RunContext, model: str, ctx: int | None = None, engine: EngineOptions | None = None, resolved: ResolvedModel | None = None,
) -> Estimate:
    """The estimate for `model` (already resolved by the caller, or resolved here)."""
    from fitadvisor.memory import calibration
    from fitadvisor.memory.estimate import estimate
    from fitadvisor.models.resolve import resolve_model
    from fitadvisor.recommend.rank import short_context_warning

    engine = engine or EngineOptions()
    resolved = resolved or resolve_model(model, run.client)
    hardware = run.hardware
    release, release_note = run.release(engine.ollama_version)
    settings = engine_settings(engine, release, ctx)
    result = estimate(resolved.architecture, settings, hardware, model=resolved.name, source=resolved.source)
    if release_note:
        result.notes.append(release_note)
    result.source_detail = f"architecture {resolved.note}" if resolved.note else f"architecture from {resolved.source}"
    store = run.calibration
    if store is not None:
        if store.problem:
            result.notes.append(store.problem)
        calibration.apply_measurement(result, model, settings, hardware, store)
    warning = short_context_warning(result.num_ctx)
    if warning:
        result.warnings.append(warning)
    return result


def estimate_with_speed(run: RunContext, model: str, ctx: int | None = None, engine: EngineOptions | None = None) -> tuple[Estimate, Speed]:
    """The estimate and how fast the model will answer: what `verify` timed on this machine, else the speed model's."""
    from fitadvisor.models.resolve import resolve_model
    from fitadvisor.speed.predict import speed

    engine = engine or EngineOptions()
    resolved = resolve_model(model, run.client)
    result = estimate_model(run, model, ctx, engine, resolved)
    release, _ = run.release(engine.ollama_version)
    return result, speed(resolved.architecture, result, run.hardware, release)

"""`estimate`: one model at one context, on this machine (with what `verify` measured here) or a described one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fitadvisor.flows.context import RunContext
from fitadvisor.flows.options import EngineOptions

if TYPE_CHECKING:
    from fitadvisor.memory.budget import Budget
    from fitadvisor.memory.estimate import Estimate
    from fitadvisor.models.resolve import ResolvedModel
    from fitadvisor.speed.predict import Speed


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
    requested = engine.estimate_settings(release, ctx)
    settings = requested.with_model_drafting(resolved.draft_num_predict, resolved.architecture)
    result = estimate(resolved.architecture, settings, hardware, model=resolved.name, source=resolved.source)
    if release_note:
        result.notes.append(release_note)
    if settings is not requested:
        result.notes.append(
            f"draft_num_predict {resolved.draft_num_predict} is the model's own parameter ({resolved.source}); "
            "--draft-num-predict 0 estimates it without drafting"
        )
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


@dataclass
class EstimateReport:
    """`estimate`'s answer: the loaded size and, where known, how fast the model will answer."""

    estimate: Estimate
    speed: Speed | None = None

    def to_dict(self) -> dict:
        return {**self.estimate.to_dict(), **(self.speed.to_dict() if self.speed else {})}


def estimate_with_speed(run: RunContext, model: str, ctx: int | None = None, engine: EngineOptions | None = None) -> EstimateReport:
    """The estimate and how fast the model will answer: what `verify` timed on this machine, else the speed model's."""
    from fitadvisor.models.resolve import resolve_model
    from fitadvisor.speed.predict import speed

    engine = engine or EngineOptions()
    resolved = resolve_model(model, run.client)
    result = estimate_model(run, model, ctx, engine, resolved)
    release, _ = run.release(engine.ollama_version)
    return EstimateReport(result, speed(resolved.architecture, result, run.hardware, release))


@dataclass(frozen=True)
class SweepPoint:
    """One context of `estimate --sweep`: the loaded size by term, where it runs, and how fast it answers."""

    num_ctx: int
    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    other_bytes: int
    total_bytes: int
    gpu_bytes: int
    fits: bool | None
    first_turn: float | None  # decode tokens/s with the opening prompt in the cache
    full_context: float | None  # decode tokens/s with the context full

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Sweep:
    model: str
    release: str
    budget: Budget | None
    planned_for: str | None
    points: list[SweepPoint]

    @property
    def spill_ctx(self) -> int | None:
        """The first context at which the model no longer fits the budget (spills to the CPU)."""
        return next((point.num_ctx for point in self.points if point.fits is False), None)

    def to_dict(self) -> dict:
        return {
            "model": self.model, "ollama_version": self.release, "planned_for": self.planned_for,
            "budget": self.budget.to_dict() if self.budget else None, "spill_ctx": self.spill_ctx,
            "series": [point.to_dict() for point in self.points],
        }


def sweep_contexts(trained: int) -> list[int]:
    """16K, 32K, then recommend's ladder, up to and including the trained length."""
    from fitadvisor.recommend.rank import CONTEXT_LADDER

    ladder = [c for c in (16 * 1024, 32 * 1024, *CONTEXT_LADDER) if c < trained]
    return ladder + [trained]


def sweep(run: RunContext, model: str, engine: EngineOptions | None = None) -> Sweep:
    """The estimate and decode speed at every context from 16K to the model's trained length."""
    from fitadvisor.models.resolve import resolve_model
    from fitadvisor.speed.predict import speed

    engine = engine or EngineOptions()
    resolved = resolve_model(model, run.client)
    release, _ = run.release(engine.ollama_version)
    points, first = [], None
    for ctx in sweep_contexts(resolved.architecture.context_length):
        result = estimate_model(run, model, ctx, engine, resolved)
        first = first or result
        pace = speed(resolved.architecture, result, run.hardware, release)
        points.append(SweepPoint(
            result.num_ctx, result.weights_bytes, result.kv_cache_bytes, result.compute_bytes, result.other_bytes,
            result.total_bytes, result.gpu_bytes, result.fits, pace.first_turn, pace.full_context,
        ))
    return Sweep(first.model, release.label, first.budget, first.planned_for, points)

"""The best agentic-coding model and context a machine can really run, with the reasons.

For each tool-capable candidate: the largest context on a ladder (64K, 96K, 128K, ... up to the
trained length) whose estimated load fits the memory budget, its speed, and a verdict. Ranking puts
known agentic quality first (field verdicts, then SWE-bench Verified), then room for Claude Code to
compact (data/claude_code.toml), then speed. Policy facts and sources are in data/recommend.toml.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from fitadvisor.claude_code import compaction
from fitadvisor.datafiles import read_toml
from fitadvisor.errors import FitAdvisorError
from fitadvisor.hardware.machine import Hardware
from fitadvisor.memory.budget import Budget, budget as machine_budget, ram_share
from fitadvisor.memory.estimate import Estimate, Settings, estimate
from fitadvisor.memory.releases import Release
from fitadvisor.models import verdicts
from fitadvisor.models.architecture import Architecture
from fitadvisor.models.trials import TrialRecord
from fitadvisor.speed.predict import Speed, format_decode, format_prompt_time, speed, weight_bytes_per_token
from fitadvisor.units import GIB, KIB, ctx_argument, format_ctx, format_gb_fine, parse_ctx

if TYPE_CHECKING:
    from fitadvisor.models.catalog import CatalogModel

# Contexts tried, in tokens (k = 1024); the trained length is tried too when it falls between them.
CONTEXT_LADDER = tuple(k * KIB for k in (64, 96, 128, 160, 192, 256, 384, 512, 768, 1024))
# Too slow for agentic use: below this many tokens/s a typical few-hundred-token tool call takes a
# minute or more; or reading the opening prompt (again after every compaction or /clear) takes longer.
SLOW_DECODE_TOKENS_PER_SECOND = 5.0
SLOW_PROMPT_SECONDS = 600.0
# Mac memory sizes sold (GiB), for "what would work instead".
MAC_MEMORY_GIB = (16, 24, 32, 36, 48, 64, 96, 128, 192, 256, 512)


@dataclass(frozen=True)
class Candidate:
    """A model that could be recommended, with what is known of its agentic behaviour."""

    name: str  # the reference `fitadvisor apply` takes
    sized_architecture: Architecture | CatalogModel  # or a catalog model, sized once a ranking needs its weights
    tools: bool | None  # None: unknown (not in the catalog, not asked of Ollama)
    agentic: str = verdicts.UNTESTED  # a word of models/verdicts.py: the field's, or the local trial's
    swe_bench_verified: float | None = None
    source: str = "catalog"
    installed: bool = False
    trial: TrialRecord | None = None  # the verdict `fitadvisor trial` reached on this machine, which `agentic` follows
    draft_num_predict: int | None = None  # the model's own PARAMETER draft_num_predict, where it sets one

    @classmethod
    def of_catalog(cls, model: CatalogModel, installed: bool, name: str | None = None) -> Candidate:
        """A catalog model (under the name it was asked by), its weights sized only if it is estimated."""
        return cls(name or model.reference, model, model.tools, model.agentic, model.swe_bench_verified, "catalog", installed,
                   draft_num_predict=model.draft_num_predict)

    def settings(self, settings: Settings) -> Settings:
        """The server's settings as this model runs under them: drafting with its own draft_num_predict unless the
        request sets one."""
        return settings.with_model_drafting(self.draft_num_predict, self.shape)

    @cached_property
    def architecture(self) -> Architecture:
        sized = self.sized_architecture
        return sized if isinstance(sized, Architecture) else sized.architecture

    @property
    def shape(self) -> Architecture:
        """The architecture before its weights are sized: its trained context and parameters, at no cost."""
        sized = self.sized_architecture
        return sized if isinstance(sized, Architecture) else sized.shape

    def with_trial(self, trial: TrialRecord | None) -> Candidate:
        """This candidate judged by a local trial, which takes precedence over the field notes."""
        return replace(self, agentic=trial.verdict, trial=trial) if trial else self

    @property
    def proven(self) -> bool:
        return verdicts.is_proven(self.agentic)

    @property
    def below_floor(self) -> bool:
        """Untested and smaller than any model that drove Claude Code in the field."""
        return not self.proven and self.shape.parameters < _policy()["agentic"]["capability_floor_b"] * 1e9

    @property
    def verdict_origin(self) -> str:
        return f"your trial, {self.trial.date}" if self.trial else "field-tested"

    @property
    def label(self) -> str:
        """How its verdict reads beside a pick."""
        if not self.proven:
            text = verdicts.meaning(verdicts.UNTESTED)
            if self.below_floor:
                floor = _policy()["agentic"]["capability_floor_b"]
                text += f"; under {floor:g}B parameters, where no model drove Claude Code's tools in the field notes"
            return text
        return f"{_policy()['agentic']['label'][self.agentic]} ({self.verdict_origin})"


class _Budgeted:
    """The budget's size and name, read off the `budget` a pick or an advice carries."""

    budget: Budget

    @property
    def budget_bytes(self) -> int:
        return self.budget.bytes

    @property
    def budget_label(self) -> str:
        return self.budget.label


@dataclass
class Pick(_Budgeted):
    candidate: Candidate
    estimate: Estimate
    speed: Speed
    budget: Budget
    limit: str  # what stopped the context growing
    verdict: str

    @property
    def model(self) -> str:
        return self.candidate.name

    @property
    def num_ctx(self) -> int:
        return self.estimate.num_ctx

    @property
    def too_slow(self) -> bool:
        """The first turn already decodes too slowly, or reading the opening prompt takes too long (best estimates)."""
        first, prompt = self.speed.first_turn, self.speed.opening_prompt_seconds
        return bool(
            (first is not None and first < SLOW_DECODE_TOKENS_PER_SECOND) or (prompt is not None and prompt > SLOW_PROMPT_SECONDS)
        )

    @property
    def reason(self) -> str:
        parts = [self.candidate.label]
        if self.candidate.swe_bench_verified is not None:
            parts.append(f"SWE-bench Verified {self.candidate.swe_bench_verified:g}%")
        parts.append(
            f"{format_ctx(self.num_ctx)} loads {gb(self.estimate.loaded_bytes)} of the "
            f"{gb(self.budget_bytes)} {self.budget_label} ({self.limit})"
        )
        if not compaction(self.num_ctx).works:
            parts.append("too small for Claude Code to compact in")
        if self.too_slow:
            parts.append("too slow for agentic use")
        return "; ".join(parts)

    @property
    def next_command(self) -> str:
        return f"fitadvisor apply {self.model} --ctx {ctx_argument(self.num_ctx)}"

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "num_ctx": self.num_ctx,
            "total_bytes": self.estimate.total_bytes,
            "gpu_bytes": self.estimate.gpu_bytes,
            "fits": True,
            "tokens_per_second": self.speed.decode.to_dict() if self.speed.decode else None,
            **self.speed.to_dict(),
            "reason": self.reason,
            "cpu_bytes": self.estimate.cpu_bytes,
            "gpus": [share.to_dict() for share in self.estimate.gpus],
            "limit": self.limit,
            "budget_bytes": self.budget_bytes,
            "prompt_seconds": self.speed.prompt_seconds.to_dict(0) if self.speed.prompt_seconds else None,
            "agentic": self.candidate.agentic,
            "verdict_origin": self.candidate.verdict_origin if self.candidate.proven else None,
            "below_capability_floor": self.candidate.below_floor,
            "swe_bench_verified": self.candidate.swe_bench_verified,
            "installed": self.candidate.installed,
            "verdict": self.verdict,
            "next_command": self.next_command,
        }


@dataclass(frozen=True)
class Excluded:
    model: str
    reason: str
    failure_kind: str | None = None  # the verdict word when a field or trial failure excluded it
    placement: Estimate | None = None  # for a model too big to fit: how Ollama would still place it at the minimum context

    def to_dict(self) -> dict:
        return {"model": self.model, "reason": self.reason, "failure_kind": self.failure_kind}


@dataclass(frozen=True)
class TrialSuggestion:
    """An untested model that fits and scores clearly better on paper than the pick: a trial would settle it."""

    model: str
    num_ctx: int
    swe_bench_verified: float | None
    text: str

    @property
    def command(self) -> str:
        return f"fitadvisor trial {self.model} --ctx {ctx_argument(self.num_ctx)}"

    def to_dict(self) -> dict:
        return {"model": self.model, "num_ctx": self.num_ctx, "swe_bench_verified": self.swe_bench_verified,
                "reason": self.text, "command": self.command}


@dataclass
class Advice(_Budgeted):
    """The whole answer: ranked picks, exclusions, and what a person must be told."""

    hardware: Hardware
    release: Release
    min_ctx: int
    budget: Budget
    recommendations: list[Pick]
    excluded: list[Excluded]
    warnings: list[str] = field(default_factory=list)  # what a person must know before choosing
    notes: list[str] = field(default_factory=list)  # how the answer was reached
    hints: list[str] = field(default_factory=list)  # a setting that would give a better answer
    instead: str | None = None  # what would work better, when this machine cannot do it well
    max_ctx: int | None = None  # --max-ctx, when given
    trial: TrialSuggestion | None = None  # an untested model worth a `fitadvisor trial`

    @property
    def pick(self) -> Pick | None:
        return self.recommendations[0] if self.recommendations else None

    def to_dict(self) -> dict:
        pick = self.pick
        return {
            "hardware": {**self.hardware.to_dict(), "gpu_budget_bytes": self.budget.bytes},
            "recommendations": [p.to_dict() for p in self.recommendations],
            "excluded": [e.to_dict() for e in self.excluded],
            "too_big": {  # how Ollama would still place each model too big for the budget, at the minimum context
                e.model: {"num_ctx": e.placement.num_ctx, "processor": e.placement.processor,
                          "gpus": [share.to_dict() for share in e.placement.gpus]}
                for e in self.excluded if e.placement
            },
            "ollama_version": self.release.label,
            "min_ctx": self.min_ctx,
            "budget_bytes": self.budget_bytes,
            "budget": self.budget_label,
            "budget_detail": self.budget.to_dict(),
            "planned_for": self.hardware.planned_for,
            "max_ctx": self.max_ctx,
            "pick": pick.model if pick else None,
            "next_command": pick.next_command if pick else None,
            "server_wide_command": f"{pick.next_command} --server-wide" if pick else None,
            "warnings": self.warnings,
            "notes": self.notes,
            "instead": self.instead,
            "hints": self.hints,
            "trial": self.trial.to_dict() if self.trial else None,
        }


@lru_cache(maxsize=1)
def _policy() -> dict:
    return read_toml("recommend.toml")


def default_min_ctx() -> int:
    return parse_ctx(_policy()["claude_code"]["minimum_context"])


def short_context_warning(num_ctx: int) -> str | None:
    """Said wherever a context below Claude Code's minimum is estimated, configured or aliased."""
    minimum = default_min_ctx()
    if num_ctx >= minimum:
        return None
    return (
        f"{format_ctx(num_ctx)} is below the {format_ctx(minimum)} Claude Code needs: at 32K the field notes saw "
        "devstral-small-2 lose the task and invent a bug to fix (use --ctx 64k or more)"
    )


gb = format_gb_fine  # budgets and loads are compared, so 16.4 vs 16.5 must show


def field_context(candidate: Candidate) -> int:
    """The context the field notes ran this model at with Claude Code (0 if they did not)."""
    from fitadvisor.models import catalog

    try:
        model = catalog.find(candidate.name)
    except FitAdvisorError:  # a name the catalog's parser refuses is not a catalog model
        return 0
    return (model.field_test.num_ctx or 0) if model and model.field_test else 0


def field_run(candidate: Candidate, hardware: Hardware) -> int:
    """The context the field ran this model at, if this is the field's own machine (else 0)."""
    machine = _policy()["field_machine"]
    if hardware.chip != machine["chip"] or hardware.memory_bytes != machine["memory_gb"] * GIB:
        return 0
    return field_context(candidate)


def contexts(trained: int, min_ctx: int) -> list[int]:
    """The contexts to try, smallest first: the minimum, the ladder above it, the trained length."""
    ladder = [min_ctx] + [c for c in CONTEXT_LADDER if min_ctx < c < trained]
    if trained > min_ctx:
        ladder.append(trained)
    return ladder


def largest_fit(
    candidate: Candidate, hardware: Hardware, settings: Settings, budget: Budget, min_ctx: int,
    measured: Callable[[Estimate], None] | None = None, max_ctx: int | None = None,
) -> tuple[Estimate | None, Estimate, str]:
    """The estimate at the largest context that fits (or None), the one at the minimum, and the limit.

    A context fits when its load stays under the budget less the margin, or under the budget itself
    where the field ran it on this machine. `measured` adds what `fitadvisor verify` measured on this
    machine, which then decides the fit.
    """
    arch = candidate.architecture
    best: Estimate | None = None
    first: Estimate | None = None
    limit = f"trained for {format_ctx(arch.context_length)}"
    proven, field = field_run(candidate, hardware), field_context(candidate)
    top = min(arch.context_length, max_ctx) if max_ctx else arch.context_length
    if max_ctx and max_ctx < arch.context_length:
        limit = f"--max-ctx {format_ctx(max_ctx)}"
    settings = candidate.settings(settings)
    for ctx in contexts(top, min_ctx):
        result = estimate(arch, replace(settings, num_ctx=ctx), hardware, model=candidate.name, source=candidate.source)
        if measured:
            measured(result)
        first = first or result
        allowed = budget.bytes if ctx <= proven else budget.plan_bytes
        if result.loaded_bytes > allowed or not result.fits:
            limit = f"{format_ctx(ctx)} would need {gb(result.loaded_bytes)}"
            break
        compacts = best is not None and compaction(best.num_ctx).works
        if compacts and ctx > field and _decodes_too_slowly(arch, result, hardware, settings.release):
            limit = f"at {format_ctx(ctx)} a full context would decode below {SLOW_DECODE_TOKENS_PER_SECOND:g} tokens/s"
            break
        best = result
    assert first is not None
    return best, first, limit


def _decodes_too_slowly(arch: Architecture, result: Estimate, hardware: Hardware, release: Release) -> bool:
    """Whether answering from a full context of this size falls below agentic speed: past the context the field ran
    the model at, and once Claude Code can compact, a usable speed beats more context."""
    full = speed(arch, result, hardware, release).full_context
    return full is not None and full < SLOW_DECODE_TOKENS_PER_SECOND


def exclusion_for_verdict(candidate: Candidate) -> Excluded | None:
    """Why a model that failed in the field (or in a local trial), or has no tool support, is never recommended."""
    if verdicts.is_failure(candidate.agentic):
        origin = f"your trial, {candidate.trial.date}" if candidate.trial else "field notes"
        return Excluded(candidate.name, f"{verdicts.meaning(candidate.agentic)} ({origin}: {candidate.agentic})", candidate.agentic)
    if candidate.tools is False:
        return Excluded(candidate.name, verdicts.meaning("no-tool-support"), "no-tool-support")
    return None


def rank_key(pick: Pick) -> tuple:
    """Proven in Claude Code, then above the capability floor, usable speed, SWE-bench Verified, room to compact, speed.

    Untested models without a score that tells them apart go by size before speed: the field notes
    found capability to drive Claude Code's tools growing with parameters (none below ~15B), so the
    fastest, smallest model must not outrank a larger one that fits.
    """
    compacts = compaction(pick.num_ctx).works
    bytes_per_token = weight_bytes_per_token(pick.candidate.architecture)
    return (*_candidate_rank(pick.candidate, pick.too_slow), not compacts, bytes_per_token, -pick.num_ctx)


def _candidate_rank(candidate: Candidate, too_slow: bool) -> tuple:
    """The head of `rank_key`: what is known of the candidate before any estimate, and whether its pick is too slow."""
    swe = candidate.swe_bench_verified
    size = 0 if candidate.proven else -candidate.shape.effective_parameters
    return (_policy()["agentic"]["rank"][candidate.agentic], candidate.below_floor, too_slow, swe is None, -(swe or 0.0), size)


def _could_rank_before(candidate: Candidate, pick: Pick | None) -> bool:
    """Whether any pick of `candidate` could rank before `pick`: at best it is not too slow, and the rest of its key
    only breaks ties, so a candidate whose best head already ranks after `pick`'s need not be estimated."""
    if pick is None:
        return True
    if exclusion_for_verdict(candidate) is not None:
        return False
    head = _candidate_rank(candidate, too_slow=False)
    return head <= rank_key(pick)[: len(head)]


def recommend(
    hardware: Hardware,
    candidates: list[Candidate],
    settings: Settings | None = None,
    min_ctx: int | None = None,
    top: int | None = None,
    hint: bool = True,
    measured: Callable[[Estimate], None] | None = None,
    max_ctx: int | None = None,
) -> Advice:
    """Rank `candidates` for Claude Code on `hardware`; `settings` carries the server's knobs and release."""
    settings = settings or Settings()
    min_ctx = min_ctx or default_min_ctx()
    if max_ctx and max_ctx < min_ctx:
        raise FitAdvisorError(
            f"--max-ctx {format_ctx(max_ctx)} is below the least context considered, {format_ctx(min_ctx)} (--min-ctx): "
            "give a --max-ctx at or above it"
        )
    release = settings.release
    budget = machine_budget(hardware, release)
    picks: list[Pick] = []
    excluded: list[Excluded] = []
    too_big: list[tuple[Candidate, Estimate]] = []
    for candidate in candidates:
        failed = exclusion_for_verdict(candidate)
        if failed:
            excluded.append(failed)
            continue
        trained = candidate.shape.context_length  # known before the weights are sized
        if trained < min_ctx:
            needed = "Claude Code needs" if min_ctx == default_min_ctx() else "asked for (--min-ctx)"
            reason = f"trained for {format_ctx(trained)} context, below the {format_ctx(min_ctx)} {needed}"
            excluded.append(Excluded(candidate.name, reason))
            continue
        try:
            best, first, limit = largest_fit(candidate, hardware, settings, budget, min_ctx, measured, max_ctx)
        except FitAdvisorError as error:  # e.g. an architecture this Ollama release cannot run
            excluded.append(Excluded(candidate.name, str(error)))
            continue
        if best is None:
            excluded.append(Excluded(
                candidate.name, f"needs {gb(first.loaded_bytes)} at {format_ctx(min_ctx)}, {budget.label} {gb(budget.bytes)}"
                + (f"; Ollama would run it {first.processor}" if first.gpu_bytes else ""),
                placement=first,
            ))
            too_big.append((candidate, first))
            continue
        pick_speed = speed(candidate.architecture, best, hardware, release)
        picks.append(Pick(candidate, best, pick_speed, budget, limit, verdict=""))
    picks.sort(key=rank_key)
    for pick in picks:
        pick.verdict = _verdict(pick)
    advice = Advice(hardware, release, min_ctx, budget, picks[:top] if top else picks, excluded, max_ctx=max_ctx)
    _explain(advice, picks, too_big)
    if hint and settings.kv_cache_type == "f16":
        _quantized_cache_hint(advice, candidates, settings)
    return advice


def _quantized_cache_hint(advice: Advice, candidates: list[Candidate], settings: Settings) -> None:
    """Say so when a q8_0 KV cache (half the f16 size) would give a better pick: it is a server-wide setting."""
    quantized = replace(settings, kv_cache_type="q8_0", flash_attention="on")
    contenders = [candidate for candidate in candidates if _could_rank_before(candidate, advice.pick)]
    alternative = recommend(advice.hardware, contenders, quantized, advice.min_ctx, top=1, hint=False, max_ctx=advice.max_ctx).pick
    if alternative is None or (advice.pick is not None and rank_key(alternative) >= rank_key(advice.pick)):
        return
    advice.hints.append(
        f"With a q8_0 KV cache {alternative.model} fits at {format_ctx(alternative.num_ctx)} "
        f"({gb(alternative.estimate.total_bytes)}): start Ollama with OLLAMA_KV_CACHE_TYPE=q8_0 "
        "OLLAMA_FLASH_ATTENTION=1, then run `fitadvisor recommend --kv-cache q8_0 --flash-attention on`."
    )


def _verdict(pick: Pick) -> str:
    candidate = pick.candidate
    floor = _policy()["agentic"]["capability_floor_b"]
    label = candidate.label if candidate.proven else "untested" + (f", under {floor:g}B" if candidate.below_floor else "")
    if pick.too_slow:
        return "too slow"
    if not compaction(pick.num_ctx).works:
        return f"{label}; no compaction"
    return label


def _explain(advice: Advice, picks: list[Pick], too_big: list[tuple[Candidate, Estimate]]) -> None:
    """The sentences a person needs: slow machine, small context, nothing fits, what would work instead."""
    pick = advice.pick
    hardware = advice.hardware
    if pick is None:
        advice.warnings.append(
            f"No tool-capable model fits the {gb(advice.budget_bytes)} {advice.budget_label} at "
            f"{format_ctx(advice.min_ctx)} or more"
            + (", the least Claude Code works with." if advice.min_ctx == default_min_ctx() else " (--min-ctx).")
        )
    elif not hardware.gpus or pick.too_slow:
        where = "on the CPU (no GPU found)" if not hardware.gpus else "on this machine"
        facts = []
        if pick.speed.first_turn is not None:
            facts.append(f"{format_decode(pick.speed)} tokens/s")
        if pick.speed.opening_prompt_seconds is not None:
            facts.append(f"{format_prompt_time(pick.speed)} to read Claude Code's opening prompt")
        advice.warnings.append(
            f"Too slow for agentic use: models run {where} at {' and '.join(facts) or 'an unknown speed'}, "
            f"so every turn takes minutes. The best it can do is {pick.model} at {format_ctx(pick.num_ctx)}."
        )
    if pick is not None and not compaction(pick.num_ctx).works:
        advice.warnings.append(
            f"{compaction(pick.num_ctx).text()}; in long sessions Ollama silently drops the oldest messages. "
            "Start a fresh session (/clear) between tasks."
        )
    if pick is not None and not pick.candidate.proven:
        advice.warnings.insert(0,
            f"No model proven in Claude Code fits at {format_ctx(advice.min_ctx)} or more: the models listed are untested, "
            "and may fail as most models in the field notes did."
        )
    if pick is None or not hardware.gpus or pick.too_slow or not pick.candidate.proven:
        advice.instead = _instead(too_big, picks, advice)
    advice.trial = _trial_suggestion(picks)


def _trial_suggestion(picks: list[Pick]) -> TrialSuggestion | None:
    """The untested model worth trying: the pick itself when nothing proven fits, else one that clearly outscores it."""
    if not picks:
        return None
    pick = picks[0]
    if not pick.candidate.proven:
        return TrialSuggestion(pick.model, pick.num_ctx, pick.candidate.swe_bench_verified,
                               f"{pick.model} is untested with Claude Code: a trial on this machine would settle it")
    margin = _policy()["agentic"]["trial_margin_points"]
    floor = pick.candidate.swe_bench_verified
    stronger = [
        p for p in picks
        if not p.candidate.proven and not p.candidate.below_floor and not p.too_slow
        and p.candidate.swe_bench_verified is not None and (floor is None or p.candidate.swe_bench_verified >= floor + margin)
    ]
    if not stronger:
        return None
    best = max(stronger, key=lambda p: p.candidate.swe_bench_verified)
    against = f"{floor:g}% for {pick.model}" if floor is not None else f"no published score for {pick.model}"
    return TrialSuggestion(
        best.model, best.num_ctx, best.candidate.swe_bench_verified,
        f"{best.model} is untested with Claude Code but scores {best.candidate.swe_bench_verified:g}% on SWE-bench "
        f"Verified against {against}: a trial on this machine would settle whether it works",
    )


def _instead(too_big: list[tuple[Candidate, Estimate]], picks: list[Pick], advice: Advice) -> str | None:
    """The field-tested model that did not fit (or ran too slowly), and the machine it needs."""
    tested = sorted(
        (item for item in too_big if item[0].proven),
        key=lambda item: (_policy()["agentic"]["rank"][item[0].agentic], -(item[0].swe_bench_verified or 0.0)),
    )
    if not tested:
        tested_picks = [p for p in picks if p.candidate.proven]
        if not tested_picks:
            return None
        best = tested_picks[0]
        candidate, needed = best.candidate, best.estimate
    else:
        candidate, needed = tested[0]
    gpu_gb = -(-(needed.total_bytes + advice.release.gpu_reserve_bytes) // 10**9)
    mac = next(
        (size for size in MAC_MEMORY_GIB if size * GIB * ram_share(size * GIB) - advice.release.metal_reserve_bytes >= needed.total_bytes),
        None,
    )
    text = (
        f"{candidate.name}, the best choice proven in Claude Code, needs about {gb(needed.total_bytes)} at "
        f"{format_ctx(needed.num_ctx)}: a GPU with {gpu_gb} GB or more"
    )
    text += f", or a Mac with {mac} GB of memory (its GPU may use {'2/3' if mac <= 32 else '3/4'} of it)." if mac else "."
    return text

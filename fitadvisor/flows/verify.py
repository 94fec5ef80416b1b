"""Close the loop with the running Ollama: load a model, read what it really uses, test its tool calls.

Two failures go unnoticed in the field: the context silently stays at the default, and the model
cannot really drive tools. `verify` loads the model the way Claude Code will use it, compares
`/api/ps` with fitadvisor's estimate, stores the measurement for later estimates, and runs one
tool-calling exchange through `/v1/messages` the way Claude Code does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from fitadvisor.claude.toolcheck import MEANING, ToolCheck, tool_check
from fitadvisor.errors import FitAdvisorError
from fitadvisor.flows.context import RunContext
from fitadvisor.flows.options import EngineOptions
from fitadvisor.memory import calibration
from fitadvisor.memory.estimate import Estimate
from fitadvisor.ollama.client import MESSAGES_SINCE, Client, OllamaError, RunningModel
from fitadvisor.ollama.responses import ShowInfo, Timings
from fitadvisor.ollama.server_env import ServerEnv
from fitadvisor.recommend.rank import default_min_ctx
from fitadvisor.units import format_ctx, format_gb

@dataclass
class Report:
    model: str
    host: str
    ollama_version: str
    digest: str
    requested_ctx: int | None
    expected_ctx: int | None  # what Ollama should use: the request, else the Modelfile's num_ctx (capped); None: its default
    trained_ctx: int | None
    running: RunningModel
    estimate: Estimate | None
    estimate_note: str | None = None
    tools: ToolCheck | None = None
    timings: Timings | None = None  # Ollama's own timings of one timed answer
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    stored_in: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def error_percent(self) -> float | None:
        if self.estimate is None or not self.running.size:
            return None
        return round((self.estimate.total_bytes - self.running.size) / self.running.size * 100, 1)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "host": self.host,
            "ollama_version": self.ollama_version,
            "digest": self.digest,
            "requested_ctx": self.requested_ctx,
            "expected_ctx": self.expected_ctx,
            "trained_ctx": self.trained_ctx,
            "context_length": self.running.context_length,
            "size_bytes": self.running.size,
            "size_vram_bytes": self.running.size_vram,
            "processor": self.running.processor,
            "estimated_total_bytes": self.estimate.total_bytes if self.estimate else None,
            "error_percent": self.error_percent,
            "estimate": self.estimate.to_dict() if self.estimate else None,
            "estimate_note": self.estimate_note,
            "speed": _speed_fields(self.timings) or None,
            "tools": self.tools.to_dict() if self.tools else None,
            "warnings": self.warnings,
            "problems": self.problems,
            "calibration_store": self.stored_in,
            "ok": self.ok,
        }


def verify_model(
    run: RunContext, model: str, ctx: int | None, engine: EngineOptions, tools: bool = True,
    waiting: Callable[[str], object] | None = None,
) -> Report:
    """`verify` on the run's server and machine; the engine settings given replace this shell's server variables."""
    env = replace(run.server_env, **engine.settings())
    return verify(run.client, model, ctx, env, tools=tools, hardware=run.hardware_if_known, waiting=waiting)


def verify(
    client: Client,
    model: str,
    ctx: int | None,
    env: ServerEnv,
    tools: bool = True,
    hardware=None,
    waiting: Callable[[str], object] | None = None,
) -> Report:
    """Load `model` (at `ctx` when given), measure it, record it, and check its tool calls."""
    version = client.require(MESSAGES_SINCE, "Claude Code's /v1/messages")
    shown = client.show(model)
    trained = shown.trained_context
    modelfile_ctx = shown.num_ctx

    options = {"num_ctx": ctx} if ctx else None
    with (waiting or _no_wait)(f"loading {model} in Ollama"):
        client.load(model, options)
    running = _find_running(client, model)

    report = Report(
        model=running.name, host=client.host, ollama_version=version, digest=running.digest,
        requested_ctx=ctx, expected_ctx=None, trained_ctx=trained, running=running, estimate=None,
    )
    if ctx:
        _check_context(report, ctx, "--ctx")
    elif modelfile_ctx:
        _check_context(report, modelfile_ctx, "its Modelfile's num_ctx")
    else:
        _check_context(report, None, "Ollama's default")
    _check_placement(report, hardware)
    with (waiting or _no_wait)(f"timing {model}"):
        _time(report, client, model, options)
    resolved = _estimate(report, shown, env, hardware, client)
    if hardware is not None:
        _record(report, resolved, env, hardware)
    if tools:
        try:
            report.tools = tool_check(client, model)
        except FitAdvisorError as error:  # keep what was measured; the check itself failed
            report.problems.append(f"the tool-call check could not finish: {error}")
        else:
            if report.tools.verdict != "ok":
                report.problems.append(f"tool calls: {report.tools.verdict}: {MEANING[report.tools.verdict]}")
            elif report.tools.continues is False:
                report.problems.append(f"after the tool result the model {report.tools.continuation}")
    return report


def _no_wait(_message: str):
    from contextlib import nullcontext

    return nullcontext()


def _find_running(client: Client, model: str) -> RunningModel:
    wanted = calibration.full_name(model)
    loaded = client.ps()
    for running in loaded:
        if calibration.full_name(running.name) == wanted:
            return running
    if loaded.rejected:
        raise OllamaError(f"Ollama at {client.host} does not list {model} as loaded in a form fitadvisor can read: {loaded.rejected[0]}")
    raise OllamaError(
        f"Ollama at {client.host} answered the load request but does not list {model} as loaded: "
        "is OLLAMA_KEEP_ALIVE=0 set for the server?"
    )


def _check_context(report: Report, asked: int | None, how: str) -> None:
    real = report.running.context_length
    if real is None:
        report.warnings.append("this Ollama does not report the loaded context (/api/ps context_length needs v0.10+)")
        return
    expected = asked
    if asked and report.trained_ctx and asked > report.trained_ctx:
        expected = report.trained_ctx
        report.warnings.append(
            f"asked for {format_ctx(asked)} but the model was trained for {format_ctx(report.trained_ctx)}: "
            f"Ollama caps it at {format_ctx(report.trained_ctx)}"
        )
    report.expected_ctx = expected
    if expected and real < expected:
        report.problems.append(
            f"Ollama runs the model at {format_ctx(real)} context, not the {format_ctx(expected)} asked for: "
            "the server may have lowered it to fit memory; try a smaller --ctx or a smaller model"
        )
    elif real < default_min_ctx():
        report.problems.append(
            f"the model runs at {format_ctx(real)} context ({how}); Claude Code needs {format_ctx(default_min_ctx())} "
            f"or more, else it drops the task: run `fitadvisor apply {report.model.removesuffix(':latest')} --ctx 64k`"
        )


def _check_placement(report: Report, hardware) -> None:
    running = report.running
    has_gpu = bool(hardware and hardware.gpus)
    if 0 < running.size_vram < running.size:
        report.warnings.append(
            f"the model spilled to the CPU ({running.processor}): {format_gb(running.size - running.size_vram)} runs "
            "from system memory, which makes every token several times slower; use a smaller context or model"
        )
    elif running.size_vram == 0 and has_gpu:
        report.warnings.append("the model runs entirely on the CPU although this machine has a GPU")


def _estimate(report: Report, shown: ShowInfo, env: ServerEnv, hardware, client: Client) -> str:
    """fitadvisor's estimate at the context Ollama really used; returns the model name estimates use ('' if none)."""
    from fitadvisor.memory.estimate import Settings, estimate
    from fitadvisor.memory.releases import Release
    from fitadvisor.models.architecture import draft_tokens

    resolved = _resolve(report.model, shown, client)
    if resolved is None:
        report.estimate_note = f"fitadvisor does not know {report.model} (nor its parent model), so there is no estimate"
        return ""
    settings = Settings(
        num_ctx=report.running.context_length or report.expected_ctx, release=Release.of(report.ollama_version),
        **env.server_settings(),
    ).with_model_drafting(draft_tokens(shown.parameter("draft_num_predict")), resolved.architecture)
    report.estimate = estimate(resolved.architecture, settings, hardware, model=resolved.name, source=resolved.source)
    error = report.error_percent
    if error is not None and abs(error) > 10:
        report.warnings.append(
            f"fitadvisor's estimate ({format_gb(report.estimate.total_bytes)}) is {abs(error):.0f}% "
            f"{'above' if error > 0 else 'below'} what Ollama loaded ({format_gb(report.running.size)}); "
            "later estimates for these settings on this machine use the measurement"
        )
    return resolved.name


def _resolve(model: str, shown: ShowInfo, client: Client):
    """The catalog entry (or GGUF) for the model, else for the model it was created from.

    A derived model is known by its parent (`details.parent_model`) or, for the names `fitadvisor
    apply` gives (`devstral-small-2-64k`), by the name without its context suffix.
    """
    from fitadvisor.models.resolve import resolve_model

    parent = shown.parent_model
    bare = model.removesuffix(":latest")
    unsuffixed = re.sub(r"-\d+[kKmM]$", "", bare)
    for name in dict.fromkeys(n for n in (bare, model, parent, unsuffixed) if n):
        try:
            return resolve_model(name, client)
        except FitAdvisorError:
            continue
    return None


def _record(report: Report, estimate_model: str, env: ServerEnv, hardware) -> None:
    from fitadvisor.ollama.versions import format_version, parse_version

    running = report.running
    if running.context_length is None:
        return
    observation = calibration.Observation(
        model=calibration.full_name(running.name), estimate_model=estimate_model, digest=running.digest,
        num_ctx=running.context_length, kv_cache_type=env.kv_cache_type, flash_attention=env.flash_attention,
        parallel=env.parallel, ollama_version=format_version(parse_version(report.ollama_version)),
        size_bytes=running.size, size_vram_bytes=running.size_vram, processor=running.processor,
        machine=calibration.machine_summary(hardware),
        measured_at=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        estimated_bytes=report.estimate.total_bytes if report.estimate else 0,
        **_speed_fields(report.timings),
    )
    try:
        store = calibration.record(observation)
    except FitAdvisorError as error:
        report.warnings.append(f"the measurement was not stored: {error}")
        return
    if store.problem:
        report.warnings.append(store.problem)
    report.stored_in = str(store.path)


# -- the timed answer ---------------------------------------------------------------------------

TIMED_PREDICT = 128  # tokens to generate: enough for a steady decode rate, quick on a slow machine
TIMED_MIN_PROMPT = 256  # fewer prompt tokens evaluated means Ollama's prompt cache answered: no prompt rate


def timed_prompt(stamp: str) -> str:
    """A code-reading request of about 1,500 tokens; the stamp up front keeps Ollama's prompt cache from
    answering for it, so the whole prompt is evaluated."""
    lines = [f"def scale_{i}(values):\n    return [value * {i} + {i % 7} for value in values]\n" for i in range(60)]
    return f"Request {stamp}. Read this module, then say in one paragraph what it does.\n\n" + "".join(lines)


def _time(report: Report, client: Client, model: str, options: dict | None) -> None:
    """Ollama's own decode and prompt rates for one answer at the loaded context (eval_count / eval_duration)."""
    try:
        report.timings = client.timed_generate(model, timed_prompt(datetime.now(timezone.utc).isoformat()), options, TIMED_PREDICT)
    except FitAdvisorError as error:
        report.warnings.append(f"the speed could not be timed: {error}")
        return
    if report.timings.decode_tokens_per_second is None:
        report.warnings.append("Ollama's answer carried no eval_count/eval_duration, so its speed is unknown")


def _speed_fields(timings: Timings | None) -> dict:
    """The store's speed fields: 0 where nothing was timed, and no prompt rate when the cache answered."""
    if timings is None or timings.decode_tokens_per_second is None:
        return {}
    fields = {"decode_tokens_per_second": round(timings.decode_tokens_per_second, 2)}
    if timings.prompt_tokens_per_second and timings.prompt_eval_count >= TIMED_MIN_PROMPT:
        fields |= {"prompt_tokens_per_second": round(timings.prompt_tokens_per_second, 1), "prompt_tokens": timings.prompt_eval_count}
    return fields

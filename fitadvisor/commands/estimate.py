"""`fitadvisor estimate MODEL`: the loaded size, term by term, and whether it fits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from fitadvisor.commands.options import ctx_option, engine_options, host_option, json_option, machine_options
from fitadvisor.commands.output import emit
from fitadvisor.models.architecture import MAX_DRAFT_TOKENS
from fitadvisor.units import format_ctx, format_gb, format_gb_fine

if TYPE_CHECKING:
    from fitadvisor.flows.estimate import EstimateReport, Sweep
    from fitadvisor.flows.options import EngineOptions, MachineOptions


def render(report: EstimateReport) -> str:
    from fitadvisor.speed.predict import format_decode, format_prompt_time, opening_prompt_tokens

    result, speed = report.estimate, report.speed
    ctx = format_ctx(result.num_ctx)
    lines = [
        f"{result.model} at {ctx} context (Ollama {result.release}, {result.engine} engine, "
        f"flash attention {'on' if result.flash_attention else 'off'}, KV cache {result.kv_cache_type}, batch {result.batch})",
        f"  weights        {format_gb(result.weights_bytes):>8}",
        f"  KV cache       {format_gb(result.kv_cache_bytes):>8}",
        f"  compute        {format_gb(result.compute_bytes):>8}",
        f"  other          {format_gb(result.other_bytes):>8}",
        f"  total          {format_gb(result.total_bytes):>8}   ({result.processor} as `ollama ps` would show it)",
    ]
    if result.measured_total_bytes is not None:
        lines.append(f"  measured       {format_gb(result.measured_total_bytes):>8}   (by `fitadvisor verify` on this machine)")
    if len(result.gpus) > 1:
        for index, share in enumerate(result.gpus):
            held = f"{share.layers} layers, {format_gb_fine(share.bytes)} of its" if share.layers else "idle, budget"
            lines.append(f"  GPU {index} {share.name}: {held} {format_gb_fine(share.budget_bytes)}")
    if result.planned_for:
        lines.append(f"Machine: {result.planned_for}. {result.budget.sentence}.")
    if result.fits is not None:
        if result.gpu_budget_bytes:
            where = f"the GPU budget of {format_gb_fine(result.gpu_budget_bytes)}"
            verdict = (
                f"Fits fully on the GPU ({where})."
                if result.fits
                else f"Does not fit {where}: {format_gb(result.gpu_bytes)} on the GPU, {format_gb(result.cpu_bytes)} on the CPU, "
                "which makes decoding several times slower."
            )
        else:
            verdict = "Runs on the CPU; " + ("fits in free RAM." if result.fits else "does not fit in free RAM.")
        lines.append(verdict)
    if speed is not None:
        lines.append(
            f"  speed          {format_decode(speed)} tokens/s (first turn -> {ctx} filled); "
            f"{format_prompt_time(speed)} to read Claude Code's {opening_prompt_tokens() / 1000:.0f}K-token opening prompt"
        )
    lines += [f"Warning: {warning}" for warning in result.warnings]
    lines += [f"Note: {note}" for note in result.notes + list(speed.notes if speed else ())]
    if result.source_detail:
        lines.append(f"Source: {result.source_detail}")
    return "\n".join(lines)


CHART_WIDTH = 48  # columns for the largest of the loads and the budget


def render_sweep(sweep: Sweep) -> str:
    """Loaded size by term and decode speed across contexts, the budget as a line, the spill point marked."""
    from fitadvisor.speed.predict import format_rate

    points = sweep.points
    budget = sweep.budget.bytes if sweep.budget else 0
    scale = max([point.total_bytes for point in points] + [budget]) / CHART_WIDTH
    mark = round(budget / scale) if budget else None
    lines = [
        f"{sweep.model} (Ollama {sweep.release}) on {sweep.planned_for}: loaded size and decode speed by context",
        f"{'CONTEXT':>8}  {'█ weights  ▒ KV cache  ░ compute and other':<{CHART_WIDTH + 1}}  {'LOADED':>8}  TOK/S (first turn -> full)",
    ]
    for point in points:
        cells = [round(point.weights_bytes / scale), round(point.kv_cache_bytes / scale)]
        cells.append(max(0, round(point.total_bytes / scale) - sum(cells)))
        bar = list("█" * cells[0] + "▒" * cells[1] + "░" * cells[2])
        bar += [" "] * (CHART_WIDTH + 1 - len(bar))
        if mark is not None:
            bar[mark] = "│" if mark >= len(bar) or bar[mark] == " " else "┃"
        rate = f"{format_rate(point.first_turn)} -> {format_rate(point.full_context)}" if point.first_turn and point.full_context else "?"
        spill = "  ◀ spills to the CPU" if point.num_ctx == sweep.spill_ctx else ""
        lines.append(f"{format_ctx(point.num_ctx):>8}  {''.join(bar)}  {format_gb_fine(point.total_bytes):>8}  {rate}{spill}")
    if mark is not None:
        lines.append(f"{'':>8}  {' ' * mark}└ {sweep.budget.label} {format_gb_fine(budget)}")
        lines.append(f"{sweep.budget.sentence}.")
    if sweep.spill_ctx:
        lines.append(f"From {format_ctx(sweep.spill_ctx)} the model no longer fits: Ollama runs part of it on the CPU{_spill_cost(points, sweep.spill_ctx)}.")
    lines.append("Sizes in decimal GB, as `ollama ps` prints them; speeds from fitadvisor's speed model (bench/speed.py).")
    return "\n".join(lines)


def _spill_cost(points: list, spill_ctx: int) -> str:
    """What the spill does to the first turn's decode, from the sweep's own speeds (on unified memory it may cost little)."""
    from fitadvisor.speed.predict import format_rate

    index = next(i for i, point in enumerate(points) if point.num_ctx == spill_ctx)
    before, after = (points[index - 1].first_turn if index else None), points[index].first_turn
    if not before or not after:
        return ""
    return f" (first-turn decode {format_rate(before)} -> {format_rate(after)} tokens/s)"


@click.command("estimate")
@click.argument("model")
@ctx_option()
@click.option("--sweep", "sweep_contexts", is_flag=True, help="Chart the loaded size and decode speed from 16K to the trained context.")
@engine_options
@click.option("--draft-num-predict", type=click.IntRange(min=0, max=MAX_DRAFT_TOKENS),
              help="The model's PARAMETER draft_num_predict: draft N tokens a step with its multi-token-prediction "
                   "layers (default: unset, which Ollama reads as no drafting).")
@machine_options
@host_option
@json_option
def command(
    model: str, ctx: int | None, sweep_contexts: bool, engine: EngineOptions, machine: MachineOptions, host: str | None, as_json: bool,
) -> None:
    """Estimate what Ollama will load for MODEL (any Ollama model name, or a .gguf file).

    \b
    Examples: fitadvisor estimate devstral-small-2 --ctx 64k
              fitadvisor estimate qwen3-coder:30b --sweep --gpus "2x RTX 3090"
    """
    from fitadvisor.flows.context import RunContext
    from fitadvisor.flows.estimate import estimate_with_speed, sweep

    run = RunContext(host, machine)
    if sweep_contexts:
        if ctx is not None:
            raise click.UsageError("--sweep charts every context: leave out --ctx")
        emit(sweep(run, model, engine), render_sweep, as_json)
    else:
        emit(estimate_with_speed(run, model, ctx, engine), render, as_json)

"""`fitadvisor estimate MODEL`: the loaded size, term by term, and whether it fits."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from fitadvisor.commands.options import (
    ctx_option,
    engine_options,
    host_option,
    json_option,
    machine_options,
)
from fitadvisor.units import format_ctx, format_gb, format_gb_fine

if TYPE_CHECKING:
    from fitadvisor.flows.options import EngineOptions, MachineOptions
    from fitadvisor.memory.estimate import Estimate
    from fitadvisor.speed.predict import Speed


def render(result: Estimate, speed: Speed | None = None) -> str:
    from fitadvisor.speed.predict import format_decode, format_prompt_time, opening_prompt_tokens

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
            lines.append(f"  GPU {index} {share.name}: {share.layers} layers, {format_gb_fine(share.bytes)} of its {format_gb_fine(share.budget_bytes)}")
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


@click.command("estimate")
@click.argument("model")
@ctx_option()
@engine_options
@machine_options
@host_option
@json_option
def command(model: str, ctx: int | None, engine: EngineOptions, machine: MachineOptions, host: str | None, as_json: bool) -> None:
    """Estimate what Ollama will load for MODEL (any Ollama model name, or a .gguf file).

    \b
    Example:  fitadvisor estimate devstral-small-2 --ctx 64k
    """
    from fitadvisor.flows.context import RunContext
    from fitadvisor.flows.estimate import estimate_with_speed

    result, speed = estimate_with_speed(RunContext(host, machine), model, ctx, engine)
    click.echo(json.dumps({**result.to_dict(), **speed.to_dict()}, indent=2) if as_json else render(result, speed))

"""`fitadvisor recommend`: the best agentic-coding model and context this machine can run, and why."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from fitadvisor.commands.options import ctx_option, engine_options, host_option, json_option, machine_options
from fitadvisor.commands.output import emit
from fitadvisor.units import format_ctx, format_gb_fine

if TYPE_CHECKING:
    from fitadvisor.flows.options import EngineOptions, MachineOptions
    from fitadvisor.flows.recommend import Recommendation


def render(recommendation: Recommendation) -> str:
    from fitadvisor.speed.predict import format_decode, format_prompt_time, opening_prompt_tokens

    advice = recommendation.advice
    picks = advice.recommendations
    upto = f" to {format_ctx(advice.max_ctx)}" if advice.max_ctx else " up"
    lines = [
        f"Machine: {advice.hardware.planned_for}. {advice.budget.sentence}; contexts from {format_ctx(advice.min_ctx)}{upto}.",
        "",
    ]
    if picks:
        rows = [("MODEL", "CONTEXT", "LOADED / BUDGET", "TOK/S 1ST TURN -> FULL", "1ST PROMPT", "VERDICT")]
        for pick in picks:
            name = pick.model + (" *" if pick.candidate.installed else "")
            loaded = f"{format_gb_fine(pick.estimate.loaded_bytes)} / {format_gb_fine(pick.budget_bytes)}"
            rows.append((name, format_ctx(pick.num_ctx), loaded, format_decode(pick.speed), format_prompt_time(pick.speed), pick.verdict))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
        lines.append(
            "TOK/S: answering speed at the first turn, then with the whole context filled, each within the band "
            f"(the speed model's error on public measurements). 1ST PROMPT: reading Claude Code's {opening_prompt_tokens() / 1000:.0f}K-token "
            "opening prompt, again after each compaction or /clear."
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
        if len(pick.estimate.gpus) > 1:
            split = ", ".join(
                f"GPU {index} {share.name} {share.layers} layers ({format_gb_fine(share.bytes)})" if share.layers else f"GPU {index} {share.name} idle"
                for index, share in enumerate(pick.estimate.gpus)
            )
            lines.append(f"Across the GPUs as Ollama {advice.release.label} would place it: {split}.")
    if advice.trial:
        lines.append(f"Worth a trial: {advice.trial.text}: `{advice.trial.command}`")
    lines += advice.warnings
    lines += [f"Note: {note}" for note in advice.notes]
    if advice.instead:
        lines.append(f"What would work instead: {advice.instead}")
    lines += advice.hints
    if pick is not None:
        lines += ["", "Next:", f"  {pick.next_command}",
                  "  then run claude-local, the alias it prints; or, for every model on the server instead of one derived model:",
                  f"  {pick.next_command} --server-wide"]
        launch = recommendation.launch_command
        if launch:
            lines.append(f"  Ollama's own launcher works too, with what apply prints in front of it: {launch}")
    return "\n".join(lines)


@click.command("recommend")
@ctx_option(name="--min-ctx", help="The least context to consider (default 64k, the least Claude Code works with in the field).")
@ctx_option(name="--max-ctx", dest="max_ctx", help="The most context to consider, e.g. 128k (default: the model's trained length, "
            "or where answering from a full context would fall below 5 tokens/s).")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="How many models to list.")
@click.option("--installed", is_flag=True, help="Only models the Ollama server already has.")
@click.option("--candidates", metavar="MODEL[,MODEL...]", help="Only these models (catalog names or other Ollama references).")
@engine_options
@machine_options
@host_option
@json_option
def command(
    ctx: int | None, max_ctx: int | None, top: int, installed: bool, candidates: str | None, engine: EngineOptions, machine: MachineOptions,
    host: str | None, as_json: bool,
) -> None:
    """Pick the best agentic-coding model and context this machine can really run under Ollama.

    \b
    Examples:  fitadvisor recommend
               fitadvisor recommend --memory 48GB --chip "Apple M4 Pro"
               fitadvisor recommend --gpu-memory 24GB --memory 64GB --json
    """
    from fitadvisor.flows.context import RunContext
    from fitadvisor.flows.recommend import Recommendation, launch_command, recommend_models

    advice = recommend_models(RunContext(host, machine), engine, ctx, top, installed, candidates, max_ctx)
    emit(Recommendation(advice, launch_command(advice)), render, as_json)

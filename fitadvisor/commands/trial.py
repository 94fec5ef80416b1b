"""`fitadvisor trial MODEL`: run the real Claude Code against an Ollama model on the field's task, and judge it."""

from __future__ import annotations

from dataclasses import dataclass

import click

from fitadvisor.commands.options import ctx_option, host_option, json_option
from fitadvisor.commands.output import emit
from fitadvisor.units import format_ctx, format_seconds, parse_duration

COMPLETED = {"completed": "✅ Yes", "completed-lazy": "✅ Yes", "partial": "⚠️ Partial"}


@dataclass
class Trials:
    """`trial`'s answer: one TrialResult, or one error message, per model."""

    outcomes: list
    several: bool  # --models: a table and {"trials": [...]}, else the one trial's own object

    def to_dict(self) -> dict:
        results = [o.to_dict() if not isinstance(o, str) else {"model": o.partition(": ")[0], "error": o.partition(": ")[2]}
                   for o in self.outcomes]
        return {"trials": results} if self.several else results[0]


def render(report: Trials) -> str:
    lines = [table(report.outcomes)]
    if len(report.outcomes) == 1:
        only = report.outcomes[0]
        lines.append(f"Verdict stored for `fitadvisor recommend`: {only.verdict} ({only.evidence}).")
        if only.decode_tokens_per_second:
            prompt = f", {only.prompt_tokens_per_second:.0f} reading a prompt" if only.prompt_tokens_per_second else ""
            lines.append(f"Timed after the trial (Ollama's eval timings): {only.decode_tokens_per_second:.1f} tokens/s decoding{prompt}.")
    return "\n".join(lines)


def table(outcomes: list) -> str:
    """The field notes' results table: one row per model."""
    rows = ["| Model | Context | Verdict | Completed | Facts | Hallucinated paths | Time | Interventions | Evidence |",
            "|-------|---------|---------|-----------|-------|--------------------|------|---------------|----------|"]
    for outcome in outcomes:
        if isinstance(outcome, str):
            model, _, error = outcome.partition(": ")
            rows.append(f"| {model} | - | error | - | - | - | - | - | {_cell(error)} |")
            continue
        context = format_ctx(outcome.num_ctx) if outcome.num_ctx else "default"
        invented = ", ".join(outcome.hallucinated_paths) or "none"
        rows.append(
            f"| {outcome.model} | {context} | {outcome.verdict} | {COMPLETED.get(outcome.verdict, '❌ No')} | "
            f"{len(outcome.facts_found)}/{outcome.facts_total} | {_cell(invented)} | {format_seconds(outcome.seconds)} | "
            f"{outcome.nudges} | {_cell(outcome.evidence)} |"
        )
    return "\n".join(rows)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


@click.command("trial")
@click.argument("model", required=False)
@ctx_option(help="Run the model at this context: creates the derived model `apply` would (MODEL-64k). Default: the model's own.")
@click.option("--task", type=click.Choice(["init"]), default="init", show_default=True,
              help="The task: init is the field notes' /init (write CLAUDE.md for a repository it has never seen).")
@click.option("--timeout", default="30m", show_default=True, metavar="DURATION",
              help="Time limit per model, e.g. 30m, 90s, 1h; a run past it is stopped and reported.")
@click.option("--models", metavar="MODEL[,MODEL...]", help="Try several models one after another and print the results table.")
@host_option
@json_option
def command(model: str | None, ctx: int | None, task: str, timeout: str, models: str | None, host: str | None, as_json: bool) -> None:
    """Run the real Claude Code against MODEL on the field notes' task (/init) and judge how it did.

    Claude Code runs non-interactively in a scratch copy of a small fixture repository, with the alias's
    environment and only the file tools; the run is graded (CLAUDE.md written, facts found, invented paths)
    and classified as the field notes' verdicts are. Each verdict is stored on this machine, and
    `fitadvisor recommend` uses it before the catalog's. Exits 1 when a model fails or one of --models could not be tried.

    \b
    Examples:  fitadvisor trial glm-4.7-flash --ctx 64k
               fitadvisor trial --models devstral-small-2,qwen3-coder:30b --ctx 64k
    """
    names = [part.strip() for part in (models or "").split(",") if part.strip()] + ([model] if model else [])
    if not names:
        raise click.UsageError("name a model: fitadvisor trial MODEL, or --models a,b,c")
    from fitadvisor.flows.context import RunContext
    from fitadvisor.flows.trial import trial_models

    outcomes = trial_models(RunContext(host), list(dict.fromkeys(names)), ctx, task, parse_duration(timeout))
    report = Trials(outcomes, several=len(names) > 1)
    emit(report, render, as_json, ok=not any(isinstance(o, str) or o.failure_kind for o in outcomes))

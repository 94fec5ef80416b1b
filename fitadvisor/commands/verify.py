"""`fitadvisor verify MODEL`: load it in Ollama, compare what it really uses with the estimate, test tool calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from fitadvisor.commands.options import MAX_TIMEOUT, ctx_option, host_option, json_option, server_engine_options
from fitadvisor.commands.output import emit
from fitadvisor.ollama.client import LOAD_TIMEOUT, TIMEOUT
from fitadvisor.units import format_ctx, format_gb

if TYPE_CHECKING:
    from fitadvisor.flows.options import EngineOptions


def render(report) -> str:
    from fitadvisor.claude.toolcheck import MEANING

    running = report.running
    ctx = format_ctx(running.context_length) if running.context_length else "unknown"
    lines = [f"{report.model} on Ollama {report.ollama_version} ({report.host})",
             f"  context        {ctx:>8}" + (f"   (asked {format_ctx(report.expected_ctx)})" if report.expected_ctx else "")]
    measured = f"  loaded size    {format_gb(running.size):>8}   {running.processor}"
    lines.append(measured)
    if report.estimate:
        estimate = report.estimate
        lines.append(f"  estimate       {format_gb(estimate.total_bytes):>8}   {estimate.processor}, "
                     f"error {report.error_percent:+.1f}%")
    elif report.estimate_note:
        lines.append(f"  estimate       {'-':>8}   {report.estimate_note}")
    timed = report.to_dict()["speed"]
    if timed:
        prompt = (f", {timed['prompt_tokens_per_second']:.0f} reading a {timed['prompt_tokens']:,}-token prompt"
                  if "prompt_tokens_per_second" in timed else "")
        lines.append(f"  speed          {timed['decode_tokens_per_second']:.1f} tokens/s decoding{prompt} (Ollama's own timings)")
    if report.tools:
        check = report.tools
        lines.append(f"  tool calls     {check.verdict}: the model {check.detail}")
        if check.continues is not None:
            lines.append(f"  after result   {'ok' if check.continues else 'stalls'}: the model {check.continuation}")
        if check.verdict == "ok":  # otherwise the meaning is in the problem below
            lines.append(f"  meaning: {MEANING[check.verdict]}")
    if report.stored_in:
        lines.append(f"  measurement stored in {report.stored_in}; `fitadvisor estimate` and `recommend` use it (size and speed) "
                     "for these settings")
    lines += [f"Warning: {warning}" for warning in report.warnings]
    lines += [f"Problem: {problem}" for problem in report.problems]
    lines.append("Ready for Claude Code." if report.ok else "Not ready for Claude Code: fix the problems above.")
    return "\n".join(lines)


@click.command("verify")
@click.argument("model")
@ctx_option(help="Load with this context (num_ctx), e.g. 64k; default: the model's own or the server's.")
@click.option("--no-tools", is_flag=True, help="Skip the tool-calling check.")
@server_engine_options
@host_option
@click.option("--timeout", "load_timeout", type=click.FloatRange(min=0.1, max=MAX_TIMEOUT), default=LOAD_TIMEOUT, show_default=True, metavar="SECONDS",
              help="Time limit for loading the model and for each answer (quick calls get at most 10 s).")
@json_option
def command(
    model: str, ctx: int | None, no_tools: bool, engine: EngineOptions, host: str | None, load_timeout: float, as_json: bool,
) -> None:
    """Load MODEL in Ollama and compare the real size, context, speed and tool calls with the estimate.

    Exits 0 when the model is ready for Claude Code, 1 when something needs fixing.

    \b
    Example:  fitadvisor verify devstral-small-2-64k
    """
    from fitadvisor.flows.context import RunContext
    from fitadvisor.flows.verify import verify_model
    from fitadvisor.ollama.progress import waiting

    run = RunContext(host, timeout=min(TIMEOUT, load_timeout), load_timeout=load_timeout)
    report = verify_model(run, model, ctx, engine, tools=not no_tools, waiting=None if as_json else waiting)
    emit(report, render, as_json, ok=report.ok)

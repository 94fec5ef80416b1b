"""`fitadvisor verify MODEL`: load it in Ollama, compare what it really uses with the estimate, test tool calls."""

from __future__ import annotations

import json

import click

from fitadvisor.commands.options import ctx_option, host_option, json_option
from fitadvisor.units import format_ctx, format_gb


def run(
    model: str,
    ctx: int | None = None,
    tools: bool = True,
    host: str | None = None,
    timeout: float = 10.0,
    load_timeout: float = 600.0,
    kv_cache: str | None = None,
    flash_attention: str | None = None,
    parallel: int | None = None,
    show_progress: bool = True,
):
    from dataclasses import replace

    from fitadvisor.flows.verify import verify
    from fitadvisor.hardware.probe import detect
    from fitadvisor.ollama.client import Client
    from fitadvisor.ollama import server_env as serverenv
    from fitadvisor.ollama.progress import waiting

    env = serverenv.read()
    overrides = {"kv_cache_type": kv_cache, "flash_attention": flash_attention, "parallel": parallel}
    env = replace(env, **{k: v for k, v in overrides.items() if v is not None})
    client = Client(host, timeout=timeout, load_timeout=load_timeout)
    return verify(client, model, ctx, env, tools=tools, hardware=detect(), waiting=waiting if show_progress else None)


def render(report) -> str:
    from fitadvisor.flows.verify import MEANING

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
    if report.tools:
        check = report.tools
        lines.append(f"  tool calls     {check.verdict}: the model {check.detail}")
        if check.continues is not None:
            lines.append(f"  after result   {'ok' if check.continues else 'stalls'}: the model {check.continuation}")
        if check.verdict == "ok":  # otherwise the meaning is in the problem below
            lines.append(f"  meaning: {MEANING[check.verdict]}")
    if report.stored_in:
        lines.append(f"  measurement stored in {report.stored_in}; `fitadvisor estimate` uses it for these settings")
    lines += [f"Warning: {warning}" for warning in report.warnings]
    lines += [f"Problem: {problem}" for problem in report.problems]
    lines.append("Ready for Claude Code." if report.ok else "Not ready for Claude Code: fix the problems above.")
    return "\n".join(lines)


@click.command("verify")
@click.argument("model")
@ctx_option(help="Load with this context (num_ctx), e.g. 64k; default: the model's own or the server's.")
@click.option("--no-tools", is_flag=True, help="Skip the tool-calling check.")
@click.option("--kv-cache", type=click.Choice(["f16", "q8_0", "q4_0"]), help="The server's OLLAMA_KV_CACHE_TYPE (default: this shell's).")
@click.option("--flash-attention", type=click.Choice(["auto", "on", "off"]), help="The server's OLLAMA_FLASH_ATTENTION (default: this shell's).")
@click.option("--parallel", type=click.IntRange(min=1), help="The server's OLLAMA_NUM_PARALLEL (default: this shell's).")
@host_option
@click.option("--timeout", "load_timeout", type=click.FloatRange(min=0.1), default=600.0, show_default=True, metavar="SECONDS",
              help="Time limit for loading the model and for each answer (quick calls get at most 10 s).")
@json_option
def command(model: str, ctx: int | None, no_tools: bool, load_timeout: float, as_json: bool, **options) -> None:
    """Load MODEL in Ollama and compare the real size, context and tool calls with the estimate.

    Exits 0 when the model is ready for Claude Code, 1 when something needs fixing.

    \b
    Example:  fitadvisor verify devstral-small-2-64k
    """
    report = run(model, ctx, tools=not no_tools, timeout=min(10.0, load_timeout), load_timeout=load_timeout,
                 show_progress=not as_json, **options)
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else render(report))
    if not report.ok:
        raise SystemExit(1)

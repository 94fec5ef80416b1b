"""`fitadvisor doctor`: check the Ollama and Claude Code setup, one finding per line with its fix."""

from __future__ import annotations

import os

import click

from fitadvisor.commands.options import MAX_TIMEOUT, host_option, json_option
from fitadvisor.commands.output import emit
from fitadvisor.flows.context import RunContext
from fitadvisor.ollama.client import TIMEOUT

_MARKS = {"ok": ("ok", "green"), "info": ("--", None), "warn": ("!!", "yellow"), "fail": ("XX", "red")}


def render(report) -> str:
    colour = not os.environ.get("NO_COLOR")
    lines = []
    for finding in report.findings:
        mark, tint = _MARKS[finding.status]
        lines.append(f"{click.style(mark, fg=tint) if colour and tint else mark} {finding.message}")
        if finding.fix and finding.status in ("warn", "fail"):
            lines.append(f"   fix: {finding.fix}")
    failed = sum(f.status == "fail" for f in report.findings)
    lines.append("All is well." if report.ok else f"{failed} thing{'s' if failed > 1 else ''} to fix.")
    return "\n".join(lines)


@click.command("doctor")
@host_option
@click.option("--timeout", type=click.FloatRange(min=0.1, max=MAX_TIMEOUT), default=TIMEOUT, show_default=True, metavar="SECONDS",
              help="Time limit for each call to Ollama.")
@json_option
def command(host: str | None, timeout: float, as_json: bool) -> None:
    """Check the Ollama and Claude Code setup and explain each finding with its fix.

    Exits 0 when all is well, 1 when something needs fixing.

    \b
    Example:  fitadvisor doctor
    """
    from fitadvisor.flows.doctor import doctor

    run = RunContext(host, timeout=timeout)
    report = doctor(run.client, run.server_env, run.hardware_if_known)
    emit(report, render, as_json, ok=report.ok)

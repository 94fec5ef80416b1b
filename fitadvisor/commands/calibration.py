"""`fitadvisor calibration`: what `verify` measured on this machine and later estimates use."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from fitadvisor.commands.options import json_option
from fitadvisor.commands.output import emit
from fitadvisor.units import format_ctx, format_gb

if TYPE_CHECKING:
    from fitadvisor.memory.calibration import Store


@click.command("calibration")
@json_option
def command(as_json: bool) -> None:
    """List the measurements fitadvisor stored from `fitadvisor verify`.

    \b
    Example:  fitadvisor calibration --json
    """
    from fitadvisor.memory import calibration

    store = calibration.load()
    if store.problem:
        click.echo(f"fitadvisor: warning: {store.problem}", err=True)
    emit(store, render, as_json)


def render(store: Store) -> str:
    if not store.observations:
        return f"No measurements yet ({store.path}): `fitadvisor verify MODEL` takes one."
    lines = [f"{'MODEL':<32} {'CONTEXT':>8} {'KV':<5} {'FA':<4} {'PAR':>3} {'OLLAMA':<8} {'LOADED':>7} {'ESTIMATE':>8}  "
             f"{'PROCESSOR':<16} {'TOK/S':>6} {'PROMPT':>6} DATE"]
    for o in store.observations:
        estimate = format_gb(o.estimated_bytes) if o.estimated_bytes else "-"
        decode = f"{o.decode_tokens_per_second:.1f}" if o.decode_tokens_per_second else "-"
        prompt = f"{o.prompt_tokens_per_second:.0f}" if o.prompt_tokens_per_second else "-"
        lines.append(f"{o.model:<32} {format_ctx(o.num_ctx):>8} {o.kv_cache_type:<5} {o.flash_attention:<4} {o.parallel:>3} "
                     f"{o.ollama_version:<8} {format_gb(o.size_bytes):>7} {estimate:>8}  {o.processor:<16} {decode:>6} {prompt:>6} {o.date}")
    machines = sorted({o.machine for o in store.observations})
    lines.append(f"Machine{'s' if len(machines) > 1 else ''}: {'; '.join(machines)}")
    lines.append(f"Stored in {store.path}")
    return "\n".join(lines)

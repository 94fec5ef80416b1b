"""`fitadvisor alias MODEL`: only the Claude Code alias, on stdout, for `>> ~/.zshrc`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from fitadvisor.commands.options import alias_options, ctx_option, host_option, json_option
from fitadvisor.commands.output import emit

if TYPE_CHECKING:
    from fitadvisor.flows.options import AliasOptions


@click.command("alias")
@click.argument("model")
@ctx_option(help="The context given to `fitadvisor apply`: the alias then runs the derived model, e.g. devstral-small-2-64k.")
@click.option("--name", metavar="NAME", help="The derived model's name, if `apply` was given --name.")
@alias_options
@host_option
@json_option
def command(model: str, ctx: int | None, name: str | None, alias: AliasOptions, host: str | None, as_json: bool) -> None:
    """Print only the Claude Code alias for MODEL, so it can be appended to an rc file.

    \b
    Example:  fitadvisor alias devstral-small-2 --ctx 64k >> ~/.zshrc
    """
    from fitadvisor.claude_code import permission_mode_text
    from fitadvisor.flows.apply import alias_for
    from fitadvisor.flows.context import RunContext

    result = alias_for(RunContext(host), model, ctx, name, alias)
    if not as_json:  # stdout stays the alias alone, for `>> ~/.zshrc`
        for warning in result.warnings:
            click.echo(f"Warning: {warning}", err=True)
        if result.compaction.works:
            click.echo(f"Note: {result.compaction.text()}.", err=True)
        click.echo(f"Note: {permission_mode_text()}.", err=True)
    emit(result, lambda result: result.text, as_json, newline=False)

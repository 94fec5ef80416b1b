"""`fitadvisor alias MODEL`: only the Claude Code alias, on stdout, for `>> ~/.zshrc`."""

from __future__ import annotations

import json

import click

from fitadvisor.commands.options import (
    alias_options,
    ctx_option,
    host_option,
    json_option,
)


def run(
    model: str,
    ctx: int | None = None,
    name: str | None = None,
    alias_name: str = "claude-local",
    shell: str | None = None,
    host: str | None = None,
    anthropic_traffic: bool = False,
) -> dict:
    """The alias and what went into it. With a context it runs the derived model `apply` creates; without one it
    runs MODEL itself, at whatever num_ctx its Modelfile in Ollama sets."""
    from fitadvisor.claude import alias as shells
    from fitadvisor.claude import configure
    from fitadvisor.models.catalog import ModelRef

    ModelRef.parse(model)
    warnings: list[str] = []
    if ctx is not None:
        num_ctx = configure.capped_ctx(model, ctx)
        target = name or configure.derived_name(model, num_ctx)
    else:
        from fitadvisor.ollama.client import Client

        target = name or model.strip()
        num_ctx = configure.alias_context(Client(host, timeout=2.0), target)
        if num_ctx is None:
            warnings.append(
                f"the num_ctx of {target} is unknown (Ollama did not answer, or its Modelfile sets none), so the alias "
                "leaves CLAUDE_CODE_AUTO_COMPACT_WINDOW out: give --ctx to set it"
            )
    shell = shell or shells.detect_shell()
    alias = shells.make_alias(alias_name, target, host, num_ctx, anthropic_traffic)
    compact = shells.compact_warning(num_ctx)
    if compact:
        warnings.append(compact)
    return {
        "alias": shells.render(alias, shell), "shell": shell, "alias_name": alias.name, "model": target,
        "num_ctx": num_ctx, "base_url": alias.base_url, "environment": dict(alias.environment()), "warnings": warnings,
    }


@click.command("alias")
@click.argument("model")
@ctx_option(help="The context given to `fitadvisor apply`: the alias then runs the derived model, e.g. devstral-small-2-64k.")
@click.option("--name", metavar="NAME", help="The derived model's name, if `apply` was given --name.")
@alias_options
@host_option
@json_option
def command(model: str, ctx: int | None, as_json: bool, **options) -> None:
    """Print only the Claude Code alias for MODEL, so it can be appended to an rc file.

    \b
    Example:  fitadvisor alias devstral-small-2 --ctx 64k >> ~/.zshrc
    """
    result = run(model, ctx, **options)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for warning in result["warnings"]:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(result["alias"], nl=False)

"""`fitadvisor apply MODEL --ctx 64k`: Modelfile, `ollama create`, and the Claude Code alias."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from fitadvisor.commands.options import alias_options, ctx_option, engine_options, host_option, json_option, machine_options
from fitadvisor.commands.output import emit

if TYPE_CHECKING:
    from fitadvisor.flows.apply import Applied
    from fitadvisor.flows.options import AliasOptions, EngineOptions, MachineOptions


def render(done: Applied) -> str:
    """What was done, then the alias itself, last, so it can be copied."""
    from fitadvisor.claude.alias import default_rc_file

    lines = [*done.lines, *(f"Warning: {warning}" for warning in done.warnings)]
    if done.rc_action is None:  # no --install-alias
        rc = default_rc_file(done.plan.shell)
        lines.append(f"\nThe alias for {done.plan.shell}: paste it into {rc}, or rerun with --install-alias.")
    return "\n".join([*lines, "", done.plan.alias_text])


@click.command("apply")
@click.argument("model")
@ctx_option(help="The context to bake into the derived model: 65536, 64k, 128K (k = 1024). Required.")
@click.option("--name", metavar="NAME", help="The derived model's name (default: MODEL without its tag, plus the context, e.g. devstral-small-2-64k).")
@alias_options
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), help="Where to write Modelfile.NAME (default: here).")
@click.option("--no-create", is_flag=True, help="Only write the Modelfile and print the `ollama create` command.")
@click.option("--pull", is_flag=True, help="Pull MODEL first if Ollama does not have it.")
@click.option("--install-alias", is_flag=True, help="Add the alias to the shell's rc file, in a marked block (backed up first).")
@click.option("--rc-file", type=click.Path(dir_okay=False, path_type=Path), help="The rc file for --install-alias (default: the shell's own).")
@click.option("--dry-run", is_flag=True, help="Show everything and write, create and pull nothing.")
@click.option("--force", is_flag=True, help="Apply even when the estimate says it will not fit, or cannot be made.")
@click.option("--server-wide", is_flag=True,
              help="Create no derived model: show how to give the server this context for every model (OLLAMA_CONTEXT_LENGTH), and alias MODEL itself.")
@engine_options
@machine_options
@host_option
@json_option
def command(
    model: str, ctx: int | None, name: str | None, alias: AliasOptions, directory: Path | None, no_create: bool, pull: bool,
    install_alias: bool, rc_file: Path | None, dry_run: bool, force: bool, server_wide: bool, engine: EngineOptions,
    machine: MachineOptions, host: str | None, as_json: bool,
) -> None:
    """Create MODEL with a context in Ollama (Modelfile + `ollama create`) and print a Claude Code alias for it.

    \b
    Example:  fitadvisor apply devstral-small-2 --ctx 64k --install-alias
    """
    if ctx is None:
        raise click.UsageError("--ctx is required: the context to give the model, e.g. --ctx 64k (`fitadvisor recommend` suggests one)")
    if rc_file is not None and not install_alias:
        raise click.UsageError("--rc-file goes with --install-alias")
    from fitadvisor.flows.apply import apply_model, plan_apply
    from fitadvisor.flows.context import RunContext
    from fitadvisor.ollama.progress import PullProgress, StatusLines

    run = RunContext(host, machine)
    plan = plan_apply(run, model, ctx, engine, alias, name, directory, force, server_wide)
    progress, status = PullProgress(), StatusLines(prefix="  ")  # on stderr, so --json output stays clean
    try:
        done = apply_model(
            run, plan, create=not no_create, pull=pull, install_alias=install_alias, rc_file=rc_file, dry_run=dry_run,
            on_status=status, on_progress=progress,
        )
    finally:
        progress.close()
        status.close()
    emit(done, render, as_json, newline=False)


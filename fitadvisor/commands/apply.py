"""`fitadvisor apply MODEL --ctx 64k`: Modelfile, `ollama create`, and the Claude Code alias."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fitadvisor.commands.options import (
    alias_options,
    ctx_option,
    hardware_options,
    host_option,
    json_option,
)

if TYPE_CHECKING:
    from fitadvisor.claude.configure import Plan


@dataclass
class Applied:
    """What `apply` did (or, in a dry run, would do): the lines to show and the JSON to print."""

    plan: Plan
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    created: bool = False
    pulled: bool = False
    rc_file: Path | None = None
    rc_action: str | None = None
    backups: list[str] = field(default_factory=list)

    def to_dict(self, dry_run: bool) -> dict:
        plan = self.plan
        return {
            "name": plan.name, "from": plan.model, "num_ctx": plan.num_ctx, "modelfile": str(plan.modelfile),
            "created": self.created, "alias": plan.alias_text,
            "modelfile_text": plan.modelfile_text, "pulled": self.pulled, "create_command": plan.create_command,
            "alias_name": plan.alias.name, "shell": plan.shell, "rc_file": str(self.rc_file) if self.rc_file else None,
            "rc_action": self.rc_action, "backups": self.backups, "warnings": self.warnings, "dry_run": dry_run,
            "estimate": plan.estimate.to_dict() if plan.estimate else None,
        }


def run(
    model: str,
    ctx: int,
    name: str | None = None,
    alias_name: str = "claude-local",
    shell: str | None = None,
    directory: Path | None = None,
    create: bool = True,
    pull: bool = False,
    install_alias: bool = False,
    rc_file: Path | None = None,
    dry_run: bool = False,
    force: bool = False,
    host: str | None = None,
    anthropic_traffic: bool = False,
    on_status=None,
    on_progress=None,
    **machine: str | None,
) -> Applied:
    from fitadvisor.claude import alias as shells
    from fitadvisor.claude import configure
    from fitadvisor.ollama.client import Client

    plan = configure.plan(
        model, ctx, name=name, alias_name=alias_name, shell=shell, directory=directory, host=host, force=force,
        anthropic_traffic=anthropic_traffic, **machine,
    )
    done = Applied(plan, warnings=list(plan.warnings))
    shown = configure.display_path(plan.modelfile)
    if plan.estimate:
        done.lines.append(f"Estimate: {configure.summary(plan.estimate)}.")

    if dry_run:
        done.lines.append(f"Would write {shown}:")
        done.lines += [f"    {line}" for line in plan.modelfile_text.splitlines()]
    else:
        written = configure.write_modelfile(plan)
        if written.backup:
            done.backups.append(str(written.backup))
        done.lines.append({
            "written": f"Wrote {shown}.",
            "unchanged": f"{shown} is already up to date.",
            "replaced": f"Replaced {shown}; the previous one is saved as {written.backup}.",
        }[written.action])

    if create:
        client = Client(host)
        outcome = configure.create_model(plan, client, pull=pull, dry_run=dry_run, on_status=on_status, on_progress=on_progress)
        done.created, done.pulled = outcome.created, outcome.pulled
        done.warnings += outcome.warnings
        if not outcome.reachable:
            pull_first = f"ollama pull {plan.model} && " if pull else ""
            done.lines.append(f"Ollama is not reachable at {client.host}, so {plan.name} is not created yet. Once it runs:")
            done.lines.append(f"    {pull_first}{plan.create_command}")
        elif dry_run and outcome.missing:
            done.lines.append(
                f"Would pull {plan.model}, then create {plan.name} in Ollama at {client.host}." if pull else
                f"{plan.model} is not in Ollama at {client.host}: the real run would stop here (add --pull)."
            )
        elif dry_run:
            done.lines.append(f"Would create {plan.name} from {plan.model} with num_ctx {plan.num_ctx} in Ollama at {client.host}.")
        else:
            pulled = f"Pulled {plan.model}; c" if outcome.pulled else "C"
            done.lines.append(f"{pulled}reated {plan.name} from {plan.model} with num_ctx {plan.num_ctx} in Ollama at {client.host}.")
    else:
        done.lines.append("Create the model with:")
        done.lines.append(f"    {plan.create_command}")

    if install_alias:
        target = rc_file or shells.default_rc_file(plan.shell)
        installed = shells.install(target, plan.alias.name, plan.alias_text, dry_run=dry_run)
        done.rc_file, done.rc_action = installed.rc_file, installed.action
        if installed.backup:
            done.backups.append(str(installed.backup))
        if installed.action == "unchanged":
            done.lines.append(f"{installed.rc_file} already has this {plan.alias.name} alias.")
        elif dry_run:
            verb = {"added": "add", "replaced": "replace"}[installed.action]
            done.lines.append(f"Would {verb} the {plan.alias.name} alias in {installed.rc_file}, after a backup.")
        else:
            verb = {"added": "Added", "replaced": "Replaced"}[installed.action]
            saved = f" (the previous file is saved as {installed.backup})" if installed.backup else ""
            done.lines.append(f"{verb} the {plan.alias.name} alias in {installed.rc_file}{saved}; it works in new {plan.shell} sessions.")
    return done


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
@click.option("--ollama-version", metavar="X.Y.Z", help="Estimate for this Ollama release (default: the running server's).")
@hardware_options
@host_option
@json_option
def command(model: str, ctx: int | None, no_create: bool, rc_file: Path | None, install_alias: bool, as_json: bool, **options) -> None:
    """Create MODEL with a context in Ollama (Modelfile + `ollama create`) and print a Claude Code alias for it.

    \b
    Example:  fitadvisor apply devstral-small-2 --ctx 64k --install-alias
    """
    if ctx is None:
        raise click.UsageError("--ctx is required: the context to give the model, e.g. --ctx 64k (`fitadvisor recommend` suggests one)")
    if rc_file is not None and not install_alias:
        raise click.UsageError("--rc-file goes with --install-alias")
    from fitadvisor.ollama.progress import PullProgress

    progress = PullProgress()  # on stderr, so --json output stays clean
    try:
        done = run(
            model, ctx, create=not no_create, install_alias=install_alias, rc_file=rc_file,
            on_status=lambda event: click.echo(f"  {event.get('status', '')}", err=True), on_progress=progress, **options,
        )
    finally:
        progress.close()
    if as_json:
        click.echo(json.dumps(done.to_dict(options["dry_run"]), indent=2))
        return
    for line in done.lines:
        click.echo(line)
    for warning in done.warnings:
        click.echo(f"Warning: {warning}")
    if not install_alias:
        from fitadvisor.claude.alias import default_rc_file

        rc = default_rc_file(done.plan.shell)
        click.echo(f"\nThe alias for {done.plan.shell}: paste it into {rc}, or rerun with --install-alias.")
    click.echo()
    click.echo(done.plan.alias_text, nl=False)

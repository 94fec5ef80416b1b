"""`apply` and `alias`: the derived model's plan (checked against the estimate), carried out, and the alias alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fitadvisor.errors import FitAdvisorError
from fitadvisor.flows.context import RunContext
from fitadvisor.flows.options import AliasOptions, EngineOptions

if TYPE_CHECKING:
    from fitadvisor.claude.alias import Alias
    from fitadvisor.claude_code import Compaction
    from fitadvisor.claude.configure import Plan
    from fitadvisor.memory.estimate import Estimate


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
    launch_command: str | None = None  # the same run through `ollama launch claude`, where the server has it
    dry_run: bool = False

    def to_dict(self) -> dict:
        plan = self.plan
        return {
            "name": plan.name, "from": plan.model, "num_ctx": plan.num_ctx, "modelfile": str(plan.modelfile),
            "created": self.created, "alias": plan.alias_text,
            "modelfile_text": plan.modelfile_text, "pulled": self.pulled, "create_command": plan.create_command,
            "alias_name": plan.alias.name, "shell": plan.shell, "rc_file": str(self.rc_file) if self.rc_file else None,
            "rc_action": self.rc_action, "backups": self.backups, "warnings": self.warnings, "dry_run": self.dry_run,
            "estimate": plan.estimate.to_dict() if plan.estimate else None,
            "compaction": plan.compaction.to_dict(),
            "server_wide": plan.server_wide, "launch_command": self.launch_command,
        }


def plan_apply(
    run: RunContext,
    model: str,
    ctx: int,
    engine: EngineOptions | None = None,
    alias: AliasOptions | None = None,
    name: str | None = None,
    directory: Path | None = None,
    force: bool = False,
    server_wide: bool = False,
) -> Plan:
    """Everything `apply` will do, checked against the estimate for the run's machine and these engine settings."""
    from fitadvisor.claude import configure

    alias = alias or AliasOptions()
    return configure.plan(
        model, ctx, _estimator(run, engine or EngineOptions()), name=name, alias_name=alias.alias_name, shell=alias.shell,
        directory=directory, host=run.host, force=force, anthropic_traffic=alias.anthropic_traffic, server_wide=server_wide,
    )


def _estimator(run: RunContext, engine: EngineOptions) -> Callable[[str, int], Estimate]:
    from fitadvisor.claude.configure import NoEstimate
    from fitadvisor.flows.estimate import estimate_model
    from fitadvisor.models.resolve import resolve_model

    def estimate(model: str, num_ctx: int) -> Estimate:
        try:
            resolved = resolve_model(model, run.client)
        except FitAdvisorError as error:
            raise NoEstimate(str(error)) from None
        return estimate_model(run, model, num_ctx, engine, resolved)

    return estimate


def apply_model(
    run: RunContext,
    plan: Plan,
    create: bool = True,
    pull: bool = False,
    install_alias: bool = False,
    rc_file: Path | None = None,
    dry_run: bool = False,
    on_status: Callable[[dict], None] | None = None,
    on_progress: Callable[[dict], None] | None = None,
) -> Applied:
    """Carry out `plan_apply`'s plan: write the Modelfile, create the derived model (pulling its base first if asked),
    install the alias if asked. A server-wide plan writes and creates nothing: it shows how to give the server the
    context instead."""
    from fitadvisor.claude import alias as shells
    from fitadvisor.claude import configure
    from fitadvisor.claude_code import permission_mode_text

    server_wide = plan.server_wide
    done = Applied(plan, warnings=list(plan.warnings), dry_run=dry_run)
    shown = configure.display_path(plan.modelfile)
    if plan.estimate:
        done.lines.append(f"Estimate: {configure.summary(plan.estimate)}.")
    if plan.compaction.works:
        done.lines.append(f"Through the alias, {plan.compaction.text()}.")
    done.lines.append(f"Permissions: {permission_mode_text()}.")

    if server_wide:
        done.lines.append(configure.context_choice(plan))
        done.lines.append(f"Set OLLAMA_CONTEXT_LENGTH={plan.num_ctx} for the server:")
        done.lines += [f"  {line}" for line in configure.server_wide_steps(plan.num_ctx).splitlines()]
    elif dry_run:
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

    if create and not server_wide:
        client = run.client
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
    elif not server_wide:
        done.lines.append("Create the model with:")
        done.lines.append(f"    {plan.create_command}")
    if not server_wide:
        done.lines.append(configure.context_choice(plan))
    done.launch_command = _launch_command(run, plan)
    if done.launch_command:
        done.lines += ["Or, without the alias, through Ollama's own launcher (it sets only some of these itself):",
                       f"    {done.launch_command}"]

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


@dataclass
class AliasResult:
    """The alias and what went into it."""

    text: str  # the definition, ready to append to an rc file
    alias: Alias
    shell: str
    compaction: Compaction
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        alias = self.alias
        return {
            "alias": self.text, "shell": self.shell, "alias_name": alias.name, "model": alias.model, "num_ctx": alias.num_ctx,
            "base_url": alias.base_url, "environment": dict(alias.environment()), "warnings": self.warnings,
            "compaction": self.compaction.to_dict(),
        }


def alias_for(run: RunContext, model: str, ctx: int | None = None, name: str | None = None, options: AliasOptions | None = None) -> AliasResult:
    """The alias and what went into it. With a context it runs the derived model `apply` creates; without one it
    runs MODEL itself, at whatever num_ctx its Modelfile in Ollama sets."""
    from fitadvisor.claude import alias as shells
    from fitadvisor.claude import configure
    from fitadvisor.claude_code import compaction
    from fitadvisor.models.catalog import ModelRef
    from fitadvisor.recommend.rank import short_context_warning

    options = options or AliasOptions()
    ModelRef.parse(model)
    warnings: list[str] = []
    if ctx is not None:
        num_ctx = configure.capped_ctx(model, ctx)
        target = name or configure.derived_name(model, num_ctx)
    else:
        target = name or model.strip()
        num_ctx = configure.alias_context(run.client, target)
        if num_ctx is None:
            warnings.append(f"the context of {target} is unknown (Ollama did not answer, or its Modelfile sets no num_ctx)")
    shell = options.shell or shells.detect_shell()
    alias = shells.make_alias(options.alias_name, target, run.host, num_ctx, options.anthropic_traffic)
    compacts = compaction(num_ctx)
    if not compacts.works:
        warnings.append(compacts.text())
    too_short = short_context_warning(num_ctx) if num_ctx else None
    if too_short:
        warnings.append(too_short)
    return AliasResult(shells.render(alias, shell), alias, shell, compacts, warnings)


def _launch_command(run: RunContext, plan: Plan) -> str | None:
    """`ollama launch claude` with what it leaves out in front, unless the server is known to predate it."""
    from fitadvisor.claude_code import facts
    from fitadvisor.ollama.versions import parse_version

    version = run.server_version
    if version is not None and parse_version(version) < parse_version(facts().launch_since):
        return None
    return plan.alias.launch_command()

"""Applying a model and context to Ollama: the derived model's Modelfile, its creation, and the alias.

Claude Code reaches Ollama through /v1/messages, which cannot pass num_ctx, so the context has to be
baked into a derived model (`PARAMETER num_ctx`). `plan` decides everything without side effects;
`write_modelfile` and `create_model` carry it out, so `--dry-run` is `plan` alone plus read-only checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fitadvisor.claude.alias import Alias
from fitadvisor.claude.naming import derived_name
from fitadvisor.claude.quoting import sh_quote
from fitadvisor.claude_code import Compaction, compaction
from fitadvisor.errors import FitAdvisorError
from fitadvisor.memory.estimate import Estimate
from fitadvisor.units import ctx_argument, format_ctx, format_gb, format_gb_fine

class NoEstimate(FitAdvisorError):
    """fitadvisor cannot describe the model (not in the catalog, not a GGUF file), so it cannot estimate it."""


@dataclass
class Plan:
    model: str  # the base model, as the user named it: FROM and "from"
    name: str  # the derived model
    num_ctx: int
    modelfile: Path
    modelfile_text: str
    alias: Alias
    shell: str
    alias_text: str
    estimate: Estimate | None = None
    warnings: list[str] = field(default_factory=list)
    server_wide: bool = False  # no derived model: the server's OLLAMA_CONTEXT_LENGTH gives the context

    @property
    def create_command(self) -> str:
        """The exact command that does what `create_model` does, for when fitadvisor cannot reach Ollama."""
        return f"ollama create {sh_quote(self.name)} -f {sh_quote(str(display_path(self.modelfile)))}"

    @property
    def compaction(self) -> Compaction:
        """What Claude Code does as the conversation fills this context, through the alias."""
        return compaction(self.num_ctx)


def capped_ctx(model: str, num_ctx: int) -> int:
    """`num_ctx` capped at the trained context when the catalog knows the model, as Ollama caps it."""
    from fitadvisor.models.catalog import find

    known = find(model)
    return max(4, min(num_ctx, known.architecture.context_length)) if known else num_ctx


def render_modelfile(model: str, name: str, num_ctx: int, filename: str, estimate: Estimate | None) -> str:
    from fitadvisor import __version__
    from fitadvisor.claude.templates import render_template

    return render_template(
        "Modelfile.j2", model=model, name=name, num_ctx=num_ctx, ctx=format_ctx(num_ctx), filename=filename,
        estimate=estimate, summary=summary(estimate) if estimate else "", version=__version__,
    )


def summary(result: Estimate) -> str:
    """One line of what fitadvisor estimated: the size and where it goes."""
    size = (
        f"{format_gb(result.total_bytes)} (weights {format_gb(result.weights_bytes)}, KV cache {format_gb(result.kv_cache_bytes)}, "
        f"compute {format_gb(result.compute_bytes)}) with Ollama {result.release}"
    )
    if result.fits is None:
        return f"{result.model} at {format_ctx(result.num_ctx)}: {size}"
    if result.gpu_budget_bytes:
        where = f"the GPU budget of {format_gb_fine(result.gpu_budget_bytes)}"
        verdict = f"fits {where}" if result.fits else f"does not fit {where}, {result.processor}"
    else:
        verdict = "runs on the CPU, " + ("fits in free RAM" if result.fits else "does not fit in free RAM")
    return f"{result.model} at {format_ctx(result.num_ctx)}: {size}; {verdict}"


def fit_problem(result: Estimate) -> str | None:
    """Why the model should not be applied at this context, or None. Without a GPU only RAM matters."""
    if result.fits is None or result.fits:
        return None
    if result.gpu_budget_bytes:
        return (
            f"{result.model} at {format_ctx(result.num_ctx)} needs {format_gb_fine(result.total_bytes)} but the GPU budget is "
            f"{format_gb_fine(result.gpu_budget_bytes)}: Ollama would run {result.processor}, several times slower"
        )
    return f"{result.model} at {format_ctx(result.num_ctx)} needs {format_gb(result.total_bytes)}, more than the free RAM"


def plan(
    model: str,
    num_ctx: int,
    estimate: Callable[[str, int], Estimate],  # raises NoEstimate for a model it cannot describe
    name: str | None = None,
    alias_name: str = "claude-local",
    shell: str | None = None,
    directory: Path | None = None,
    host: str | None = None,
    force: bool = False,
    anthropic_traffic: bool = False,
    server_wide: bool = False,
) -> Plan:
    """Everything `apply` will do, decided up front; refuses (without --force) a model that will not fit.

    `server_wide` plans no derived model: the alias runs MODEL itself, at the server's OLLAMA_CONTEXT_LENGTH."""
    from fitadvisor.claude import alias as shells
    from fitadvisor.models.catalog import ModelRef

    base = ModelRef.parse(model)
    model = model.strip()
    warnings: list[str] = []
    try:
        result: Estimate | None = estimate(model, num_ctx)
    except NoEstimate as error:
        if not force:
            raise FitAdvisorError(f"{error} (--force applies it without an estimate)") from None
        result = None
        warnings.append(f"no estimate ({error}); applying anyway because of --force")
    if result is not None:
        num_ctx = result.num_ctx  # capped at the trained context, as Ollama would
        warnings += result.warnings + result.notes
        problem = fit_problem(result)
        if problem and not force:
            raise FitAdvisorError(f"{problem}. Pick a smaller --ctx (see `fitadvisor recommend`) or pass --force")
        if problem:
            warnings.append(f"{problem}; applying anyway because of --force")
        elif not result.gpu_budget_bytes and result.fits is not None:
            warnings.append("no GPU found: Ollama will run the model on the CPU, which is several times slower")

    name = model if server_wide else (name or derived_name(model, num_ctx)).strip()
    if not server_wide and ModelRef.parse(name).short == base.short:
        raise FitAdvisorError(f"--name {name!r} is the base model itself: pick another name, e.g. {derived_name(model, num_ctx)}")
    directory = Path(directory) if directory is not None else Path.cwd()
    modelfile = directory / ("Modelfile." + name.replace("/", "_").replace(":", "_"))
    shell = shell or shells.detect_shell()
    alias = shells.make_alias(alias_name, name, host, num_ctx, anthropic_traffic)
    if not compaction(num_ctx).works:
        warnings.append(compaction(num_ctx).text())
    return Plan(
        model=model, name=name, num_ctx=num_ctx, modelfile=modelfile,
        modelfile_text=render_modelfile(model, name, num_ctx, modelfile.name, result),
        alias=alias, shell=shell, alias_text=shells.render(alias, shell), estimate=result, warnings=warnings,
        server_wide=server_wide,
    )


def display_path(path: Path) -> Path:
    """`path` relative to the current directory when it is inside it, else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path.resolve()


# -- carrying the plan out ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    path: Path
    action: str  # "written", "replaced", "unchanged"
    backup: Path | None = None


def write_modelfile(plan: Plan) -> Written:
    """Write the Modelfile atomically; a different file already there is backed up first, never lost."""
    from fitadvisor.files import locked, read_regular, replace_file

    path = plan.modelfile
    if not path.parent.is_dir():
        raise FitAdvisorError(f"directory {path.parent} does not exist: create it or pick another with --dir")
    try:
        with locked(path):
            old, info = read_regular(path)
            if old == plan.modelfile_text:
                return Written(path, "unchanged")
            saved = replace_file(path, plan.modelfile_text, old, info)
    except OSError as error:
        raise FitAdvisorError(f"cannot write {path} ({error.strerror or error}); nothing was changed: pick another --dir") from None
    return Written(path, "replaced" if old is not None else "written", saved)


@dataclass
class Created:
    created: bool = False
    pulled: bool = False
    reachable: bool = True
    missing: bool = False  # the base model is not in Ollama (dry run, or no --pull)
    warnings: list[str] = field(default_factory=list)


def create_model(
    plan: Plan,
    client,
    pull: bool = False,
    dry_run: bool = False,
    on_status: Callable[[dict], None] | None = None,
    on_progress: Callable[[dict], None] | None = None,
) -> Created:
    """Create the derived model through /api/create, pulling the base model first if asked to.

    A server that is down is not an error: the caller prints `plan.create_command` instead. A missing
    base model is an error unless `pull`; a dry run only looks.
    """
    from fitadvisor.ollama.client import ModelNotFound, OllamaUnreachable

    outcome = Created()
    try:
        client.version()
    except OllamaUnreachable:
        outcome.reachable = False
        return outcome
    try:
        info = client.show(plan.model)
    except ModelNotFound:
        if dry_run:
            outcome.missing = True
            return outcome
        if not pull:
            raise FitAdvisorError(
                f"{plan.model} is not in Ollama at {client.host}: rerun with --pull, or run `ollama pull {plan.model}` "
                f"and then `{plan.create_command}`"
            ) from None
        client.pull(plan.model, on_progress=on_progress)
        outcome.pulled = True
        info = client.show(plan.model)
    if info.capabilities_known and not info.tools:
        outcome.warnings.append(
            f"{plan.model} does not support tools in this Ollama ({', '.join(info.capabilities) or 'no capabilities'}): "
            "Claude Code always sends tools, so Ollama will refuse its requests"
        )
    if dry_run:
        return outcome
    client.create(plan.name, from_=plan.model, parameters={"num_ctx": plan.num_ctx}, on_status=on_status)
    outcome.created = True
    return outcome


def alias_context(client, model: str) -> int | None:
    """The num_ctx a model's Modelfile sets in Ollama, or None when it sets none or Ollama cannot say."""
    from fitadvisor.ollama.client import OllamaError, OllamaUnreachable

    try:
        return client.show(model).num_ctx
    except (OllamaUnreachable, OllamaError):
        return None



# -- per model or server-wide ---------------------------------------------------------------------------------------

# The stops of the Ollama app's Context length setting (app/ui/app/src/components/Settings.tsx @ v0.33.0-rc2).
APP_CONTEXT_STOPS = (4096, 8192, 16384, 32768, 65536, 131072, 262144)


def context_choice(plan: Plan) -> str:
    """Per-model context (a derived model) against the server-wide one (OLLAMA_CONTEXT_LENGTH), for this plan."""
    ctx = format_ctx(plan.num_ctx)
    if plan.server_wide:
        return (f"Server-wide: no Modelfile and no new model. Once the server runs with OLLAMA_CONTEXT_LENGTH={plan.num_ctx} "
                f"(a restart applies it), every model without a num_ctx of its own loads with {ctx}, {plan.model} "
                "included, so the alias runs it directly; smaller models then take that much memory too. Without "
                f"--server-wide, a derived model carries {ctx} in its own Modelfile instead, whatever the server's setting.")
    return (f"The {ctx} context belongs to {plan.name} alone (its Modelfile), whatever the server's setting; "
            f"--server-wide sets it for every model on the server instead (OLLAMA_CONTEXT_LENGTH), with no derived model.")


def server_wide_steps(num_ctx: int) -> str:
    """How to set OLLAMA_CONTEXT_LENGTH for the server on macOS, Linux and Windows."""
    from fitadvisor.claude.templates import render_template

    return render_template("server_context.txt.j2", num_ctx=num_ctx, slider=format_ctx(num_ctx).lower(),
                           slider_stop=num_ctx in APP_CONTEXT_STOPS)

"""Check the Ollama + Claude Code setup and explain each finding with its fix.

A finding is `fail` when Claude Code cannot work well until it is fixed (the command then exits 1),
`warn` when it works but something costs memory, speed or context, `info` for facts worth seeing.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fitadvisor.claude.alias import detect_shell
from fitadvisor.claude.quoting import command_line
from fitadvisor.claude_code import opening_prompt_text
from fitadvisor.errors import FitAdvisorError
from fitadvisor.hardware.machine import Hardware
from fitadvisor.models import trials, verdicts
from fitadvisor.ollama.client import MESSAGES_SINCE, Client, RunningModel
from fitadvisor.ollama.errors import MalformedAnswer
from fitadvisor.ollama.server_env import ServerEnv
from fitadvisor.recommend.rank import default_min_ctx
from fitadvisor.units import format_ctx, format_gb

STATUSES = ("ok", "info", "warn", "fail")
MAX_MODELS_CHECKED = 200  # one /api/show each: a store of 100k models is listed, not asked about one by one
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


@dataclass
class Finding:
    check: str
    status: str
    message: str
    fix: str | None = None


@dataclass
class InstalledModel:
    name: str
    capabilities: list[str]
    num_ctx: int | None  # its Modelfile's PARAMETER num_ctx

    @property
    def tools(self) -> bool:
        return "tools" in self.capabilities


@dataclass
class DoctorReport:
    host: str
    ollama_version: str | None = None
    default_num_ctx: int | None = None
    server_env: ServerEnv | None = None
    models: list[InstalledModel] = field(default_factory=list)
    loaded: list[RunningModel] = field(default_factory=list)
    claude: str | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.status == "fail" for f in self.findings)

    def add(self, check: str, status: str, message: str, fix: str | None = None) -> None:
        self.findings.append(Finding(check, status, message, fix))

    def to_dict(self) -> dict:
        env = self.server_env
        return {
            "ok": self.ok,
            "host": self.host,
            "ollama_version": self.ollama_version,
            "default_num_ctx": self.default_num_ctx,
            "server_env": {"kv_cache_type": env.kv_cache_type, "flash_attention": env.flash_attention,
                           "parallel": env.parallel, "context_length": env.context_length} if env else None,
            "models": [{**asdict(m), "tools": m.tools} for m in self.models],
            "loaded": [{"name": r.name, "context_length": r.context_length, "size_bytes": r.size,
                        "size_vram_bytes": r.size_vram, "processor": r.processor} for r in self.loaded],
            "claude": self.claude,
            "findings": [asdict(f) for f in self.findings],
        }


def doctor(client: Client, env: ServerEnv, hardware: Hardware | None) -> DoctorReport:
    report = DoctorReport(client.host, server_env=env)
    if _server(report, client):
        _default_context(report, env, hardware)
    _settings(report, env, client.host)
    if report.ollama_version:
        try:
            report.loaded = client.ps()
            _server_default(report, client)
            _models(report, client)
            _loaded(report, hardware)
        except FitAdvisorError as error:
            report.add("ollama", "fail", str(error))
    _claude(report)
    _claude_settings(report)
    return report


def _server(report: DoctorReport, client: Client) -> bool:
    """Whether the server answers and is new enough to model."""
    from fitadvisor.memory.releases import NEWEST_MODELLED
    from fitadvisor.ollama.versions import format_version, parse_version

    try:
        version = client.version()
    except FitAdvisorError as error:
        report.add("ollama", "fail", str(error))
        return False
    report.ollama_version = version
    if parse_version(version) < MESSAGES_SINCE:
        report.add(
            "ollama", "fail",
            f"Ollama {version} at {client.host} is too old: Claude Code talks to /v1/messages, which came in "
            f"Ollama {format_version(MESSAGES_SINCE)}",
            "upgrade Ollama (https://ollama.com/download), then restart the server",
        )
        return False
    report.add("ollama", "ok", f"Ollama {version} at {client.host}")
    if parse_version(version) > NEWEST_MODELLED:
        report.add("ollama", "info", f"Ollama {version} is newer than the newest release fitadvisor models "
                   f"({format_version(NEWEST_MODELLED)}): its estimates follow that one")
    return True


def _default_context(report: DoctorReport, env: ServerEnv, hardware: Hardware | None) -> None:
    from fitadvisor.memory.releases import Release

    release = Release.of(report.ollama_version)
    if env.context_length:
        ctx, how = env.context_length, "OLLAMA_CONTEXT_LENGTH in this shell"
    elif release.version < (0, 15, 5):
        ctx, how = release.default_num_ctx(0), f"the fixed default of Ollama {release.label}"
    elif hardware is not None:
        ctx = release.default_num_ctx(hardware.gpu_total_bytes)
        vram = f"{format_gb(hardware.gpu_total_bytes)} of GPU memory" if hardware.gpus else "a machine without a GPU"
        how = f"Ollama {release.label}'s default for {vram}"
    else:
        return
    if env.context_length is None:
        how += "; read from this shell, not the server: a setting in the Ollama app, launchctl or systemd is invisible here"
    report.default_num_ctx = ctx
    message = f"models without their own num_ctx run at {format_ctx(ctx)} context ({how})"
    if ctx >= default_min_ctx():
        report.add("default-context", "ok", message)
    else:
        # Whether this matters depends on the models (checked in _models); start as a failure.
        report.add(
            "default-context", "fail",
            f"{message}: Claude Code's opening prompt alone is {opening_prompt_text()} and it needs {format_ctx(default_min_ctx())}",
            "give the model its own context with `fitadvisor apply MODEL --ctx 64k`, or start the server with "
            "OLLAMA_CONTEXT_LENGTH=65536",
        )


def _server_default(report: DoctorReport, client: Client) -> None:
    """The server's own default context, where it shows: a loaded model with no num_ctx of its own runs at it
    (`/api/ps` context_length), unless capped at the model's trained context or asked otherwise by a request."""
    for running in report.loaded:
        if not running.context_length:
            continue
        try:
            shown = client.show(running.name)
        except FitAdvisorError:
            continue
        trained = shown.model_info.get(f"{shown.model_info.get('general.architecture')}.context_length")
        if shown.num_ctx or (isinstance(trained, int) and running.context_length >= trained):
            continue
        ctx = running.context_length
        shell = f"; this shell suggested {format_ctx(report.default_num_ctx)}" if report.default_num_ctx not in (None, ctx) else ""
        message = (f"the server runs models without their own num_ctx at {format_ctx(ctx)} context (seen on the loaded "
                   f"{running.name}, /api/ps){shell}")
        report.findings = [f for f in report.findings if f.check != "default-context"]
        report.default_num_ctx = ctx
        if ctx >= default_min_ctx():
            report.add("default-context", "ok", message)
        else:
            report.add("default-context", "fail", f"{message}: too small for Claude Code",
                       "give the model its own context with `fitadvisor apply MODEL --ctx 64k`, or set the server's "
                       "OLLAMA_CONTEXT_LENGTH (`fitadvisor apply MODEL --ctx 64k --server-wide` shows how)")
        return


def _settings(report: DoctorReport, env: ServerEnv, host: str) -> None:
    where = "this shell" if any(h in host for h in _LOCAL_HOSTS) else f"this shell (the server at {host} has its own)"
    for problem in env.problems:
        report.add("server-env", "warn", problem)
    if env.kv_cache_type == "f16":
        report.add("kv-cache", "info", f"KV cache f16 (OLLAMA_KV_CACHE_TYPE unset in {where}); q8_0 halves it")
    else:
        report.add("kv-cache", "info", f"KV cache {env.kv_cache_type} (OLLAMA_KV_CACHE_TYPE in {where}): "
                   f"{'half' if env.kv_cache_type == 'q8_0' else 'a quarter'} of the f16 size")
        if report.ollama_version and env.flash_attention != "on" and _older_than(report.ollama_version, (0, 30, 0)):
            report.add(
                "kv-cache", "warn",
                f"Ollama {report.ollama_version} quantizes the KV cache only with flash attention forced on: "
                "the cache stays f16",
                "set OLLAMA_FLASH_ATTENTION=1 for the server",
            )
    if env.flash_attention == "off":
        report.add("flash-attention", "warn",
                   f"flash attention is forced off (OLLAMA_FLASH_ATTENTION in {where}): long contexts need far more "
                   "compute memory", "unset OLLAMA_FLASH_ATTENTION")
    else:
        report.add("flash-attention", "info",
                   f"flash attention {'forced on' if env.flash_attention == 'on' else 'at the per-model default'} ({where})")
    if env.parallel > 1:
        report.add("parallel", "warn",
                   f"OLLAMA_NUM_PARALLEL={env.parallel} ({where}): every slot gets its own num_ctx of KV cache, "
                   f"{env.parallel}x the memory", "unset OLLAMA_NUM_PARALLEL (Claude Code sends one request at a time)")
    else:
        report.add("parallel", "info", f"one parallel slot ({where})")


def _older_than(version: str, than: tuple[int, int, int]) -> bool:
    from fitadvisor.ollama.versions import parse_version

    return parse_version(version) < than


def _models(report: DoctorReport, client: Client) -> None:
    installed = client.tags()
    for reason in installed.rejected:
        report.add("model", "warn", f"left out: {reason}")
    for entry in installed[:MAX_MODELS_CHECKED]:
        try:
            shown = client.show(entry.name)
        except MalformedAnswer as error:
            report.add("model", "warn", f"left out: {error}")
            continue
        report.models.append(InstalledModel(entry.name, list(shown.capabilities), shown.num_ctx))
    if len(installed) > MAX_MODELS_CHECKED:
        report.add("model", "info", f"{len(installed)} models installed: the first {MAX_MODELS_CHECKED} were checked")
    default = report.default_num_ctx
    usable = []
    tried = trials.load()
    for model in report.models:
        verdict, origin = trials.verdict_of(model.name, tried)
        if verdicts.is_failure(verdict) and model.tools:  # never suggest configuring a model known to fail
            report.add("model", "warn", f"{model.name} {verdicts.meaning(verdict)} in Claude Code ({origin}: {verdict})",
                       "`fitadvisor recommend` picks one that works")
            continue
        if not model.tools:
            if "completion" in model.capabilities or not model.capabilities:
                report.add("model", "warn", f"{model.name} has no tool support: Ollama answers Claude Code with "
                           f"400 \"does not support tools\"", "use a model whose `ollama show` lists tools")
            continue
        ctx = model.num_ctx or default
        if ctx is None:
            report.add("model", "info", f"{model.name}: tools; no num_ctx of its own")
        elif ctx >= default_min_ctx():
            usable.append(model)
            source = "its num_ctx" if model.num_ctx else "the server default"
            report.add("model", "ok", f"{model.name}: tools, {format_ctx(ctx)} context ({source})")
        else:
            source = f"num_ctx {model.num_ctx}" if model.num_ctx else "no num_ctx of its own, so the server default"
            report.add("model", "warn", f"{model.name}: tools, but {format_ctx(ctx)} context ({source}) is too small for "
                       "Claude Code", command_line(["fitadvisor", "apply", model.name.removesuffix(":latest"), "--ctx", "64k"], detect_shell()))
    if not any(m.tools for m in report.models):
        report.add("model", "fail", "no installed model can use tools, so Claude Code has nothing to run",
                   "`fitadvisor recommend` picks one; then `fitadvisor apply MODEL --ctx 64k --pull`")
    if usable:  # a small default context does not matter when a usable model sets its own
        for finding in report.findings:
            if finding.check == "default-context" and finding.status == "fail":
                finding.status = "warn"
                finding.message += f"; {usable[0].name} sets its own"


def _loaded(report: DoctorReport, hardware: Hardware | None) -> None:
    has_gpu = hardware is None or bool(hardware.gpus)
    for reason in report.loaded.rejected:
        report.add("loaded", "warn", f"left out: {reason}")
    for running in report.loaded:
        ctx = f"{format_ctx(running.context_length)} context" if running.context_length else "context not reported"
        message = f"loaded: {running.name}, {format_gb(running.size)}, {running.processor}, {ctx}"
        if 0 < running.size_vram < running.size or (running.size_vram == 0 and has_gpu):
            report.add("loaded", "warn", f"{message}: part of it runs from system memory, several times slower",
                       "use a smaller context or model (`fitadvisor estimate MODEL --ctx N` shows what fits)")
        else:
            report.add("loaded", "info", message)


def _claude(report: DoctorReport) -> None:
    report.claude = shutil.which("claude")
    if report.claude:
        report.add("claude", "ok", f"Claude Code is on PATH ({report.claude})")
    else:
        report.add("claude", "fail", "`claude` is not on PATH",
                   "install Claude Code: npm install -g @anthropic-ai/claude-code")


SETTINGS_LIMIT = 1 << 20  # a settings file larger than this is not a hand-written one: not read


def claude_settings_file(environ: dict | None = None) -> Path:
    """Claude Code's user settings: CLAUDE_CONFIG_DIR/settings.json, else ~/.claude/settings.json."""
    environ = os.environ if environ is None else environ
    config = environ.get("CLAUDE_CONFIG_DIR") or str(Path(environ.get("HOME") or Path.home()) / ".claude")
    return Path(config) / "settings.json"


def _claude_settings(report: DoctorReport, environ: dict | None = None) -> None:
    """Variables in settings.json's `env` override the shell's for every run of claude (checked with Claude Code
    2.1.332: an ANTHROPIC_MODEL there beat the one exported), so any the alias sets would defeat it."""
    import json

    from fitadvisor.claude.alias import Alias

    path = claude_settings_file(environ)
    try:
        with open(path, "rb") as file:
            raw = file.read(SETTINGS_LIMIT + 1)
    except FileNotFoundError:
        _permission_mode(report, path, {})
        return
    except OSError as error:
        report.add("claude-settings", "info", f"cannot read {path} ({error.strerror}): its env overrides are unchecked")
        return
    try:
        settings = json.loads(raw) if len(raw) <= SETTINGS_LIMIT else None
    except ValueError:
        settings = None
    if isinstance(settings, dict):
        _permission_mode(report, path, settings)
    env = settings.get("env") if isinstance(settings, dict) else None
    if not isinstance(env, dict):
        if settings is None:
            report.add("claude-settings", "info", f"{path} is not a JSON object of at most 1 MB: its env overrides are unchecked")
        return
    alias_sets = {name for name, _ in Alias("claude-local", "model", "http://127.0.0.1:11434", 131072).environment()}
    clashes = sorted(name for name in env if isinstance(name, str) and name in alias_sets)
    if clashes:
        report.add(
            "claude-settings", "fail",
            f"{path} sets {', '.join(clashes)} in its env, which Claude Code applies over the alias's values on every run",
            f"remove them from the env of {path} (the alias sets them for each run)",
        )
    else:
        report.add("claude-settings", "ok", f"{path} overrides none of the alias's variables")


def _permission_mode(report: DoctorReport, path: Path, settings: dict) -> None:
    """Auto permission mode cannot check actions through Ollama (data/claude_code.toml [permission_mode])."""
    from fitadvisor.claude_code import facts, permission_mode_text

    permissions = settings.get("permissions")
    mode = permissions.get("defaultMode") if isinstance(permissions, dict) else None
    if mode == "auto" or mode is None:
        where = f"{path} sets permissions.defaultMode auto" if mode else f"{path} names no permissions.defaultMode"
        report.add("claude-permission-mode", "warn" if mode else "info", f"{where}: {permission_mode_text()}",
                   f'set "permissions": {{"defaultMode": "acceptEdits"}} in {path}')
    elif isinstance(mode, str) and mode in facts().permission_modes:
        report.add("claude-permission-mode", "ok", f"{path} sets permissions.defaultMode {mode}")

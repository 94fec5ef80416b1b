"""Options several commands share, and their parsing into plain values."""

from __future__ import annotations

import dataclasses
import functools

import click

from fitadvisor.flows.options import AliasOptions, EngineOptions, MachineOptions
from fitadvisor.ollama.server_env import KV_CACHE_TYPES
from fitadvisor.units import parse_ctx


def ctx_option(
    default: str | None = None, help: str = "Context size: 65536, 64k, 128K, 1m (k = 1024).", name: str = "--ctx", dest: str = "ctx",
):
    return click.option(name, dest, default=default, metavar="SIZE", help=help, callback=_to_ctx)


def _to_ctx(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    return None if value is None else parse_ctx(value)


def json_option(function):
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")(function)


def _grouped(parameter: str, options_type: type, options: list):
    """A decorator adding `options` to a command, which receives their values as one `options_type` object."""

    def decorator(function):
        @functools.wraps(function)
        def command(*args, **kwargs):
            given = {field.name: kwargs.pop(field.name) for field in dataclasses.fields(options_type) if field.name in kwargs}
            kwargs[parameter] = options_type(**given)
            return function(*args, **kwargs)

        for option in reversed(options):
            command = option(command)
        return command

    return decorator


# Upper bounds that no real setting comes near, so a typo is one clear error rather than an overflow.
MAX_PARALLEL = 512
MAX_BATCH = 1 << 20
MAX_TIMEOUT = 86400.0  # seconds
_KV_CACHE = click.Choice(KV_CACHE_TYPES)
_FLASH_ATTENTION = click.Choice(["auto", "on", "off"])

# --kv-cache, --flash-attention, --parallel, --batch, --ollama-version, as `engine: EngineOptions`.
engine_options = _grouped("engine", EngineOptions, [
    click.option("--kv-cache", type=_KV_CACHE, help="OLLAMA_KV_CACHE_TYPE (default: f16)."),
    click.option("--flash-attention", type=_FLASH_ATTENTION,
                 help="OLLAMA_FLASH_ATTENTION (default: auto, the release's default for the model)."),
    click.option("--parallel", type=click.IntRange(min=1, max=MAX_PARALLEL), help="Parallel slots, OLLAMA_NUM_PARALLEL (default: 1)."),
    click.option("--batch", type=click.IntRange(min=1, max=MAX_BATCH), help="Physical batch n_ubatch (default: what that release picks)."),
    click.option("--ollama-version", metavar="X.Y.Z",
                 help="Model this Ollama release (default: the running server's, else the newest modelled)."),
    click.option("--sched-spread", is_flag=True, default=None,
                 help="OLLAMA_SCHED_SPREAD=1: spread every model over all GPUs (default: as few GPUs as hold it)."),
])

# The same settings as the running server has them (`verify`): unset means this shell's OLLAMA_* variable.
server_engine_options = _grouped("engine", EngineOptions, [
    click.option("--kv-cache", type=_KV_CACHE, help="The server's OLLAMA_KV_CACHE_TYPE (default: this shell's)."),
    click.option("--flash-attention", type=_FLASH_ATTENTION, help="The server's OLLAMA_FLASH_ATTENTION (default: this shell's)."),
    click.option("--parallel", type=click.IntRange(min=1, max=MAX_PARALLEL), help="The server's OLLAMA_NUM_PARALLEL (default: this shell's)."),
])

# Plan for another machine instead of this one, as `machine: MachineOptions`. Sizes typed are as sold
# (48GB means 48 GiB); a machine's memory prints in GiB, a model's sizes in decimal GB as `ollama ps` prints them.
machine_options = _grouped("machine", MachineOptions, [
    click.option("--memory", metavar="SIZE", help="Plan for this much RAM, as sold: 48GB means 48 GiB (printed as 48 GiB; "
                 "model sizes print in decimal GB, as `ollama ps` prints them)."),
    click.option("--gpu-memory", metavar="SIZE[,SIZE...]", multiple=True,
                 help="Plan for GPUs with this much VRAM each, as sold: 24GB, or 24GB,24GB for two (repeatable)."),
    click.option("--gpus", metavar="LIST", help='Plan for these GPUs by name: "2x RTX 3090", "RTX 4090 + RTX 4060 Ti 16GB", '
                 'or "none" for a CPU-only machine.'),
    click.option("--chip", metavar="NAME", help='Plan for this chip: an Apple chip ("Apple M4 Pro"), a unified-memory machine '
                 '(GB10, "Ryzen AI Max+ 395") or a GPU of data/hardware.toml ("RTX 4090").'),
    click.option("--wired-limit", metavar="SIZE", help="Plan a Mac with its GPU limit raised to SIZE "
                 "(sudo sysctl iogpu.wired_limit_mb=N), e.g. 42GB."),
    click.option("--ram-bandwidth", type=click.FloatRange(min=1, max=10000), metavar="GB/S",
                 help="RAM bandwidth of the planned machine in GB/s, e.g. 89.6 for dual-channel DDR5-5600."),
])


def host_option(function):
    return click.option("--host", metavar="URL", help="The Ollama server (default: OLLAMA_HOST, else http://127.0.0.1:11434).")(function)


# --alias-name, --shell, --allow-anthropic-traffic: how the Claude Code alias is written, as `alias: AliasOptions`.
alias_options = _grouped("alias", AliasOptions, [
    click.option("--alias-name", default="claude-local", show_default=True, help="The command the alias defines."),
    click.option("--shell", type=click.Choice(["zsh", "bash", "fish", "powershell"]), help="Alias syntax (default: from $SHELL)."),
    click.option("--allow-anthropic-traffic", "anthropic_traffic", is_flag=True,
                 help="Let Claude Code reach Anthropic (telemetry, updates, plugin marketplace); off by default."),
])

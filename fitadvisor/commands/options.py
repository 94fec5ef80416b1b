"""Options several commands share, and their parsing into plain values."""

from __future__ import annotations

import click

from fitadvisor.units import parse_ctx


def ctx_option(default: str | None = None, help: str = "Context size: 65536, 64k, 128K, 1m (k = 1024).", name: str = "--ctx"):
    return click.option(name, "ctx", default=default, metavar="SIZE", help=help, callback=_to_ctx)


def _to_ctx(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    return None if value is None else parse_ctx(value)


def json_option(function):
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")(function)


def engine_options(function):
    """--kv-cache, --flash-attention, --parallel, --batch, --ollama-version."""
    function = click.option(
        "--ollama-version", metavar="X.Y.Z", help="Model this Ollama release (default: the running server's, else the newest modelled)."
    )(function)
    function = click.option("--batch", type=click.IntRange(min=1), help="Physical batch n_ubatch (default: what that release picks).")(function)
    function = click.option("--parallel", type=click.IntRange(min=1), default=1, show_default=True, help="Parallel slots (OLLAMA_NUM_PARALLEL).")(function)
    function = click.option(
        "--flash-attention", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
        help="OLLAMA_FLASH_ATTENTION: auto = the release's default for the model.",
    )(function)
    function = click.option(
        "--kv-cache", type=click.Choice(["f16", "q8_0", "q4_0"]), default="f16", show_default=True, help="OLLAMA_KV_CACHE_TYPE."
    )(function)
    return function


def hardware_options(function):
    """--memory, --gpu-memory, --chip: plan for another machine instead of this one."""
    function = click.option("--chip", metavar="NAME", help='Plan for this chip: an Apple chip such as "Apple M4 Pro" (unified memory), or a GPU such as "RTX 4090" with --gpu-memory.')(function)
    function = click.option("--gpu-memory", metavar="SIZE", help="Plan for a discrete GPU with this much VRAM, e.g. 24GB.")(function)
    function = click.option("--memory", metavar="SIZE", help="Plan for this much RAM, as sold: 48GB means 48 GiB.")(function)
    return function


def host_option(function):
    return click.option("--host", metavar="URL", help="The Ollama server (default: OLLAMA_HOST, else http://127.0.0.1:11434).")(function)


def alias_options(function):
    """--alias-name, --shell, --allow-anthropic-traffic: how the Claude Code alias is written."""
    function = click.option(
        "--allow-anthropic-traffic", "anthropic_traffic", is_flag=True,
        help="Let Claude Code reach Anthropic (telemetry, updates, plugin marketplace); off by default.",
    )(function)
    function = click.option("--shell", type=click.Choice(["zsh", "bash", "fish", "powershell"]), help="Alias syntax (default: from $SHELL).")(function)
    return click.option("--alias-name", default="claude-local", show_default=True, help="The command the alias defines.")(function)

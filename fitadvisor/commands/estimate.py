"""`fitadvisor estimate MODEL`: the loaded size, term by term, and whether it fits."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from fitadvisor.commands.options import (
    ctx_option,
    engine_options,
    hardware_options,
    host_option,
    json_option,
)
from fitadvisor.memory.estimate import Estimate, Settings, estimate
from fitadvisor.memory.releases import Release
from fitadvisor.units import format_ctx, format_gb

if TYPE_CHECKING:
    from fitadvisor.models.resolve import ResolvedModel


def run(
    model: str,
    ctx: int | None = None,
    kv_cache: str = "f16",
    flash_attention: str = "auto",
    parallel: int = 1,
    batch: int | None = None,
    ollama_version: str | None = None,
    memory: str | None = None,
    gpu_memory: str | None = None,
    chip: str | None = None,
    host: str | None = None,
    resolved: ResolvedModel | None = None,
) -> Estimate:
    """The estimate for `model` (already resolved by the caller, or resolved here) on this or a planned machine."""
    from fitadvisor.hardware.probe import detect
    from fitadvisor.models.resolve import resolve_model

    resolved = resolved or resolve_model(model, host=host)
    hardware = detect(memory=memory, gpu_memory=gpu_memory, chip=chip)
    release, release_note = running_release(ollama_version, host)
    settings = Settings(
        num_ctx=ctx, kv_cache_type=kv_cache, flash_attention=flash_attention, parallel=parallel, batch=batch,
        release=release,
    )
    result = estimate(resolved.architecture, settings, hardware, model=resolved.name, source=resolved.source)
    if release_note:
        result.notes.append(release_note)
    result.source_detail = f"architecture {resolved.note}" if resolved.note else f"architecture from {resolved.source}"
    if memory is None and gpu_memory is None and chip is None:  # this machine, so its measurements apply
        use_measurement(result, model, settings, hardware)
    return result


def use_measurement(result: Estimate, asked_name: str, settings: Settings, hardware, store=None) -> None:
    """Add what `fitadvisor verify` measured for this model and these settings on this machine, if anything.

    Settings are matched as asked (as `verify` records the server's variables), the context as Ollama runs it.
    A caller estimating many times passes the `store` it loaded once (and reports its problem itself).
    """
    from fitadvisor.memory import calibration

    if store is None:
        store = calibration.load()
        if store.problem:
            result.notes.append(store.problem)
    found = None
    for name in dict.fromkeys((result.model, asked_name)):
        found = found or calibration.lookup(
            store, name, result.num_ctx, settings.kv_cache_type, settings.flash_attention, settings.parallel, result.release,
            calibration.machine_summary(hardware),
        )
    if found:
        result.measured_total_bytes = found.size_bytes
        result.notes.append(
            f"measured on this machine by `fitadvisor verify` on {found.date}: {format_gb(found.size_bytes)} loaded "
            f"({found.processor}) for {found.model}"
        )


def running_release(version: str | None, host: str | None) -> tuple[Release, str | None]:
    """The release asked for; else the one the Ollama server runs; else the newest modelled (and a note)."""
    if version is not None:
        return Release.of(version), None
    from fitadvisor.ollama.client import Client, OllamaUnreachable

    try:
        return Release.of(Client(host, timeout=1.0).version()), None
    except OllamaUnreachable:
        newest = Release.of(None)
        return newest, newest.no_server_note


def render(result: Estimate) -> str:
    ctx = format_ctx(result.num_ctx)
    lines = [
        f"{result.model} at {ctx} context (Ollama {result.release}, {result.engine} engine, "
        f"flash attention {'on' if result.flash_attention else 'off'}, KV cache {result.kv_cache_type}, batch {result.batch})",
        f"  weights        {format_gb(result.weights_bytes):>8}",
        f"  KV cache       {format_gb(result.kv_cache_bytes):>8}",
        f"  compute        {format_gb(result.compute_bytes):>8}",
        f"  other          {format_gb(result.other_bytes):>8}",
        f"  total          {format_gb(result.total_bytes):>8}   ({result.processor} as `ollama ps` would show it)",
    ]
    if result.measured_total_bytes is not None:
        lines.append(f"  measured       {format_gb(result.measured_total_bytes):>8}   (by `fitadvisor verify` on this machine)")
    if result.fits is not None:
        if result.gpu_budget_bytes:
            where = f"the GPU budget of {format_gb(result.gpu_budget_bytes)}"
            verdict = (
                f"Fits fully on the GPU ({where})."
                if result.fits
                else f"Does not fit {where}: {format_gb(result.gpu_bytes)} on the GPU, {format_gb(result.cpu_bytes)} on the CPU, "
                "which makes decoding several times slower."
            )
        else:
            verdict = "Runs on the CPU; " + ("fits in free RAM." if result.fits else "does not fit in free RAM.")
        lines.append(verdict)
    lines += [f"Note: {note}" for note in result.notes]
    if result.source_detail:
        lines.append(f"Source: {result.source_detail}")
    return "\n".join(lines)


@click.command("estimate")
@click.argument("model")
@ctx_option()
@engine_options
@hardware_options
@host_option
@json_option
def command(model: str, ctx: int | None, as_json: bool, **options) -> None:
    """Estimate what Ollama will load for MODEL (any Ollama model name, or a .gguf file).

    \b
    Example:  fitadvisor estimate devstral-small-2 --ctx 64k
    """
    result = run(model, ctx, **options)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else render(result))

"""`fitadvisor probe`: the machine as Ollama sees it, or the machine the overrides describe."""

from __future__ import annotations

import json

import click

from typing import TYPE_CHECKING

from fitadvisor.commands.options import json_option, machine_options
from fitadvisor.units import format_gb

if TYPE_CHECKING:
    from fitadvisor.flows.options import MachineOptions


def run(machine: MachineOptions) -> dict:
    """The probe's JSON: the Hardware plus the GPU budget the newest modelled Ollama release leaves a model."""
    from fitadvisor.flows.context import RunContext
    from fitadvisor.memory.releases import Release

    release = Release.of(None)
    hardware = RunContext(machine=machine).hardware
    data = hardware.to_dict(release.gpu_reserve_bytes, release.metal_reserve_bytes)
    data["ollama_version"] = release.label
    return data


def render(data: dict) -> str:
    cpu = data["cpu"]
    cores = f", {cpu['cores']} cores / {cpu['threads']} threads" if cpu["cores"] else ""
    flags = f" [{' '.join(cpu['flags'])}]" if cpu["flags"] else ""
    lines = [
        f"OS             {data['os']}" + (f" ({data['chip']})" if data["chip"] else ""),
        f"CPU            {cpu['name']}{cores}{flags}",
        f"Memory         {format_gb(data['memory_bytes'])}, {format_gb(data['available_memory_bytes'])} available"
        + (" (unified: CPU and GPU share it)" if data["unified_memory"] else ""),
    ]
    for gpu in data["gpus"]:
        free = f", {format_gb(gpu['free_bytes'])} free" if gpu["free_bytes"] is not None else ""
        lines.append(f"GPU            {gpu['name']} ({gpu['library'] or gpu['vendor']}): {format_gb(gpu['memory_bytes'])}{free}")
    if not data["gpus"]:
        lines.append("GPU            none that Ollama can use: models run on the CPU")
    else:
        overhead = " and OLLAMA_GPU_OVERHEAD" if data["gpu_overhead_bytes"] else ""
        lines.append(
            f"GPU budget     {format_gb(data['gpu_budget_bytes'])} for a model (Ollama {data['ollama_version']}, after its reserve{overhead})"
        )
    bandwidth = data["memory_bandwidth_gbs"]
    lines.append(f"Bandwidth      {f'{bandwidth:g} GB/s' if bandwidth else 'unknown'}")
    lines += [f"Note: {note}" for note in data["notes"]]
    return "\n".join(lines)


@click.command("probe")
@machine_options
@json_option
def command(as_json: bool, machine: MachineOptions) -> None:
    """Show the machine as Ollama sees it: RAM, GPUs, the GPU budget, memory bandwidth.

    \b
    Examples:  fitadvisor probe
               fitadvisor probe --memory 48GB --chip "Apple M4 Pro" --json
    """
    data = run(machine)
    click.echo(json.dumps(data, indent=2) if as_json else render(data))

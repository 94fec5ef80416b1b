"""`fitadvisor probe`: the machine as Ollama sees it, or the machine the overrides describe."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from fitadvisor.commands.options import json_option, machine_options
from fitadvisor.commands.output import emit
from fitadvisor.units import format_gb, format_gib

if TYPE_CHECKING:
    from fitadvisor.flows.options import MachineOptions
    from fitadvisor.flows.probe import MachineReport


def render(report: MachineReport) -> str:
    data = report.to_dict()
    cpu = data["cpu"]
    cores = f", {cpu['cores']} cores / {cpu['threads']} threads" if cpu["cores"] else ""
    flags = f" [{' '.join(cpu['flags'])}]" if cpu["flags"] else ""
    lines = [
        f"Machine        {data['planned_for']}",
        f"OS             {data['os']}" + (f" ({data['chip']})" if data["chip"] else ""),
        f"CPU            {cpu['name']}{cores}{flags}",
        f"Memory         {format_gib(data['memory_bytes'])}, {format_gib(data['available_memory_bytes'])} available"
        + (" (unified: CPU and GPU share it)" if data["unified_memory"] else ""),
    ]
    for index, gpu in enumerate(data["gpus"]):
        free = f", {format_gib(gpu['free_bytes'])} free" if gpu["free_bytes"] is not None else ""
        share = f" (budget {format_gb(data['budget']['per_gpu_bytes'][index])})" if len(data["gpus"]) > 1 else ""
        lines.append(f"GPU {index:<11}{gpu['name']} ({gpu['library'] or gpu['vendor']}): {format_gib(gpu['memory_bytes'])}{free}{share}")
    if not data["gpus"]:
        lines.append("GPU            none that Ollama can use: models run on the CPU")
    overhead = " (less OLLAMA_GPU_OVERHEAD on each GPU)" if data["gpu_overhead_bytes"] else ""
    lines.append(f"Budget         {data['budget_sentence']}{overhead}")
    bandwidth = data["memory_bandwidth_gbs"]
    lines.append(f"Bandwidth      {f'{bandwidth:g} GB/s' if bandwidth else 'unknown'}")
    lines.append("Units          memory as sold, in GiB (48GB typed = 48 GiB); model sizes and budgets in decimal GB, as `ollama ps` prints them")
    lines += [f"Note: {note}" for note in data["notes"]]
    return "\n".join(lines)


@click.command("probe")
@machine_options
@click.option("--ollama-version", metavar="X.Y.Z", help="The Ollama release whose reserve the budget leaves (default: the newest modelled).")
@json_option
def command(as_json: bool, machine: MachineOptions, ollama_version: str | None) -> None:
    """Show the machine as Ollama sees it: RAM, GPUs, the GPU budget, memory bandwidth.

    \b
    Examples:  fitadvisor probe
               fitadvisor probe --memory 48GB --chip "Apple M4 Pro" --json
    """
    from fitadvisor.flows.context import RunContext
    from fitadvisor.flows.probe import probe_machine

    emit(probe_machine(RunContext(machine=machine), ollama_version), render, as_json)

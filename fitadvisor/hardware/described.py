"""Another machine, described on the command line, built into the same Hardware the probe returns.

A description names what the user knows: the RAM (--memory), the GPUs (--gpus "2x RTX 3090",
--gpu-memory 24GB,24GB), a chip (--chip "Apple M4 Pro", GB10, "Ryzen AI Max+ 395", "RTX 4090"), a
raised macOS GPU limit (--wired-limit), or no GPU at all (--gpus none, with --ram-bandwidth).
Sizes are typed as sold: 24GB means 24 GiB. Every chip comes from data/hardware.toml.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from fitadvisor.errors import FitAdvisorError
from fitadvisor.hardware._assemble import assemble
from fitadvisor.hardware._common import OS_RESERVE_BYTES, compute_capability, tables
from fitadvisor.hardware.machine import Cpu, Gpu, Hardware
from fitadvisor.units import GIB, format_gib, parse_size

NO_GPU = ("none", "cpu", "0")  # --gpus values for a machine without a GPU Ollama can use


@dataclass(frozen=True)
class Description:
    """What the command line says about the machine; empty means "this machine, as probed"."""

    memory: str | None = None
    gpu_memory: tuple[str, ...] = ()  # one entry per --gpu-memory, each a size or a comma list
    gpus: str | None = None
    chip: str | None = None
    wired_limit: str | None = None
    ram_bandwidth: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.gpu_memory, tuple):  # one size given in code as a plain string, or None
            object.__setattr__(self, "gpu_memory", (self.gpu_memory,) if self.gpu_memory else ())

    @property
    def given(self) -> bool:
        return any((self.memory, self.gpu_memory, self.gpus, self.chip, self.wired_limit, self.ram_bandwidth))

    @property
    def this_machine(self) -> bool:
        """True when nothing describes another machine, so what `verify` measured here applies."""
        return not self.given

    def gpu_sizes(self) -> list[int]:
        """Every --gpu-memory size, in order: `--gpu-memory 24GB,24GB` and a repeated option both list two GPUs."""
        return [parse_size(part) for text in self.gpu_memory for part in text.split(",")]


def planning_note(memory: int) -> str:
    return (
        f"planned machine: available memory is its RAM less {OS_RESERVE_BYTES // GIB} GiB for the OS and apps "
        f"({format_gib(memory - OS_RESERVE_BYTES)})"
    )


def apple_chip(text: str) -> str | None:
    """The table's name for a chip given as "Apple M4 Pro", "m4 pro" or "M4 Pro"; None if not an Apple chip."""
    name = " ".join(text.split()).lower()
    for chip in tables().apple_chips():
        if chip.lower() in (name, f"apple {name}"):
            return chip
    return None


def unknown_chip(text: str) -> FitAdvisorError:
    apple = ", ".join(tables().apple_chips())
    return FitAdvisorError(
        f"unknown chip {text!r}: use an Apple chip ({apple}) or a GPU from fitadvisor's table "
        f"({', '.join(tables().gpu_names())})"
    )


def apple_plan(chip_text: str, memory_text: str | None, wired_limit: str | None = None) -> Hardware:
    """A Mac with this chip and RAM: Metal's working set (or the raised wired limit) is the GPU."""
    chip = apple_chip(chip_text)
    if chip is None:
        raise unknown_chip(chip_text)
    rows = tables().apple_rows(chip)
    offered = sorted({gb for row in rows for gb in row["memory_gb"]})
    notes = []
    if memory_text is None:
        memory = offered[0] * GIB
        notes.append(f"no --memory given: planning the {chip} with its smallest memory, {offered[0]} GB")
    else:
        memory = parse_size(memory_text)
    gb = memory / GIB
    if gb not in offered:
        notes.append(f"Apple sells the {chip} with {', '.join(map(str, offered))} GB, not {gb:g} GB")
    bins = [row for row in rows if gb in row["memory_gb"]] or rows
    cores = bins[0]["gpu_cores"][-1] if len({row["bandwidth_gbs"] for row in bins}) == 1 else None
    bandwidth, bandwidth_note = tables().apple_bandwidth(chip, cores)
    notes.append(bandwidth_note)
    working_set = tables().metal_working_set(memory)
    if wired_limit is None:
        notes.append(
            f"the GPU may use {format_gib(working_set)} of {format_gib(memory)} (Metal's default working set on macOS 15 "
            "and earlier; macOS 26 allows more; plan a raised limit with --wired-limit)"
        )
    else:
        limit = parse_size(wired_limit)
        if limit > memory - OS_RESERVE_BYTES:
            raise FitAdvisorError(
                f"--wired-limit {wired_limit} leaves macOS less than {OS_RESERVE_BYTES // GIB} GiB of the {format_gib(memory)}: "
                f"use at most {format_gib(memory - OS_RESERVE_BYTES)}"
            )
        working_set = limit
        notes.append(
            f"the GPU may use {format_gib(limit)} of {format_gib(memory)}: raised with "
            f"`sudo sysctl iogpu.wired_limit_mb={limit // 2**20}` (until the next reboot; Ollama must be restarted)"
        )
    notes.append(planning_note(memory))
    gpu = Gpu("apple", chip, working_set, None, "metal", bandwidth)
    cpu = Cpu(chip, 0, 0)  # core counts vary by bin and do not decide what fits
    return assemble("darwin", chip, cpu, memory, max(0, memory - OS_RESERVE_BYTES), True, [gpu], bandwidth, notes)


def unified_plan(row: dict, memory_text: str | None) -> Hardware:
    """A machine whose GPU allocates from system RAM (GB10, Ryzen AI Max): the RAM less the OS's share."""
    name, offered = row["name"], row["memory_gb"]
    notes = []
    if memory_text is None:
        memory = offered[-1] * GIB if len(offered) == 1 else offered[0] * GIB
        notes.append(f"no --memory given: planning the {name} with {memory // GIB} GB")
    else:
        memory = parse_size(memory_text)
    if round(memory / GIB) not in offered:
        notes.append(f"the {name} is sold with {', '.join(map(str, offered))} GB, not {format_gib(memory)}")
    available = max(0, memory - OS_RESERVE_BYTES)
    gpu = Gpu(row["vendor"], name, memory, available, row["library"], float(row["bandwidth_gbs"]), compute_capability(row))
    notes.append(f"{name} shares the machine's {format_gib(memory)} of RAM with the CPU (unified memory)")
    notes.append(planning_note(memory))
    cpu = Cpu(name, 0, 0)
    return assemble("linux", name, cpu, memory, available, True, [gpu], float(row["bandwidth_gbs"]), notes)


@dataclass(frozen=True)
class _Card:
    name: str  # as typed
    size: int | None  # VRAM typed with the name ("RTX 4060 Ti 16GB"), if any


_COUNT = re.compile(r"^\s*(\d+)\s*[x×*]\s*(.+)$", re.IGNORECASE)
_TRAILING_SIZE = re.compile(r"^(.*?)\s+(\d+(?:\.\d+)?\s*(?:Gi?B?|Ti?B))\s*$", re.IGNORECASE)  # "Ti" is a model, "TB" a size


def parse_gpus(text: str) -> list[_Card]:
    """`2x RTX 3090`, `RTX 4090, RTX 3090`, `RTX 3090 + 2x RTX 4060 Ti 16GB` -> one entry per card."""
    cards = []
    for item in re.split(r"[,+]", text):
        item = " ".join(item.split())
        if not item:
            continue
        count = 1
        match = _COUNT.match(item)
        if match:
            count, item = int(match.group(1)), match.group(2).strip()
            if not 1 <= count <= 16:
                raise FitAdvisorError(f"--gpus {text!r}: {count} GPUs of one kind is not a machine Ollama runs (1-16)")
        size = None
        sized = _TRAILING_SIZE.match(item)
        if sized:
            item, size = sized.group(1), parse_size(sized.group(2))
        cards += [_Card(item, size)] * count
    if not cards:
        raise FitAdvisorError(f"--gpus {text!r} names no GPU: use e.g. \"2x RTX 3090\" or \"none\"")
    return cards


def _sized(row: dict, size: int | None, typed: str) -> tuple[int, str | None]:
    """The card's VRAM: as given if the card was sold with it, its only size, or its smallest (with a note)."""
    sold = sorted({gb for other in tables().gpu_rows(typed) if other["name"] == row["name"] for gb in other.get("memory_gb", [])})
    if size is not None:
        if sold and round(size / GIB) not in sold:
            raise FitAdvisorError(
                f"the {row['name']} was sold with {' or '.join(f'{gb} GB' for gb in sold)} of VRAM, not {size / GIB:g} GB: "
                f"give each card's own VRAM (two cards: --gpus \"2x {row['name']}\")"
            )
        return size, None
    if not sold:
        raise FitAdvisorError(f"give the {row['name']}'s VRAM, e.g. --gpu-memory 24GB")
    note = None if len(sold) == 1 else f"the {row['name']} came with {' or '.join(f'{gb} GB' for gb in sold)}: planning {sold[0]} GB"
    return sold[0] * GIB, note


def _discrete(cards: list[_Card], sizes: list[int]) -> tuple[list[Gpu], list[str]]:
    if sizes and len(sizes) not in (1, len(cards)):
        raise FitAdvisorError(
            f"{len(cards)} GPUs named but {len(sizes)} --gpu-memory sizes given: give one size for all or one per GPU"
        )
    gpus, notes = [], []
    for index, card in enumerate(cards):
        row = tables().gpu_row(card.name)
        if row is None or apple_chip(card.name):
            raise unknown_chip(card.name)
        if row.get("unified"):
            raise FitAdvisorError(f"the {row['name']} shares system RAM and is not a discrete GPU: use --chip {card.name!r} --memory SIZE")
        size = card.size if card.size is not None else (sizes[index] if len(sizes) > 1 else (sizes[0] if sizes else None))
        vram, note = _sized(row, size, card.name)
        row = tables().gpu_row(card.name, vram)  # the bin of this size (RTX 3080 10 GB vs 12 GB)
        gpus.append(Gpu(row["vendor"], row["name"], vram, None, row["library"], float(row["bandwidth_gbs"]), compute_capability(row)))
        if note and note not in notes:
            notes.append(note)
    return gpus, notes


def describe(description: Description, this_machine: Callable[[], Hardware]) -> Hardware:
    """The machine the description names; `this_machine()` (the probe) fills in what it leaves out."""
    d = description
    memory = parse_size(d.memory) if d.memory else None  # bad sizes fail before anything is probed
    sizes = d.gpu_sizes()
    if d.wired_limit is not None:
        parse_size(d.wired_limit)
    if d.chip is not None:
        if apple_chip(d.chip):
            if sizes or d.gpus:
                raise FitAdvisorError(
                    f"--chip {d.chip!r} and --gpu-memory/--gpus cannot be combined: an Apple chip's GPU shares its RAM (use --memory)"
                )
            return apple_plan(d.chip, d.memory, d.wired_limit)
        chip_row = tables().gpu_row(d.chip)
        if chip_row is None:
            raise unknown_chip(d.chip)
        if chip_row.get("unified"):
            if sizes or d.gpus:
                raise FitAdvisorError(
                    f"--chip {d.chip!r} and --gpu-memory/--gpus cannot be combined: the {chip_row['name']}'s GPU shares the "
                    "machine's RAM (use --memory)"
                )
            return _with_bandwidth(unified_plan(chip_row, d.memory), d.ram_bandwidth)
    base = this_machine()
    if d.wired_limit is not None:
        if not (base.chip or "").startswith("Apple"):
            raise FitAdvisorError("--wired-limit plans a Mac's raised GPU limit: name the Mac's chip with --chip, e.g. \"Apple M4 Pro\"")
        return apple_plan(base.chip, d.memory, d.wired_limit)
    if (base.chip or "").startswith("Apple") and not (sizes or d.gpus or d.chip):
        return apple_plan(base.chip, d.memory)  # more RAM on a Mac also means a larger GPU share

    notes = [note for note in base.notes if "models run on the CPU" not in note and "bandwidth unknown" not in note]
    total, available = base.memory_bytes, base.available_memory_bytes
    if memory is not None:
        total, available = memory, max(0, memory - OS_RESERVE_BYTES)
        notes.append(planning_note(memory))
    gpus, unified = list(base.gpus), base.unified_memory
    if d.gpus is not None and d.chip is not None:
        raise FitAdvisorError(f"--chip {d.chip!r} and --gpus both name GPUs: list them all in --gpus")
    named = d.gpus if d.gpus is not None else d.chip
    if (base.chip or "").startswith("Apple") and not named:
        raise FitAdvisorError("--gpu-memory plans a discrete GPU, which a Mac with Apple silicon cannot have: use --memory")
    if named is not None and named.strip().lower() in NO_GPU:
        gpus, unified = [], False
        notes.append("planned machine without a GPU Ollama can use: models run on the CPU from RAM")
    elif named is not None:
        gpus, card_notes = _discrete(parse_gpus(named), sizes)
        unified = False
        notes += card_notes
        notes.append(f"planned GPUs: {gpu_summary(gpus)}, all VRAM free")
    elif sizes:
        gpus = [Gpu("unknown", f"planned GPU ({format_gib(size)})", size, None, "cuda") for size in sizes]
        unified = False
        notes.append("planned GPU: modelled as a CUDA GPU with all its VRAM free (name it with --gpus for its speed)")
    planned = assemble(base.os, None, base.cpu, total, available, unified, gpus, d.ram_bandwidth or base.ram_bandwidth_gbs, notes)
    return replace(planned, gpu_overhead_bytes=base.gpu_overhead_bytes)


def _with_bandwidth(hardware: Hardware, ram_bandwidth: float | None) -> Hardware:
    return hardware if ram_bandwidth is None else replace(hardware, ram_bandwidth_gbs=ram_bandwidth)


def gpu_summary(gpus: list[Gpu] | tuple[Gpu, ...]) -> str:
    """`2x RTX 3090 (24 GiB)`, `RTX 4090 (24 GiB) + RTX 3090 (24 GiB)`."""
    groups: dict[tuple[str, int], int] = {}
    for gpu in gpus:
        groups[(gpu.name, gpu.memory_bytes)] = groups.get((gpu.name, gpu.memory_bytes), 0) + 1
    parts = []
    for (name, size), count in groups.items():
        label = name if "GiB" in name else f"{name} ({format_gib(size)})"
        parts.append(f"{count}x {label}" if count > 1 else label)
    return " + ".join(parts)


def is_this_machine(host_url: str) -> bool:
    """Whether an Ollama URL points at this machine: a loopback or unspecified address, or its own name."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    name = (urlsplit(host_url).hostname or "").lower()
    if name in ("localhost", socket.gethostname().lower()):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def unseen_machine() -> Hardware:
    """What a description of another machine starts from: nothing known but that it runs Linux."""
    return Hardware("linux", None, Cpu("unknown", 0, 0), 0, 0, False)


def seen_through_server(host_url: str, loaded: list[tuple[str, int, int]]) -> Hardware:
    """Another machine known only by what its Ollama shows: the GPU memory its loaded models fill.

    `loaded` is /api/ps as (model, size, size_vram). That is a floor, not the machine: fitadvisor
    plans with at least that much GPU memory and says so.
    """
    on_gpu = sum(size_vram for _, _, size_vram in loaded)
    if not on_gpu:
        raise FitAdvisorError(
            f"{host_url} is another machine, which fitadvisor cannot probe, and its Ollama shows no model loaded on a GPU "
            "to learn from: describe it with --gpus (e.g. \"2x RTX 3090\"), --gpu-memory, --memory or --chip"
        )
    models = ", ".join(name for name, _, size_vram in loaded if size_vram)
    total = sum(size for _, size, _ in loaded)
    notes = [
        f"planned for the machine at {host_url}, known only by what its Ollama shows: {format_gib(on_gpu)} of GPU memory "
        f"in use by {models}; it has at least that much (describe it with --gpus or --chip for a full plan)"
    ]
    gpu = Gpu("unknown", f"GPU of {host_url} (at least {format_gib(on_gpu)})", on_gpu, None, "cuda")
    return assemble("linux", None, Cpu("unknown", 0, 0), max(total, on_gpu), max(total, on_gpu), False, [gpu], None, notes)

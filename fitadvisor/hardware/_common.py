"""Pieces every platform probe shares: running a tool briefly, the data tables, Ollama's environment."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from fitadvisor.units import GIB

TOOL_TIMEOUT = 2.0  # seconds; a tool slower than this is treated as missing
OS_RESERVE_BYTES = 4 * GIB  # what a planned machine keeps for its OS and apps (available = RAM less this)


@dataclass(frozen=True)
class ToolOutput:
    text: str | None  # stdout, or None when the tool is missing, failed or timed out
    problem: str | None = None  # why there is no text, when that is worth telling (missing tools are not)


def run_tool(command: list[str], timeout: float = TOOL_TIMEOUT) -> ToolOutput:
    """Run a read-only tool with a short timeout; never raises."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        return ToolOutput(None)
    except subprocess.TimeoutExpired:
        return ToolOutput(None, f"`{command[0]}` did not answer within {timeout:g} s")
    except OSError as error:
        return ToolOutput(None, f"`{command[0]}` could not run ({error.strerror or error})")
    if done.returncode != 0 and not done.stdout.strip():
        message = " ".join((done.stderr or "").split())[:160]
        return ToolOutput(None, f"`{command[0]}` failed (exit {done.returncode}{': ' + message if message else ''})")
    return ToolOutput(done.stdout)


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def gpu_overhead_bytes(environ: dict[str, str] | None = None) -> tuple[int, str | None]:
    """OLLAMA_GPU_OVERHEAD: bytes Ollama keeps free on every GPU (Ollama ignores a value it cannot parse)."""
    text = (os.environ if environ is None else environ).get("OLLAMA_GPU_OVERHEAD", "").strip()
    if not text:
        return 0, None
    try:
        value = int(float(text))
    except ValueError:
        return 0, f"OLLAMA_GPU_OVERHEAD={text!r} is not a number of bytes: Ollama ignores it"
    return max(0, value), None


@dataclass(frozen=True)
class Tables:
    """data/hardware.toml, loaded once."""

    data: dict

    def apple_rows(self, chip: str) -> list[dict]:
        return [row for row in self.data["apple"] if row["chip"].lower() == chip.strip().lower()]

    def apple_chips(self) -> list[str]:
        return sorted({row["chip"] for row in self.data["apple"]})

    def apple_bandwidth(self, chip: str, gpu_cores: int | None) -> tuple[float | None, str | None]:
        """Bandwidth of an Apple chip; the GPU-core bin decides it where bins differ (M3 Max, M4 Max, M5 Max)."""
        rows = self.apple_rows(chip)
        if not rows:
            return None, None
        if gpu_cores is not None:
            for row in rows:
                if gpu_cores in row["gpu_cores"]:
                    return float(row["bandwidth_gbs"]), None
        values = sorted({float(row["bandwidth_gbs"]) for row in rows})
        if len(values) == 1:
            return values[0], None
        bins = ", ".join(f"{c}-core GPU: {row['bandwidth_gbs']:g} GB/s" for row in rows for c in row["gpu_cores"])
        return values[0], f"the {chip}'s bandwidth depends on its GPU-core bin ({bins}); assuming the lower"

    def gpu_row(self, name: str, memory_bytes: int | None = None) -> dict | None:
        """The table's row for a GPU name; where the card came in several sizes, the one of this VRAM."""
        rows = self.gpu_rows(name)
        if memory_bytes is not None:
            gb = round(memory_bytes / GIB)
            rows = [row for row in rows if gb in row.get("memory_gb", [gb])] or rows
        return rows[0] if rows else None

    def gpu_rows(self, name: str) -> list[dict]:
        """Every row whose pattern matches the name, most specific first."""
        return [row for row in self.data["gpu"] if re.search(row["match"], name.strip(), re.IGNORECASE)]

    def gpu_names(self) -> list[str]:
        return list(dict.fromkeys(row["name"] for row in self.data["gpu"]))

    def cpu_bandwidth(self, name: str) -> float | None:
        for row in self.data.get("cpu", []):
            if re.search(row["match"], name, re.IGNORECASE):
                return float(row["bandwidth_gbs"])
        return None

    def metal_working_set(self, memory_bytes: int) -> int:
        """Metal's default recommendedMaxWorkingSetSize for this much RAM (macOS <= 15 rule)."""
        metal = self.data["metal"]
        small = memory_bytes <= metal["small_ram_max_gib"] * GIB
        numerator, denominator = metal["small_fraction"] if small else metal["large_fraction"]
        return memory_bytes * numerator // denominator

    @property
    def typical_dual_channel_gbs(self) -> tuple[float, float]:
        low, high = self.data["ram"]["typical_dual_channel_gbs"]
        return float(low), float(high)


def compute_capability(row: dict) -> tuple[int, int] | None:
    """A table row's CUDA compute capability ("8.6" -> (8, 6)), where it lists one."""
    if "compute_capability" not in row:
        return None
    major, minor = row["compute_capability"].split(".")
    return int(major), int(minor)


@lru_cache(maxsize=1)
def tables() -> Tables:
    from fitadvisor.datafiles import read_toml

    return Tables(read_toml("hardware.toml"))


def ram_bandwidth_from_dmi(text: str) -> float | None:
    """Peak RAM bandwidth from the memory devices udev lists (`/run/udev/data/+dmi:id`, `E:MEMORY_DEVICE_*`).

    Populated devices are grouped by channel where the locators name one ("P0 CHANNEL A",
    "Controller0-ChannelA-DIMM0"); each channel moves its data width (64 bits when unlisted) per
    transfer at the slowest configured speed. Without channel names, DIMMs count at most two channels.
    """
    fields: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        match = re.match(r"^(?:E:\s*)?MEMORY_DEVICE_(\d+)_([A-Z_]+)=(.*)$", line.strip())
        if match:
            fields.setdefault(match.group(1), {})[match.group(2)] = match.group(3).strip()
    speeds, channels, widths = [], {}, []
    for device in fields.values():
        speed = device.get("CONFIGURED_SPEED_MTS") or device.get("SPEED_MTS")
        if device.get("PRESENT") == "0" or device.get("SIZE") == "0" or not speed or not speed.isdigit():
            continue
        speeds.append(int(speed))
        width = int(device["DATA_WIDTH"]) if device.get("DATA_WIDTH", "").isdigit() else 64
        locator = f"{device.get('BANK_LOCATOR', '')} {device.get('LOCATOR', '')}"
        channel = re.search(r"channel\s*-?\s*([a-z0-9]+)", locator, re.IGNORECASE)
        if channel:  # the locator up to the channel name ("Controller1-ChannelA") identifies the channel
            key = locator[: channel.end()].strip().upper()
            channels[key] = max(width, channels.get(key, 0))
        else:
            widths.append(width)
    if not speeds or min(speeds) <= 0:
        return None
    if channels:
        bus_bits = sum(channels.values())
    else:
        bus_bits = sum(sorted(widths, reverse=True)[:2])
    return round(bus_bits / 8 * min(speeds) / 1000, 1)

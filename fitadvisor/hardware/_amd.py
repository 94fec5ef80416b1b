"""AMD GPUs on Linux through the amdgpu driver's sysfs files (what Ollama reads)."""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass

from fitadvisor.hardware._common import OS_RESERVE_BYTES, read_text, tables
from fitadvisor.hardware.machine import Gpu
from fitadvisor.units import GIB

AMD_VENDOR = "0x1002"
SMALL_CARVE_OUT = 2 * GIB  # VRAM below this is an integrated GPU's BIOS carve-out, not a graphics card


@dataclass(frozen=True)
class AmdCard:
    """One `/sys/class/drm/cardN/device` of vendor 0x1002."""

    device_id: str  # "0x744c"
    vram_total: int
    vram_used: int | None
    gtt_total: int | None  # system RAM the GPU may map (APUs run models from it)
    product_name: str | None = None


def read_cards(root: str = "/sys/class/drm") -> list[AmdCard]:
    cards = []
    for device in sorted(glob.glob(os.path.join(root, "card*", "device"))):
        if not re.fullmatch(r"card\d+", os.path.basename(os.path.dirname(device))):
            continue  # connectors such as card0-DP-1 link to the same device
        if (read_text(os.path.join(device, "vendor")) or "").strip() != AMD_VENDOR:
            continue
        vram = _number(read_text(os.path.join(device, "mem_info_vram_total")))
        if vram is None:
            continue
        cards.append(
            AmdCard(
                device_id=(read_text(os.path.join(device, "device")) or "").strip(),
                vram_total=vram,
                vram_used=_number(read_text(os.path.join(device, "mem_info_vram_used"))),
                gtt_total=_number(read_text(os.path.join(device, "mem_info_gtt_total"))),
                product_name=(read_text(os.path.join(device, "product_name")) or "").strip() or None,
            )
        )
    return cards


def _number(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def amd_gpus(cards: list[AmdCard], cpu_name: str, ram_total: int, ram_available: int) -> tuple[list[Gpu], list[str], bool]:
    """Gpu objects for the cards, notes, and whether the GPU runs from system RAM (an APU).

    An APU (the CPU is sold "with Radeon" graphics, or the card's VRAM is only a BIOS carve-out)
    runs models from GTT, the system RAM it may map: its budget is the larger of the carve-out and
    GTT, and GTT cannot exceed the RAM the OS has less a reserve for the OS itself. A discrete card
    runs from its VRAM; with one present, an integrated GPU beside it is left out, as Ollama does.
    """
    apu_named = "radeon" in cpu_name.lower()
    discrete = [card for card in cards if card.vram_total >= SMALL_CARVE_OUT and not apu_named]
    integrated = [card for card in cards if card not in discrete]
    gpus, notes = [], []
    for card in discrete:
        name = card.product_name or f"AMD Radeon GPU [1002:{card.device_id.removeprefix('0x')}]"
        spec = tables().gpu_row(name) or {}
        free = card.vram_total - card.vram_used if card.vram_used is not None else None
        gpus.append(Gpu("amd", name, card.vram_total, free, "rocm", spec.get("bandwidth_gbs")))
        if not spec:
            notes.append(f"{name}: bandwidth unknown (the driver does not name the card)")
    if discrete:
        if integrated:
            notes.append("the integrated Radeon GPU is left out: Ollama runs models on the discrete GPU")
        return gpus, notes, False
    for card in integrated[:1]:
        gtt = min(card.gtt_total or 0, max(0, ram_total - OS_RESERVE_BYTES))
        memory = max(card.vram_total, gtt)
        label = re.search(r"Radeon\s+[\w ]+?(?=\s*$|\s+Graphics|,)", cpu_name, re.IGNORECASE)
        name = card.product_name or (f"AMD {label.group(0)}" if label else "AMD Radeon integrated GPU")
        spec = tables().gpu_row(name) or tables().gpu_row(cpu_name) or {}
        vram_free = card.vram_total - (card.vram_used or 0)
        free = min(memory, max(vram_free, min(card.gtt_total or 0, ram_available)))
        gpus.append(Gpu("amd", name, memory, free, "rocm", spec.get("bandwidth_gbs")))
        notes.append(
            f"{name} is integrated: it runs models from system RAM it may map (GTT {(card.gtt_total or 0) / GIB:.0f} GiB, "
            f"carve-out {card.vram_total / GIB:.0f} GiB); Ollama uses it only where ROCm or Vulkan supports this chip"
        )
    return gpus, notes, bool(gpus)

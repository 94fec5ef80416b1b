"""How Ollama splits a model between its GPUs and the CPU, per release (checked on v0.24.0 and v0.33.0-rc2).

Before v0.30 (`llm/server.go` buildLayout/assignLayers/findBestFit/greedyFit): GPUs are sorted by
free memory; each keeps its minimum (457 MiB, Metal 512 MiB), OLLAMA_GPU_OVERHEAD and its own compute
graph free; layers are packed from the last one down onto as few GPUs as hold them all, balanced
across those GPUs by the smallest common share of their free memory that still fits every layer.
OLLAMA_SCHED_SPREAD=1 balances across all GPUs. The llama runner also keeps one layer spare per GPU.

From v0.30 (`server/sched.go` selectLlamaServerPlacement, then llama.cpp's `--fit`): without
OLLAMA_SCHED_SPREAD a model whose crude predicted size is at most 80% of one GPU's free memory runs
on that GPU alone (the one with most free memory); otherwise on all GPUs, where llama.cpp splits the
layers in proportion to each GPU's free memory and keeps 1 GiB free on each; when that split does not
fit, it fills GPUs from the last one back, and moves an MoE model's experts to the CPU first.
Every GPU that holds layers also holds a compute buffer; the output (logits, projector) sits with the last layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from fitadvisor.hardware.machine import Gpu


@dataclass(frozen=True)
class GpuShare:
    """What one GPU holds of a model: the `--json` per-GPU view."""

    name: str
    budget_bytes: int  # what it may fill: its free memory less Ollama's reserve for it
    layers: int
    bytes: int

    def to_dict(self) -> dict:
        return {"name": self.name, "budget_bytes": self.budget_bytes, "layers": self.layers, "bytes": self.bytes}


@dataclass(frozen=True)
class Layout:
    """The model as the placement sees it: repeating layers of one size, a compute buffer per GPU, the output."""

    layers: int
    layer_bytes: float  # weights and cache of one repeating layer
    compute_bytes: int
    output_bytes: int  # logits and projector: with the last layer
    spare_layer: bool = False  # the llama runner keeps one layer's worth free on each GPU

    def room(self, budget: int, last: bool) -> int:
        """Layers a GPU of this budget holds, with its compute buffer (and the output, if it has the last layer)."""
        room = budget - self.compute_bytes - (self.output_bytes if last else 0)
        if self.spare_layer:
            room -= self.layer_bytes
        return max(0, int(room // self.layer_bytes)) if self.layer_bytes else self.layers

    def shares(self, gpus: list[tuple[Gpu, int]], counts: list[int]) -> list[GpuShare]:
        """Per-GPU bytes for these layer counts (the last GPU in the list holds the model's last layers)."""
        holding = [i for i, count in enumerate(counts) if count]
        last = holding[-1] if holding else -1
        return [
            GpuShare(
                gpu.name, budget, count,
                round(count * self.layer_bytes) + (self.compute_bytes if count else 0) + (self.output_bytes if i == last else 0),
            )
            for i, ((gpu, budget), count) in enumerate(zip(gpus, counts))
        ]


def greedy_fit(layout: Layout, budgets: list[int], capacity: float) -> list[int]:
    """Ollama's greedyFit: layers from the last one down onto the GPUs from the last one back,
    each filled to `capacity` of its budget; returns the layers each GPU takes."""
    counts = [0] * len(budgets)
    device = len(budgets) - 1
    free = budgets[device] * capacity - layout.compute_bytes - layout.output_bytes
    for _ in range(layout.layers):
        while layout.layer_bytes > free:
            device -= 1
            if device < 0:
                return counts
            free = budgets[device] * capacity - layout.compute_bytes
        counts[device] += 1
        free -= layout.layer_bytes
    return counts


def balanced_fit(layout: Layout, budgets: list[int]) -> list[int]:
    """Ollama's findBestFit: the smallest capacity factor that still places as many layers as capacity 1."""
    best = greedy_fit(layout, budgets, 1.0)
    most = sum(best)
    low, high = 0.0, 1.0
    while high - low > 1e-6:
        middle = (low + high) / 2
        counts = greedy_fit(layout, budgets, middle)
        if sum(counts) == most:
            high, best = middle, counts
        else:
            low = middle
    return best


def place_before_llama_server(layout: Layout, gpus: list[tuple[Gpu, int]], spread: bool) -> list[GpuShare]:
    """v0.14-v0.29: as few GPUs as hold every layer (all with OLLAMA_SCHED_SPREAD), balanced across them."""
    ordered = sorted(gpus, key=lambda item: item[0].usable_bytes, reverse=True)
    budgets = [budget - (layout.layer_bytes if layout.spare_layer else 0) for _, budget in ordered]
    plain = Layout(layout.layers, layout.layer_bytes, layout.compute_bytes, layout.output_bytes)
    if not spread:
        for used in range(1, len(ordered) + 1):
            counts = balanced_fit(plain, budgets[:used])
            if sum(counts) == layout.layers:
                return plain.shares(ordered, counts + [0] * (len(ordered) - used))
    return plain.shares(ordered, balanced_fit(plain, budgets))


def place_llama_server(layout: Layout, gpus: list[tuple[Gpu, int]], predicted_bytes: int, spread: bool) -> list[GpuShare]:
    """v0.30+: one GPU when the prediction fits 80% of it, else llama.cpp's split over all of them."""
    if not spread and len(gpus) > 1:
        best = max(gpus, key=lambda item: item[0].usable_bytes)
        if predicted_bytes <= best[0].usable_bytes * 0.8:  # the others stay idle
            alone = place_llama_server(layout, [best], predicted_bytes, spread)
            return [alone[0] if item is best else GpuShare(item[0].name, item[1], 0, 0) for item in gpus]
    total_free = sum(gpu.usable_bytes for gpu, _ in gpus)
    counts, assigned = [], 0
    for i, (gpu, _) in enumerate(gpus):  # llama.cpp's default tensor split: layers in proportion to free memory
        upto = round(layout.layers * sum(g.usable_bytes for g, _ in gpus[: i + 1]) / total_free) if total_free else 0
        counts.append(upto - assigned)
        assigned = upto
    shares = layout.shares(gpus, counts)
    if all(share.bytes <= share.budget_bytes for share in shares):
        return shares
    counts, left = [0] * len(gpus), layout.layers  # --fit: fill from the last GPU back, the rest on the CPU
    for i in range(len(gpus) - 1, -1, -1):
        counts[i] = min(left, layout.room(gpus[i][1], last=left == layout.layers))
        left -= counts[i]
    return layout.shares(gpus, counts)

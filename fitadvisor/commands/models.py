"""`fitadvisor models`: the catalog, one line per model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fitadvisor.commands.options import json_option
from fitadvisor.commands.output import emit
from fitadvisor.units import format_ctx, format_gb

if TYPE_CHECKING:
    from fitadvisor.models.refresh import Refreshed


@dataclass
class CatalogRows:
    """`models`: one row per catalog model."""

    models: list[dict]

    def to_dict(self) -> dict:
        return {"models": self.models}


@dataclass
class CacheCleared:
    """`models --clear-cache`: the cache folder, and how many files were removed from each of its parts."""

    folder: Path
    removed: dict[str, int]  # manifests, headers and params (the registry's), derived (parsed data, sized catalog, replays)

    def to_dict(self) -> dict:
        return {"cleared": str(self.folder), "removed": self.removed}


@dataclass
class RefreshReport:
    """`models --refresh`: what the registry says changed, model by model."""

    models: list[Refreshed]

    def to_dict(self) -> dict:
        return {"models": [result.to_dict() for result in self.models]}


def rows() -> list[dict]:
    from fitadvisor.models import catalog, verdicts

    rows = []
    for model in catalog.load():
        arch = model.architecture
        rows.append(
            {
                "model": model.reference,
                "tags": [f"{model.name}:{tag}" for tag in model.tags],
                "architecture": arch.name,
                "parameters_b": round(arch.parameters / 1e9, 1),
                "active_parameters_b": round(arch.active_parameters / 1e9, 1),
                "quantization": model.quantization,
                "download_bytes": model.download_bytes,
                "context_length": arch.context_length,
                "layers": arch.layers,
                "tools": model.tools,
                "agentic": model.agentic,
                "failure_kind": verdicts.failure_kind(model.agentic),
                "field_test": model.field_test.to_dict() if model.field_test else None,
                "swe_bench_verified": model.swe_bench_verified,
                "terminal_bench": model.terminal_bench,
                "terminal_bench_version": model.terminal_bench_version,
                "draft_num_predict": model.draft_num_predict,
                "sources": model.sources,
            }
        )
    return rows


@click.command("models")
@click.option("--refresh", is_flag=True, help="Re-read every model from the Ollama registry and report what changed (data/ is not rewritten).")
@click.option("--clear-cache", is_flag=True,
              help="Empty the cache first: registry manifests and GGUF headers (the next query reads them again), and "
                   "what fitadvisor derives from its data (parsed tables, the sized catalog, replayed compute buffers).")
@json_option
def command(as_json: bool, refresh: bool, clear_cache: bool) -> None:
    """List the models fitadvisor knows, with size, trained context and tool support.

    \b
    Example:  fitadvisor models --json
              fitadvisor models --refresh
              fitadvisor models --clear-cache
    """
    if clear_cache:
        cleared = clear_caches()
        if not refresh:
            emit(cleared, render_cleared, as_json)
            return
    if refresh:
        from fitadvisor.models.refresh import refresh as refreshed

        emit(RefreshReport(refreshed()), render_refresh, as_json)
    else:
        emit(CatalogRows(rows()), render, as_json)


def clear_caches() -> CacheCleared:
    from fitadvisor.datafiles import clear_derived
    from fitadvisor.files import cache_dir
    from fitadvisor.models.registry import clear_cache

    return CacheCleared(cache_dir(), {**clear_cache(), "derived": clear_derived()})


def render_cleared(cleared: CacheCleared) -> str:
    removed = cleared.removed
    return (f"Cleared the registry cache in {cleared.folder} (manifests: {removed['manifests']}, GGUF headers: "
            f"{removed['headers']}, params layers: {removed['params']}) and the derived cache (parsed data, the sized "
            f"catalog, replayed compute buffers; files: {removed['derived']}).")


def render(listing: CatalogRows) -> str:
    lines = [f"{'MODEL':<30} {'ARCH':<15} {'PARAMS':>7} {'SIZE':>7} {'CONTEXT':>8} {'TOOLS':<6} {'SWE-V':>6} {'TERM-B':>10}  AGENTIC"]
    for row in listing.models:
        swe = f"{row['swe_bench_verified']:.1f}" if row["swe_bench_verified"] is not None else "-"
        terminal = f"{row['terminal_bench']:.1f} v{row['terminal_bench_version']}" if row["terminal_bench"] is not None else "-"
        params = f"{row['parameters_b']}B"
        lines.append(
            f"{row['model']:<30} {row['architecture']:<15} {params:>7} {format_gb(row['download_bytes']):>7} "
            f"{format_ctx(row['context_length']):>8} {'yes' if row['tools'] else 'no':<6} {swe:>6} {terminal:>10}  {row['agentic']}"
        )
    return "\n".join(lines)


def render_refresh(report: RefreshReport) -> str:
    results = report.models
    lines = []
    for result in results:
        if result.error:
            lines.append(f"{result.model:<30} could not check: {result.error}")
        elif not result.changes:
            lines.append(f"{result.model:<30} unchanged")
        for fact, old, new in result.changes:
            if fact == "download_bytes":
                old, new = format_gb(old), format_gb(new)
            elif fact == "context_length":
                old, new = format_ctx(old), format_ctx(new)
            lines.append(f"{result.model:<30} {fact}: catalog {old}, registry {new}")
    changed = sum(1 for r in results if r.changes)
    lines.append(f"{changed} of {len(results)} models changed; the catalog (data/models.toml) was not modified.")
    return "\n".join(lines)

"""Where a model's architecture comes from, most exact first.

A `.gguf` path is read directly. A name is asked of the local Ollama (`/api/show`: the installed
model, exactly), then looked up in Ollama's local store (a pulled model's blob), then the catalog
(curated, offline), then the registry (any published model, from its manifest and GGUF header).
No server running costs nothing: a refused localhost connection fails at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fitadvisor.errors import FitAdvisorError
from fitadvisor.models.architecture import Architecture

if TYPE_CHECKING:
    from fitadvisor.ollama.client import Client


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # as shown to the user
    architecture: Architecture
    source: str  # "gguf", "ollama", "store", "catalog", "registry"
    download_bytes: int = 0  # what `ollama pull` fetches, where known
    note: str = ""  # how the source answered, for the output
    draft_num_predict: int | None = None  # the model's own PARAMETER draft_num_predict (from its source, where it has one)


def mlx_note(model: str) -> str | None:
    """Why fitadvisor refuses an `-mlx` library tag: a safetensors model, which Ollama runs in its MLX runner, not llama-server
    (server/sched.go `IsMLX`: model format safetensors, @ v0.33.0-rc2; the MLX runner came in v0.16.0)."""
    tag = model.rsplit("/", 1)[-1].partition(":")[2]
    if not tag.lower().endswith("-mlx"):
        return None
    return (f"{model} is an MLX build: Ollama runs it in its MLX runner (Apple Silicon), whose memory follows other rules "
            "than the GGUF engine fitadvisor models, so it cannot estimate it; the same model without -mlx it can")


def resolve_model(name: str, client: Client | None = None) -> ResolvedModel:
    """The architecture of a .gguf path or an Ollama model name, and which source gave it (`client`: the server to ask first)."""
    if name.endswith(".gguf") or Path(name).is_file():
        from fitadvisor.models.gguf import read_architecture

        return ResolvedModel(Path(name).name, read_architecture(Path(name)), "gguf", note=f"read from {name}")

    from fitadvisor.models import catalog, ollama_store
    if mlx_note(name):
        raise FitAdvisorError(mlx_note(name))
    ref = catalog.ModelRef.parse(name)
    if client is not None:
        resolved = _from_ollama(ref, client)
        if resolved:
            return resolved
    skipped: list[str] = []
    stored = ollama_store.find(name, notes=skipped)
    if stored is not None:
        return ResolvedModel(
            ref.short, stored.architecture(), "store", stored.manifest.download_bytes, f"read from Ollama's store at {stored.root}",
            stored.draft_num_predict(),
        )
    model = catalog.find(name)
    if model is not None:
        resolved = ResolvedModel(
            model.reference, model.architecture, "catalog", model.download_bytes, "from fitadvisor's catalog", model.draft_num_predict,
        )
    else:
        resolved = _from_registry(name, ref)
    return replace(resolved, note="; ".join([resolved.note, *skipped])) if skipped else resolved


def _from_ollama(ref, client: Client) -> ResolvedModel | None:
    """The installed model as the running server describes it; None when there is no server or no such model."""
    from fitadvisor.models.architecture import draft_tokens
    from fitadvisor.models.ollama_show import BlankedArray, architecture_from_show
    from fitadvisor.ollama.client import ModelNotFound, OllamaError, OllamaUnreachable

    try:
        show = client.show(ref.short)
        try:
            arch = architecture_from_show(show, _projector_bytes(ref))
        except BlankedArray:  # a per-layer array was blanked: the verbose answer has it
            arch = architecture_from_show(client.show(ref.short, verbose=True), _projector_bytes(ref))
    except (OllamaUnreachable, ModelNotFound):
        return None
    except (OllamaError, FitAdvisorError):
        return None  # not a model Ollama can describe (a cloud model, an old server): the next source may know it
    return ResolvedModel(
        ref.short, arch, "ollama", note=f"from the Ollama server at {client.host}",
        draft_num_predict=draft_tokens(show.parameter("draft_num_predict")),
    )


def _projector_bytes(ref) -> int:
    """/api/show gives a separate projector's keys but not its tensors: size it from the local store."""
    from fitadvisor.models import ollama_store
    from fitadvisor.models.gguf import read_file_header, tensor_bytes

    stored = ollama_store.find(ref.short)
    if stored is None:
        return 0
    return sum(tensor_bytes(read_file_header(path).tensors) for path in stored.projector_paths if path.is_file())


def _from_registry(name: str, ref) -> ResolvedModel:
    from fitadvisor.models import registry

    try:
        remote = registry.fetch(name)
    except (registry.NotInRegistry, registry.RegistryUnreachable) as error:
        _unknown(name, str(error))
    how = "cached header (registry unreachable)" if remote.offline else (
        "cached header" if remote.bytes_transferred == 0 else f"{remote.bytes_transferred / 1e6:.1f} MB of headers read"
    )
    from fitadvisor.units import format_gb

    download = format_gb(remote.download_bytes)
    return ResolvedModel(
        ref.short, remote.architecture, "registry", remote.download_bytes, f"from {remote.registry} ({download} download; {how})",
        remote.draft_num_predict,
    )


def _unknown(name: str, why: str) -> None:
    """The registry's answer, with the catalog's did-you-mean."""
    from fitadvisor.models import catalog

    try:
        catalog.resolve(name)
    except FitAdvisorError as error:
        hint = str(error).partition("catalog.")[2]
        raise FitAdvisorError(f"unknown model {name!r}: {why.rstrip('.')}; it is not in fitadvisor's catalog either.{hint}") from None

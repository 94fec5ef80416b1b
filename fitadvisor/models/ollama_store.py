"""Ollama's local model store: a pulled model's GGUF blobs, found through its manifest.

Layout (`server/manifest.go`, `server/modelpath.go`): `<models>/manifests/<host>/<namespace>/<model>/<tag>`
is the manifest JSON; each layer's blob is `<models>/blobs/sha256-<hex>`. `<models>` is OLLAMA_MODELS,
else `~/.ollama/models` (the Linux service keeps its own under /usr/share/ollama).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fitadvisor import bounded
from fitadvisor.errors import FitAdvisorError
from fitadvisor.files import read_regular
from fitadvisor.models.architecture import Architecture
from fitadvisor.models.catalog import ModelRef
from fitadvisor.models.manifest import MAX_MANIFEST, MAX_PARAMS, Manifest, params_draft_num_predict

_LINUX_SERVICE_STORE = Path("/usr/share/ollama/.ollama/models")


def store_roots() -> list[Path]:
    configured = os.environ.get("OLLAMA_MODELS")
    if configured:
        return [Path(configured).expanduser()]
    return [Path.home() / ".ollama" / "models", _LINUX_SERVICE_STORE]


@dataclass(frozen=True)
class StoredModel:
    ref: ModelRef
    root: Path
    manifest: Manifest

    @property
    def model_path(self) -> Path:
        return self.root / "blobs" / self.manifest.model.blob_name

    @property
    def projector_paths(self) -> list[Path]:
        return [self.root / "blobs" / layer.blob_name for layer in self.manifest.projectors]

    def draft_num_predict(self) -> int | None:
        """The model's own PARAMETER draft_num_predict, from its params layer (None: unset, or a layer that cannot be read)."""
        layer = self.manifest.params
        if layer is None:
            return None
        try:  # never opened blocking: a FIFO in the store is refused, not waited on
            text, _ = read_regular(self.root / "blobs" / layer.blob_name, MAX_PARAMS)
        except (OSError, FitAdvisorError):
            return None
        return params_draft_num_predict(text.encode("utf-8", "surrogateescape")) if text else None

    def architecture(self) -> Architecture:
        from fitadvisor.models.gguf import (
            architecture_from_kv,
            read_file_header,
            tensor_bytes,
        )

        for path in (self.model_path, *self.projector_paths):
            if not path.is_file():
                raise FitAdvisorError(
                    f"Ollama's store lists {path.name} for {self.ref.short} but the blob is missing: `ollama pull {self.ref.short}` again"
                )
        header = read_file_header(self.model_path)
        projector = sum(tensor_bytes(read_file_header(path).tensors) for path in self.projector_paths)
        return architecture_from_kv(header.kv, header.tensors, projector)


def find(name: str, roots: list[Path] | None = None, notes: list[str] | None = None) -> StoredModel | None:
    """The pulled model `name` resolves to, or None when no store has it.

    A store this user may not read (the Linux service's /usr/share/ollama is 0750) is skipped, with
    a line saying so added to `notes`.
    """
    ref = ModelRef.parse(name)
    for root in roots if roots is not None else store_roots():
        try:
            path = _manifest_path(root, ref)
        except PermissionError:
            if notes is not None:
                notes.append(f"Ollama's store at {root} is not readable by this user, so it was skipped")
            continue
        if path is None:
            continue
        try:
            with open(path, "rb") as file:
                data = bounded.loads(file.read(MAX_MANIFEST + 1))
        except (OSError, ValueError):
            raise FitAdvisorError(f"Ollama's manifest {path} is unreadable: `ollama pull {ref.short}` again") from None
        return StoredModel(ref, root, Manifest.parse(data, f"Ollama's manifest {path}"))
    return None


def _manifest_path(root: Path, ref: ModelRef) -> Path | None:
    """The manifest file, matching names case-insensitively as Ollama does."""
    path = root / "manifests"
    for part in (ref.host, ref.namespace, ref.model, ref.tag):
        exact = path / part
        if exact.exists():
            path = exact
            continue
        try:
            matches = [entry for entry in path.iterdir() if entry.name.lower() == part]
        except PermissionError:
            raise
        except OSError:
            return None
        if not matches:
            return None
        path = matches[0]
    return path if path.is_file() else None

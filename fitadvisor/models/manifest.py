"""Ollama model manifests (OCI image manifests): which blobs make a model, and how big they are.

The same JSON sits in Ollama's local store and comes from the registry:
`{"schemaVersion": 2, "config": {...}, "layers": [{"mediaType", "digest", "size"}, ...]}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fitadvisor.errors import FitAdvisorError

MODEL = "application/vnd.ollama.image.model"
PROJECTOR = "application/vnd.ollama.image.projector"
ADAPTER = "application/vnd.ollama.image.adapter"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Layer:
    media_type: str
    digest: str  # "sha256:<64 hex>", validated: it becomes a file name
    size: int

    @property
    def kind(self) -> str:
        """"model", "projector", "template", "params", "license", ... (the media type's last part)."""
        return self.media_type.rsplit(".", 1)[-1]

    @property
    def blob_name(self) -> str:
        return self.digest.replace(":", "-")


@dataclass(frozen=True)
class Manifest:
    layers: tuple[Layer, ...]
    config_size: int = 0

    @classmethod
    def parse(cls, data: object, label: str) -> Manifest:
        try:
            layers = tuple(
                Layer(str(layer["mediaType"]), str(layer["digest"]), int(layer["size"])) for layer in data["layers"]
            )
            config_size = int((data.get("config") or {}).get("size", 0))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise FitAdvisorError(f"{label} is not an Ollama model manifest") from None
        for layer in layers:
            if not _DIGEST.match(layer.digest) or layer.size < 0:
                raise FitAdvisorError(f"{label} lists a malformed layer digest {layer.digest[:80]!r}")
        return cls(layers, config_size)

    @property
    def model(self) -> Layer:
        for layer in self.layers:
            if layer.media_type == MODEL:
                return layer
        raise FitAdvisorError("the manifest has no model layer: it is not a GGUF model (an embedding-only or cloud model?)")

    @property
    def projectors(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in self.layers if layer.media_type == PROJECTOR)

    @property
    def download_bytes(self) -> int:
        """What `ollama pull` downloads: every layer plus the config blob."""
        return sum(layer.size for layer in self.layers) + self.config_size

    def sizes_by_kind(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for layer in self.layers:
            sizes[layer.kind] = sizes.get(layer.kind, 0) + layer.size
        return sizes

"""Ollama model manifests (OCI image manifests): which blobs make a model, and how big they are.

The same JSON sits in Ollama's local store and comes from the registry:
`{"schemaVersion": 2, "config": {...}, "layers": [{"mediaType", "digest", "size"}, ...]}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fitadvisor import bounded
from fitadvisor.bounded import MAX_MODEL_BYTES
from fitadvisor.errors import FitAdvisorError
from fitadvisor.models.architecture import draft_tokens

MODEL = "application/vnd.ollama.image.model"
PROJECTOR = "application/vnd.ollama.image.projector"
ADAPTER = "application/vnd.ollama.image.adapter"
PARAMS = "application/vnd.ollama.image.params"  # the Modelfile's PARAMETERs as a JSON object
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")
MAX_MANIFEST = 1024 * 1024  # bytes of manifest JSON read at most; a real one is ~1 KB
MAX_LAYERS = 1024  # a model has a handful (model, projector, template, params, license)
MAX_PARAMS = 64 * 1024  # bytes of a params layer read at most; a real one is a few hundred


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
            entries = data["layers"]
            if not isinstance(entries, list) or len(entries) > MAX_LAYERS:
                raise TypeError
            layers = tuple(Layer(layer["mediaType"], layer["digest"], layer["size"]) for layer in entries)
            config_size = (data.get("config") or {}).get("size", 0)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise FitAdvisorError(f"{label} is not an Ollama model manifest") from None
        for layer in layers:
            if not isinstance(layer.digest, str) or not _DIGEST.match(layer.digest):
                raise FitAdvisorError(f"{label} lists a malformed layer digest {str(layer.digest)[:80]!r}")
            if not isinstance(layer.media_type, str) or len(layer.media_type) > 256:
                raise FitAdvisorError(f"{label} lists a layer whose mediaType is {str(layer.media_type)[:80]!r}")
            _check_size(layer.size, f"{label}: layer {layer.digest[:19]}'s size")
        _check_size(config_size, f"{label}: the config's size")
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
    def params(self) -> Layer | None:
        return next((layer for layer in self.layers if layer.media_type == PARAMS), None)

    @property
    def download_bytes(self) -> int:
        """What `ollama pull` downloads: every layer plus the config blob."""
        return sum(layer.size for layer in self.layers) + self.config_size

    def sizes_by_kind(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for layer in self.layers:
            sizes[layer.kind] = sizes.get(layer.kind, 0) + layer.size
        return sizes


def _check_size(size: object, what: str) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_MODEL_BYTES:
        raise FitAdvisorError(f"{what} is {str(size)[:40]}, not a size from 0 to 16 TiB")


def params_draft_num_predict(blob: bytes) -> int | None:
    """The model's own PARAMETER draft_num_predict from its params layer (a JSON object of options); None when unset,
    or when the blob is too large, not JSON or not an object."""
    if len(blob) > MAX_PARAMS:
        return None
    try:
        params = bounded.loads(blob)
    except ValueError:
        return None
    return draft_tokens(params.get("draft_num_predict")) if isinstance(params, dict) else None

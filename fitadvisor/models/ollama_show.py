"""The Architecture of an installed model, from Ollama's `/api/show`.

`model_info` holds the model blob's GGUF keys and `tensors` its tensor table (name, type, shape),
so this goes through the same `architecture_from_kv` as a GGUF file. Without `verbose`, Ollama
blanks every array longer than five elements to `[]`; when a per-layer array the architecture
needs came back blanked, `BlankedArray` tells the caller to ask again with `verbose=True`.
"""

from __future__ import annotations

from dataclasses import replace

from fitadvisor.errors import FitAdvisorError
from fitadvisor.models.architecture import Architecture
from fitadvisor.models.gguf import BlankedArray, TensorInfo, architecture_from_kv

__all__ = ["BlankedArray", "architecture_from_show"]


def architecture_from_show(show: dict, projector_bytes: int = 0) -> Architecture:
    info = show.get("model_info")
    tensors = show.get("tensors")
    if not isinstance(info, dict) or not info:
        raise FitAdvisorError("Ollama's /api/show sent no model_info for this model (is it a GGUF model?)")
    if not isinstance(tensors, list) or not tensors:
        raise FitAdvisorError("Ollama's /api/show sent no tensor table: upgrade Ollama (0.6.1 or later sends it)")
    try:
        table = [TensorInfo(str(t["name"]), tuple(int(d) for d in t["shape"]), str(t["type"])) for t in tensors]
    except (KeyError, TypeError, ValueError):
        raise FitAdvisorError("Ollama's /api/show sent a malformed tensor table") from None
    arch = architecture_from_kv(info, table, projector_bytes)
    last = f"blk.{arch.block_count - 1}."
    if not any(t.name.startswith(last) for t in table):
        raise FitAdvisorError(f"Ollama's /api/show sent a tensor table without the {arch.name} model's last block: it is incomplete")
    if show.get("projector_info") and not arch.vision:  # a llava-style projector blob
        arch = replace(arch, vision=True)
    return arch

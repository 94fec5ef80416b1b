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
from fitadvisor.ollama.responses import ShowInfo

__all__ = ["BlankedArray", "architecture_from_show"]


def architecture_from_show(show: ShowInfo, projector_bytes: int = 0) -> Architecture:
    if not show.model_info:
        raise FitAdvisorError("Ollama's /api/show sent no model_info for this model (is it a GGUF model?)")
    if not show.tensors:
        raise FitAdvisorError("Ollama's /api/show sent no tensor table: upgrade Ollama (0.6.1 or later sends it)")
    table = [TensorInfo(t.name, t.shape, t.type) for t in show.tensors]
    arch = architecture_from_kv(show.model_info, table, projector_bytes)
    last = f"blk.{arch.block_count - 1}."
    if not any(t.name.startswith(last) for t in table):
        raise FitAdvisorError(f"Ollama's /api/show sent a tensor table without the {arch.name} model's last block: it is incomplete")
    if show.has_projector and not arch.vision:  # a llava-style projector blob
        arch = replace(arch, vision=True)
    return arch

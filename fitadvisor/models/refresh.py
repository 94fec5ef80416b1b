"""`fitadvisor models --refresh`: the catalog's models re-read from the registry, changes reported.

Nothing under data/ is rewritten: the report says what a catalog maintainer should update.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

SIZE_TOLERANCE = 0.02  # catalog download sizes are rounded (often to the GB Ollama's site shows)
# Architecture facts compared exactly: what the estimate depends on.
_EXACT = ("context_length", "block_count", "layers", "head_count_kv", "key_length", "value_length", "sliding_window", "expert_count")


@dataclass
class Refreshed:
    model: str
    changes: list[tuple[str, object, object]] = field(default_factory=list)  # (fact, catalog, registry)
    error: str = ""

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "changes": [{"fact": fact, "catalog": old, "registry": new} for fact, old, new in self.changes],
            "error": self.error or None,
        }


def refresh(fetch: Callable | None = None) -> list[Refreshed]:
    """Each catalog model's facts against the registry's manifest and GGUF header."""
    from fitadvisor.errors import FitAdvisorError
    from fitadvisor.models import catalog
    from fitadvisor.models.registry import RegistryUnreachable
    from fitadvisor.models.registry import fetch as registry_fetch

    fetch = fetch or registry_fetch
    results = []
    for model in catalog.load():
        result = Refreshed(model.reference)
        try:
            remote = fetch(model.reference, refresh=True)
            arch = remote.architecture
        except RegistryUnreachable:
            raise  # no model can be checked: one error, not one per model
        except FitAdvisorError as error:
            result.error = str(error)
            results.append(result)
            continue
        if abs(remote.download_bytes - model.download_bytes) > SIZE_TOLERANCE * model.download_bytes:
            result.changes.append(("download_bytes", model.download_bytes, remote.download_bytes))
        for fact in _EXACT:
            old, new = getattr(model.architecture, fact), getattr(arch, fact)
            if old != new:
                result.changes.append((fact, old, new))
        results.append(result)
    return results

"""bench/engine's scripts, loaded as modules for the tests (their names, run and trace, are too generic to import)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parent.parent / "bench" / "engine"


def load(script: str) -> ModuleType:
    """bench/engine/`script`.py as the module `engine_<script>`, with bench/engine importable beside it."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    name = f"engine_{script}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module

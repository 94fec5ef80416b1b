"""The Ollama server variables that change memory, read the way Ollama's `envconfig` reads them.

Only this shell's environment is visible: a server started by systemd, launchd or the desktop app
has its own, so callers say so when they report these values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

KV_CACHE_TYPES = ("f16", "q8_0", "q4_0")  # what OLLAMA_KV_CACHE_TYPE accepts
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}  # Go's strconv.ParseBool
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


@dataclass(frozen=True)
class ServerSettings:
    """The server's settings that change what a model loads, Ollama's defaults unless given.

    One concept in two uses: `ServerEnv`, the settings as this shell's variables give them, and the
    estimator's `memory.estimate.Settings`, which adds the context, batch and release of one estimate.
    """

    kv_cache_type: str = "f16"  # OLLAMA_KV_CACHE_TYPE: f16, q8_0, q4_0
    flash_attention: str = "auto"  # OLLAMA_FLASH_ATTENTION: auto (unset), on (1), off (0)
    parallel: int = 1  # OLLAMA_NUM_PARALLEL

    def server_settings(self) -> dict[str, str | int]:
        """These settings by field name, to build another kind of settings from them."""
        return {name: getattr(self, name) for name in ServerSettings.__dataclass_fields__}


@dataclass(frozen=True)
class ServerEnv(ServerSettings):
    """The server's settings as this shell's OLLAMA_* variables give them, and what else those say."""

    context_length: int | None = None  # OLLAMA_CONTEXT_LENGTH; None when unset or 0 (the server's default)
    set_names: tuple[str, ...] = ()  # the variables that are set
    problems: tuple[str, ...] = ()  # values Ollama ignores or reads differently than intended


def _var(environ: Mapping[str, str], name: str) -> str:
    """envconfig.Var: the value with surrounding quotes and spaces trimmed."""
    return environ.get(name, "").strip().strip("\"'").strip()


def read(environ: Mapping[str, str] | None = None) -> ServerEnv:
    environ = os.environ if environ is None else environ
    problems = []
    set_names = tuple(
        name for name in ("OLLAMA_CONTEXT_LENGTH", "OLLAMA_KV_CACHE_TYPE", "OLLAMA_FLASH_ATTENTION", "OLLAMA_NUM_PARALLEL")
        if _var(environ, name)
    )

    kv = _var(environ, "OLLAMA_KV_CACHE_TYPE").lower() or "f16"
    if kv not in KV_CACHE_TYPES:
        problems.append(f"OLLAMA_KV_CACHE_TYPE={kv} is not a cache type Ollama knows: it uses f16 (set f16, q8_0 or q4_0)")
        kv = "f16"

    fa_text = _var(environ, "OLLAMA_FLASH_ATTENTION")
    if not fa_text:
        flash_attention = "auto"
    elif fa_text in _FALSE:
        flash_attention = "off"
    else:
        flash_attention = "on"
        if fa_text not in _TRUE:  # BoolWithDefault reads anything unparseable as true
            problems.append(f"OLLAMA_FLASH_ATTENTION={fa_text} is not a boolean: Ollama reads it as 1 (set 1 or 0)")

    parallel = _uint(environ, "OLLAMA_NUM_PARALLEL", problems) or 1
    context_length = _uint(environ, "OLLAMA_CONTEXT_LENGTH", problems) or None
    return ServerEnv(kv, flash_attention, parallel, context_length=context_length, set_names=set_names, problems=tuple(problems))


def _uint(environ: Mapping[str, str], name: str, problems: list[str]) -> int | None:
    text = _var(environ, name)
    if not text:
        return None
    if not text.isdigit():
        problems.append(f"{name}={text} is not a whole number: Ollama ignores it")
        return None
    return int(text)

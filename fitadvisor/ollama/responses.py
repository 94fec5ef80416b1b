"""Ollama's answers as typed values, checked where they enter (shapes: api/types.go, shared/reference/ollama.md §1).

A wrong type, a negative or absurd size or a non-finite number is one `MalformedAnswer` naming the
endpoint and the field. In lists (`/api/tags`, `/api/ps`) a bad entry is left out with its reason in
`Listing.rejected`, and the rest goes on.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from fitadvisor.bounded import MAX_MODEL_BYTES
from fitadvisor.ollama.errors import MalformedAnswer
from fitadvisor.units import processor_label

MAX_NAME = 512  # a model reference: host/namespace/model:tag; Ollama's own limits are far below this
MAX_TEXT = 1 << 20  # a Modelfile's parameters text, a string GGUF value in model_info
MAX_DIM = 1 << 40  # one tensor dimension
# A model reference as Ollama's types/model/name.go allows its parts (host[:port]/namespace/model:tag).
_MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/\-]{0,511}\Z")
_VERSION = re.compile(r"v?\d{1,6}\.\d{1,6}(?:\.\d{1,6})?(?:[-+][0-9A-Za-z.\-+]{0,40})?\Z")

T = TypeVar("T")


MAX_REASONS = 20  # reasons kept for rejected entries; the rest are counted


class Listing(list, Generic[T]):
    """The valid entries of a list answer; `rejected` says which entries were left out and why (the
    first MAX_REASONS, then how many more)."""

    def __init__(self, entries=(), rejected: list[str] | None = None):
        super().__init__(entries)
        self.rejected: list[str] = rejected or []


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Fields:
    """Typed access to one JSON object of an answer; every error names `where` and the field."""

    def __init__(self, data, where: str):
        if not isinstance(data, dict):
            raise MalformedAnswer(f"{where} is {_describe(data)}, not an object")
        self.data, self.where = data, where

    def fail(self, key: str, value, want: str) -> MalformedAnswer:
        return MalformedAnswer(f"{self.where} has {key} = {_describe(value)}, not {want}")

    def text(self, key: str, default: str | None = "", limit: int = MAX_TEXT) -> str:
        value = self.data.get(key)
        if value is None and default is not None:
            return default
        if not isinstance(value, str) or len(value) > limit:
            raise self.fail(key, value, f"a string of at most {limit} characters")
        return value

    def size(self, key: str, default: int | None = None, upper: int = MAX_MODEL_BYTES) -> int | None:
        value = self.data.get(key)
        if value is None:
            if default is None and key not in self.data:
                raise self.fail(key, value, "a size")
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= upper:
            raise self.fail(key, value, f"a whole number from 0 to {upper}")
        return value

    def model_name(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not _MODEL_NAME.match(value):
            raise self.fail(key, value, "a model name (letters, digits, '_', '-', '.', ':' and '/')")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= MAX_NAME for v in value):
            raise self.fail(key, value, "a list of names")
        return tuple(value)

    def object(self, key: str) -> _Fields:
        value = self.data.get(key)
        return _Fields({} if value is None else value, f"{self.where}'s {key}")


def version(data, where: str = "/api/version") -> str:
    """The `version` of /api/version: a release number such as 0.14.0 (at most a short suffix)."""
    text = _Fields(data, where).text("version", default=None, limit=80)
    if not _VERSION.match(text):
        raise MalformedAnswer(f"{where} has version = {_describe(text)}, not a release number such as 0.14.0")
    return text


@dataclass(frozen=True)
class ShowTensor:
    name: str
    type: str  # ggml type name ("Q4_K")
    shape: tuple[int, ...]


# A GGUF value in model_info: a string, a finite number, a bool, or a flat list of them.
ModelInfoValue = str | int | float | bool | list


@dataclass(frozen=True)
class ShowInfo:
    """`/api/show`: what the architecture, verify, doctor and apply read."""

    model_info: dict[str, ModelInfoValue]  # the model blob's GGUF keys (arrays blanked to [] unless verbose)
    tensors: tuple[ShowTensor, ...] = ()
    capabilities: tuple[str, ...] = ()
    parameters: str = ""  # the Modelfile's PARAMETER lines, `fmt.Sprintf("%-30s %#v")` each
    parent_model: str = ""
    has_projector: bool = False  # a separate (llava-style) projector blob
    capabilities_known: bool = True  # False: the server predates `capabilities` (before 0.6.4)

    @classmethod
    def parse(cls, data, where: str = "/api/show") -> ShowInfo:
        fields = _Fields(data, where)
        info = _model_info(fields.data.get("model_info"), f"{where}'s model_info")
        tensors = _tensors(fields.data.get("tensors"), where)
        return cls(
            model_info=info,
            tensors=tensors,
            capabilities=fields.strings("capabilities"),
            parameters=fields.text("parameters"),
            parent_model=fields.object("details").text("parent_model", limit=MAX_NAME),
            has_projector=bool(fields.data.get("projector_info")),
            capabilities_known="capabilities" in fields.data,
        )

    @property
    def tools(self) -> bool:
        return "tools" in self.capabilities

    def parameter(self, name: str) -> str | None:
        """A value from `parameters`; the last line for `name` wins."""
        value = None
        for line in self.parameters.splitlines():
            key, _, rest = line.strip().partition(" ")
            if key == name:
                value = rest.strip().strip('"')
        return value

    @property
    def num_ctx(self) -> int | None:
        """The Modelfile's PARAMETER num_ctx, when it sets a sensible one."""
        value = self.parameter("num_ctx")
        return int(value) if value and value.isdigit() and len(value) <= 12 and int(value) > 0 else None

    @property
    def architecture(self) -> str:
        value = self.model_info.get("general.architecture")
        return value if isinstance(value, str) else ""

    @property
    def trained_context(self) -> int | None:
        value = self.model_info.get(f"{self.architecture}.context_length") if self.architecture else None
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _model_info(value, where: str) -> dict[str, ModelInfoValue]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedAnswer(f"{where} is {_describe(value)}, not an object")
    for key, item in value.items():
        if len(key) > MAX_NAME:
            raise MalformedAnswer(f"{where} has a key of {len(key)} characters")
        problem = _scalar_problem(item) if not isinstance(item, list) else next(
            (p for v in item if (p := _scalar_problem(v))), None
        )
        if problem:
            raise MalformedAnswer(f"{where} has {key} = {_describe(item)}: {problem}")
    return value


def _scalar_problem(value) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return "not a finite number"
    if isinstance(value, str):
        return None if len(value) <= MAX_TEXT else "a string too long"
    if isinstance(value, (bool, int, float)):
        return None
    return "not a GGUF value (a string, number or bool)"


def _tensors(value, where: str) -> tuple[ShowTensor, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedAnswer(f"{where} has a malformed tensor table: {_describe(value)}, not a list")
    tensors = []
    for index, entry in enumerate(value):
        try:
            fields = _Fields(entry, f"entry {index + 1}")
            shape = fields.data.get("shape")
            if not isinstance(shape, list) or len(shape) > 8 or not all(
                isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= MAX_DIM for d in shape
            ):
                raise fields.fail("shape", shape, "up to 8 whole numbers from 0 to 2^40")
            name, type_name = fields.text("name", default=None, limit=MAX_NAME), fields.text("type", default=None, limit=32)
        except MalformedAnswer as error:
            raise MalformedAnswer(f"{where} has a malformed tensor table: {error}") from None
        tensors.append(ShowTensor(name, type_name, tuple(shape)))
    return tuple(tensors)


@dataclass(frozen=True)
class TagEntry:
    """One installed model from `/api/tags`."""

    name: str
    size: int = 0  # bytes on disk
    digest: str = ""
    capabilities: tuple[str, ...] | None = None  # listed since v0.30; None before

    @classmethod
    def parse(cls, data, where: str) -> TagEntry:
        fields = _Fields(data, where)
        name = fields.model_name("name" if fields.data.get("name") is not None else "model")
        capabilities = fields.strings("capabilities") if "capabilities" in fields.data else None
        return cls(name, fields.size("size", default=0), fields.text("digest", limit=MAX_NAME), capabilities)


@dataclass(frozen=True)
class RunningModel:
    """One entry of `/api/ps`: what Ollama really loaded."""

    name: str
    size: int  # bytes, CPU + GPU
    size_vram: int  # bytes on the GPU
    context_length: int | None  # per slot, after capping (v0.10+)
    digest: str = ""

    @classmethod
    def parse(cls, data, where: str) -> RunningModel:
        fields = _Fields(data, where)
        name = fields.model_name("name")
        size = fields.size("size")
        size_vram = fields.size("size_vram")
        if size_vram > size:
            raise MalformedAnswer(f"{where} has size_vram {size_vram} above its size {size}")
        context = fields.size("context_length", default=0, upper=1 << 32) or None
        return cls(name, size, size_vram, context, fields.text("digest", limit=MAX_NAME))

    @property
    def processor(self) -> str:
        """The PROCESSOR column of `ollama ps`."""
        return processor_label(self.size, self.size_vram)


MAX_DURATION_NS = 10**9 * 86_400  # a day, in Ollama's nanoseconds
MAX_TOKENS = 1 << 32


@dataclass(frozen=True)
class Timings:
    """Ollama's own timings of one answer (api/types.go `Metrics`, durations in nanoseconds; v0.33.0-rc2).

    Fields Ollama leaves out (omitempty) are 0; a rate is None where its count or duration is.
    """

    prompt_eval_count: int
    prompt_eval_duration: int
    eval_count: int
    eval_duration: int

    @classmethod
    def parse(cls, data, where: str) -> Timings:
        fields = _Fields(data, where)
        counts = {key: fields.size(key, default=0, upper=MAX_TOKENS) for key in ("prompt_eval_count", "eval_count")}
        durations = {key: fields.size(key, default=0, upper=MAX_DURATION_NS) for key in ("prompt_eval_duration", "eval_duration")}
        return cls(counts["prompt_eval_count"], durations["prompt_eval_duration"], counts["eval_count"], durations["eval_duration"])

    @property
    def decode_tokens_per_second(self) -> float | None:
        return self.eval_count / (self.eval_duration / 1e9) if self.eval_count and self.eval_duration else None

    @property
    def prompt_tokens_per_second(self) -> float | None:
        return self.prompt_eval_count / (self.prompt_eval_duration / 1e9) if self.prompt_eval_count and self.prompt_eval_duration else None


def listing(data, key: str, parse, where: str) -> Listing:
    """The `key` list of an answer, each entry parsed; bad entries rejected with their reason."""
    items = _Fields(data, where).data.get(key)
    if not isinstance(items, list):
        raise MalformedAnswer(f"{where} has no {key!r} list")
    result: Listing = Listing()
    more = 0
    for index, item in enumerate(items):
        try:
            result.append(parse(item, f"{where} entry {index + 1}"))
        except MalformedAnswer as error:
            if len(result.rejected) < MAX_REASONS:
                result.rejected.append(str(error))
            else:
                more += 1
    if more:
        result.rejected.append(f"{where}: {more} more entries of the wrong shape")
    return result


__all__ = ["Listing", "MalformedAnswer", "RunningModel", "ShowInfo", "ShowTensor", "TagEntry", "Timings", "listing", "version"]

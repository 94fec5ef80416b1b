"""Whether a model works in Claude Code: the verdict vocabulary of the field notes and of `fitadvisor trial`.

One word per outcome, shared by the catalog (`agentic` in data/models.toml), `recommend` and `trial`:
three kinds of success and the field's kinds of failure, each with the words a user reads. The kinds come
from "Ollama Models in Claude Code" (field notes, 2026-01-15), its results table and failure-mode taxonomy.
"""

from __future__ import annotations

from dataclasses import dataclass

UNTESTED = "untested"


@dataclass(frozen=True)
class Verdict:
    key: str  # the stable word in JSON and data/models.toml
    works: bool  # a success kind: the model did the task
    meaning: str  # what it means, in a user's words


VERDICTS: dict[str, Verdict] = {
    v.key: v
    for v in (
        Verdict("completed", True, "completed the task"),
        Verdict("completed-lazy", True, "completed the task, but lazily (few tool calls, details it did not check)"),
        Verdict("partial", True, "completed the task only after a nudge"),
        Verdict("refuses", False, "refuses the task"),
        Verdict("hallucinates-content", False, "answers without calling tools, inventing what it did not read"),
        Verdict("invents-tools", False, "calls tools that do not exist"),
        Verdict("invents-parameters", False, "invents tool parameters"),
        Verdict("narrates-tools", False, "narrates tool calls instead of making them"),
        Verdict("stuck-on-subagent", False, "keeps calling the Explore sub-agent and stops"),
        Verdict("context-stall", False, "explores, then stalls before writing anything"),
        Verdict("nested-parameters", False, 'nests tool arguments under "parameters"'),
        Verdict("silent", False, "produces no output at all"),
        Verdict("no-tool-support", False, "no tool support in Ollama"),
        Verdict(UNTESTED, False, "untested with Claude Code"),
    )
}
SUCCESSES = tuple(key for key, v in VERDICTS.items() if v.works)
FAILURES = tuple(key for key, v in VERDICTS.items() if not v.works and key != UNTESTED)


def check(key: str) -> str:
    """`key` if it is a verdict word, else ValueError (a damaged catalog or store)."""
    if key not in VERDICTS:
        raise ValueError(f"unknown verdict {key!r}")
    return key


def failure_kind(key: str) -> str | None:
    """The failure kind a verdict names, None for a success or untested."""
    return key if key in FAILURES else None


def is_failure(key: str) -> bool:
    return key in FAILURES


def is_proven(key: str) -> bool:
    return key in SUCCESSES


def meaning(key: str) -> str:
    return VERDICTS[key].meaning if key in VERDICTS else key

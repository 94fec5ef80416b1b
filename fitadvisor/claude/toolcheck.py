"""The tool-call check: one exchange the way Claude Code drives a model, and what the model did with it.

Claude Code sends its tools through `/v1/messages` and needs a `tool_use` block with valid arguments,
then an answer that goes on from the tool's result. Models fail this in a handful of ways (no call,
the call narrated as text, invented or nested arguments, an unknown tool, tools refused by Ollama);
each has a verdict and what it means in Claude Code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from fitadvisor.ollama.client import Client, OllamaError

VERDICTS = ("ok", "no-tool-call", "narrated", "bad-arguments", "nested-arguments", "unknown-tool", "unsupported")
MEANING = {
    "ok": "the model called a known tool with valid arguments: Claude Code can drive it.",
    "no-tool-call": "the model answered without calling a tool: in Claude Code it will describe work instead of doing it.",
    "narrated": "the model wrote the call out as text instead of a tool_use block: Claude Code shows the text and runs "
    "nothing (usually the model's template lacks tool support: re-pull it or pick another tag).",
    "bad-arguments": "the model called the tool with missing or invented parameters: Claude Code rejects the call "
    "and the model tends to retry in a loop.",
    "nested-arguments": 'the model wrapped its arguments as {"tool_name": ..., "parameters": {...}}: Claude Code '
    "rejects every such call.",
    "unknown-tool": "the model called a tool that does not exist: Claude Code answers that no such tool is available.",
    "unsupported": "Ollama refuses tools for this model (its template has no tool support): Claude Code fails on the "
    "first request with 400 \"does not support tools\". Pick a model whose `ollama show` lists tools.",
}


def _tool(name: str, description: str, required: str, **properties: tuple[str, str]) -> dict:
    """A tool as Claude Code defines it for /v1/messages: each parameter (JSON type, description), one required."""
    return {
        "name": name,
        "description": description,
        "input_schema": {
            "type": "object",
            "properties": {key: {"type": kind, "description": text} for key, (kind, text) in properties.items()},
            "required": [required],
            "additionalProperties": False,
        },
    }


# Three of Claude Code's own tools, as it defines them (required parameters, JSON Schema).
CHECK_TOOLS = [
    _tool("Read", "Reads a file from the local filesystem and returns its contents with line numbers.", "file_path",
          file_path=("string", "The path of the file to read"), offset=("integer", "The line number to start reading from"),
          limit=("integer", "The number of lines to read")),
    _tool("Bash", "Executes a bash command and returns its output.", "command",
          command=("string", "The command to execute"), timeout=("integer", "Optional timeout in milliseconds")),
    _tool("Glob", "Finds files whose paths match a glob pattern such as **/*.py.", "pattern",
          pattern=("string", "The glob pattern to match files against"), path=("string", "The directory to search in")),
]
CHECK_SYSTEM = (
    "You are an interactive CLI tool that helps users with software engineering tasks. You can only see "
    "files and run commands through the tools you are given. When a task needs a file's contents, call "
    "the appropriate tool; never guess the contents."
)
CHECK_TASK = "What does the first line of README.md in the current directory say?"
CHECK_RESULT = "     1\t# fitadvisor tool check: the answer is 7319\n"
CHECK_MAX_TOKENS = 4096  # enough for a thinking model to reach its call, bounded so a slow machine finishes

_NAME_KEYS = {"tool_name", "name", "tool", "function", "function_name"}
_ARGUMENT_KEYS = {"parameters", "arguments", "input", "args"}
_NARRATION_MARKERS = ("<tool_call>", "[TOOL_CALLS]", "<|tool_call", "<function", "<tool_use>", '"tool_calls"')
NARRATION_WINDOW = 32 * 1024  # characters of an answer searched for a call written as text (4096 tokens: ~16 KB)


@dataclass
class ToolCheck:
    verdict: str
    detail: str
    continues: bool | None = None  # None: not tried (no valid call to answer)
    continuation: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict == "ok" and self.continues is True

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "detail": self.detail, "meaning": MEANING[self.verdict],
                "continues": self.continues, "continuation": self.continuation}


def tool_check(client: Client, model: str) -> ToolCheck:
    """One exchange the way Claude Code drives a model: a task that needs a tool, then the tool's result."""
    request = {
        "model": model, "max_tokens": CHECK_MAX_TOKENS, "system": [{"type": "text", "text": CHECK_SYSTEM}],
        "tools": CHECK_TOOLS, "messages": [{"role": "user", "content": CHECK_TASK}],
    }
    try:
        answer = client.messages(request)
    except OllamaError as error:
        if "does not support tools" in str(error):
            refusal = str(error).split("answered: ", 1)[-1]
            return ToolCheck("unsupported", f"was refused: Ollama answered {refusal!r}")
        raise
    content = _content(answer)
    verdict, detail = classify(content, CHECK_TOOLS)
    if answer.get("stop_reason") == "max_tokens" and verdict == "no-tool-call":
        detail += f" (it stopped at the {CHECK_MAX_TOKENS}-token limit)"
    check = ToolCheck(verdict, detail)
    if verdict == "ok":
        call = next(block for block in content if block.get("type") == "tool_use")
        follow_up = {
            **request,
            "messages": [
                *request["messages"],
                {"role": "assistant", "content": content},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.get("id", ""), "content": CHECK_RESULT}]},
            ],
        }
        check.continues, check.continuation = _continues(_content(client.messages(follow_up)), call)
    return check


def _content(answer: dict) -> list[dict]:
    content = answer.get("content")
    if not isinstance(content, list):
        raise OllamaError("Ollama's /v1/messages answer has no content list: is this an Anthropic-compatible server?")
    return [block for block in content if isinstance(block, dict)]


def classify(content: list[dict], tools: list[dict]) -> tuple[str, str]:
    """The verdict for a model's answer to a task that needs a tool, and what it did."""
    known = {tool["name"]: tool for tool in tools}
    calls = [block for block in content if block.get("type") == "tool_use"]
    if calls:
        call = calls[0]
        name, arguments = call.get("name"), call.get("input")
        if not isinstance(name, str) or name not in known:
            return "unknown-tool", f"called {_shown(name)}, which is not one of {', '.join(known)}"
        schema = known[name].get("input_schema", {})
        properties = set(schema.get("properties", {}))
        if not isinstance(arguments, dict):
            return "bad-arguments", f"called {name} with {_shown(arguments)}, which is not an object"
        if nested_arguments(arguments, properties):
            return "nested-arguments", f"called {name} with {_shown(arguments)}"
        missing = sorted(set(schema.get("required", [])) - set(arguments))
        invented = sorted(set(arguments) - properties)
        if missing or invented:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"invented {', '.join(invented[:10])}"] if invented else [])
            return "bad-arguments", f"called {name} with {_shown(arguments)}: {'; '.join(parts)}"[:1000]
        return "ok", f"called {name} with {_shown(arguments)}"
    text = " ".join(str(block.get("text", "")) for block in content if block.get("type") == "text").strip()
    if narrated(text, known):
        return "narrated", f"wrote the call as text: {_snippet(text)}"
    return "no-tool-call", f"answered in text only: {_snippet(text)}" if text else "answered with nothing"


def nested_arguments(arguments: dict, properties: set[str]) -> bool:
    """`{"tool_name": "Read", "parameters": {...}}` instead of the parameters themselves."""
    keys = set(arguments) - properties
    return bool(keys & _NAME_KEYS) and any(isinstance(arguments.get(k), dict) for k in keys & _ARGUMENT_KEYS) or (
        len(arguments) == 1 and next(iter(arguments)) in _ARGUMENT_KEYS - properties and isinstance(next(iter(arguments.values())), dict)
    )


def _shown(value, limit: int = 200) -> str:
    """A value from the model's answer as JSON, cut to `limit` characters."""
    try:
        return json.dumps(value)[:limit]
    except (TypeError, ValueError, RecursionError):
        return repr(value)[:limit]


def narrated(text: str, known: dict[str, dict]) -> bool:
    # The check asks for at most CHECK_MAX_TOKENS tokens; only NARRATION_WINDOW is searched, so an answer
    # of megabytes (a server ignoring max_tokens) costs no more than a real one.
    text = text[:NARRATION_WINDOW]
    if any(marker in text for marker in _NARRATION_MARKERS):
        return True
    for obj in _json_objects(text):
        named = {str(obj.get(k)) for k in _NAME_KEYS if isinstance(obj.get(k), str)}
        if named & set(known):
            return True
        for tool in known.values():
            required = set(tool.get("input_schema", {}).get("required", []))
            if required and required <= set(obj):
                return True
    return any(re.search(rf"\b{re.escape(name)}\s*\(\s*[\w\"'{{]", text) for name in known)


_OBJECT_START = re.compile(r'\{\s*"')  # where a JSON object with a key can begin


def _json_objects(text: str) -> list[dict]:
    decoder, found, end = json.JSONDecoder(), [], 0
    for start in _OBJECT_START.finditer(text):
        if start.start() < end:
            continue  # inside an object already found
        try:
            obj, end = decoder.raw_decode(text, start.start())
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            found.append(obj)
    return found


def _snippet(text: str, limit: int = 120) -> str:
    one_line = " ".join(text.split())
    return json.dumps(one_line if len(one_line) <= limit else one_line[: limit - 1] + "…", ensure_ascii=False)


def _continues(content: list[dict], first_call: dict) -> tuple[bool, str]:
    """Whether the model went on from the tool's result (an answer or a new call) rather than stalling or looping."""
    calls = [block for block in content if block.get("type") == "tool_use"]
    text = " ".join(str(block.get("text", "")) for block in content if block.get("type") == "text").strip()
    if any(c.get("name") == first_call.get("name") and c.get("input") == first_call.get("input") for c in calls):
        return False, "repeated the same call instead of using its result (Claude Code would loop)"
    if calls:
        return True, f"went on with a further call to {calls[0].get('name')}"
    if text:
        return True, f"answered from the result: {_snippet(text, 80)}"
    return False, "returned nothing after the tool result (Claude Code would stop there)"

"""`fitadvisor trial`: the field notes' experiment on this machine. The real Claude Code CLI runs /init against an
Ollama model in a scratch copy of a small fixture repository; the run is graded and classified into the field's
verdicts (models/verdicts.py), and the verdict is stored for `recommend`.

Claude Code runs non-interactively (`-p`, stream-json), with the environment the generated alias sets, its own
HOME inside the scratch directory, `--restricted` file tools confined to the scratch copy, and no Bash, web or
sub-agents. Its whole process group is killed on a timeout or an interrupt, and the scratch directory removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fitadvisor.errors import FitAdvisorError
from fitadvisor.flows.context import RunContext
from fitadvisor.memory.calibration import full_name
from fitadvisor.models import verdicts

SUBAGENT_TOOLS = ("Agent", "Task")  # Claude Code's sub-agent tool, by its current and former name
EXPLORE_TOOLS = ("Read", "Glob", "Grep", "LS")
MAX_OUTPUT_BYTES = 32 * 1024 * 1024  # a stream-json transcript larger than this is cut off
MAX_LINE_BYTES = 4 * 1024 * 1024
_PATH = re.compile(r"(?<![\w/.:-])((?:[\w.-]+/)*[\w-]+\.(?:py|pyi|toml|md|cfg|ini|txt|json|ya?ml|sh|js|ts|tsx|jsx|lock))\b")
_NARRATED_LINE = r"^\W*{tool}\b[^\n]{{0,30}}:\s*\S"  # "Glob pattern: **/README.md", as the field's magistral wrote
_REFUSAL = re.compile(r"\b(I can(?:'|no)t|I cannot|I'm (?:not able|unable)|I am (?:not able|unable)|I won't|I will not|I must decline)\b", re.I)


class TrialError(FitAdvisorError):
    """A trial that could not run or finish (no claude, no server, no model, a hang)."""


# -- the transcript ---------------------------------------------------------------------------------


@dataclass
class ToolCall:
    name: str
    arguments: object
    error: str | None = None  # the tool result's text when Claude Code rejected or failed the call


@dataclass
class Transcript:
    """What one Claude Code run did, from its stream-json events."""

    tools_offered: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    claude_code_version: str = ""
    session_id: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    failure: str | None = None  # the result event's error, e.g. an API error


def parse_stream(lines: Iterable[str], transcript: Transcript | None = None) -> Transcript:
    """A Transcript from Claude Code's `--output-format stream-json --verbose` lines; lines that are not events are skipped."""
    transcript = transcript or Transcript()
    pending: dict[str, ToolCall] = {}
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        if kind == "system" and event.get("subtype") == "init":
            transcript.tools_offered = [str(t) for t in event.get("tools") or [] if isinstance(t, str)]
            transcript.claude_code_version = str(event.get("claude_code_version") or "")
            transcript.session_id = str(event.get("session_id") or "")
        elif kind == "assistant" and _synthetic(event):  # Claude Code's own message, e.g. "API Error: 400 ..."
            texts = [str(b.get("text", "")) for b in _blocks(event) if b.get("type") == "text"]
            transcript.failure = transcript.failure or " ".join(" ".join(texts).split())[:300] or "an API error"
        elif kind in ("assistant", "user"):
            for block in _blocks(event):
                if kind == "assistant" and block.get("type") == "tool_use":
                    call = ToolCall(str(block.get("name")), block.get("input"))
                    transcript.calls.append(call)
                    pending[str(block.get("id"))] = call
                elif kind == "assistant" and block.get("type") == "text" and str(block.get("text", "")).strip():
                    transcript.texts.append(str(block["text"]))
                elif kind == "user" and block.get("type") == "tool_result" and block.get("is_error"):
                    call = pending.get(str(block.get("tool_use_id")))
                    if call is not None:
                        call.error = _result_text(block.get("content"))
        elif kind == "result":
            usage = event.get("usage") if isinstance(event.get("usage"), dict) else {}
            transcript.input_tokens += _int(usage.get("input_tokens"))
            transcript.output_tokens += _int(usage.get("output_tokens"))
            transcript.session_id = str(event.get("session_id") or transcript.session_id)
            if event.get("is_error"):
                transcript.failure = " ".join(str(event.get("result") or event.get("subtype") or "error").split())[:300]
    return transcript


def _synthetic(event: dict) -> bool:
    message = event.get("message")
    return isinstance(message, dict) and message.get("model") == "<synthetic>"


def _blocks(event: dict) -> list[dict]:
    message = event.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return [block for block in content if isinstance(block, dict)] if isinstance(content, list) else []


def _result_text(content: object) -> str:
    if isinstance(content, list):
        content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return " ".join(str(content).split())[:300]


def _int(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def sequence(calls: list[ToolCall]) -> str:
    """`Glob → Read ×3 → Write`, as the field notes write tool sequences."""
    runs: list[list] = []
    for call in calls:
        if runs and runs[-1][0] == call.name:
            runs[-1][1] += 1
        else:
            runs.append([call.name, 1])
    return " → ".join(name + (f" ×{count}" if count > 1 else "") for name, count in runs) or "no tool calls"


# -- grading and classification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    name: str
    patterns: tuple[str, ...]

    def found_in(self, text: str) -> bool:
        return any(re.search(pattern, text, re.I) for pattern in self.patterns)


@dataclass(frozen=True)
class Task:
    name: str
    prompt: str
    tools: tuple[str, ...]
    nudge: str
    lazy_tool_calls: int
    facts: tuple[Fact, ...]


def load_task(name: str) -> Task:
    from fitadvisor.datafiles import read_toml

    tasks = read_toml("trial.toml")["task"]
    if name not in tasks:
        raise FitAdvisorError(f"unknown trial task {name!r}: use one of {', '.join(tasks)}")
    entry = tasks[name]
    facts = tuple(Fact(f["name"], tuple(f["patterns"])) for f in entry["fact"])
    return Task(name, entry["prompt"], tuple(entry["tools"]), entry["nudge"], entry["lazy_tool_calls"], facts)


@dataclass
class Grade:
    claude_md_written: bool
    facts_found: list[str]
    hallucinated_paths: list[str]


def grade(repo: Path, original_text: str, task: Task) -> Grade:
    """CLAUDE.md in the scratch repository against the fixture: the facts it carries, the paths it invents.

    A path counts as invented when no such file exists in the repository and the repository's own files do
    not mention it either.
    """
    try:
        claude_md = (repo / "CLAUDE.md").read_text(encoding="utf-8", errors="replace")[:1_000_000]
    except OSError:
        return Grade(False, [], [])
    files = {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()}
    names = {f.rsplit("/", 1)[-1] for f in files}
    invented = []
    for path in dict.fromkeys(_PATH.findall(claude_md)):
        bare = path.removeprefix("./")
        known = bare in files or bare in names or any(f.endswith("/" + bare) for f in files) or bare in original_text
        if not known:
            invented.append(bare)
    facts = [fact.name for fact in task.facts if fact.found_in(claude_md)]
    return Grade(bool(claude_md.strip()), facts, invented)


def classify(transcript: Transcript, result: Grade, task: Task, nudged: bool = False) -> tuple[str, str]:
    """The field verdict for a run, with the evidence that decided it."""
    calls, offered = transcript.calls, set(transcript.tools_offered)
    explored = [c for c in calls if c.name in EXPLORE_TOOLS and c.error is None]
    if result.claude_md_written:
        facts = f"{len(result.facts_found)} of {len(task.facts)} facts"
        if not explored:
            return "hallucinates-content", f"wrote CLAUDE.md without reading a file ({sequence(calls)}); {facts}"
        if nudged:
            return "partial", f"stopped before writing; finished after 1 nudge ({task.nudge!r}); {facts}"
        if len(calls) <= task.lazy_tool_calls or result.hallucinated_paths:
            invented = f"; cites {', '.join(result.hallucinated_paths[:3])} (not in the repository)" if result.hallucinated_paths else ""
            return "completed-lazy", f"{len(calls)} tool calls ({sequence(calls)}); {facts}{invented}"
        return "completed", f"{sequence(calls)}; {facts}, no invented paths"
    text = " ".join(transcript.texts).strip()
    if not calls and not text:
        return "silent", "no tool call and no text"
    from fitadvisor.claude.toolcheck import narrated, nested_arguments

    nested = [c for c in calls if isinstance(c.arguments, dict) and nested_arguments(c.arguments, set())]
    if nested:
        return "nested-parameters", f"{_count(nested)} with the arguments nested under {_nesting_key(nested[0])}, all rejected"
    unknown = [c for c in calls if c.name not in offered]
    if unknown and all(c.name in SUBAGENT_TOOLS for c in unknown):
        return "stuck-on-subagent", f"{_count(unknown)} (a sub-agent, not available), then stopped without writing CLAUDE.md"
    if unknown:
        invented = [c for c in unknown if c.name not in SUBAGENT_TOOLS]
        return "invents-tools", f"{_count(invented)} to unknown tool{'s' if len({c.name for c in invented}) > 1 else ''}"
    rejected = [c for c in calls if c.error and "InputValidationError" in c.error]
    if rejected:
        first = rejected[0]
        return "invents-parameters", (
            f"{_count(rejected)} with parameters Claude Code rejected, e.g. {first.name} {json.dumps(first.arguments)[:80]}"
        )
    if not calls:
        if narrated(text, {name: {} for name in offered}) or any(
            re.search(_NARRATED_LINE.format(tool=re.escape(name)), text, re.M) for name in offered
        ):
            return "narrates-tools", f"0 tool calls; wrote them as text: {_snippet(text)}"
        if _REFUSAL.search(text):
            return "refuses", f"0 tool calls; answered {_snippet(text)}"
        return "hallucinates-content", f"0 tool calls; answered in text without reading a file: {_snippet(text)}"
    stall = f"{sequence(calls)}, then stopped without writing CLAUDE.md"
    return "context-stall", stall + (f"; a nudge ({task.nudge!r}) did not help" if nudged else "")


def _count(calls: list[ToolCall]) -> str:
    names = list(dict.fromkeys(c.name for c in calls))
    return f"{len(calls)} call{'s' if len(calls) > 1 else ''} to {', '.join(names)}"


def _nesting_key(call: ToolCall) -> str:
    keys = [k for k, v in call.arguments.items() if isinstance(v, dict)] if isinstance(call.arguments, dict) else []
    return f'"{keys[0]}"' if keys else "another object"


def _snippet(text: str, limit: int = 80) -> str:
    one_line = " ".join(text.split())
    return json.dumps(one_line if len(one_line) <= limit else one_line[: limit - 1] + "…", ensure_ascii=False)


# -- the result --------------------------------------------------------------------------------------------


@dataclass
class TrialResult:
    model: str
    num_ctx: int  # 0: the server's default
    verdict: str
    evidence: str
    tool_calls: list[str]
    seconds: float
    claude_md_written: bool
    facts_found: list[str]
    facts_total: int
    hallucinated_paths: list[str]
    claude_code_version: str
    ollama_version: str
    digest: str
    input_tokens: int
    output_tokens: int
    nudges: int
    # Ollama's own rates for one timed answer from the model as the trial loaded it (as verify times it); None if untimed
    decode_tokens_per_second: float | None = None
    prompt_tokens_per_second: float | None = None

    @property
    def failure_kind(self) -> str | None:
        return verdicts.failure_kind(self.verdict)

    def to_dict(self) -> dict:
        return {
            "model": self.model, "num_ctx": self.num_ctx, "verdict": self.verdict, "failure_kind": self.failure_kind,
            "evidence": self.evidence, "tool_calls": self.tool_calls, "seconds": round(self.seconds, 1),
            "claude_md_written": self.claude_md_written, "facts_found": self.facts_found, "facts_total": self.facts_total,
            "hallucinated_paths": self.hallucinated_paths, "claude_code_version": self.claude_code_version,
            "ollama_version": self.ollama_version, "digest": self.digest, "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens, "nudges": self.nudges,
            "decode_tokens_per_second": self.decode_tokens_per_second, "prompt_tokens_per_second": self.prompt_tokens_per_second,
        }

    def record(self):
        from datetime import datetime, timezone

        from fitadvisor.models.trials import TrialRecord

        return TrialRecord(
            model=self.model, digest=self.digest, num_ctx=self.num_ctx, verdict=self.verdict, evidence=self.evidence,
            tool_calls=self.tool_calls, seconds=round(self.seconds, 1), claude_md_written=self.claude_md_written,
            facts_found=self.facts_found, hallucinated_paths=self.hallucinated_paths,
            claude_code_version=self.claude_code_version, ollama_version=self.ollama_version,
            tried_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )


# -- running Claude Code ------------------------------------------------------------------------------------


@dataclass
class Target:
    """The model as this Ollama server has it, ready for Claude Code."""

    model: str  # what the user named, as Ollama lists it
    run_as: str  # what Claude Code's --model gets: the model, or its derived model at --ctx
    num_ctx: int
    digest: str
    ollama_version: str
    host: str
    tools: bool = True  # whether Ollama offers tool calling for it (else Claude Code cannot run at all)


def prepare(client, model: str, num_ctx: int | None) -> Target:
    """Check the server and the model; with `num_ctx`, create the derived model `apply` would (MODEL-64k)."""
    from fitadvisor.claude.configure import alias_context, derived_name
    from fitadvisor.models.catalog import ModelRef
    from fitadvisor.ollama.client import ModelNotFound

    ModelRef.parse(model)  # a name Ollama could not have: one clear line before anything runs
    version = client.require((0, 14, 0), "Claude Code's Anthropic API (/v1/messages)")
    try:
        shown = client.show(model)
    except ModelNotFound:
        raise TrialError(f"{model} is not in Ollama at {client.host}: pull it first with `ollama pull {model}`") from None
    digest = next((entry.digest for entry in client.tags() if entry.name in (model, full_name(model))), "")
    if shown.capabilities_known and "tools" not in shown.capabilities:
        return Target(full_name(model), model, num_ctx or 0, digest, version, client.host, tools=False)
    if num_ctx:
        run_as = derived_name(model, num_ctx)
        client.create(run_as, from_=model, parameters={"num_ctx": num_ctx})
        return Target(full_name(model), run_as, num_ctx, digest, version, client.host)
    return Target(full_name(model), model, alias_context(client, model) or 0, digest, version, client.host)


def trial_models(run: RunContext, models: list[str], num_ctx: int | None, task: str, timeout: float) -> list[TrialResult | str]:
    """Each model's trial, stored on this machine, or the error that stopped it ("model: why"), in order.

    A server that is down stops the whole run, and so does any error when only one model is tried.
    """
    from fitadvisor.models import trials

    run.client.version()
    outcomes: list[TrialResult | str] = []
    for model in models:
        try:
            result = trial(run.client, model, num_ctx, task, timeout)
        except FitAdvisorError as error:
            if len(models) == 1:
                raise
            outcomes.append(f"{model}: {error}")
            continue
        trials.record(result.record())
        outcomes.append(result)
    return outcomes


def claude_executable() -> str:
    found = shutil.which("claude")
    if found is None:
        raise TrialError("Claude Code is not installed (no `claude` on PATH): npm install -g @anthropic-ai/claude-code")
    return found


def claude_version(claude: str) -> str:
    """`2.1.332` from `claude --version` ("2.1.332 (Claude Code)"); "" when it does not say."""
    try:
        out = subprocess.run([claude, "--version"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    match = re.match(r"\s*(\d+\.\d+\.\d+)", out)
    return match.group(1) if match else ""


def trial(client, model: str, num_ctx: int | None = None, task_name: str = "init", timeout: float = 1800.0) -> TrialResult:
    """Run, grade and classify one trial; the scratch directory is gone afterwards, the process group killed."""
    from fitadvisor.claude.alias import make_alias
    from fitadvisor.datafiles import copy_data_tree

    claude = claude_executable()
    task = load_task(task_name)
    target = prepare(client, model, num_ctx)
    if not target.tools:
        evidence = f"Ollama {target.ollama_version} lists no tools capability for it, so it refuses Claude Code's every request"
        return TrialResult(target.model, target.num_ctx, "no-tool-support", evidence, [], 0.0, False, [], len(task.facts), [],
                           claude_version(claude), target.ollama_version, target.digest, 0, 0, 0)
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="fitadvisor-trial-"))
    try:
        repo, home = scratch / "repo", scratch / "home"
        copy_data_tree("trial_repo", repo)
        home.mkdir()
        (scratch / "tmp").mkdir()
        original = "\n".join(p.read_text(encoding="utf-8") for p in sorted(repo.rglob("*")) if p.is_file())
        alias = make_alias("claude-local", target.run_as, target.host, target.num_ctx or None)
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home), "USERPROFILE": str(home),
               "TMPDIR": str(scratch / "tmp"), "TERM": "dumb", **dict(alias.environment())}
        tools = ",".join(task.tools)
        base = [claude, "--output-format", "stream-json", "--verbose", "--model", target.run_as, "--restricted",
                "--strict-mcp-config", "--tools", tools, "--allowedTools", tools, "--permission-mode", "dontAsk"]
        transcript = _run([*base, "-p", task.prompt], repo, env, deadline, timeout)
        if transcript.failure and not transcript.calls and not transcript.texts:  # the server failed, not the model
            raise TrialError(f"Claude Code could not get an answer from {target.run_as} at {target.host}: {transcript.failure}")
        result = grade(repo, original, task)
        verdict, evidence = classify(transcript, result, task)
        nudges = 0
        if verdict == "context-stall" and transcript.session_id:
            nudges = 1
            _run([*base, "--resume", transcript.session_id, "-p", task.nudge], repo, env, deadline, timeout, transcript)
            result = grade(repo, original, task)
            verdict, evidence = classify(transcript, result, task, nudged=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    decode_rate, prompt_rate = timed_rates(client, target.run_as)
    return TrialResult(
        model=target.model, num_ctx=target.num_ctx, verdict=verdict, evidence=evidence,
        tool_calls=[c.name for c in transcript.calls], seconds=time.monotonic() - started,
        claude_md_written=result.claude_md_written, facts_found=result.facts_found, facts_total=len(task.facts),
        hallucinated_paths=result.hallucinated_paths, claude_code_version=transcript.claude_code_version,
        ollama_version=target.ollama_version, digest=target.digest, input_tokens=transcript.input_tokens,
        output_tokens=transcript.output_tokens, nudges=nudges,
        decode_tokens_per_second=decode_rate, prompt_tokens_per_second=prompt_rate,
    )


def timed_rates(client, model: str) -> tuple[float | None, float | None]:
    """Decode and prompt tokens/s from Ollama's timings of one answer, as `verify` times it (the model is
    still loaded at the trial's context, so nothing reloads); None where Ollama gave none or its prompt
    cache answered."""
    from datetime import datetime, timezone

    from fitadvisor.flows.verify import TIMED_MIN_PROMPT, TIMED_PREDICT, timed_prompt

    try:
        timings = client.timed_generate(model, timed_prompt(datetime.now(timezone.utc).isoformat()), None, TIMED_PREDICT)
    except FitAdvisorError:
        return None, None
    decode = round(timings.decode_tokens_per_second, 1) if timings.decode_tokens_per_second else None
    prompt = timings.prompt_tokens_per_second if timings.prompt_eval_count >= TIMED_MIN_PROMPT else None
    return decode, round(prompt, 1) if prompt else None


def _run(argv: list[str], cwd: Path, env: dict, deadline: float, timeout: float, transcript: Transcript | None = None) -> Transcript:
    """Claude Code in its own process group, its stdout read (bounded) until it exits or the deadline passes."""
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    try:
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise TrialError(
            f"Claude Code did not finish within {timeout / 60:g} minutes; it was stopped. Try a longer --timeout, "
            "or a smaller context if the model does not fit in memory"
        ) from None
    finally:
        _kill_group(process)
        reader.join(timeout=5)
    return parse_stream(lines, transcript)


def _read_lines(stream, lines: list[str]) -> None:
    total = 0
    for raw in stream:
        total += len(raw)
        if total > MAX_OUTPUT_BYTES:
            break
        if len(raw) <= MAX_LINE_BYTES:
            lines.append(raw.decode("utf-8", errors="replace"))
    stream.close()


def _kill_group(process: subprocess.Popen) -> None:
    """End Claude Code and everything it started: TERM, then KILL after a grace period (Windows: the process)."""
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        _signal_group(process, getattr(signal, "SIGKILL", signal.SIGTERM))
        process.wait()


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal_number)
        elif process.poll() is None:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass

"""`fitadvisor trial` with the real Claude Code CLI against the stand-in Ollama, one scripted model per field verdict.

Each model replays what the field notes saw (Ollama Models in Claude Code, field notes, 2026-01-15); every run
must come out classified as the kind it replays. The runs go in parallel threads: the CLI takes a second or two.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
from click.testing import CliRunner

from claude_cli import claude_binary
from fake_ollama import FakeModel, FakeOllama, text, tool_use
from fitadvisor.cli import cli
from fitadvisor.flows.trial import Grade, ToolCall, Transcript, classify, load_task, sequence
from fitadvisor.models import trials

GOOD_CLAUDE_MD = """# CLAUDE.md
tidemark reports high and low water marks from tide-gauge logs (CSV `timestamp,station,height_m`).

- Build: `make build` (a wheel in dist/); test: `make test` (unittest).
- `src/tidemark/gauge.py`: `read_log` reads a log; `src/tidemark/marks.py`: `water_marks` per station;
  `src/tidemark/cli.py`: the `tidemark report LOG` command.
"""
SUBAGENT = {"description": "Explore codebase structure", "prompt": "Explore this repository", "subagent_type": "Explore"}

# verdict -> the scripted replies of a model that behaves that way (one entry per /v1/messages request)
SCRIPTS = {
    "completed": [
        [text("I'll analyze this codebase and create a CLAUDE.md file."), tool_use("Glob", {"pattern": "**/*"})],
        [tool_use("Read", {"file_path": "README.md"})], [tool_use("Read", {"file_path": "Makefile"})],
        [tool_use("Read", {"file_path": "src/tidemark/marks.py"})],
        [tool_use("Write", {"file_path": "CLAUDE.md", "content": GOOD_CLAUDE_MD})], [text("Created CLAUDE.md.")],
    ],
    "completed-lazy": [  # the field's granite4: Read → Write, citing a file it never checked
        [tool_use("Read", {"file_path": "README.md"})],
        [tool_use("Write", {"file_path": "CLAUDE.md", "content": "Run `make test`. UI lives in src/components/Toolbar.tsx.\n"})],
        [text("Done.")],
    ],
    "partial": [  # the field's nemotron: explores, stops, finishes after "Continue"
        [tool_use("Glob", {"pattern": "**/*.py"})], [tool_use("Read", {"file_path": "README.md"})],
        [text("Let me write the overview section first.")],
        [tool_use("Write", {"file_path": "CLAUDE.md", "content": GOOD_CLAUDE_MD})], [text("Done.")],
    ],
    "refuses": [[text("I'm sorry, but I can't help with that request.")]],
    "hallucinates-content": [  # the field's qwen3:30b: one Write, nothing read
        [tool_use("Write", {"file_path": "CLAUDE.md", "content": "Run `python tidemark/build.py`; lint with flake8.\n"})],
        [text("Done.")],
    ],
    "invents-tools": [  # the field's cogito:14b and phi4-mini
        [tool_use("WebSearch", {"query": "tidemark repository"})], [tool_use("GetCodeContextExa", {"query": "tidemark"})],
        [text("What would you like CLAUDE.md to contain?")],
    ],
    "invents-parameters": [  # the field's mistral-small3.2: made-up names, repeated after the error
        [tool_use("Read", {"instruction": "read the readme", "max_depth": 100})],
        [tool_use("Read", {"filename": "README.md", "mode": "full"})],
        [text("I'm going to use the Read tool to read the README.")],
    ],
    "narrates-tools": [  # the field's magistral
        [text("Let me use the Glob tool to find these patterns:\n\nGlob pattern: **/README.md\nGlob pattern: .github/readme*\n\n"
              "Now that I have the relevant files, let's analyze them.")],
    ],
    "stuck-on-subagent": [[tool_use("Agent", SUBAGENT)], [tool_use("Agent", SUBAGENT)], [text("")]],
    "context-stall": [  # the field's cogito:32b: Glob → Read, then stops; the nudge does not help
        [tool_use("Glob", {"pattern": "**/*"})], [tool_use("Read", {"file_path": "README.md"})],
        [text("Let me create a todo list and start with the overview.")], [text("Let me start with writing the overview section first.")],
    ],
    "nested-parameters": [  # the field's command-r
        [tool_use("Read", {"tool_name": "Read", "parameters": {"file_path": "README.md"}})],
        [tool_use("Glob", {"tool_name": "Glob", "parameters": {"pattern": "**/*"}})],
        [text("Action plan: read the files, then write CLAUDE.md.")],
    ],
    "silent": [[], []],  # nothing at all, even after Claude Code asks again
}


@pytest.fixture
def claude_on_path(monkeypatch):
    monkeypatch.setenv("PATH", f"{claude_binary().parent}{os.pathsep}{os.environ['PATH']}")


def _trial(kind: str) -> tuple[str, dict, FakeOllama]:
    """One trial through the plain functions (CliRunner swaps sys.stdout, so it cannot run in threads)."""
    from fitadvisor.flows.trial import trial
    from fitadvisor.ollama.client import Client

    fake = FakeOllama("0.33.0").start()
    try:
        fake.add(FakeModel(f"{kind}:latest", script=[list(reply) for reply in SCRIPTS[kind]]))
        return kind, trial(Client(fake.url), kind, timeout=120).to_dict(), fake
    finally:
        fake.stop()


def test_every_scripted_behaviour_is_classified_as_itself(claude_on_path):
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(_trial, SCRIPTS))
    for kind, result, fake in outcomes:
        assert result["verdict"] == kind, (kind, result["evidence"], result["tool_calls"])
        assert result["failure_kind"] == (None if kind in ("completed", "completed-lazy", "partial") else kind)
        assert result["claude_code_version"] == "2.1.332" and result["ollama_version"] == "0.33.0"
        assert {body["model"] for body in fake.messages_requests()} == {kind}  # Claude Code named only the model tried
    by_kind = {kind: result for kind, result, _ in outcomes}
    completed = by_kind["completed"]
    assert completed["claude_md_written"] and completed["facts_found"] == [f.name for f in load_task("init").facts]
    assert completed["tool_calls"] == ["Glob", "Read", "Read", "Read", "Write"] and not completed["hallucinated_paths"]
    assert by_kind["completed-lazy"]["hallucinated_paths"] == ["src/components/Toolbar.tsx"]
    # One timed answer after each run, from Ollama's own eval timings (the stand-in's eval_count / eval_duration).
    for kind, result, fake in outcomes:
        assert [(r.body or {}).get("model") for r in fake.requests_to("/api/generate")] == [kind]
        assert result["decode_tokens_per_second"] == pytest.approx(fake.decode_tokens_per_second, rel=0.01)
        assert result["prompt_tokens_per_second"] == pytest.approx(fake.prompt_tokens_per_second, rel=0.01)
    assert by_kind["partial"]["nudges"] == 1 and by_kind["context-stall"]["nudges"] == 1
    assert "2 calls to WebSearch, GetCodeContextExa" in by_kind["invents-tools"]["evidence"]


def test_a_model_without_tool_support_is_judged_without_running_claude(fake_ollama, claude_on_path):
    fake_ollama.add(FakeModel("deepseek-r1:32b", tool_behaviour="unsupported"))
    run = CliRunner().invoke(cli, ["trial", "deepseek-r1:32b", "--host", fake_ollama.url, "--json"])
    result = json.loads(run.stdout)
    assert run.exit_code == 1 and result["verdict"] == "no-tool-support" and result["claude_code_version"] == "2.1.332"
    assert not fake_ollama.messages_requests()


def test_models_prints_the_field_notes_table(claude_on_path):
    fake = FakeOllama("0.33.0").start()
    try:
        for kind in ("completed", "narrates-tools"):
            fake.add(FakeModel(f"{kind}:latest", script=[list(reply) for reply in SCRIPTS[kind]]))
        run = CliRunner().invoke(cli, ["trial", "--models", "completed,narrates-tools,missing", "--ctx", "64k", "--host", fake.url])
    finally:
        fake.stop()
    lines = run.stdout.splitlines()
    assert lines[0].startswith("| Model | Context | Verdict | Completed |") and len(lines) == 5
    assert "| completed:latest | 64K | completed | ✅ Yes | 6/6 | none |" in lines[2]
    assert "| narrates-tools:latest | 64K | narrates-tools | ❌ No |" in lines[3]
    assert lines[4].startswith("| missing | - | error |") and "ollama pull missing" in lines[4]
    assert run.exit_code == 1
    assert {"completed-64k:latest", "narrates-tools-64k:latest"} <= set(fake.models)  # run at the asked context
    stored = {(r.model, r.num_ctx, r.verdict) for r in trials.load().records}
    assert stored == {("completed:latest", 65536, "completed"), ("narrates-tools:latest", 65536, "narrates-tools")}


def _recommend(min_ctx=None, top=5, candidates=None, **machine):
    from fitadvisor.flows.context import RunContext
    from fitadvisor.flows.options import EngineOptions, MachineOptions
    from fitadvisor.flows.recommend import recommend_models

    context = RunContext("127.0.0.1:9", MachineOptions(**machine))
    return recommend_models(context, EngineOptions(ollama_version="0.33.0"), min_ctx=min_ctx, top=top, candidates=candidates)


def test_a_local_trial_verdict_decides_in_recommend():
    def run():
        return _recommend(candidates="glm-4.7-flash,granite4:32b-a9b-h", memory="64GB", gpu_memory="24GB", chip="RTX 4090")

    before = run()
    assert before.pick.model == "granite4:32b-a9b-h"  # proven in the field, ahead of the untested one
    assert before.trial.model == "glm-4.7-flash:latest" and before.trial.command.startswith("fitadvisor trial glm-4.7-flash")
    trials.record(trials.TrialRecord(
        model="glm-4.7-flash:latest", digest="sha256:1", num_ctx=65536, verdict="completed", evidence="Glob → Read ×4 → Write",
        tool_calls=["Glob", "Read", "Write"], seconds=600.0, claude_md_written=True, facts_found=["test command"],
        hallucinated_paths=[], claude_code_version="2.1.332", ollama_version="0.33.0", tried_at="2026-12-02T19:00:00+00:00",
    ))
    after = run()
    assert after.pick.model == "glm-4.7-flash:latest" and "your trial, 2026-12-02" in after.pick.reason  # competes on its score
    assert any("your trial of 2026-12-02" in note for note in after.notes)
    trials.record(trials.TrialRecord(**{**trials.load().records[0].__dict__, "verdict": "invents-tools", "num_ctx": 131072,
                                          "tried_at": "2026-12-02T20:00:00+00:00"}))
    failed = run()
    assert failed.pick.model == "granite4:32b-a9b-h"
    (excluded,) = [e for e in failed.excluded if e.model == "glm-4.7-flash:latest"]
    assert excluded.failure_kind == "invents-tools" and "your trial" in excluded.reason


@pytest.mark.parametrize("profile", [
    {}, {"memory": "16GB", "chip": "Apple M2"}, {"memory": "24GB", "chip": "Apple M4"}, {"memory": "48GB", "chip": "Apple M4 Pro"},
    {"memory": "128GB", "chip": "Apple M4 Max"}, {"memory": "64GB", "gpu_memory": "24GB", "chip": "RTX 4090"},
    {"memory": "16GB", "chip": "Apple M2", "min_ctx": 32 * 1024},
])
def test_no_field_failure_is_recommended_or_hinted_on_any_profile(profile):
    from fitadvisor.models import catalog, verdicts

    advice = _recommend(top=None, **profile)
    failed = {m.reference for m in catalog.load() if verdicts.is_failure(m.agentic)}
    assert not failed & {p.model for p in advice.recommendations}
    assert failed <= {e.model for e in advice.excluded}
    assert not any(model in hint for hint in advice.hints for model in failed)
    assert advice.trial is None or advice.trial.model not in failed
    proven = [p for p in advice.recommendations if p.candidate.proven]
    assert [p.model for p in advice.recommendations[: len(proven)]] == [p.model for p in proven]  # untested after proven


def test_classify_keeps_the_field_kinds_apart_without_the_cli():
    task = load_task("init")
    written = Grade(True, ["test command"], [])
    calls = [ToolCall("Glob", {"pattern": "*"}), ToolCall("Read", {"file_path": "README.md"}), ToolCall("Write", {})]
    assert classify(Transcript(["Glob", "Read", "Write"], calls), written, task)[0] == "completed"
    assert classify(Transcript(["Read", "Write"], calls[1:]), written, task)[0] == "completed-lazy"
    unknown = [ToolCall("Task", SUBAGENT, error="No such tool available: Task")]
    assert classify(Transcript(["Read"], unknown), Grade(False, [], []), task)[0] == "stuck-on-subagent"
    assert sequence([ToolCall("Read", {})] * 3 + [ToolCall("Write", {})]) == "Read ×3 → Write"


def test_clear_errors_for_what_stops_a_trial(fake_ollama, claude_on_path, monkeypatch):
    runner = CliRunner()
    down = runner.invoke(cli, ["trial", "m", "--host", "http://127.0.0.1:9"])
    assert down.exit_code != 0 and "Traceback" not in down.output
    missing = runner.invoke(cli, ["trial", "m", "--host", fake_ollama.url])
    assert missing.exit_code != 0 and "ollama pull m" in missing.stderr
    fake_ollama.add(FakeModel("slow:latest", script=lambda body: (__import__("time").sleep(30), [text("late")])[1]))
    hang = runner.invoke(cli, ["trial", "slow", "--host", fake_ollama.url, "--timeout", "3s"])
    assert hang.exit_code != 0 and "did not finish within" in hang.stderr
    assert not psutil.Process().children(recursive=True)  # Claude Code's whole process group is gone
    bad_name = runner.invoke(cli, ["trial", "m;rm -rf ~\x1b[2J", "--host", fake_ollama.url])
    assert bad_name.exit_code != 0 and "invalid model name" in bad_name.stderr
    monkeypatch.setenv("PATH", "/nonexistent")
    no_claude = runner.invoke(cli, ["trial", "m", "--host", fake_ollama.url])
    assert "Claude Code is not installed" in no_claude.stderr


def test_doctor_never_suggests_a_model_that_failed(fake_ollama):
    from fitadvisor.flows.doctor import doctor
    from fitadvisor.ollama import server_env
    from fitadvisor.ollama.client import Client

    fake_ollama.add(FakeModel("magistral:24b", num_ctx=4096))
    fake_ollama.add(FakeModel("glm-4.7-flash:latest", num_ctx=4096))
    report = doctor(Client(fake_ollama.url, timeout=2), server_env.read({}), None)
    models = {f.message.split(" ", 1)[0].rstrip(":"): f for f in report.findings if f.check == "model"}
    assert "narrates tool calls" in models["magistral:24b"].message and "field notes: narrates-tools" in models["magistral:24b"].message
    assert "fitadvisor apply" not in (models["magistral:24b"].fix or "")
    assert models["glm-4.7-flash:latest"].fix.startswith("fitadvisor apply glm-4.7-flash")  # untested: may be configured
    trials.record(trials.TrialRecord(
        model="glm-4.7-flash:latest", digest="", num_ctx=65536, verdict="silent", evidence="no tool call and no text",
        tool_calls=[], seconds=60.0, claude_md_written=False, facts_found=[], hallucinated_paths=[],
        claude_code_version="2.1.332", ollama_version="0.33.0", tried_at="2026-12-02T19:00:00+00:00",
    ))
    again = doctor(Client(fake_ollama.url, timeout=2), server_env.read({}), None)
    (finding,) = [f for f in again.findings if f.message.startswith("glm-4.7-flash:latest")]
    assert "your trial, 2026-12-02: silent" in finding.message and "apply" not in (finding.fix or "")


def test_a_server_error_is_not_taken_for_a_silent_model(fake_ollama, claude_on_path):
    from fitadvisor.flows.trial import TrialError, trial
    from fitadvisor.ollama.client import Client

    fake_ollama.add(FakeModel("broken:latest"))
    fake_ollama.errors["/v1/messages"] = (400, "invalid model configuration")  # 5xx answers Claude Code retries for minutes
    with pytest.raises(TrialError, match="could not get an answer"):
        trial(Client(fake_ollama.url), "broken", timeout=120)
    assert not trials.load().records


def test_timeout_durations():
    from fitadvisor.errors import FitAdvisorError
    from fitadvisor.units import format_seconds, parse_duration

    assert [parse_duration(t) for t in ("30m", "90s", "1.5h", "45")] == [1800, 90, 5400, 45]
    for bad in ("", "0m", "-5s", "10 minutes", "1d"):
        with pytest.raises(FitAdvisorError, match="invalid duration"):
            parse_duration(bad)
    assert (format_seconds(42.4), format_seconds(1032)) == ("42s", "17m 12s")
    run = CliRunner().invoke(cli, ["trial", "m", "--timeout", "soon"])
    assert run.exit_code != 0 and "invalid duration 'soon'" in run.stderr

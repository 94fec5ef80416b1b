"""`verify` against the stand-in Ollama: measured vs estimated, context checks, every tool-call verdict."""

import json

import cli_run
import pytest
from fake_ollama import TOOL_BEHAVIOURS, FakeModel
from helpers_ollama import CPU_ONLY_BOX, RTX_4090_BOX

from fitadvisor.errors import FitAdvisorError
from fitadvisor.claude.toolcheck import CHECK_TOOLS, VERDICTS, classify
from fitadvisor.flows import verify as verify_flow
from fitadvisor.flows.verify import verify
from fitadvisor.memory import calibration
from fitadvisor.ollama.client import (
    Client,
    OllamaError,
    OllamaTooOld,
    OllamaUnreachable,
)
from fitadvisor.ollama import server_env as serverenv
from fitadvisor.ollama.errors import MalformedAnswer
from fitadvisor.ollama.responses import ShowInfo, Timings

DEFAULT_ENV = serverenv.read({})


def run_verify(fake, model="devstral-small-2", ctx=65536, hardware=RTX_4090_BOX, **kwargs):
    return verify(Client(fake.url, timeout=2, load_timeout=5), model, ctx, DEFAULT_ENV, hardware=hardware, **kwargs)


def test_measured_size_side_by_side_with_the_estimate(fake_ollama):
    fake_ollama.version = "0.32.15"
    fake_ollama.add(FakeModel("devstral-small-2:latest", loaded_size=17_500_000_000))
    report = run_verify(fake_ollama)
    load = fake_ollama.requests_to("/api/generate")[0].body  # then one timed answer
    assert load == {"model": "devstral-small-2", "prompt": "", "options": {"num_ctx": 65536}}
    assert report.running.size == 17_500_000_000 and report.running.context_length == 65536
    assert report.estimate is not None and report.estimate.num_ctx == 65536
    assert report.estimate.model == "devstral-small-2:24b"
    expected_error = round((report.estimate.total_bytes - 17_500_000_000) / 17_500_000_000 * 100, 1)
    assert report.error_percent == expected_error
    data = report.to_dict()
    assert data["size_bytes"] == 17_500_000_000 and data["estimated_total_bytes"] == report.estimate.total_bytes
    assert data["ok"] is True and data["tools"]["verdict"] == "ok" and data["tools"]["continues"] is True


def test_spilled_model_is_reported(fake_ollama):
    fake_ollama.add(FakeModel("devstral-small-2:latest", loaded_size=20_000_000_000, loaded_vram=12_000_000_000))
    report = run_verify(fake_ollama)
    assert report.running.processor == "40%/60% CPU/GPU"
    assert any("spilled to the CPU (40%/60% CPU/GPU)" in w for w in report.warnings)


def test_all_cpu_is_a_warning_only_where_there_is_a_gpu(fake_ollama):
    fake_ollama.add(FakeModel("devstral-small-2:latest", loaded_vram=0))
    assert any("entirely on the CPU" in w for w in run_verify(fake_ollama, tools=False).warnings)
    assert not any("CPU" in w for w in run_verify(fake_ollama, tools=False, hardware=CPU_ONLY_BOX).warnings)


def test_context_above_the_trained_one_is_capped(fake_ollama):
    fake_ollama.add(FakeModel("devstral-small-2:latest", context_length=131072))
    report = run_verify(fake_ollama, ctx=262144, tools=False)
    assert report.running.context_length == 131072
    assert any("trained for 128K: Ollama caps it at 128K" in w for w in report.warnings)
    assert report.ok  # capped as Ollama documents, and still enough for Claude Code


def test_context_lowered_by_the_server_is_a_problem(fake_ollama):
    fake_ollama.add(FakeModel("devstral-small-2:latest", ctx_limit=32768))
    report = run_verify(fake_ollama, ctx=131072, tools=False)
    assert not report.ok
    assert any("runs the model at 32K context, not the 128K asked for" in p for p in report.problems)


def test_default_context_too_small_for_claude_code(fake_ollama):
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    report = run_verify(fake_ollama, ctx=None, tools=False)
    assert "options" not in fake_ollama.requests_to("/api/generate")[0].body  # the load: no options
    assert report.running.context_length == 4096
    assert any("4K context (Ollama's default)" in p and "fitadvisor apply devstral-small-2 --ctx 64k" in p for p in report.problems)


def test_modelfile_num_ctx_is_what_is_expected(fake_ollama):
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    Client(fake_ollama.url).create("devstral-small-2-64k", "devstral-small-2", {"num_ctx": 65536})
    report = run_verify(fake_ollama, model="devstral-small-2-64k", ctx=None, tools=False)
    assert "options" not in fake_ollama.requests_to("/api/generate")[0].body  # the load: no options
    assert report.expected_ctx == 65536 and report.running.context_length == 65536 and report.ok
    assert report.estimate.model == "devstral-small-2:24b"  # the derived model is estimated as its base


def test_unknown_model_is_measured_without_an_estimate(fake_ollama):
    fake_ollama.add(FakeModel("mystery:7b"))
    report = run_verify(fake_ollama, model="mystery:7b", tools=False)
    assert report.estimate is None and "does not know mystery:7b" in report.estimate_note
    assert report.to_dict()["estimated_total_bytes"] is None and report.stored_in


@pytest.mark.parametrize("behaviour", TOOL_BEHAVIOURS)
def test_each_tool_call_verdict(fake_ollama, behaviour):
    fake_ollama.add(FakeModel("devstral-small-2:latest", tool_behaviour=behaviour))
    report = run_verify(fake_ollama)
    assert report.tools.verdict == behaviour
    assert report.ok is (behaviour == "ok")
    request = fake_ollama.requests_to("/v1/messages")[0].body
    assert [t["name"] for t in request["tools"]] == ["Read", "Bash", "Glob"]
    assert request["model"] == "devstral-small-2" and request["stream"] is False and request["system"]
    if behaviour == "ok":
        follow_up = fake_ollama.requests_to("/v1/messages")[1].body["messages"]
        assert follow_up[1]["content"][0]["type"] == "tool_use"
        assert follow_up[2]["content"][0]["type"] == "tool_result"
        assert follow_up[2]["content"][0]["tool_use_id"] == follow_up[1]["content"][0]["id"]
    else:  # nothing valid to answer: no follow-up
        assert len(fake_ollama.requests_to("/v1/messages")) == 1


@pytest.mark.parametrize("after, phrase", [("empty", "returned nothing"), ("repeat", "repeated the same call")])
def test_model_that_does_not_continue_after_the_tool_result(fake_ollama, after, phrase):
    fake_ollama.add(FakeModel("devstral-small-2:latest", after_result=after))
    report = run_verify(fake_ollama)
    assert report.tools.verdict == "ok" and report.tools.continues is False
    assert any(phrase in p for p in report.problems)


def test_no_tools_skips_the_check(fake_ollama):
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    assert run_verify(fake_ollama, tools=False).tools is None
    assert fake_ollama.requests_to("/v1/messages") == []


def _use(name, arguments):
    return [{"type": "tool_use", "id": "t1", "name": name, "input": arguments}]


@pytest.mark.parametrize(
    "content, verdict",
    [
        (_use("Read", {"file_path": "README.md", "limit": 1}), "ok"),
        (_use("Read", {}), "bad-arguments"),
        (_use("Read", {"file_path": "README.md", "encoding": "utf-8"}), "bad-arguments"),
        (_use("Read", {"name": "Read", "arguments": {"file_path": "README.md"}}), "nested-arguments"),
        (_use("Read", {"parameters": {"file_path": "README.md"}}), "nested-arguments"),
        (_use("read_file", {"path": "README.md"}), "unknown-tool"),
        ([{"type": "text", "text": '<tool_call>{"name": "Read", "arguments": {"file_path": "README.md"}}</tool_call>'}], "narrated"),
        ([{"type": "text", "text": 'I will call it: {"file_path": "README.md"}'}], "narrated"),
        ([{"type": "text", "text": 'Read(file_path="README.md")'}], "narrated"),
        ([{"type": "text", "text": "Read the file yourself; it probably says hello."}], "no-tool-call"),
        ([], "no-tool-call"),
    ],
)
def test_classification_of_answers(content, verdict):
    assert verdict in VERDICTS
    assert classify(content, CHECK_TOOLS)[0] == verdict


def test_parameters_text_is_parsed_like_ollama_prints_it():
    text = 'num_ctx                        65536\nstop                           "[INST]"\nstop                           "</s>"'
    shown = ShowInfo(model_info={}, parameters=text)
    assert shown.parameter("num_ctx") == "65536" and shown.parameter("stop") == "</s>" and shown.parameter("top_k") is None
    assert shown.num_ctx == 65536


def test_observation_is_recorded_with_settings_and_machine(fake_ollama):
    fake_ollama.version = "0.30.1-rc2"
    fake_ollama.add(FakeModel("devstral-small-2:latest", loaded_size=18_000_000_000, digest="b" * 64))
    env = serverenv.read({"OLLAMA_KV_CACHE_TYPE": "q8_0", "OLLAMA_FLASH_ATTENTION": "1"})
    verify(Client(fake_ollama.url), "devstral-small-2", 65536, env, tools=False, hardware=RTX_4090_BOX)
    (observation,) = calibration.load().observations
    assert (observation.model, observation.estimate_model, observation.digest) == ("devstral-small-2:latest", "devstral-small-2:24b", "b" * 64)
    assert (observation.num_ctx, observation.kv_cache_type, observation.flash_attention, observation.parallel) == (65536, "q8_0", "on", 1)
    assert observation.ollama_version == "0.30.1" and observation.size_bytes == 18_000_000_000
    assert observation.machine == calibration.machine_summary(RTX_4090_BOX)


def test_unwritable_store_is_a_warning_not_a_crash(fake_ollama, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("FITADVISOR_CONFIG_DIR", str(blocker / "sub"))
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    report = run_verify(fake_ollama, tools=False)
    assert any("measurement was not stored" in w and "FITADVISOR_CONFIG_DIR" in w for w in report.warnings)
    assert report.stored_in is None


def test_failures_raise_one_clear_error(fake_ollama):
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    fake_ollama.mode, fake_ollama.mode_paths = "stream-error", {"/api/generate"}
    with pytest.raises(OllamaError, match="an error line inside a 200 stream"):
        run_verify(fake_ollama)
    fake_ollama.mode, fake_ollama.mode_paths = "malformed", {"/api/ps"}
    with pytest.raises(OllamaError, match="malformed JSON for /api/ps"):
        run_verify(fake_ollama)
    fake_ollama.mode, fake_ollama.mode_paths = "ok", None
    fake_ollama.load_seconds = 2
    with pytest.raises(OllamaUnreachable, match="time limit 0.3 s"):
        verify(Client(fake_ollama.url, load_timeout=0.3), "devstral-small-2", None, DEFAULT_ENV, hardware=RTX_4090_BOX)
    fake_ollama.version = "0.13.0"
    with pytest.raises(OllamaTooOld, match="0.14.0 or later"):
        run_verify(fake_ollama)


def test_missing_model(fake_ollama):
    with pytest.raises(FitAdvisorError, match="ollama pull nope"):
        run_verify(fake_ollama, model="nope")


def test_a_tool_check_that_times_out_keeps_the_measurement(fake_ollama):
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    fake_ollama.mode, fake_ollama.mode_paths, fake_ollama.hang_seconds = "hang", {"/v1/messages"}, 2
    report = verify(Client(fake_ollama.url, load_timeout=0.3), "devstral-small-2", 65536, DEFAULT_ENV, hardware=RTX_4090_BOX)
    assert report.running.size and report.tools is None and report.stored_in
    assert any("tool-call check could not finish" in p and "/v1/messages" in p for p in report.problems)


# -- the command, as a user runs it -------------------------------------------------------------


def fitadvisor(*args, host):
    return cli_run.fitadvisor(*args, env={"OLLAMA_HOST": host})


def test_cli_json_and_exit_codes(fake_ollama):
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    fake_ollama.add(FakeModel("deepseek-r1:8b", tool_behaviour="unsupported"))
    good = fitadvisor("verify", "devstral-small-2", "--ctx", "64k", "--json", host=fake_ollama.url)
    assert good.returncode == 0, good.stderr
    data = json.loads(good.stdout)
    assert data["context_length"] == 65536 and data["tools"]["verdict"] == "ok" and data["ok"] is True
    bad = fitadvisor("verify", "deepseek-r1:8b", "--ctx", "64k", host=fake_ollama.url)
    assert bad.returncode == 1
    assert "unsupported" in bad.stdout and "does not support tools" in bad.stdout
    assert bad.stderr == ""  # no progress indicator when stderr is not a terminal


@pytest.mark.parametrize("setup, message", [
    ("down", "cannot reach Ollama at"),
    ("hang", "did not answer /api/version within 0.5 s"),
    ("malformed", "malformed JSON"),
    ("stream-error", "an error line inside a 200 stream"),
])
def test_cli_failures_are_one_line(fake_ollama, setup, message):
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    host = fake_ollama.url
    if setup == "down":
        fake_ollama.stop()
    else:
        fake_ollama.mode, fake_ollama.hang_seconds = setup, 2
    run = fitadvisor("verify", "devstral-small-2", "--timeout", "0.5", host=host)
    assert run.returncode not in (0, 1) and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fitadvisor: error:") and message in lines[0], run.stderr


def test_verify_records_ollamas_own_speed_at_the_loaded_context(fake_ollama, tmp_path):
    """eval_count / eval_duration and prompt_eval_count / prompt_eval_duration of one timed answer, stored with the size."""
    fake_ollama.version = "0.32.15"
    fake_ollama.decode_tokens_per_second, fake_ollama.prompt_tokens_per_second = 37.5, 640.0
    fake_ollama.add(FakeModel("devstral-small-2:latest", loaded_size=17_500_000_000))
    report = run_verify(fake_ollama, tools=False)
    load, timed = (request.body for request in fake_ollama.requests_to("/api/generate"))
    assert timed["options"]["num_ctx"] == load["options"]["num_ctx"]  # the same runner: nothing reloads
    assert timed["stream"] is False and len(timed["prompt"]) // 4 >= verify_flow.TIMED_MIN_PROMPT
    speed = report.to_dict()["speed"]
    assert speed["decode_tokens_per_second"] == pytest.approx(37.5, rel=1e-3)
    assert speed["prompt_tokens_per_second"] == pytest.approx(640.0, rel=1e-3)
    assert speed["prompt_tokens"] == len(timed["prompt"]) // 4
    (stored,) = calibration.load().observations
    assert stored.speed.decode_tokens_per_second == speed["decode_tokens_per_second"]
    assert stored.speed.prompt_tokens == speed["prompt_tokens"]


def test_a_cached_prompt_gives_no_prompt_rate():
    cached = Timings(prompt_eval_count=12, prompt_eval_duration=20_000_000, eval_count=128, eval_duration=3_200_000_000)
    assert verify_flow._speed_fields(cached) == {"decode_tokens_per_second": 40.0}
    assert verify_flow._speed_fields(Timings(0, 0, 0, 0)) == {}  # Ollama sent no metrics
    with pytest.raises(MalformedAnswer, match="eval_duration"):
        Timings.parse({"eval_count": 3, "eval_duration": -1}, "/api/generate")


QWEN35_INFO = {  # qwen3.8:27b's keys, as Ollama 0.32.13 loaded its file (tests/data/ollama-runs.toml)
    "qwen35.block_count": 65, "qwen35.nextn_predict_layers": 1, "qwen35.full_attention_interval": 4,
    "qwen35.embedding_length": 5120, "qwen35.feed_forward_length": 17408, "qwen35.attention.head_count": 24,
    "qwen35.attention.head_count_kv": 4, "qwen35.attention.key_length": 256, "qwen35.attention.value_length": 256,
    "qwen35.ssm.conv_kernel": 4, "qwen35.ssm.state_size": 128, "qwen35.ssm.group_count": 16,
    "qwen35.ssm.time_step_rank": 48, "qwen35.ssm.inner_size": 6144, "tokenizer.ggml.tokens": ["tok"] * 248320,
}


@pytest.mark.parametrize("own", [4, None])
def test_the_running_models_own_draft_num_predict_is_estimated_as_ollama_runs_it(fake_ollama, own):
    """Ollama drafts with a model's multi-token-prediction layers where its own parameters set draft_num_predict
    (`ollama show qwen3.8:27b`: draft_num_predict 4): the drafting context's cache and compute then load too."""
    fake_ollama.version = "0.32.13"
    fake_ollama.add(FakeModel("qwen3.8:27b", family="qwen35", model_info=QWEN35_INFO, draft_num_predict=own))
    estimate = run_verify(fake_ollama, model="qwen3.8:27b").estimate
    assert estimate is not None and estimate.model == "qwen3.8:27b"
    drafting_layer = 65536 * 4 * (256 + 256) * 2  # the drafting context's f16 cache of its one attention layer
    snapshots = 48 * 4 * (3 * (6144 + 2 * 16 * 128) + 128 * 6144) * 4  # 4 more states of each recurrent layer
    assert estimate.drafting_cache_bytes == (drafting_layer + snapshots if own else 0)
    assert (estimate.drafting_compute_bytes > 0) == bool(own)

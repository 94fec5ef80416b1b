"""`fitadvisor recommend` as a user runs it: separate process, no Ollama or a stand-in one, JSON contract."""

import json
import time

from cli_run import fitadvisor
from fake_ollama import FakeModel

NO_SERVER = "127.0.0.1:9"  # nothing listens there


def recommend(*args, host=NO_SERVER, cwd=None):
    return fitadvisor("recommend", *args, env={"OLLAMA_HOST": host}, cwd=cwd)


def test_json_contract_for_a_48gb_m4_pro(tmp_path):
    start = time.monotonic()
    run = recommend("--memory", "48GB", "--chip", "Apple M4 Pro", "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - start < 10  # no network waits with no server
    data = json.loads(run.stdout)
    assert {"hardware", "recommendations", "excluded"} <= data.keys()
    first = data["recommendations"][0]
    for key in ("model", "num_ctx", "total_bytes", "gpu_bytes", "fits", "tokens_per_second", "reason"):
        assert key in first
    assert first["model"] == "devstral-small-2:24b" and first["num_ctx"] >= 65536 and first["fits"] is True
    assert first["gpu_bytes"] == first["total_bytes"]
    assert all(set(e) == {"model", "reason", "failure_kind"} for e in data["excluded"])
    assert data["hardware"]["memory_bytes"] == 48 * 1024**3


def test_readable_output_has_table_pick_and_next_command(tmp_path):
    run = recommend("--memory", "48GB", "--chip", "Apple M4 Pro", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("MODEL") and "VERDICT" in line for line in lines)
    assert any(line.startswith("Pick: devstral-small-2:24b at ") for line in lines)
    assert any(line.strip().startswith("fitadvisor apply devstral-small-2:24b --ctx ") for line in lines)
    assert "magistral:24b: narrates tool calls instead of making them" in run.stdout


def test_no_options_runs_with_no_server(tmp_path):
    run = recommend(cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "no Ollama server answered" in run.stdout


def test_installed_needs_a_server():
    run = recommend("--installed")
    assert run.returncode != 0 and run.stderr.count("\n") == 1
    assert run.stderr.startswith("fitadvisor: error: --installed needs a running Ollama")


def test_installed_restricts_to_the_servers_models(fake_ollama):
    fake_ollama.version = "0.20.0"
    fake_ollama.add(FakeModel("devstral-small-2:latest"))
    fake_ollama.add(FakeModel("qwen3:30b", family="qwen3moe"))
    fake_ollama.add(FakeModel("someone/custom:7b", family="llama"))
    run = recommend("--installed", "--memory", "48GB", "--chip", "Apple M4 Pro", "--json", host=fake_ollama.url)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    listed = [r["model"] for r in data["recommendations"]]
    excluded = {e["model"]: e["reason"] for e in data["excluded"]}
    assert listed[0] == "devstral-small-2:latest" and data["recommendations"][0]["installed"] is True
    assert set(listed) <= {"devstral-small-2:latest", "someone/custom:7b"}
    assert "without calling tools" in excluded["qwen3:30b"]
    assert ("someone/custom:7b" in excluded) != ("someone/custom:7b" in listed)  # accounted for, once
    assert data["ollama_version"] == "0.20.0"  # the server's release is modelled


def test_normal_listing_marks_installed_models(fake_ollama):
    fake_ollama.add(FakeModel("qwen3-coder:30b", family="qwen3moe"))
    run = recommend("--memory", "48GB", "--chip", "Apple M4 Pro", host=fake_ollama.url)
    assert run.returncode == 0, run.stderr
    assert any(line.startswith("qwen3-coder:30b *") for line in run.stdout.splitlines())
    assert "* installed in Ollama" in run.stdout
    assert not any(line.startswith("devstral-small-2:24b *") for line in run.stdout.splitlines())


def test_candidates_restricts_the_pool():
    run = recommend("--candidates", "qwen3-coder:30b,magistral", "--memory", "48GB", "--chip", "Apple M4 Pro", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert [r["model"] for r in data["recommendations"]] == ["qwen3-coder:30b"]
    assert [e["model"] for e in data["excluded"]] == ["magistral:24b"]


def test_top_and_min_ctx():
    run = recommend("--memory", "128GB", "--chip", "Apple M4 Max", "--top", "2", "--min-ctx", "128k", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert len(data["recommendations"]) == 2 and data["min_ctx"] == 131072
    assert all(r["num_ctx"] >= 131072 for r in data["recommendations"])


def test_bad_input_is_one_line():
    for args in (["--min-ctx", "lots"], ["--memory", "much"], ["--candidates", "no-such-model"], ["--ollama-version", "0.1.0"]):
        run = recommend(*args)
        assert run.returncode != 0, args
        assert run.stderr.startswith("fitadvisor: error: ") and run.stderr.count("\n") == 1, run.stderr


def recommend_json(*args):
    run = recommend(*args, "--json")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_planned_16gb_macbook_air_m2():
    data = recommend_json("--memory", "16GB", "--chip", "Apple M2")
    # Nothing proven in Claude Code fits: at most untested models under the capability floor (qwen3.5:9b).
    assert all(r["agentic"] == "untested" and r["below_capability_floor"] for r in data["recommendations"])
    assert "devstral-small-2:24b" in data["instead"] and data["hints"]


def test_planned_128gb_m4_max_has_speeds_from_the_probed_bandwidth():
    data = recommend_json("--memory", "128GB", "--chip", "Apple M4 Max")
    pick = data["recommendations"][0]
    assert pick["model"] == "devstral-small-2:24b" and pick["num_ctx"] >= 196608  # where a full context still decodes at 5+ tokens/s
    assert 0 < pick["tokens_per_second"]["low"] < pick["tokens_per_second"]["high"]
    assert pick["prompt_seconds"]["low"] < pick["prompt_seconds"]["high"]


def test_planned_24gb_gpu_with_64gb_ram_does_not_count_ram_as_a_fit():
    data = recommend_json("--gpu-memory", "24GB", "--memory", "64GB")
    assert all(r["gpu_bytes"] == r["total_bytes"] <= data["budget_bytes"] for r in data["recommendations"])
    assert "devstral-small-2:24b" in {e["model"] for e in data["excluded"]}


def test_this_machine_gets_an_honest_answer():
    from fitadvisor.hardware.probe import detect

    data = recommend_json()
    if not detect().gpus:  # CPU-only: the verdict must say so
        assert any("Too slow for agentic use" in w for w in data["warnings"])
        assert data["recommendations"] or data["instead"]  # the best it can do, or what would work


def test_a_measurement_from_verify_decides_the_fit_on_this_machine():
    """What `verify` measured here replaces the estimate for the same model and settings."""
    from fitadvisor.flows.context import RunContext
    from fitadvisor.flows.options import EngineOptions
    from fitadvisor.flows.recommend import recommend_models
    from fitadvisor.hardware.probe import detect
    from fitadvisor.memory import calibration

    def run():
        return recommend_models(RunContext("127.0.0.1:9"), EngineOptions(ollama_version="0.32.15"), candidates="ministral-3:3b")

    (pick,) = run().recommendations
    calibration.record(
        calibration.Observation(
            model="ministral-3:3b", estimate_model="ministral-3:3b", digest="", num_ctx=pick.num_ctx, kv_cache_type="f16",
            flash_attention="auto", parallel=1, ollama_version="0.32.15", size_bytes=2 * pick.budget_bytes,
            size_vram_bytes=0, processor="100% CPU", machine=calibration.machine_summary(detect()),
            measured_at="2026-11-24T10:00:00+00:00",
        )
    )
    again = run()  # measured at twice the budget at the context it picked: no longer a fit there
    if again.recommendations:
        assert again.recommendations[0].num_ctx < pick.num_ctx
    else:
        (excluded,) = again.excluded
        assert excluded.reason.startswith(f"needs {2 * pick.budget_bytes / 1e9:.1f} GB at 64K")


def test_per_model_server_wide_and_launch_commands(tmp_path):
    run = recommend("--memory", "48GB", "--chip", "Apple M4 Pro", "--json", cwd=tmp_path)
    data = json.loads(run.stdout)
    ctx = data["next_command"].split("--ctx ")[1]
    assert data["server_wide_command"] == f"fitadvisor apply devstral-small-2:24b --ctx {ctx} --server-wide"
    assert data["launch_command"] == f"ollama launch claude --model devstral-small-2-{ctx}"
    old = json.loads(recommend("--memory", "48GB", "--chip", "Apple M4 Pro", "--json", "--ollama-version", "0.14.3", cwd=tmp_path).stdout)
    assert old["launch_command"] is None  # `ollama launch` came in 0.15.0
    text = recommend("--memory", "48GB", "--chip", "Apple M4 Pro", cwd=tmp_path).stdout
    assert "--server-wide" in text and "ollama launch claude --model devstral-small-2-" in text


def test_a_max_ctx_below_the_min_ctx_is_one_clear_error(tmp_path):
    run = recommend("--memory", "48GB", "--chip", "Apple M4 Pro", "--max-ctx", "32k", cwd=tmp_path)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip().splitlines() == [
        "fitadvisor: error: --max-ctx 32K is below the least context considered, 64K (--min-ctx): give a --max-ctx at or above it"
    ]
    run = recommend("--memory", "48GB", "--chip", "Apple M4 Pro", "--min-ctx", "128k", "--max-ctx", "64k", cwd=tmp_path)
    assert run.returncode == 2 and "--max-ctx 64K is below the least context considered, 128K" in run.stderr
    assert recommend("--memory", "48GB", "--chip", "Apple M4 Pro", "--max-ctx", "64k", cwd=tmp_path).returncode == 0


def test_a_min_ctx_nothing_reaches_names_the_option_not_claude_codes_minimum():
    run = recommend("--min-ctx", "4m", "--memory", "16GB", "--chip", "Apple M2")
    assert run.returncode == 0, run.stderr
    assert "4096K or more (--min-ctx)." in run.stdout and "below the 4096K asked for (--min-ctx)" in run.stdout
    assert "Claude Code works with" not in run.stdout and "Claude Code needs" not in run.stdout

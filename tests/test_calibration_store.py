"""The calibration store: where it lives, round trips, damage, and its use by `estimate`."""

import json
import sys
from dataclasses import replace

import cli_run
import pytest
from fake_ollama import FakeModel
from helpers_ollama import RTX_4090_BOX

from fitadvisor.hardware.machine import Gpu
from fitadvisor.units import GIB

from fitadvisor.commands import estimate as estimate_command
from fitadvisor.flows.context import RunContext
from fitadvisor.flows.estimate import EstimateReport, estimate_model
from fitadvisor.flows.options import EngineOptions, MachineOptions
from fitadvisor.flows.verify import verify
from fitadvisor.memory import calibration
from fitadvisor.ollama.client import Client
from fitadvisor.ollama import server_env as serverenv

def estimate(model, ctx, gpu_memory=None, **engine):
    return estimate_model(RunContext(machine=MachineOptions(gpu_memory=gpu_memory)), model, ctx, EngineOptions(**engine))


OBSERVATION = calibration.Observation(
    model="devstral-small-2:latest", estimate_model="devstral-small-2:24b", digest="a" * 64, num_ctx=65536,
    kv_cache_type="f16", flash_attention="auto", parallel=1, ollama_version="0.32.15", size_bytes=17_000_000_000,
    size_vram_bytes=17_000_000_000, processor="100% GPU", machine=calibration.machine_summary(RTX_4090_BOX),
    measured_at="2026-11-20T10:00:00+00:00", estimated_bytes=18_000_000_000,
)


def test_config_dir_per_platform(monkeypatch, tmp_path):
    monkeypatch.delenv("FITADVISOR_CONFIG_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert calibration.config_dir() == tmp_path / "xdg" / "fitadvisor"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert calibration.config_dir() == tmp_path / ".config" / "fitadvisor"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert calibration.config_dir() == tmp_path / "Library" / "Application Support" / "fitadvisor"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("APPDATA", str(tmp_path / "Roaming"))
    assert calibration.config_dir() == tmp_path / "Roaming" / "fitadvisor"


def test_round_trip_and_replacement(private_config_dir):
    calibration.record(OBSERVATION)
    assert calibration.load().observations == [OBSERVATION]
    newer = replace(OBSERVATION, size_bytes=17_100_000_000, measured_at="2026-11-21T10:00:00+00:00")
    other_ctx = replace(OBSERVATION, num_ctx=131072)
    calibration.record(newer)
    calibration.record(other_ctx)
    assert calibration.load().observations == [newer, other_ctx]  # same key replaced, new key added
    assert not [p for p in private_config_dir.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("text", [
    "this is [not toml",
    'format = 1\n[[observation]]\nmodel = "x"\n',  # fields missing
    'format = 99\n',
    'format = 1\n[[observation]]\n' + "\n".join(f'{k} = "text"' for k in calibration.Observation.__dataclass_fields__),
])
def test_damaged_store_is_set_aside(private_config_dir, text):
    private_config_dir.mkdir()
    path = private_config_dir / calibration.STORE_NAME
    path.write_text(text)
    store = calibration.load()
    assert store.observations == [] and "was damaged" in store.problem
    (aside,) = private_config_dir.glob("calibration.toml.damaged-*")
    assert aside.read_text() == text and not path.exists()  # kept for the user, out of the way
    calibration.record(OBSERVATION)
    assert calibration.load().observations == [OBSERVATION]


def test_calibration_command(private_config_dir):
    def run(*args):
        return cli_run.fitadvisor("calibration", *args, env={"FITADVISOR_CONFIG_DIR": str(private_config_dir)})

    assert "No measurements yet" in run().stdout
    calibration.record(OBSERVATION)
    listed = run()
    assert listed.returncode == 0 and "devstral-small-2:latest" in listed.stdout and "17 GB" in listed.stdout
    assert json.loads(run("--json").stdout)["observations"][0]["size_bytes"] == 17_000_000_000
    (private_config_dir / calibration.STORE_NAME).write_text("garbage = [")
    damaged = run("--json")
    assert damaged.returncode == 0 and json.loads(damaged.stdout)["observations"] == []
    assert damaged.stderr.startswith("fitadvisor: warning: the calibration store") and len(damaged.stderr.splitlines()) == 1


def test_estimate_uses_what_verify_measured(fake_ollama, monkeypatch):
    monkeypatch.setattr("fitadvisor.hardware.probe.detect", lambda **_: RTX_4090_BOX)
    fake_ollama.version = "0.32.15"
    fake_ollama.add(FakeModel("devstral-small-2:latest", loaded_size=16_800_000_000))
    client = Client(fake_ollama.url)
    client.create("devstral-small-2-64k", "devstral-small-2", {"num_ctx": 65536})  # as `fitadvisor apply` does
    verify(client, "devstral-small-2-64k", None, serverenv.read({}), tools=False, hardware=RTX_4090_BOX)

    result = estimate("devstral-small-2", 65536, ollama_version="0.32.15")
    assert result.measured_total_bytes == 16_800_000_000
    assert result.total_bytes != result.measured_total_bytes  # the model's own numbers stay
    (note,) = [n for n in result.notes if "measured on this machine" in n]
    assert "by `fitadvisor verify` on 20" in note and "16 GB" in note and "devstral-small-2-64k:latest" in note
    assert result.to_dict()["measured_total_bytes"] == 16_800_000_000
    assert "measured" in estimate_command.render(EstimateReport(result))

    # any other setting, release or machine: the measurement does not apply
    assert estimate("devstral-small-2", 32768, ollama_version="0.32.15").measured_total_bytes is None
    assert estimate("devstral-small-2", 65536, ollama_version="0.32.15", kv_cache="q8_0").measured_total_bytes is None
    assert estimate("devstral-small-2", 65536, ollama_version="0.31.0").measured_total_bytes is None
    assert estimate("devstral-small-2", 65536, ollama_version="0.32.15", gpu_memory="24GB").measured_total_bytes is None


def test_estimate_and_recommend_show_the_speed_verify_timed(fake_ollama, monkeypatch):
    """The stand-in's runner reports 37.5 tokens/s: after `verify`, that is the first turn's speed, marked measured."""
    from click.testing import CliRunner

    from fitadvisor.cli import cli
    from fitadvisor.flows.estimate import estimate_with_speed
    from fitadvisor.flows.recommend import recommend_models

    card = Gpu("nvidia", "NVIDIA RTX 6000 Ada Generation", 48 * GIB, library="cuda")
    box = replace(RTX_4090_BOX, gpus=(card,), memory_bandwidth_gbs=960.0)
    monkeypatch.setattr("fitadvisor.hardware.probe.detect", lambda **_: box)
    monkeypatch.setenv("OLLAMA_HOST", fake_ollama.url)
    fake_ollama.version = "0.32.15"
    fake_ollama.decode_tokens_per_second = 37.5
    fake_ollama.add(FakeModel("devstral-small-2:latest", loaded_size=16_800_000_000))
    engine = EngineOptions(ollama_version="0.32.15")
    model = estimate_with_speed(RunContext(), "devstral-small-2", 65536, engine).speed
    assert model.source == "model"
    verify(Client(fake_ollama.url), "devstral-small-2", 65536, serverenv.read({}), tools=False, hardware=box)

    speed = estimate_with_speed(RunContext(), "devstral-small-2", 65536, engine).speed
    assert speed.source == "measured" and speed.first_turn == pytest.approx(37.5, rel=1e-3)
    assert speed.full_context == pytest.approx(37.5 * model.full_context / model.first_turn, rel=1e-3)
    shown = CliRunner().invoke(cli, ["estimate", "devstral-small-2", "--ctx", "64k", "--ollama-version", "0.32.15"])
    assert "38 -> " in shown.output and "(measured)" in shown.output
    data = json.loads(CliRunner().invoke(cli, ["estimate", "devstral-small-2", "--ctx", "64k", "--ollama-version", "0.32.15", "--json"]).output)
    assert data["speed_source"] == "measured" and data["decode_tokens_per_second"]["first_turn"] == 37.5
    # wholly on the GPU at 64K as at the larger context recommend picks: the timed first turn applies there too
    (pick,) = recommend_models(RunContext(fake_ollama.url), engine, candidates="devstral-small-2").recommendations
    assert pick.num_ctx > 65536 and pick.estimate.cpu_bytes == 0
    assert pick.speed.source == "measured" and pick.speed.first_turn == pytest.approx(37.5, rel=1e-3)
    # another KV cache type was not timed: the model's own speed
    assert estimate_with_speed(RunContext(), "devstral-small-2", 65536, EngineOptions(ollama_version="0.32.15", kv_cache="q8_0")).speed.source == "model"


def test_estimate_survives_a_damaged_store(private_config_dir):
    private_config_dir.mkdir()
    (private_config_dir / calibration.STORE_NAME).write_text("[[[")
    result = estimate("devstral-small-2", 65536, ollama_version="0.32.15")
    assert any("was damaged" in n for n in result.notes)


@pytest.mark.parametrize("store_name", [calibration.STORE_NAME, "trials.toml"])
def test_a_store_that_is_not_utf8_is_set_aside_not_a_crash(private_config_dir, store_name):
    private_config_dir.mkdir()
    (private_config_dir / store_name).write_bytes(b"\x00\xff[[")
    run = cli_run.fitadvisor("recommend", "--json",  # this machine: both stores are read
                             env={"FITADVISOR_CONFIG_DIR": str(private_config_dir), "OLLAMA_HOST": "127.0.0.1:9"})
    assert run.returncode == 0, run.stderr
    assert any("was damaged" in note for note in json.loads(run.stdout)["notes"])
    (aside,) = private_config_dir.glob(f"{store_name}.damaged-*")
    assert aside.read_bytes() == b"\x00\xff[["

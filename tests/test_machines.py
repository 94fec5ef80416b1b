"""Machines users really have: several GPUs, every chip in the table, one budget, placement across GPUs."""

import json
import re

import pytest

from fitadvisor.errors import FitAdvisorError
from fitadvisor.hardware._common import tables
from fitadvisor.hardware.probe import detect
from fitadvisor.memory.budget import budget
from fitadvisor.memory.estimate import Settings, estimate
from fitadvisor.memory.releases import Release
from fitadvisor.models.catalog import resolve
from fitadvisor.units import GIB

NEWEST = Release.of(None)
V0_14 = Release.of("0.14.0")
CTX = 65536


def names(hardware):
    return [(gpu.name, gpu.memory_bytes // GIB) for gpu in hardware.gpus]


def test_several_gpus_by_count_by_list_and_by_repeated_option():
    assert names(detect(gpus="2x RTX 3090")) == [("RTX 3090", 24)] * 2
    assert names(detect(gpus="RTX 4090 + RTX 4060 Ti 16GB")) == [("RTX 4090", 24), ("RTX 4060 Ti", 16)]
    assert [g.memory_bytes // GIB for g in detect(gpu_memory="24GB,16GB").gpus] == [24, 16]
    assert [g.memory_bytes // GIB for g in detect(gpu_memory=("24GB", "24GB")).gpus] == [24, 24]  # not the last one only
    assert names(detect(gpus="2x RTX 4060 Ti", gpu_memory="16GB")) == [("RTX 4060 Ti", 16)] * 2


def test_a_mixed_machine_decodes_at_its_slowest_gpu():
    assert detect(gpus="RTX 4090, RTX 3060").memory_bandwidth_gbs == 360


@pytest.mark.parametrize(
    "options, message",
    [
        ({"chip": "RTX 3080", "gpu_memory": "24GB"}, "the RTX 3080 was sold with 10 GB or 12 GB of VRAM, not 24 GB"),
        ({"chip": "RTX 3090", "gpu_memory": "48GB"}, "the RTX 3090 was sold with 24 GB of VRAM, not 48 GB"),
        ({"gpus": "3x RTX 3090", "gpu_memory": "24GB,24GB"}, "3 GPUs named but 2 --gpu-memory sizes"),
        ({"chip": "GB10", "gpu_memory": "24GB"}, "cannot be combined"),
        ({"chip": "RTX 4090", "gpus": "RTX 3090"}, "both name GPUs"),
        ({"gpus": "2x Quadro Z9"}, "unknown chip 'Quadro Z9'"),
        ({"gpu_memory": "24GB,"}, "invalid size ''"),
    ],
)
def test_contradictions_get_one_clear_line(options, message):
    with pytest.raises(FitAdvisorError, match=message):
        detect(**options)


def test_every_chip_in_the_table_is_accepted_by_its_name():
    for chip in tables().apple_chips():
        assert detect(chip=chip).gpus[0].library == "metal"
        assert detect(chip=chip.removeprefix("Apple ").lower()).chip == chip
    for name in tables().gpu_names():
        assert detect(chip=name).gpus, name


@pytest.mark.parametrize("chip, vendor", [("Ryzen AI Max+ 395", "amd"), ("Radeon 8060S", "amd"), ("GB10", "nvidia"), ("DGX Spark", "nvidia")])
def test_unified_memory_machines_share_their_ram(chip, vendor):
    hardware = detect(chip=chip, memory="128GB")
    (gpu,) = hardware.gpus
    assert gpu.vendor == vendor and hardware.unified_memory and hardware.memory_bytes == 128 * GIB
    assert budget(hardware, NEWEST).bytes <= 0.75 * 128 * GIB  # the OS keeps its share


def test_a_raised_macos_gpu_limit_is_planned_and_bounded():
    raised = detect(chip="Apple M4 Pro", memory="48GB", wired_limit="42GB")
    assert raised.gpus[0].memory_bytes == 42 * GIB and any("iogpu.wired_limit_mb=43008" in n for n in raised.notes)
    with pytest.raises(FitAdvisorError, match="leaves macOS less than"):
        detect(chip="Apple M4 Pro", memory="48GB", wired_limit="47GB")


def test_cpu_only_machine_with_its_ram_bandwidth():
    hardware = detect(gpus="none", memory="64GB", ram_bandwidth=89.6)
    assert hardware.gpus == () and hardware.memory_bandwidth_gbs == 89.6
    assert budget(hardware, NEWEST).label == "RAM budget"


# -- placement across GPUs ---------------------------------------------------------------------

def place(model, hardware, release=NEWEST, spread=False, ctx=CTX):
    return estimate(resolve(model).architecture, Settings(num_ctx=ctx, release=release, spread=spread), hardware, model=model)


def test_llama_server_splits_layers_by_free_memory_with_a_compute_buffer_on_each_gpu():
    result = place("devstral-small-2", detect(gpus="2x RTX 3090"))  # too big for 80% of one card: both
    arch = resolve("devstral-small-2").architecture
    alone = estimate(arch, Settings(num_ctx=CTX, batch=result.batch), detect(gpus="RTX 3090"))
    assert result.fits and [g.layers for g in result.gpus] == [20, 20]
    assert result.compute_bytes == 2 * alone.compute_bytes
    assert sum(g.bytes for g in result.gpus) == result.total_bytes
    assert all(g.bytes <= g.budget_bytes for g in result.gpus)


def test_llama_server_keeps_a_small_model_on_one_gpu_unless_spread():
    two = detect(gpus="2x RTX 3090")
    assert [g.layers for g in place("gpt-oss:20b", two).gpus] == [24, 0]
    assert [g.layers for g in place("gpt-oss:20b", two, spread=True).gpus] == [12, 12]


def test_before_llama_server_fills_as_few_gpus_as_hold_the_model_balanced_by_free_memory():
    small = place("gpt-oss:20b", detect(gpus="RTX 3090 + RTX 3060"), release=V0_14)
    assert [(g.name, g.layers) for g in small.gpus] == [("RTX 3090", 24), ("RTX 3060", 0)]
    split = place("devstral-small-2", detect(gpus="RTX 3090 + RTX 3060"), release=V0_14)
    layers = {g.name: g.layers for g in split.gpus}
    assert split.fits and sum(layers.values()) == 40 and layers["RTX 3090"] > layers["RTX 3060"]


def test_a_model_too_big_for_all_gpus_spills_the_rest_to_the_cpu():
    result = place("cogito:32b", detect(gpus="2x RTX 3060"), ctx=131072)
    assert not result.fits and result.cpu_bytes > 0 and result.processor.endswith("CPU/GPU")
    assert all(g.bytes <= g.budget_bytes for g in result.gpus)


# -- one budget --------------------------------------------------------------------------------

def test_one_budget_for_the_field_machine_and_devstral_at_128k_is_offered():
    from fitadvisor.recommend.rank import Candidate, recommend

    mac = detect(memory="48GB", chip="Apple M4 Pro")
    model = resolve("devstral-small-2")
    for release in (NEWEST, V0_14):
        result = place("devstral-small-2", mac, release=release, ctx=131072)
        assert result.gpu_budget_bytes == budget(mac, release).bytes
        candidate = Candidate(model.reference, model.architecture, True, "completed")
        pick = recommend(mac, [candidate], Settings(release=release), hint=False).pick
        assert pick.num_ctx >= 131072 and pick.budget_bytes == budget(mac, release).bytes


def test_max_ctx_caps_the_context_recommend_offers():
    from fitadvisor.recommend.rank import Candidate, recommend

    model = resolve("devstral-small-2")
    candidate = Candidate(model.reference, model.architecture, True, "completed")
    pick = recommend(detect(memory="128GB", chip="Apple M4 Max"), [candidate], hint=False, max_ctx=131072).pick
    assert pick.num_ctx == 131072 and "--max-ctx" in pick.limit


# -- remote hosts --------------------------------------------------------------------------------

@pytest.mark.parametrize("url, local", [
    ("http://127.0.0.1:11434", True), ("http://localhost:11434", True), ("http://[::1]:11434", True),
    ("http://0.0.0.0:11434", True), ("http://gpu-box:11434", False), ("http://192.168.1.20:11434", False),
])
def test_which_hosts_are_this_machine(url, local):
    from fitadvisor.hardware.described import is_this_machine

    assert is_this_machine(url) is local


@pytest.fixture
def remote(fake_ollama, monkeypatch):
    """The stand-in Ollama, taken for another machine on the network."""
    from fitadvisor.hardware import described

    monkeypatch.setattr(described, "is_this_machine", lambda url: False)
    monkeypatch.setattr("fitadvisor.hardware.probe.detect_this_machine", lambda: pytest.fail("probed this machine for a remote host"))
    return fake_ollama


def test_a_remote_host_without_a_description_is_never_planned_as_this_machine(remote):
    from fake_ollama import FakeModel

    from fitadvisor.flows.context import RunContext
    from fitadvisor.flows.options import MachineOptions

    with pytest.raises(FitAdvisorError, match=f"{remote.url}.* is another machine.*describe it with --gpus"):
        _ = RunContext(remote.url, MachineOptions()).hardware
    remote.add(FakeModel("qwen3-coder:30b", loaded_size=21_000_000_000))
    remote.loaded["qwen3-coder:30b"] = 65536
    hardware = RunContext(remote.url, MachineOptions()).hardware
    assert hardware.planned_for == f"the machine at {remote.url}, as its Ollama shows it"
    assert hardware.gpus[0].memory_bytes == 21_000_000_000 and "at least" in hardware.notes[0]


def test_a_remote_host_with_a_description_plans_for_that_machine(remote):
    from click.testing import CliRunner

    from fitadvisor.cli import cli

    no_ram = CliRunner().invoke(cli, ["recommend", "--host", remote.url, "--gpus", "2x RTX 3090"])
    assert no_ram.exit_code != 0 and f"give the RAM of the machine at {remote.url} with --memory" in no_ram.stderr
    result = CliRunner().invoke(cli, ["recommend", "--host", remote.url, "--gpus", "2x RTX 3090", "--memory", "64GB", "--json"])
    data = json.loads(result.output)
    assert data["planned_for"] == f"the machine at {remote.url}, as described"
    assert len(data["hardware"]["gpus"]) == 2 and data["hardware"]["memory_bytes"] == 64 * GIB


# -- the command line ----------------------------------------------------------------------------

def invoke(*args):
    from click.testing import CliRunner

    from fitadvisor.cli import cli

    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_repeated_gpu_memory_and_gpus_on_the_command_line():
    assert len(invoke("probe", "--gpu-memory", "24GB", "--gpu-memory", "24GB")["gpus"]) == 2
    assert [g["name"] for g in invoke("probe", "--gpus", "2x RTX 3090")["gpus"]] == ["RTX 3090", "RTX 3090"]


def test_recommend_places_its_pick_across_both_gpus_per_gpu_in_the_json():
    data = invoke("recommend", "--gpus", "2x RTX 3090", "--memory", "64GB", "--host", "http://127.0.0.1:9")
    pick = data["recommendations"][0]
    assert [g["name"] for g in pick["gpus"]] == ["RTX 3090", "RTX 3090"] and all(g["layers"] for g in pick["gpus"])
    assert sum(g["bytes"] for g in pick["gpus"]) == pick["gpu_bytes"] == pick["total_bytes"]


def test_every_command_shows_the_same_budget_for_the_field_machine():
    mac = ("--memory", "48GB", "--chip", "Apple M4 Pro", "--host", "http://127.0.0.1:9")
    probe = invoke("probe", "--memory", "48GB", "--chip", "Apple M4 Pro")["budget"]
    estimate_ = invoke("estimate", "devstral-small-2", "--ctx", "128k", *mac)
    recommend = invoke("recommend", *mac)
    assert probe == estimate_["budget"] == recommend["budget_detail"]
    assert estimate_["fits"] and 131072 in [p["num_ctx"] for p in recommend["recommendations"]]


def test_sweep_gives_the_series_from_16k_to_the_trained_length_and_the_spill_point():
    data = invoke("estimate", "devstral-small-2", "--sweep", "--memory", "48GB", "--chip", "Apple M4 Pro", "--host", "http://127.0.0.1:9")
    series = data["series"]
    assert series[0]["num_ctx"] == 16 * 1024 and series[-1]["num_ctx"] == resolve("devstral-small-2").architecture.context_length
    assert all(a["total_bytes"] < b["total_bytes"] for a, b in zip(series, series[1:]))
    assert all(a["full_context"] > b["full_context"] for a, b in zip(series, series[1:]))
    spill = data["spill_ctx"]
    assert all(p["fits"] == (p["num_ctx"] < spill) for p in series)
    assert max(p["total_bytes"] for p in series if p["fits"]) <= data["budget"]["bytes"]


def test_sweep_chart_marks_the_budget_and_the_spill():
    from click.testing import CliRunner

    from fitadvisor.cli import cli

    chart = CliRunner().invoke(cli, ["estimate", "devstral-small-2", "--sweep", "--memory", "48GB", "--chip", "Apple M4 Pro",
                                     "--host", "http://127.0.0.1:9"]).output
    assert "└ GPU budget 37.6 GB" in chart and chart.count("◀ spills to the CPU") == 1 and "160K" in chart
    # what the spill costs comes from the sweep's own speeds
    assert re.search(r"on the CPU \(first-turn decode \d+(\.\d)? -> \d+(\.\d)? tokens/s\)\.", chart)


def test_a_model_too_big_for_two_gpus_is_excluded_with_where_ollama_would_put_it():
    data = invoke("recommend", "--gpus", "2x RTX 3090", "--memory", "64GB", "--host", "http://127.0.0.1:9")
    big = data["too_big"]["qwen3-coder-next:latest"]  # 80B MoE
    assert [g["layers"] > 0 for g in big["gpus"]] == [True, True] and big["processor"].endswith("CPU/GPU")
    reason = {e["model"]: e["reason"] for e in data["excluded"]}["qwen3-coder-next:latest"]
    assert big["processor"] in reason


def test_doctor_and_verify_check_a_remote_server_without_guessing_its_machine(remote):
    from fitadvisor.flows.context import RunContext
    from fitadvisor.flows.options import MachineOptions

    assert RunContext(remote.url, MachineOptions()).hardware_if_known is None
    described = RunContext(remote.url, MachineOptions(memory="64GB", gpus="RTX 4090")).hardware_if_known
    assert described.planned_for == f"the machine at {remote.url}, as described"


def test_recommend_says_how_its_pick_splits_across_the_gpus():
    from click.testing import CliRunner

    from fitadvisor.cli import cli

    text = CliRunner().invoke(cli, ["recommend", "--gpus", "RTX 4090 + RTX 3060", "--memory", "64GB", "--host", "http://127.0.0.1:9",
                                    "--ollama-version", "0.14.0"]).output
    assert "Across the GPUs as Ollama 0.14.0 would place it: GPU 0 RTX 4090 " in text and "GPU 1 RTX 3060 " in text

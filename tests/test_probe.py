"""detect() on this machine and on planned machines, the tools' failure modes, and `fitadvisor probe`."""

import json
import os
import sys
import tempfile
import time

import cli_run
import pytest

from fitadvisor.errors import FitAdvisorError
from fitadvisor.hardware import _common
from fitadvisor.hardware.probe import detect
from fitadvisor.hardware._common import run_tool
from fitadvisor.memory.releases import Release
from fitadvisor.units import GIB

NEWEST = Release.of(None)


def budget(hardware):
    return hardware.gpu_budget_bytes(NEWEST.gpu_reserve_bytes, NEWEST.metal_reserve_bytes)


def test_48gb_m4_pro_gives_metal_36_gib():
    hardware = detect(memory="48GB", chip="Apple M4 Pro")
    assert hardware.unified_memory and hardware.chip == "Apple M4 Pro" and hardware.os == "darwin"
    assert [(g.vendor, g.library, g.memory_bytes) for g in hardware.gpus] == [("apple", "metal", 36 * GIB)]
    assert budget(hardware) == 36 * GIB - NEWEST.metal_reserve_bytes
    assert hardware.memory_bandwidth_gbs == 273
    assert hardware.available_memory_bytes == 44 * GIB and any("less 4 GiB" in n for n in hardware.notes)


@pytest.mark.parametrize("memory, share", [("16GB", 2 / 3), ("32GB", 2 / 3), ("36GB", 3 / 4), ("128GB", 3 / 4)])
def test_metal_default_share_by_ram(memory, share):
    chip = {"16GB": "M4", "32GB": "Apple M4", "36GB": "apple m4 max", "128GB": "Apple M4 Max"}[memory]
    hardware = detect(memory=memory, chip=chip)
    total = int(memory[:-2]) * GIB
    assert hardware.gpus[0].memory_bytes == int(total * share)


def test_planned_binned_chip_takes_the_bin_its_memory_comes_in():
    assert detect(memory="36GB", chip="Apple M4 Max").memory_bandwidth_gbs == 410
    assert detect(memory="64GB", chip="Apple M4 Max").memory_bandwidth_gbs == 546


def test_chip_without_memory_plans_its_smallest_configuration():
    hardware = detect(chip="Apple M4 Pro")
    assert hardware.memory_bytes == 24 * GIB and any("smallest" in note for note in hardware.notes)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"chip": "Apple M99"}, "unknown chip 'Apple M99'"),
        ({"memory": "lots"}, "invalid size 'lots'"),
        ({"gpu_memory": "0GB"}, "invalid size '0GB'"),
        ({"chip": "Apple M4 Pro", "gpu_memory": "24GB"}, "cannot be combined"),
    ],
)
def test_bad_overrides_raise_one_clear_error(options, message):
    with pytest.raises(FitAdvisorError, match=message):
        detect(**options)


def test_gpu_memory_plans_one_discrete_gpu():
    hardware = detect(gpu_memory="24GB")
    assert [(g.name, g.memory_bytes, g.library) for g in hardware.gpus] == [("planned GPU (24 GiB)", 24 * GIB, "cuda")]
    assert not hardware.unified_memory and hardware.is_cuda
    assert budget(hardware) == 24 * GIB - NEWEST.gpu_reserve_bytes


def test_memory_override_keeps_this_cpu_and_leaves_room_for_the_os():
    hardware = detect(memory="64GB")
    assert hardware.memory_bytes == 64 * GIB and hardware.available_memory_bytes == 60 * GIB
    assert hardware.cpu == detect().cpu


def test_gpu_overhead_is_subtracted_per_gpu(monkeypatch):
    monkeypatch.setenv("OLLAMA_GPU_OVERHEAD", str(2 * GIB))
    hardware = detect(gpu_memory="24GB")
    assert hardware.gpu_overhead_bytes == 2 * GIB
    assert budget(hardware) == 22 * GIB - NEWEST.gpu_reserve_bytes


@pytest.mark.skipif(not os.path.exists("/proc/meminfo"), reason="Linux only")
def test_this_linux_machine_matches_proc_meminfo_and_is_fast():
    start = time.perf_counter()
    hardware = detect()
    elapsed = time.perf_counter() - start
    meminfo = dict(line.split(":", 1) for line in open("/proc/meminfo"))
    assert hardware.memory_bytes == int(meminfo["MemTotal"].split()[0]) * 1024
    assert abs(hardware.available_memory_bytes - int(meminfo["MemAvailable"].split()[0]) * 1024) < 2 * GIB
    assert hardware.cpu.threads == os.cpu_count()
    assert elapsed < 1.0


def test_tools_that_are_missing_slow_or_failing_degrade_to_notes():
    assert run_tool(["fitadvisor-no-such-tool"]) == _common.ToolOutput(None)
    slow = run_tool([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.3)
    assert slow.text is None and "did not answer" in slow.problem
    failing = run_tool([sys.executable, "-c", "import sys; sys.exit('driver not loaded')"])
    assert failing.text is None and "driver not loaded" in failing.problem


def test_no_gpu_machine_says_models_run_on_the_cpu(monkeypatch):
    from fitadvisor.hardware import _amd, _linux, _nvidia

    monkeypatch.setattr(_nvidia, "query", lambda: ([], []))
    monkeypatch.setattr(_amd, "read_cards", lambda: [])
    hardware = _linux.detect()
    assert hardware.gpus == () and budget(hardware) == 0
    assert any("models run on the CPU" in note for note in hardware.notes)


# -- the command ------------------------------------------------------------------------------

def fitadvisor(*args):
    return cli_run.fitadvisor(*args, cwd=tempfile.gettempdir())


def test_probe_json_contract():
    run = fitadvisor("probe", "--json", "--memory", "48GB", "--chip", "Apple M4 Pro")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    for key in ("os", "chip", "cpu", "memory_bytes", "available_memory_bytes", "unified_memory", "gpus", "gpu_budget_bytes", "memory_bandwidth_gbs"):
        assert key in data
    assert data["gpus"][0]["memory_bytes"] == 36 * GIB and set(data["gpus"][0]) >= {"vendor", "name", "memory_bytes"}
    assert data["gpu_budget_bytes"] == 36 * GIB - NEWEST.metal_reserve_bytes


def test_probe_readable_output_on_this_machine():
    run = fitadvisor("probe")
    assert run.returncode == 0, run.stderr
    assert "Memory" in run.stdout and "CPU" in run.stdout and "Bandwidth" in run.stdout


@pytest.mark.parametrize("args", [["--chip", "Apple M99"], ["--memory", "lots"]])
def test_probe_bad_override_is_one_line(args):
    run = fitadvisor("probe", *args)
    assert run.returncode != 0 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fitadvisor: error:")


def test_a_named_discrete_gpu_plans_with_its_bandwidth():
    from fitadvisor.hardware.probe import detect

    hardware = detect(memory="64GB", gpu_memory="24GB", chip="RTX 4090")
    (gpu,) = hardware.gpus
    assert (gpu.vendor, gpu.library, gpu.memory_bytes, gpu.bandwidth_gbs) == ("nvidia", "cuda", 24 * 1024**3, 1008)
    assert not hardware.unified_memory and hardware.memory_bytes == 64 * 1024**3


def test_a_named_discrete_gpu_plans_with_the_vram_it_was_sold_with():
    from fitadvisor.hardware.probe import detect

    (gpu,) = detect(chip="RTX 4090").gpus
    assert gpu.memory_bytes == 24 * 1024**3
    hardware = detect(chip="RTX 4060 Ti")  # sold with 8 or 16 GB: the smaller, said so
    assert hardware.gpus[0].memory_bytes == 8 * 1024**3 and any("8 GB or 16 GB" in note for note in hardware.notes)

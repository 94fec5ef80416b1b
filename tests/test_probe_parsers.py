"""Every parser of the probe against recorded real outputs (tests/data/probe/SOURCES.md says where each is from)."""

from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from fitadvisor.hardware import _amd, _darwin, _linux, _nvidia
from fitadvisor.hardware._common import (
    ToolOutput,
    gpu_overhead_bytes,
    ram_bandwidth_from_dmi,
    tables,
)
from fitadvisor.units import GIB, MIB

DATA = Path(__file__).parent / "data" / "probe"


def recorded(name: str) -> str:
    return (DATA / name).read_text()


# -- NVIDIA -----------------------------------------------------------------------------------

def test_two_rtx_4090s_from_nvidia_smi():
    rows = _nvidia.parse_nvidia_smi(recorded("nvidia-smi-2x-rtx4090.csv"))
    assert [(r.index, r.name) for r in rows] == [(0, "NVIDIA GeForce RTX 4090"), (1, "NVIDIA GeForce RTX 4090")]
    assert rows[0].total_bytes == 24564 * MIB and rows[1].free_bytes == 24097 * MIB
    gpus, notes, unified = _nvidia.nvidia_gpus(rows, 64 * GIB, 60 * GIB)
    assert not unified and notes == []
    assert [(g.library, g.memory_bytes, g.free_bytes, g.bandwidth_gbs) for g in gpus] == [
        ("cuda", 24564 * MIB, 24076 * MIB, 1008), ("cuda", 24564 * MIB, 24097 * MIB, 1008)
    ]


def test_gb10_reports_no_memory_and_runs_from_system_ram():
    rows = _nvidia.parse_nvidia_smi(recorded("nvidia-smi-gb10.csv"))  # header line included
    assert len(rows) == 1 and rows[0].name == "NVIDIA GB10"
    assert rows[0].total_bytes is None and rows[0].free_bytes is None
    ram_total, ram_free = 128501256192, 7976902656  # leptonai/gpud#1170, the same machine class
    gpus, notes, unified = _nvidia.nvidia_gpus(rows, ram_total, ram_free)
    assert unified
    assert (gpus[0].memory_bytes, gpus[0].free_bytes, gpus[0].bandwidth_gbs) == (ram_total, ram_free, 273)
    assert any("unified memory" in note for note in notes)


def test_an_unknown_gpu_without_memory_is_left_out_with_a_note():
    rows = _nvidia.parse_nvidia_smi("0, NVIDIA Mystery GPU, [N/A], [Not Supported]\n")
    gpus, notes, unified = _nvidia.nvidia_gpus(rows, 64 * GIB, 60 * GIB)
    assert gpus == [] and not unified and "no memory size" in notes[0]


@pytest.mark.parametrize("text", ["", "No devices were found", "NVIDIA-SMI has failed because it couldn't communicate"])
def test_odd_nvidia_smi_output_gives_no_rows(text):
    assert _nvidia.parse_nvidia_smi(text) == []


def test_nvidia_query_degrades_to_a_note_on_odd_output(monkeypatch):
    monkeypatch.setattr(_nvidia, "run_tool", lambda command: ToolOutput("Failed to initialize NVML: Driver/library version mismatch\n"))
    rows, notes = _nvidia.query()
    assert rows == [] and "unexpected" in notes[0]


# -- AMD --------------------------------------------------------------------------------------

AMD = tomllib.loads(recorded("amd-sysfs.toml"))


def fake_sysfs(tmp_path, *machines):
    for name in machines:
        machine = AMD[name]
        device = tmp_path / machine["card"] / "device"
        device.mkdir(parents=True)
        for key, value in machine.items():
            if key.startswith("mem_info") or key in ("vendor", "device"):
                (device / key).write_text(value + "\n")
    (tmp_path / "card0-DP-1").mkdir()  # a connector: not a card
    return str(tmp_path)


def test_discrete_radeon_from_sysfs(tmp_path):
    cards = _amd.read_cards(fake_sysfs(tmp_path, "rx7900xt"))
    assert cards == [_amd.AmdCard("0x744c", 21458059264, 27856896, None)]
    gpus, notes, unified = _amd.amd_gpus(cards, AMD["rx7900xt"]["cpu"], 64 * GIB, 60 * GIB)
    assert not unified
    assert (gpus[0].library, gpus[0].memory_bytes, gpus[0].free_bytes) == ("rocm", 21458059264, 21458059264 - 27856896)
    assert "1002:744c" in gpus[0].name and "bandwidth unknown" in notes[0]


def test_a_4_gib_discrete_card_is_a_card_even_when_gtt_is_as_large(tmp_path):
    machine = AMD["rx570"]
    cards = _amd.read_cards(fake_sysfs(tmp_path, "rx570"))
    gpus, _, unified = _amd.amd_gpus(cards, "AMD Ryzen 5 3600 6-Core Processor", machine["ram_total"], machine["ram_available"])
    assert not unified and gpus[0].memory_bytes == 4 * GIB and gpus[0].free_bytes is None


def test_strix_halo_apu_runs_from_gtt(tmp_path):
    machine = AMD["strix_halo"]
    cards = _amd.read_cards(fake_sysfs(tmp_path, "strix_halo"))
    gpus, notes, unified = _amd.amd_gpus(cards, machine["cpu"], machine["ram_total"], 100 * GIB)
    assert unified
    # GTT (96 GiB) beats the 4 GiB carve-out; llama.cpp's HIP backend reported the same 98304 MiB there.
    assert gpus[0].memory_bytes == 96 * GIB and gpus[0].name == "AMD Radeon 8060S" and gpus[0].bandwidth_gbs == 256
    assert "integrated" in notes[0]


def test_gtt_cannot_exceed_the_ram_the_os_has(tmp_path):
    cards = [_amd.AmdCard("0x1586", 4 * GIB, 0, 96 * GIB)]
    gpus, _, _ = _amd.amd_gpus(cards, "AMD RYZEN AI MAX+ 395 w/ Radeon 8060S", 32 * GIB, 20 * GIB)
    assert gpus[0].memory_bytes == 28 * GIB  # 32 GiB of RAM less the OS reserve


def test_an_integrated_gpu_beside_a_discrete_card_is_left_out():
    cards = [_amd.AmdCard("0x164e", 512 * MIB, 0, 32 * GIB), _amd.AmdCard("0x744c", 24 * GIB, 0, 32 * GIB)]
    gpus, notes, unified = _amd.amd_gpus(cards, "AMD Ryzen 9 7950X 16-Core Processor", 64 * GIB, 60 * GIB)
    assert [g.memory_bytes for g in gpus] == [24 * GIB] and not unified and "left out" in notes[-1]


def test_no_amd_driver_means_no_cards(tmp_path):
    assert _amd.read_cards(str(tmp_path / "missing")) == []


# -- Linux CPU and RAM ------------------------------------------------------------------------

def test_linux_meminfo_and_cpuinfo_agree_with_lscpu():
    total, available = _linux.parse_meminfo(recorded("linux-epyc-no-gpu.meminfo"))
    memtotal_kb = int(recorded("linux-epyc-no-gpu.meminfo").split("MemTotal:")[1].split()[0])
    assert total == memtotal_kb * 1024 and 0 < available <= total
    name, flags, cores = _linux.parse_cpuinfo(recorded("linux-epyc-no-gpu.cpuinfo"))
    lscpu = dict(line.split(":", 1) for line in recorded("linux-epyc-no-gpu.lscpu").splitlines() if ":" in line)
    assert name == lscpu["Model name"].strip()
    per_socket = int(lscpu["Core(s) per socket"]) * int(lscpu["Socket(s)"])
    assert cores == per_socket
    assert {"avx", "avx2", "fma", "f16c"} <= set(flags) and "avx512f" not in flags


def test_arm_cpuinfo_flags():
    name, flags, _ = _linux.parse_cpuinfo("processor\t: 0\nFeatures\t: fp asimd evtstrm asimddp sve i8mm bf16\n\n")
    assert name is None and flags == ("asimd", "asimddp", "sve", "i8mm", "bf16")


def test_ram_bandwidth_from_two_ddr4_channels():
    # 2 channels x 8 bytes x 2400 MT/s (the slower stick sets the pace) = 38.4 GB/s
    assert ram_bandwidth_from_dmi(recorded("udev-dmi-two-channels.txt")) == 38.4


def test_ram_bandwidth_counts_dimms_without_channel_names_as_at_most_two_channels():
    text = "".join(f"E:MEMORY_DEVICE_{i}_SIZE=17179869184\nE:MEMORY_DEVICE_{i}_CONFIGURED_SPEED_MTS=4800\n" for i in range(4))
    assert ram_bandwidth_from_dmi(text) == 76.8
    assert ram_bandwidth_from_dmi("") is None


# -- macOS ------------------------------------------------------------------------------------

def test_m3_pro_14_core_bin():
    values = _darwin.parse_sysctl(recorded("mac-m3pro-18gb.sysctl"))
    model, cores = _darwin.parse_ioreg_gpu(recorded("mac-m3pro-14core.ioreg"))
    assert (model, cores) == ("Apple M3 Pro", 14)
    hardware = _darwin.apple_hardware(values, recorded("mac-m3pro-14core.ioreg"), 10 * GIB, None, [])
    assert hardware.chip == "Apple M3 Pro" and hardware.unified_memory and hardware.memory_bytes == 18 * GIB
    assert hardware.cpu.name == "Apple M3 Pro (5P+6E)" and hardware.cpu.cores == 11
    gpu = hardware.gpus[0]
    assert gpu.name == "Apple M3 Pro (14-core GPU)" and gpu.library == "metal"
    assert gpu.memory_bytes == 12 * GIB  # Metal not asked: 2/3 of 18 GiB, said in a note
    assert hardware.memory_bandwidth_gbs == 150
    assert any("Metal could not be asked" in note for note in hardware.notes)


def test_metal_value_wins_and_the_wired_limit_is_reported():
    values = {**_darwin.parse_sysctl(recorded("mac-m2max-64gb.sysctl")), "iogpu.wired_limit_mb": "57344"}
    hardware = _darwin.apple_hardware(values, None, 40 * GIB, 56 * GIB, [])
    assert hardware.gpus[0].memory_bytes == 56 * GIB and hardware.memory_bandwidth_gbs == 400  # both M2 Max bins: 400
    assert any("iogpu.wired_limit_mb" in note for note in hardware.notes)


def test_working_set_fallback_honours_the_wired_limit():
    assert _darwin.working_set_fallback(64 * GIB, None) == 48 * GIB
    assert _darwin.working_set_fallback(64 * GIB, 57344) == 56 * GIB
    assert _darwin.working_set_fallback(16 * GIB, 65536) == 16 * GIB  # never above the RAM


def test_m4_10_core_ioreg():
    assert _darwin.parse_ioreg_gpu(recorded("mac-m4-10core.ioreg")) == ("Apple M4", 10)
    assert tables().apple_bandwidth("Apple M4", 10) == (120.0, None)


def test_binned_max_chips_differ_in_bandwidth():
    assert tables().apple_bandwidth("Apple M4 Max", 32)[0] == 410
    assert tables().apple_bandwidth("Apple M4 Max", 40)[0] == 546
    assert tables().apple_bandwidth("Apple M3 Max", 30)[0] == 300
    low, note = tables().apple_bandwidth("Apple M3 Max", None)
    assert low == 300 and "GPU-core bin" in note


def test_intel_mac_runs_on_the_cpu():
    values = _darwin.parse_sysctl(recorded("mac-intel-i9.sysctl"))
    hardware = _darwin.apple_hardware(values, None, 20 * GIB, None, [])
    assert hardware.gpus == () and hardware.chip is None and not hardware.unified_memory
    assert hardware.cpu.cores == 8 and hardware.cpu.threads == 16
    assert any("CPU only" in note for note in hardware.notes)


def test_sysctl_parse_ignores_error_lines():
    assert _darwin.parse_sysctl("sysctl: unknown oid 'iogpu.wired_limit_mb'\nhw.memsize: 1\n") == {"hw.memsize": "1"}


# -- Ollama's environment ---------------------------------------------------------------------

def test_gpu_overhead_from_the_environment():
    assert gpu_overhead_bytes({}) == (0, None)
    assert gpu_overhead_bytes({"OLLAMA_GPU_OVERHEAD": "536870912"}) == (512 * MIB, None)
    value, note = gpu_overhead_bytes({"OLLAMA_GPU_OVERHEAD": "lots"})
    assert value == 0 and "not a number" in note

"""Ollama 0.30-0.34 behaviours the estimate models, each from Ollama's source (read at v0.33.0-rc2, commit cited)."""

import pytest

from fitadvisor.errors import FitAdvisorError
from fitadvisor.hardware.machine import Cpu, Gpu, Hardware
from fitadvisor.memory.budget import budget
from fitadvisor.memory.estimate import Settings, estimate
from fitadvisor.memory.releases import NEWEST_MODELLED, Release
from fitadvisor.models.catalog import resolve
from fitadvisor.models.resolve import resolve_model

GIB = 1024**3
V0_34 = Release.of("0.34.2")


def box(gpu_gib: int, library: str = "cuda", overhead: int = 0) -> Hardware:
    gpu = Gpu("nvidia", f"{gpu_gib} GiB card", gpu_gib * GIB, library=library)
    return Hardware("linux", None, Cpu("cpu", 8, 16), 64 * GIB, 60 * GIB, False, (gpu,), gpu_overhead_bytes=overhead)


def test_0_34_2_is_modelled_and_a_newer_server_gets_a_note():
    assert NEWEST_MODELLED == (0, 34, 2) and not V0_34.newer_than_modelled
    arch = resolve("devstral-small-2").architecture
    notes = estimate(arch, Settings(num_ctx=65536, release=Release.of("0.35.0"))).notes
    assert any("newer than the newest release fitadvisor models" in note for note in notes)


@pytest.mark.parametrize(
    "gpu_gib, ctx, expected",
    [(8, 65536, 256), (8, 4096, 512), (12, 65536, 512)],
)
def test_batch_256_on_a_small_cuda_gpu_without_flash_attention(gpu_gib, ctx, expected):
    """server/sched.go automaticGenerationBatch, commit 630882621 (v0.30.0): flash attention off on CUDA gives 512,
    and 256 above a 4096 context when a CUDA GPU has at most 8 GiB."""
    arch = resolve("devstral-small-2").architecture
    result = estimate(arch, Settings(num_ctx=ctx, flash_attention="off", release=V0_34), box(gpu_gib))
    assert result.batch == expected
    before = estimate(arch, Settings(num_ctx=ctx, flash_attention="off", release=Release.of("0.29.0")), box(gpu_gib))
    assert before.batch == 512  # num_batch before llama-server


def test_gpu_overhead_no_longer_shrinks_placement_from_0_30():
    """OLLAMA_GPU_OVERHEAD: subtracted from every GPU before v0.30; from commit 9db4bdbad (v0.30.0) only the
    default-context tier uses it (server/routes.go), llama-server's fit does not."""
    plain, overhead = box(24), box(24, overhead=2 * GIB)
    assert budget(overhead, V0_34).bytes == budget(plain, V0_34).bytes
    old = Release.of("0.29.0")
    assert budget(plain, old).bytes - budget(overhead, old).bytes == 2 * GIB
    assert overhead.gpu_total_bytes == plain.gpu_total_bytes - 2 * GIB  # the default-context tier still sees it


def test_mlx_tags_are_refused_with_the_reason():
    """server/images.go IsMLX (safetensors) runs in the MLX runner, not llama-server (server/sched.go @ v0.33.0-rc2)."""
    with pytest.raises(FitAdvisorError, match="MLX build: Ollama runs it in its MLX runner"):
        resolve_model("qwen3.5:9b-mlx")


def cuda_box(*capabilities: tuple[int, int]) -> Hardware:
    gpus = tuple(Gpu("nvidia", f"CC {major}.{minor} card", 24 * GIB, library="cuda", compute_capability=(major, minor))
                 for major, minor in capabilities)
    return Hardware("linux", None, Cpu("cpu", 8, 16), 64 * GIB, 60 * GIB, False, gpus)


@pytest.mark.parametrize(
    "version, capabilities, expected",
    [
        ("0.34.2", [(8, 6)], True),
        ("0.34.2", [(6, 1)], True),  # commit dba1e27fa (v0.31.2): CC 6.x allowed
        ("0.31.1", [(6, 1)], False),  # commit 9db4bdbad (v0.30.0): CC below 7.0 refused
        ("0.34.2", [(5, 2)], False),
        ("0.34.2", [(7, 2)], False),  # commit aa45f7ce2: Jetson Xavier
        ("0.29.0", [(7, 2)], False),
        ("0.34.2", [(8, 9), (5, 2)], False),  # any GPU lacking it turns it off for the model
    ],
)
def test_flash_attention_off_when_a_cuda_gpu_lacks_it(version, capabilities, expected):
    """ml/device.go FlashAttentionSupported and cudaFlashAttentionSupported, llm/llama_server.go
    LlamaServerFlashAttention (v0.33.0-rc2): unset OLLAMA_FLASH_ATTENTION becomes --flash-attn off."""
    arch = resolve("devstral-small-2").architecture
    result = estimate(arch, Settings(num_ctx=65536, release=Release.of(version)), cuda_box(*capabilities))
    assert result.flash_attention is expected
    assert any("lacks flash attention" in note for note in result.notes) is not expected


def test_flash_attention_forced_on_wins_from_0_30_but_not_before():
    """llama_server.go: a user-set OLLAMA_FLASH_ATTENTION=1 is passed as --flash-attn on; v0.24.0 llm/server.go turned
    it off anyway on an unsupported GPU."""
    arch = resolve("devstral-small-2").architecture
    xavier = cuda_box((7, 2))
    forced = estimate(arch, Settings(num_ctx=65536, flash_attention="on", release=V0_34), xavier)
    assert forced.flash_attention and any("forces it on anyway" in note for note in forced.notes)
    old = estimate(arch, Settings(num_ctx=65536, flash_attention="on", release=Release.of("0.29.0")), xavier)
    assert not old.flash_attention


def test_gemma4_needs_turing_before_0_30():
    """llm/server.go, commit dde09129d (v0.20.4): gemma4's 512-wide heads need CC 7.5 for flash attention; llama-server
    (v0.30+) has no such rule."""
    arch = resolve("gemma4:31b").architecture
    volta = cuda_box((7, 0))
    assert not estimate(arch, Settings(num_ctx=32768, release=Release.of("0.29.0")), volta).flash_attention
    assert estimate(arch, Settings(num_ctx=32768, release=Release.of("0.29.0")), cuda_box((7, 5))).flash_attention
    assert estimate(arch, Settings(num_ctx=32768, release=Release.of("0.31.2")), volta).flash_attention


def test_every_nvidia_gpu_of_the_table_has_its_compute_capability():
    from fitadvisor.hardware._common import compute_capability, tables

    rows = [row for row in tables().data["gpu"] if row["vendor"] == "nvidia"]
    assert rows and all(compute_capability(row) for row in rows)
    assert all("cuda_cc" in row["source"] or row["name"] == "Tesla M40" for row in rows)
    assert "cuda_cc" in tables().data["sources"]


def two_cards(*gib: int) -> Hardware:
    gpus = tuple(Gpu("nvidia", f"card {i}", size * GIB, library="cuda", compute_capability=(8, 6)) for i, size in enumerate(gib))
    return Hardware("linux", None, Cpu("cpu", 8, 16), 128 * GIB, 120 * GIB, False, gpus)


def with_projector(name: str, projector: int = 0, vision: int = 0):
    from dataclasses import replace

    arch = resolve(name).architecture
    return replace(arch, projector_bytes=projector, vision_bytes=vision, weights_bytes=arch.weights_bytes + vision, vision=True)


def test_vision_fit_target_on_every_gpu_from_0_31_2():
    """llm/llama_server.go mmprojFitTargetMiB, commit a6293eb51 (v0.31.2): LLAMA_ARG_FIT_TARGET = projector + 1 GiB, one
    value for every GPU, so each GPU keeps the projector's size free beyond the 1 GiB margin; llama.cpp's clip loads
    the projector on the first GPU. Before, the projector sat with the model's output on the last GPU."""
    projector = 2 * GIB
    arch = with_projector("gemma3:27b", projector=projector)
    settings = dict(num_ctx=131072, spread=True)
    new = estimate(arch, Settings(release=V0_34, **settings), two_cards(16, 16))
    old = estimate(arch, Settings(release=Release.of("0.31.1"), **settings), two_cards(16, 16))
    assert new.gpus[0].layers < old.gpus[0].layers  # the fit keeps the projector's room free on the first GPU too
    assert new.gpus[0].bytes > new.gpus[0].budget_bytes - projector  # where the projector then loads
    assert all(share.bytes <= share.budget_bytes for share in new.gpus)
    assert new.gpus[1].bytes <= new.gpus[1].budget_bytes - projector  # the pad left unused on the others
    # the same loaded size, but that a model wholly on the GPUs is sized without the input layer llama-server keeps
    # in host memory, as `ollama ps` gives it (MemorySize, v0.33.0-rc2)
    assert old.fits and not new.fits and new.total_bytes == old.total_bytes + old.host_bytes
    assert new.cpu_bytes == new.total_bytes - new.gpu_bytes


def test_one_gpu_vision_fit_target_changes_nothing_when_it_fits():
    """On one GPU the pad only moves where the projector is counted (llama_server.go @ v0.33.0-rc2)."""
    arch = with_projector("gemma3:27b", vision=800 * 1024**2)  # a vision tower inside the file (compatClipArches)
    new = estimate(arch, Settings(num_ctx=32768, release=V0_34), two_cards(48))
    old = estimate(arch, Settings(num_ctx=32768, release=Release.of("0.31.1")), two_cards(48))
    assert new.fits and old.fits and new.gpu_bytes == old.gpu_bytes == new.total_bytes


def test_projector_stays_on_the_cpu_when_a_gpu_lacks_room_for_it():
    """shouldDisableMMProjOffload "limited-vram" sized by the projector's tensors from commit 836507378 (v0.30.11): a GPU
    with less free memory than projector + 1 GiB gets --no-mmproj-offload."""
    projector = 3 * GIB
    arch = with_projector("gemma3:4b", projector=projector)
    result = estimate(arch, Settings(num_ctx=8192, release=V0_34, spread=True), two_cards(24, 3))
    assert result.cpu_bytes >= projector and any("--no-mmproj-offload" in note for note in result.notes)


def test_no_gpu_note_where_the_model_runs_without_flash_attention_anyway():
    arch = resolve("devstral-small-2").architecture
    result = estimate(arch, Settings(num_ctx=65536, flash_attention="off", release=V0_34), cuda_box((5, 2)))
    assert not result.flash_attention and not any("lacks flash attention" in note for note in result.notes)

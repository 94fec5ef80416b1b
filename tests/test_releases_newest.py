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

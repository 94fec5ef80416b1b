"""The estimator against loaded sizes Ollama itself reported (`ollama ps`) on a real machine."""

import pytest
from calibration_points import estimate_point, load_points, relative_error

POINTS = load_points()


@pytest.mark.parametrize("point", POINTS, ids=[f"{p.model}@{p.num_ctx}" for p in POINTS])
def test_loaded_size_within_3_percent(point):
    result = estimate_point(point)
    assert abs(relative_error(point, result)) <= 0.03, (result.total_bytes, point.observed_bytes)


@pytest.mark.parametrize("point", [p for p in POINTS if p.processor], ids=lambda p: f"{p.model}@{p.num_ctx}")
def test_cpu_gpu_split_close_to_ollama_ps(point):
    result = estimate_point(point)
    if point.cpu_percent == 0:
        assert result.processor == "100% GPU"
    else:
        assert not result.fits
        assert abs(result.cpu_percent - point.cpu_percent) <= 5, result.processor


def test_the_margin_a_plan_keeps_covers_the_estimates_measured_error():
    from fitadvisor.memory.budget import fit_policy

    worst = max(abs(relative_error(point, estimate_point(point))) for point in POINTS)
    assert worst <= fit_policy()["estimate_margin"] < worst + 0.005  # derived from the error, not padded

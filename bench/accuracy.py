"""Estimate vs what Ollama reported, for every calibration point: `python bench/accuracy.py`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from calibration_points import estimate_point, load_points, relative_error  # noqa: E402


def main() -> None:
    rows = []
    print(f"{'model':<24} {'num_ctx':>8} {'ollama ps':>10} {'estimate':>9} {'error':>7}  processor (observed / estimated)")
    for point in load_points():
        result = estimate_point(point)
        error = relative_error(point, result)
        rows.append(abs(error))
        print(
            f"{point.model:<24} {point.num_ctx:>8} {point.loaded_gb:>7g} GB {result.total_bytes / 1e9:>6.2f} GB {error:>+7.1%}"
            f"  {point.processor or '-'} / {result.processor}"
        )
    print(f"mean |error| {sum(rows) / len(rows):.1%}, max |error| {max(rows):.1%} over {len(rows)} points")


if __name__ == "__main__":
    main()

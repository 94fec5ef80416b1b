"""The speed model against public measurements: decode and prompt tokens/s, fitted on one half, held out on the other.

    python bench/speed.py          # the held-out half against data/speed-fit.toml
    python bench/speed.py --fit    # refit on the fitting half and rewrite fitadvisor's data/speed-fit.toml

The measurements, with their sources, are in bench/data/speed-measurements.toml. The split is fixed:
per backend, in file order, the 1st, 3rd, 5th ... row fit and the others are held out. The model is
fitadvisor's own (fitadvisor/speed/predict.py: DecodeFit, PrefillFit); only its parameters come
from the fit. Done when, held out, at least 80% of decode rows are within +-20% and the worst within
+-40%, and prompt processing of long prompts (2048+ tokens) is within +-30% at the median.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fitadvisor.datafiles import parse_toml  # noqa: E402
from fitadvisor.speed.predict import (  # noqa: E402
    BACKENDS,
    POOLED,
    DecodeFit,
    DecodeWork,
    PrefillFit,
    decode_class,
    pair_flops,
    pp512_to_flops,
    reference_pp512,
)
from fitadvisor.units import GIB  # noqa: E402

MEASUREMENTS = ROOT / "bench" / "data" / "speed-measurements.toml"
FIT_FILE = ROOT / "data" / "speed-fit.toml"
BAND_QUANTILE = 0.8  # the +-band covers this share of the fitting half's residuals
LONG_PROMPT = 2048


@dataclass(frozen=True)
class Model:
    file_gib: float
    params_b: float
    embedding_gib: float
    kv_bytes_per_token: int
    attention_width: int
    query_heads_per_kv_head: int
    active_b: float = 0.0
    k_quant_share: float = 0.0

    @property
    def moe(self) -> bool:
        return bool(self.active_b)

    @property
    def weight_bytes(self) -> float:
        """Read per token: the file less the embedding table, times the active share (as predict.weight_bytes_per_token)."""
        share = self.active_b / self.params_b if self.moe else 1.0
        return (self.file_gib - self.embedding_gib) * GIB * share

    @property
    def active_parameters(self) -> float:
        return (self.active_b or self.params_b) * 1e9


def load() -> tuple[list[dict], list[dict]]:
    data = parse_toml(MEASUREMENTS.read_text())
    models = {name: Model(**fields) for name, fields in data["model"].items()}
    for row in data["decode"] + data["prefill"]:
        row["m"] = models[row["model"]]
        row["class"] = decode_class(row["backend"], [row["hardware"]])
    per_gbs = pp512_per_gbs(data["decode"])
    for row in data["decode"]:
        row["pp512"] = row["pp512"] or per_gbs.get(row["backend"], per_gbs[POOLED]) * row["bandwidth_gbs"]
    return split(data["decode"]), split(data["prefill"]), per_gbs


def pp512_per_gbs(rows: list[dict]) -> dict[str, float]:
    """Each GPU row's measured pp512 (data/speed.toml, by the hardware's name); per backend, the median
    pp512 per GB/s of bandwidth over the distinct devices measured, for the devices without one."""
    ratios: dict[str, dict[str, float]] = {}
    for row in rows:
        row["pp512"] = None
        if row["backend"] == "cpu":
            continue
        device = row["hardware"].split(" (")[0]  # "Apple M1 Max (32-core GPU)": the name data/speed.toml matches
        row["pp512"] = reference_pp512((device,), row["bandwidth_gbs"])
        if row["pp512"]:
            ratios.setdefault(row["backend"], {})[device] = row["pp512"] / row["bandwidth_gbs"]
    medians = {backend: round(statistics.median(by_name.values()), 3) for backend, by_name in ratios.items()}
    medians[POOLED] = round(statistics.median(r for by_name in ratios.values() for r in by_name.values()), 3)
    return medians


def split(rows: list[dict]) -> list[dict]:
    seen: dict[str, int] = {}
    for row in rows:
        index = seen.get(row["backend"], 0)
        seen[row["backend"]] = index + 1
        row["fit"] = index % 2 == 0
    return rows


# -- decode ------------------------------------------------------------------------------------------


def kv_bytes(row: dict, kv_without_flash_attention: float) -> float:
    """The cache read per token at the row's depth (as predict.kv_read_factor scales it without flash attention)."""
    m = row["m"]
    factor = 1.0 if row.get("flash_attention") else m.query_heads_per_kv_head * kv_without_flash_attention
    return m.kv_bytes_per_token * row["depth"] * factor


def decode_bytes(row: dict, kv_without_flash_attention: float) -> float:
    return row["m"].weight_bytes + kv_bytes(row, kv_without_flash_attention)


def work_seconds(work: DecodeWork, row: dict) -> float:
    """The row's work per weight (predict.decode_work_seconds): on a GPU only."""
    if row["backend"] == "cpu":
        return 0.0
    return work.seconds(row["m"].active_parameters, row["m"].k_quant_share, pp512_to_flops(row["pp512"]))


def predict_decode(fits: dict[str, DecodeFit], work: DecodeWork, row: dict) -> float:
    fit = fits.get(row["class"]) or fits.get(row["backend"]) or fits[POOLED]
    read = decode_bytes(row, fit.kv_without_flash_attention)
    return 1 / (fit.seconds(read, row["bandwidth_gbs"], row["m"].moe and row["backend"] != "cpu") + work_seconds(work, row))


def solve(rows: list[list[float]], targets: list[float], weights: list[float]) -> list[float]:
    """Weighted least squares by the normal equations (a few unknowns)."""
    n = len(rows[0])
    a = [[sum(w * r[i] * r[j] for r, w in zip(rows, weights)) for j in range(n)] for i in range(n)]
    b = [sum(w * r[i] * t for r, t, w in zip(rows, targets, weights)) for i in range(n)]
    for col in range(n):  # Gaussian elimination with partial pivoting
        pivot = max(range(col, n), key=lambda k: abs(a[k][col]))
        a[col], a[pivot], b[col], b[pivot] = a[pivot], a[col], b[pivot], b[col]
        if abs(a[col][col]) < 1e-300:
            raise ValueError("singular")
        for k in range(col + 1, n):
            f = a[k][col] / a[col][col]
            a[k] = [x - f * y for x, y in zip(a[k], a[col])]
            b[k] -= f * b[col]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (b[i] - sum(a[i][j] * x[j] for j in range(i + 1, n))) / a[i][i]
    return x


def fit_decode_rows(rows: list[dict], moe_ms: float | None, with_t0: bool, kv_factor: float | None,
                    eta: float | None = None) -> tuple[float, float, float, float]:
    """eta, t0 (ms), MoE (ms) and the KV factor without flash attention, minimising relative error:
    t = (weights + KV) / (eta x bandwidth) + t0 + moe; the parameters given are kept, the others fitted.
    No device reads faster than its memory bus: an eta above 1 is held at 1 and the rest refitted."""
    times = [1 / r["tokens_per_second"] - r["work_s"] for r in rows]
    weights = [r["tokens_per_second"] ** 2 for r in rows]
    bandwidths = [r["bandwidth_gbs"] * 1e9 for r in rows]
    moes = [1.0 if r["m"].moe else 0.0 for r in rows]
    free_moe = moe_ms is None
    free_kv = kv_factor is None
    base = [decode_bytes(r, kv_factor or 0.0) / bw for r, bw in zip(rows, bandwidths)]
    no_fa = [0.0 if r.get("flash_attention") else kv_bytes(r, 1.0) / bw for r, bw in zip(rows, bandwidths)]
    features = [([] if eta else [x]) + ([1.0] if with_t0 else []) + ([m] if free_moe else []) + ([k] if free_kv else [])
                for x, m, k in zip(base, moes, no_fa)]
    targets = [t - (0.0 if free_moe else moe_ms / 1e3 * m) - (x / eta if eta else 0.0) for t, m, x in zip(times, moes, base)]
    solution = solve(features, targets, weights)
    slope = 1 / eta if eta else solution[0]
    fitted = solution[0 if eta else 1:]
    t0 = fitted[0] if with_t0 else 0.0
    moe = fitted[int(with_t0)] if free_moe else moe_ms / 1e3
    factor = fitted[-1] / slope if free_kv else kv_factor
    if slope < 1 and not eta:
        return fit_decode_rows(rows, moe_ms, with_t0, kv_factor, 1.0)
    if with_t0 and t0 < 0:
        return fit_decode_rows(rows, moe * 1e3, False, factor, eta)
    return 1 / slope, t0 * 1e3, max(moe, 0.0) * 1e3, factor


def band(ratios: list[float]) -> float:
    """Percent that covers BAND_QUANTILE of the residuals; a class's band is never below the pooled one."""
    errors = sorted(abs(r - 1) for r in ratios)
    return float(math.ceil(100 * errors[min(len(errors) - 1, int(BAND_QUANTILE * len(errors)))]))


def fit_decode(rows: list[dict], work: DecodeWork) -> dict[str, DecodeFit]:
    """The pooled GPU fit first (it alone has the rows to tell the KV cost without flash attention apart),
    then the MoE cost per backend (from all its rows), then eta and t0 per device class (a backend's plain
    class keeps the backend's name). A class with under 4 rows fits eta alone, with its backend's t0; a
    backend without two MoE rows takes the pooled MoE cost."""
    fitting = [r for r in rows if r["fit"]]
    for r in fitting:
        r["work_s"] = work_seconds(work, r)
    gpu = [r for r in fitting if r["backend"] != "cpu"]
    eta, t0, moe, kv = fit_decode_rows(gpu, None, True, None)
    fits = {POOLED: DecodeFit(round(eta, 3), round(t0, 2), round(moe, 2), round(kv, 2), 0.0)}
    backend_moe, backend_t0 = {}, {}
    for backend in BACKENDS:
        own = [r for r in fitting if r["backend"] == backend]
        if backend == "cpu" or len(own) < 4:
            continue
        moe_rows = sum(r["m"].moe for r in own)
        fixed_moe = None if 2 <= moe_rows < len(own) else moe  # one MoE row alone would be fitted exactly
        _, backend_t0[backend], backend_moe[backend], _ = fit_decode_rows(own, fixed_moe, True, kv)
    for name in sorted({r["class"] for r in fitting}):
        own = [r for r in fitting if r["class"] == name]
        backend = own[0]["backend"]
        class_moe = backend_moe.get(backend, moe)
        if backend == "cpu":
            fit = fit_decode_rows(own, 0.0, False, kv)
        elif len(own) >= 4:
            fit = fit_decode_rows(own, class_moe, True, kv)
        else:
            fit = fit_eta_only(own, DecodeFit(0, backend_t0.get(backend, t0), class_moe, kv, 0))
        fits[name] = DecodeFit(*(round(value, 3) for value in fit), 0.0)
    pooled_band = band([r["tokens_per_second"] / predict_decode(fits, work, r) for r in gpu])
    for name, fit in fits.items():
        own = [r["tokens_per_second"] / predict_decode(fits, work, r) for r in fitting if r["class"] == name]
        fits[name] = replace(fit, band_percent=max([pooled_band, band(own) if own else 0.0]))
    return fits


def decode_loss(rows: list[dict], work: DecodeWork) -> float:
    """Squared log-error of the GPU rows of the fitting half, each class refitted under `work`."""
    fits = fit_decode(rows, work)
    return sum(math.log(r["tokens_per_second"] / predict_decode(fits, work, r)) ** 2
               for r in rows if r["fit"] and r["backend"] != "cpu")


def fit_work(rows: list[dict]) -> DecodeWork:
    """The work per weight for the simple types and for K-quants: a grid over 0-8 in steps of 0.5,
    then of 0.1 around the best, each point with every class's eta and t0 refitted (the other
    parameters are linear given these two)."""
    def best(plains, k_quants) -> DecodeWork:
        return min((DecodeWork(round(p, 2), round(k, 2)) for p in plains for k in k_quants), key=lambda w: decode_loss(rows, w))
    coarse = best([x / 2 for x in range(17)], [x / 2 for x in range(17)])
    return best([max(0.0, coarse.plain + x / 10) for x in range(-4, 5)], [max(0.0, coarse.k_quant + x / 10) for x in range(-4, 5)])


def fit_eta_only(rows: list[dict], parent: DecodeFit) -> tuple[float, float, float, float]:
    """Too few rows for more: eta alone, with the parent's t0, MoE cost and KV factor."""
    fixed = [(parent.t0_ms + (parent.moe_ms if r["m"].moe else 0)) / 1e3 for r in rows]
    times = [1 / r["tokens_per_second"] - r["work_s"] for r in rows]
    xs = [decode_bytes(r, parent.kv_without_flash_attention) / (r["bandwidth_gbs"] * 1e9) for r in rows]
    slope = solve([[x] for x in xs], [t - f for t, f in zip(times, fixed)], [r["tokens_per_second"] ** 2 for r in rows])[0]
    return 1 / max(slope, 1.0), parent.t0_ms, parent.moe_ms, parent.kv_without_flash_attention


# -- prefill -----------------------------------------------------------------------------------------


def prefill_terms(row: dict) -> tuple[float, float, float]:
    """Weight FLOPs, attention FLOPs and the device's reference FLOP/s."""
    m = row["m"]
    weights = 2 * m.active_parameters * row["tokens"]
    return weights, pair_flops(m.attention_width, row["tokens"], row["depth"]), 2 * 6.74e9 * row["reference_pp512"]


def predict_prefill(fits: dict[str, PrefillFit], row: dict) -> float:
    fit = fits.get(row["backend"], fits[POOLED])
    weights, attention, reference = prefill_terms(row)
    return row["tokens"] / fit.seconds(weights, attention, reference, row["m"].moe)


def fit_prefill_rows(rows: list[dict], attention_factor: float | None = None) -> tuple[float, float]:
    """The weights and attention factors minimising relative error; attention's is kept as given, or
    taken from `fallback` when the rows alone would make attention free or negative."""
    features, targets, weights = [], [], []
    for r in rows:
        w, a, ref = prefill_terms(r)
        y = r["tokens"] / r["tokens_per_second"] * ref
        features.append([w] if attention_factor is not None else [w, a])
        targets.append(y - (attention_factor * a if attention_factor is not None else 0.0))
        weights.append(1 / y**2)
    solution = solve(features, targets, weights)
    return (solution[0], attention_factor) if attention_factor is not None else (solution[0], solution[1])


def moe_factor(rows: list[dict], weights_factor: float, attention_factor: float) -> float | None:
    ratios = []
    for r in rows:
        w, a, ref = prefill_terms(r)
        y = r["tokens"] / r["tokens_per_second"] * ref
        ratios.append((y - attention_factor * a) / (weights_factor * w))
    return statistics.median(ratios) if ratios else None


def fit_prefill(rows: list[dict], cpu_gflops_spread: float) -> dict[str, PrefillFit]:
    fitting = [r for r in rows if r["fit"]]
    dense = [r for r in fitting if not r["m"].moe]
    cw, ca = fit_prefill_rows(dense)
    if ca < 0:
        cw, ca = fit_prefill_rows(dense, 0.0)
    pooled_attention = ca
    pooled_moe = moe_factor([r for r in fitting if r["m"].moe], cw, ca) or 1.0
    fits = {POOLED: PrefillFit(round(cw, 3), round(ca, 3), round(pooled_moe, 3), 0.0)}
    for backend in BACKENDS:
        own_dense = [r for r in dense if r["backend"] == backend]
        if len(own_dense) < 3:
            continue
        cw, ca = fit_prefill_rows(own_dense)
        if ca <= 0:  # these rows cannot tell attention's cost apart: the pooled one
            cw, ca = fit_prefill_rows(own_dense, pooled_attention)
        moe = moe_factor([r for r in fitting if r["backend"] == backend and r["m"].moe], cw, ca) or pooled_moe
        fits[backend] = PrefillFit(round(cw, 3), round(ca, 3), round(moe, 3), 0.0)
    ratios = {name: [r["tokens_per_second"] / predict_prefill(fits, r) for r in fitting
                     if (r["backend"] == name or (name == POOLED and r["backend"] not in fits))] for name in fits}
    pooled_band = band([r["tokens_per_second"] / predict_prefill(fits, r) for r in fitting])
    for name, fit in fits.items():
        own = ratios[name]
        fits[name] = PrefillFit(fit.weights_factor, fit.attention_factor, fit.moe_factor, max([pooled_band, band(own) if own else 0.0]))
    # CPUs: no prompt measurements in the table; the per-core throughput's spread is the band.
    fits["cpu"] = PrefillFit(1.0, 1.0, fits[POOLED].moe_factor, cpu_gflops_spread)
    return fits


# -- report ------------------------------------------------------------------------------------------


def read_fits() -> tuple[dict[str, DecodeFit], DecodeWork, dict[str, PrefillFit]]:
    data = parse_toml(FIT_FILE.read_text())
    work = DecodeWork(data["decode_work"]["plain"], data["decode_work"]["k_quant"])
    return ({k: DecodeFit(**v) for k, v in data["decode"].items()}, work, {k: PrefillFit(**v) for k, v in data["prefill"].items()})


def write_fits(decode: dict[str, DecodeFit], work: DecodeWork, per_gbs: dict[str, float], prefill: dict[str, PrefillFit],
               counts: str) -> None:
    lines = [
        "# Fitted speed parameters: written by `python bench/speed.py --fit`, do not edit by hand.",
        "# Source: the fitting half of bench/data/speed-measurements.toml (public llama.cpp and Ollama",
        "# measurements, each row with its source); the held-out half checks them (README, Benchmarks).",
        f"# {counts}",
        "#",
        "# decode: seconds per token = bytes read / (eta x bandwidth GB/s) + t0_ms (+ moe_ms for an MoE model);",
        "# band_percent covers 80% of the fitting half's residuals. On a GPU, plus decode_work: (plain x (1 - K-quant",
        "# share) + k_quant x K-quant share) x 2 x active params / the device's reference FLOP/s; a device",
        "# without a pp512 of its own takes its backend's pp512_per_gbs x its bandwidth. prefill: seconds x the device's reference",
        "# FLOP/s (pp512 of LLaMA-2 7B, data/speed.toml) = weights_factor x 2 x active params x tokens",
        "# (x moe_factor) + attention_factor x attention FLOPs. `gpu` pools every GPU backend, for one",
        "# with too few measurements of its own.",
        "",
    ]
    lines += ["[decode_work]", f"plain = {work.plain}", f"k_quant = {work.k_quant}", "",
              "[decode_work.pp512_per_gbs]", *(f"{name} = {value}" for name, value in sorted(per_gbs.items())), ""]
    for section, fits in (("decode", decode), ("prefill", prefill)):
        for name, fit in fits.items():
            lines.append(f"[{section}.{name}]")
            lines += [f"{key} = {value}" for key, value in asdict(fit).items()]
            lines.append("")
    FIT_FILE.write_text("\n".join(lines))


def summary(ratios: list[float], within: float) -> str:
    hits = sum(abs(r - 1) <= within for r in ratios)
    worst = max(ratios, key=lambda r: abs(r - 1))
    return (f"{hits}/{len(ratios)} within +-{within:.0%} ({hits / len(ratios):.0%}), median ratio "
            f"{statistics.median(ratios):.2f}, median |error| {statistics.median(abs(r - 1) for r in ratios):.0%}, worst {worst:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit on the fitting half and rewrite data/speed-fit.toml")
    args = parser.parse_args()
    decode_rows, prefill_rows, per_gbs = load()
    if args.fit:
        facts = parse_toml((ROOT / "data" / "speed.toml").read_text())["prompt"]
        measured = facts["cpu_gflops_per_core_measured"]
        spread = float(math.ceil(100 * max(abs(x / facts["cpu_gflops_per_core"] - 1) for x in measured)))
        work = fit_work(decode_rows)
        decode_fits, prefill_fits = fit_decode(decode_rows, work), fit_prefill(prefill_rows, spread)
        sources = {r["source"] for r in decode_rows + prefill_rows}
        write_fits(decode_fits, work, per_gbs, prefill_fits, f"{sum(r['fit'] for r in decode_rows)} decode and {sum(r['fit'] for r in prefill_rows)} "
                   f"prefill rows fitted, from {len(sources)} sources")
    decode_fits, work, prefill_fits = read_fits()
    print(f"{'held out: hardware':58} {'backend':7} {'model':22} {'depth':>6} {'measured':>9} {'model':>8} {'ratio':>6}")
    held = [r for r in decode_rows if not r["fit"]]
    ratios = []
    for r in held:
        predicted = predict_decode(decode_fits, work, r)
        ratios.append(r["tokens_per_second"] / predicted)
        print(f"{r['hardware'][:58]:58} {r['backend']:7} {r['model'][:22]:22} {r['depth']:>6} {r['tokens_per_second']:>9.1f} {predicted:>8.1f} {ratios[-1]:>6.2f}")
    fitted = [r["tokens_per_second"] / predict_decode(decode_fits, work, r) for r in decode_rows if r["fit"]]
    print()
    print(f"decode, held out ({len(held)} rows): {summary(ratios, 0.20)}")
    print(f"decode, fitting half ({len(fitted)} rows): {summary(fitted, 0.20)}")
    long_held = [r for r in prefill_rows if not r["fit"] and r["tokens"] >= LONG_PROMPT]
    prefill_ratios = [r["tokens_per_second"] / predict_prefill(prefill_fits, r) for r in long_held]
    print(f"prefill, held out, {LONG_PROMPT}+ token prompts ({len(long_held)} rows): {summary(prefill_ratios, 0.30)}")
    sources = {r["source"] for r in decode_rows + prefill_rows}
    print(f"{len(decode_rows)} decode and {len(prefill_rows)} prefill measurements from {len(sources)} sources")
    ok = (sum(abs(r - 1) <= 0.2 for r in ratios) >= 0.8 * len(ratios) and max(abs(r - 1) for r in ratios) <= 0.4
          and statistics.median(abs(r - 1) for r in prefill_ratios) <= 0.3)
    print("target met" if ok else "target NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

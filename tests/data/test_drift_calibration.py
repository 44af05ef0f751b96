"""Drift detection calibrated on synthetic data with known shifts, at the documented defaults.

Issue 6 point 4: a 20–30 % change of scale of a heavy-tailed positive column (or its median moved by a third
of the IQR) must be flagged; two i.i.d. samples of 1M rows must flag nothing; small samples must account for
sampling noise. The scores are also checked against independent computations on the raw data (scipy's
two-sample KS statistic, numpy/scipy JSD, pandas value frequencies), as issue 8 asks.

``python tests/data/test_drift_calibration.py`` prints the false-positive and detection rates quoted in the
README ("Drift and skew"); the tests assert the same figures at a smaller, fixed number of trials.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest

from sluiceway.data.statistics import FeatureStatistics, compute_statistics
from sluiceway.data.validation.drift import (
    ALPHA,
    DEFAULT_INFINITY_NORM_THRESHOLD,
    DEFAULT_KS_THRESHOLD,
    NUM_JSD_BINS,
    infinity_norm,
    jensen_shannon_divergence,
    ks_distance,
    ks_noise_bound,
)

Sampler = Callable[[np.random.Generator, int], np.ndarray]

# Heavy-tailed positive columns (lognormal, Pareto), a light-tailed positive one and a symmetric one.
DISTRIBUTIONS: dict[str, Sampler] = {
    "lognormal(0, 1)": lambda rng, n: rng.lognormal(0.0, 1.0, n),
    "Pareto(1.5)": lambda rng, n: rng.pareto(1.5, n) + 1.0,
    "exponential(1)": lambda rng, n: rng.exponential(1.0, n),
    "normal(10, 1)": lambda rng, n: rng.normal(10.0, 1.0, n),
}


def _iqr(values: np.ndarray) -> float:
    q1, q3 = np.quantile(values, [0.25, 0.75])
    return float(q3 - q1)


def _shifted(name: str, change: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """A sample of ``name`` after ``change``: ``"same"``, ``"scale 1.2"``/``"scale 1.3"`` (for the normal
    column: its spread around the mean), or ``"median + IQR/3"``."""
    values = DISTRIBUTIONS[name](rng, n)
    if change == "same":
        return values
    if change.startswith("scale"):
        factor = float(change.split()[1])
        if name.startswith("normal"):
            return 10.0 + (values - 10.0) * factor
        return values * factor
    if change == "median + IQR/3":
        reference = DISTRIBUTIONS[name](np.random.default_rng(12345), 200_000)
        return values + _iqr(reference) / 3
    raise ValueError(change)


def _summaries(columns: list[np.ndarray]) -> list[FeatureStatistics]:
    """Statistics of several columns at once (one compute_statistics call: the same code as StatisticsGen)."""
    if len({len(column) for column in columns}) > 1:
        return [_summaries([column])[0] for column in columns]
    if len(columns) > 100:  # wide tables cost more than narrow ones: keep each call narrow
        return [s for start in range(0, len(columns), 100) for s in _summaries(columns[start : start + 100])]
    table = pa.table({f"c{i}": column for i, column in enumerate(columns)})
    return list(compute_statistics(table).datasets[0].features)


def _verdict(reference: FeatureStatistics, current: FeatureStatistics) -> str:
    """``"drifted"`` / ``"too_few_rows"`` / ``"passed"`` at the default KS threshold (validate_statistics'
    rule: above both the threshold and the noise bound)."""
    distance = ks_distance(reference, current)
    assert distance is not None
    if distance.score <= DEFAULT_KS_THRESHOLD:
        return "passed"
    return "drifted" if distance.score > distance.noise_bound else "too_few_rows"


def rates(name: str, change: str, size: int, trials: int, seed: int = 0) -> dict[str, float]:
    """Fractions of ``trials`` reference/current pairs of ``size`` rows judged drifted / too few rows."""
    rng = np.random.default_rng(seed)
    columns: list[np.ndarray] = []
    for _ in range(trials):
        columns.append(DISTRIBUTIONS[name](rng, size))
        columns.append(_shifted(name, change, rng, size))
    stats = _summaries(columns)
    verdicts = [_verdict(stats[2 * i], stats[2 * i + 1]) for i in range(trials)]
    return {v: verdicts.count(v) / trials for v in ("drifted", "too_few_rows", "passed")}


# ------------------------------------------------------------------------------------------------------
# No false positives
# ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_iid_samples_of_a_million_rows_flag_nothing(name):
    rng = np.random.default_rng(1)
    a, b = _summaries([DISTRIBUTIONS[name](rng, 1_000_000), DISTRIBUTIONS[name](rng, 1_000_000)])
    distance = ks_distance(a, b)
    assert distance is not None and distance.score < DEFAULT_KS_THRESHOLD / 5
    assert _verdict(a, b) == "passed"


@pytest.mark.parametrize("name", DISTRIBUTIONS)
@pytest.mark.parametrize("size", [30, 100, 1_000, 10_000])
def test_small_and_medium_iid_samples_never_block(name, size):
    # 30-row eval splits from one distribution stopped pipelines (JSD 0.156 > 0.1): never again
    trials = 200 if size <= 1_000 else 40
    found = rates(name, "same", size, trials, seed=size)
    assert found["drifted"] == 0, found


def test_thirty_rows_above_the_threshold_are_reported_as_too_few_rows():
    rng = np.random.default_rng(5)
    a, b = _summaries([rng.lognormal(0, 1, 30), rng.lognormal(0, 1, 30)])
    distance = ks_distance(a, b)
    assert distance is not None and distance.score > DEFAULT_KS_THRESHOLD  # chance alone passes 0.05 ...
    assert distance.noise_bound > 0.45  # ... but 30 vs 30 rows cannot tell less than ~0.5
    assert _verdict(a, b) == "too_few_rows"


# ------------------------------------------------------------------------------------------------------
# Detection
# ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DISTRIBUTIONS)
@pytest.mark.parametrize("change", ["scale 1.2", "scale 1.3", "median + IQR/3"])
@pytest.mark.parametrize("size", [10_000, 1_000_000])
def test_moderate_changes_are_flagged(name, change, size):
    if name.startswith("normal") and change == "scale 1.2":
        # documented limit: widening a symmetric column by 20 % moves its CDF by only 0.044 (KS) < 0.05,
        # so it is not flagged on large samples (on 10k rows the noise makes it a coin toss)
        if size == 1_000_000:
            assert rates(name, change, size, trials=2, seed=7)["drifted"] == 0.0
        return
    found = rates(name, change, size, trials=5 if size <= 10_000 else 2, seed=7)
    assert found["drifted"] == 1.0, found


def test_a_thirty_percent_change_is_flagged_from_a_few_thousand_rows():
    assert rates("lognormal(0, 1)", "scale 1.3", 3_000, trials=40, seed=3)["drifted"] >= 0.95


def test_the_old_decile_jsd_missed_what_ks_catches():
    """The issue's case (a): JSD over deciles scored a 30 % change of scale of a heavy-tailed column at
    about 0.03 against 0.1. KS at its default flags it; JSD stays quadratic in the shift (documented)."""
    rng = np.random.default_rng(11)
    a, b = _summaries([rng.lognormal(0, 1, 100_000), rng.lognormal(0, 1, 100_000) * 1.3])
    ks, jsd = ks_distance(a, b), jensen_shannon_divergence(a, b)
    assert ks is not None and jsd is not None
    assert ks.score > 2 * DEFAULT_KS_THRESHOLD
    assert jsd.score < 0.03


# ------------------------------------------------------------------------------------------------------
# Scores against independent computations on the raw data
# ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DISTRIBUTIONS)
@pytest.mark.parametrize("size", [200, 5_000, 200_000])
def test_ks_distance_agrees_with_scipy_on_the_raw_data(name, size):
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(21)
    raw_a, raw_b = DISTRIBUTIONS[name](rng, size), _shifted(name, "scale 1.2", rng, size) * 1.0
    a, b = _summaries([raw_a, raw_b])
    ours = ks_distance(a, b)
    assert ours is not None
    exact = scipy_stats.ks_2samp(raw_a, raw_b).statistic
    # the summary holds 101 quantiles: each CDF is known to a percentile (plus KLL's rank error when
    # approximate), so the two scores agree within two percentiles and the rank errors
    tolerance = 0.02 + a.numeric.rank_error + b.numeric.rank_error + 2 / size
    assert ours.score == pytest.approx(exact, abs=tolerance)


def test_ks_noise_bound_is_the_two_sample_critical_value():
    scipy_stats = pytest.importorskip("scipy.stats")
    for n, m in [(1_000, 1_000), (5_000, 50_000), (1_000_000, 1_000_000)]:
        bound = ks_noise_bound(n, m)
        # the asymptotic Kolmogorov distribution of sqrt(nm/(n+m)) D
        assert scipy_stats.kstwobign.sf(bound * math.sqrt(n * m / (n + m))) == pytest.approx(ALPHA, rel=0.05)
    # and for small samples, scipy's exact two-sample test puts the bound at or beyond the ALPHA level
    rng = np.random.default_rng(2)
    for n in (30, 100):
        a, b = rng.normal(size=n), rng.normal(size=n) + 10  # far apart: D = 1
        assert scipy_stats.ks_2samp(a, b, method="exact").pvalue < ALPHA
        assert ks_noise_bound(n, n) < 1.0


def test_jsd_agrees_with_an_independent_computation():
    scipy_distance = pytest.importorskip("scipy.spatial.distance")
    rng = np.random.default_rng(8)
    raw_a, raw_b = rng.lognormal(0, 1, 4_000), rng.lognormal(0.3, 1, 4_000)
    a, b = _summaries([raw_a, raw_b])
    ours = jensen_shannon_divergence(a, b)
    assert ours is not None
    # bins at the reference's quantiles, open-ended at both ends, as documented
    edges = np.quantile(raw_a, [i / NUM_JSD_BINS for i in range(1, NUM_JSD_BINS)], method="inverted_cdf")
    p = np.bincount(np.searchsorted(edges, raw_a, side="left"), minlength=NUM_JSD_BINS) / len(raw_a)
    q = np.bincount(np.searchsorted(edges, raw_b, side="left"), minlength=NUM_JSD_BINS) / len(raw_b)
    independent = scipy_distance.jensenshannon(p, q, base=2) ** 2
    assert ours.score == pytest.approx(independent, rel=0.1, abs=2e-3)


def test_infinity_norm_agrees_with_pandas_frequencies():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    values = np.array(["a", "b", "c", "d", "[unknown]"])
    raw_a = rng.choice(values, 5_000, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    raw_b = rng.choice(values, 3_000, p=[0.25, 0.35, 0.2, 0.1, 0.1])
    a, b = _summaries([raw_a.astype(object), raw_b.astype(object)])
    ours = infinity_norm(a, b)
    assert ours is not None
    freq_a = pd.Series(raw_a).value_counts(normalize=True)
    freq_b = pd.Series(raw_b).value_counts(normalize=True)
    gaps = (freq_a - freq_b).abs()
    assert ours.score == pytest.approx(gaps.max(), abs=1e-12)
    assert ours.value == gaps.idxmax() == "a"
    assert ours.significant  # 15 points on thousands of rows: far beyond noise and threshold


def test_infinity_norm_on_thirty_rows_does_not_block():
    # ~30-row eval splits scored L-infinity 0.101 > 0.1 and stopped the pipeline
    rng = np.random.default_rng(6)
    blocked = 0
    for _ in range(200):
        raw_a = rng.choice(["x", "y", "z"], 30, p=[0.5, 0.3, 0.2]).astype(object)
        raw_b = rng.choice(["x", "y", "z"], 30, p=[0.5, 0.3, 0.2]).astype(object)
        a, b = _summaries([raw_a, raw_b])
        ours = infinity_norm(a, b, DEFAULT_INFINITY_NORM_THRESHOLD)
        assert ours is not None
        blocked += bool(ours.significant)
    assert blocked == 0


# ------------------------------------------------------------------------------------------------------
# The README's table
# ------------------------------------------------------------------------------------------------------


def main() -> None:
    sizes = [30, 100, 1_000, 10_000, 100_000, 1_000_000]
    trials = {30: 1000, 100: 1000, 1_000: 500, 10_000: 200, 100_000: 50, 1_000_000: 10}
    print(f"KS distance, default threshold {DEFAULT_KS_THRESHOLD}, ALPHA {ALPHA}; rate drifted (too few rows)")
    print("| column | change | " + " | ".join(f"{n:,}" for n in sizes) + " |")
    print("|---|---|" + "---|" * len(sizes))
    for name in DISTRIBUTIONS:
        for change in ("same", "scale 1.2", "scale 1.3", "median + IQR/3"):
            cells = []
            for n in sizes:
                found = rates(name, change, n, trials[n], seed=n)
                cells.append(f"{found['drifted']:.1%} ({found['too_few_rows']:.0%})")
            print(f"| {name} | {change} | " + " | ".join(cells) + " |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

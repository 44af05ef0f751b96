"""Sketch accumulators: exact where promised, within their error bounds otherwise, mergeable, picklable."""

from __future__ import annotations

import pickle

import numpy as np
import polars as pl
import pytest

from sluiceway.data.sketches import DistinctCounter, FrequentValues, Moments, QuantileAccumulator


def test_moments_merge_matches_numpy_to_1e9() -> None:
    rng = np.random.default_rng(1)
    x = rng.lognormal(3, 2, 300_000) + 1e6
    parts = np.array_split(x, 7)
    acc = Moments()
    for p in parts[::-1]:
        m = Moments()
        m.update(p)
        acc.merge(pickle.loads(pickle.dumps(m)))
    assert acc.count == x.size
    assert acc.mean == pytest.approx(x.mean(), rel=1e-9)
    assert acc.std == pytest.approx(x.std(), rel=1e-9)
    assert (acc.min, acc.max) == (x.min(), x.max())


def test_moments_count_nan_inf_and_zeros_and_keep_them_out_of_mean() -> None:
    m = Moments()
    m.update(np.array([0.0, 1.0, np.nan, np.inf, 3.0, 0.0]))
    assert (m.num_nan, m.num_inf, m.num_zeros, m.num_values) == (1, 1, 2, 6)
    assert m.mean == pytest.approx(1.0)
    assert m.max == np.inf


def test_weighted_moments() -> None:
    rng = np.random.default_rng(2)
    x, w = rng.normal(5, 2, 10_000), rng.uniform(0.1, 3, 10_000)
    acc = Moments()
    for xs, ws in zip(np.array_split(x, 3), np.array_split(w, 3), strict=True):
        m = Moments()
        m.update(xs, ws)
        acc.merge(m)
    mean = np.average(x, weights=w)
    assert acc.w_mean == pytest.approx(mean, rel=1e-9)
    assert acc.weighted_std == pytest.approx(np.sqrt(np.average((x - mean) ** 2, weights=w)), rel=1e-9)


def test_quantiles_exact_while_few_distinct_values() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 500, 200_000).astype(float)
    a, b = QuantileAccumulator(), QuantileAccumulator()
    a.update(x[:50_000])
    b.update(x[50_000:])
    a.merge(b)
    assert a.is_exact and a.rank_error == 0
    ranks = [0, 0.1, 0.25, 0.5, 0.9, 1]
    assert a.quantiles(ranks) == list(np.quantile(x, ranks, method="inverted_cdf"))
    hist = a.histogram(0, 499, 5)
    assert [c for *_, c in hist] == list(np.histogram(x, bins=5, range=(0, 499))[0].astype(float))


def test_quantiles_within_kll_rank_error_after_spilling_and_merging() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_cauchy(400_000)
    accs = []
    for part in np.array_split(x, 4):
        q = QuantileAccumulator(exact_cap=1000)
        q.update(part)
        accs.append(pickle.loads(pickle.dumps(q)))
    acc = accs[0]
    for other in accs[1:]:
        acc.merge(other)
    assert not acc.is_exact
    eps = acc.rank_error
    assert 0 < eps < 0.01
    xs = np.sort(x)
    for r, v in zip([0.01, 0.1, 0.5, 0.9, 0.99], acc.quantiles([0.01, 0.1, 0.5, 0.9, 0.99]), strict=True):
        true_rank = np.searchsorted(xs, v, side="right") / x.size
        assert abs(true_rank - r) <= eps
    assert acc.quantiles([0, 1]) == [x.min(), x.max()]


def test_exact_phase_spills_to_kll_when_too_many_values() -> None:
    q = QuantileAccumulator(exact_cap=100)
    q.update_counts(np.arange(50.0), np.full(50, 3.0))
    assert q.is_exact
    q.update_counts(np.arange(50.0, 120.0), np.full(70, 2.0))
    assert not q.is_exact
    assert q.n == 50 * 3 + 70 * 2


@pytest.mark.parametrize("n", [1_000, 50_000, 1_000_000])
def test_distinct_counter_within_2_percent(n: int) -> None:
    values = pl.Series([f"user-{i}" for i in range(n)])
    hashes = values.hash(7).to_numpy()
    a, b = DistinctCounter(), DistinctCounter()
    a.update_hashes(hashes[: 2 * n // 3])
    b.update_hashes(hashes[n // 3 :])  # overlapping: duplicates must not count twice
    a.merge(pickle.loads(pickle.dumps(b)))
    assert a.estimate() == pytest.approx(n, rel=0.02)


def test_frequent_values_exact_when_few_values_and_reduced_when_many() -> None:
    f = FrequentValues()
    f.update_counts(["a", "b", "c"], np.array([30, 20, 10]))
    g = FrequentValues()
    g.update_counts(["b", "d"], np.array([15, 1]))
    f.merge(pickle.loads(pickle.dumps(g)))
    assert f.is_exact
    assert f.top(2) == [("b", 35.0), ("a", 30.0)]
    keep, by = FrequentValues.reduce_counts(np.ones(10_000), f.capacity)
    assert not keep.any() and by == 1.0


@pytest.mark.parametrize("order", ["random", "ascending", "descending"])
def test_kll_sketch_is_reproducible_and_within_its_rank_error(order: str) -> None:
    from sluiceway.data.sketches import KllSketch

    rng = np.random.default_rng(12)
    x = rng.lognormal(0, 2, 1_500_000)
    if order != "random":
        x = np.sort(x)[:: 1 if order == "ascending" else -1]

    def build() -> KllSketch:
        parts = [KllSketch() for _ in range(3)]
        for i, batch in enumerate(np.array_split(x, 17)):
            parts[i % 3].update(batch)
        acc = parts[0]
        for p in parts[1:]:
            acc.merge(pickle.loads(pickle.dumps(p)))
        return acc

    a, b = build(), build()
    assert [lv.tobytes() for lv in a.levels] == [lv.tobytes() for lv in b.levels]
    assert a.n == x.size and a.num_retained < 5_000  # memory bounded, not growing with rows
    eps = a.normalized_rank_error()
    xs = np.sort(x)
    ranks = np.linspace(0.01, 0.99, 99)
    worst = max(abs(np.searchsorted(xs, a.quantile(r), side="right") / xs.size - r) for r in ranks)
    assert worst <= eps
    assert (a.quantile(0), a.quantile(1)) == (xs[0], xs[-1])
    assert a.rank(float(np.median(xs))) == pytest.approx(0.5, abs=eps)

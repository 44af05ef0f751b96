"""The deterministic quantile sample: exact below its capacity, order-free and accurate above it."""

from __future__ import annotations

import numpy as np
import pytest

from sluiceway.transform.quantiles import BottomKQuantiles


def _fill(chunks: list[np.ndarray], capacity: int) -> BottomKQuantiles:
    accumulator = BottomKQuantiles(capacity)
    for chunk in chunks:
        accumulator.update(chunk)
    return accumulator


def test_exact_below_capacity() -> None:
    values = np.random.default_rng(1).integers(0, 500, 20_000).astype(float)
    accumulator = _fill(np.array_split(values, 7), capacity=1000)
    assert accumulator.is_exact
    expected = sorted(set(np.quantile(values, np.arange(1, 10) / 10, method="inverted_cdf")))
    assert accumulator.boundaries(10) == expected


def test_the_same_boundaries_in_any_order_and_any_merge_tree() -> None:
    values = np.random.default_rng(2).lognormal(0, 1, 60_000)
    chunks = np.array_split(values, 12)
    sequential = _fill(chunks, capacity=2000)
    assert not sequential.is_exact
    shuffled = _fill([chunks[i] for i in np.random.default_rng(3).permutation(12)], capacity=2000)
    tree = _fill(chunks[:5], 2000).merge(_fill(chunks[5:9], 2000).merge(_fill(chunks[9:], 2000)))
    reference = sequential.boundaries(20)
    assert shuffled.boundaries(20) == reference and tree.boundaries(20) == reference
    assert sequential.values.tobytes() == tree.values.tobytes() and sequential.counts.tobytes() == tree.counts.tobytes()


@pytest.mark.parametrize("capacity", [2_000, 20_000])
def test_sampled_quantiles_stay_within_a_few_rank_errors(capacity: int) -> None:
    values = np.random.default_rng(4).normal(50, 10, 400_000)
    accumulator = _fill(np.array_split(values, 8), capacity=capacity)
    ordered = np.sort(values)
    for i, boundary in enumerate(accumulator.boundaries(10), start=1):
        rank = np.searchsorted(ordered, boundary, side="right") / values.size
        assert abs(rank - i / 10) < 4 / np.sqrt(capacity), (i, rank)

"""Deterministic, mergeable, memory-bounded quantiles for ``T.quantiles`` / ``T.bucketize``.

Bucket boundaries are fitted constants that the cache and the graph's bytes depend on, so the same data
must give the same boundaries whatever the batch order, thread timing or engine. DataSketches' KLL
compacts with random coin flips, so it is not used here. Instead: a **bottom-k sample of distinct values
by a fixed hash, with exact counts** (a KMV-style sample).

- A value is kept when its hash is among the ``capacity`` smallest hashes of all distinct values seen.
  Whether a value is kept depends only on the set of values, never on order, and a kept value's count is
  exact (it is in the bottom-k of every part that saw it), so ``merge`` is associative and commutative and
  the result is byte-identical for any order.
- With at most ``capacity`` distinct values (categorical-like and most real numeric columns up to 100k
  distinct values) the quantiles are **exact**. Above it, they are quantiles of a uniform sample of the
  distinct values weighted by their exact counts (rank error about ``1/sqrt(capacity)``).

``make_quantile_accumulator`` is the one switch point: a deterministic KLL (being written for
``sluiceway.data``) can replace this class behind the same ``update``/``merge``/``boundaries`` methods.
"""

from __future__ import annotations

import numpy as np

DEFAULT_CAPACITY = 100_000
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _hash(values: np.ndarray) -> np.ndarray:
    """splitmix64 of the float64 bits: a fixed, well-mixed hash (the same on every platform)."""
    z = (values + 0.0).view(np.uint64) + _GOLDEN  # + 0.0 turns -0.0 into 0.0: one value, one hash
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


class BottomKQuantiles:
    """See the module docstring. ``values`` are kept sorted; ``counts`` are their exact counts."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.values = np.empty(0, dtype=np.float64)
        self.counts = np.empty(0, dtype=np.int64)
        self.threshold: np.uint64 | None = None  # largest kept hash once full: larger hashes are never kept

    def update(self, values: np.ndarray) -> None:
        """Add a batch of float values (NaN already removed)."""
        values = np.asarray(values, dtype=np.float64)
        if self.threshold is not None:
            values = values[_hash(values) <= self.threshold]
        if values.size == 0:
            return
        unique, counts = np.unique(values + 0.0, return_counts=True)
        self._combine(unique, counts.astype(np.int64))

    def merge(self, other: BottomKQuantiles) -> BottomKQuantiles:
        self._combine(other.values, other.counts)
        return self

    def _combine(self, values: np.ndarray, counts: np.ndarray) -> None:
        if self.values.size:
            merged, inverse = np.unique(np.concatenate([self.values, values]), return_inverse=True)
            counts = np.bincount(inverse, weights=np.concatenate([self.counts, counts]), minlength=merged.size)
            values, counts = merged, counts.astype(np.int64)
        if values.size > self.capacity:
            hashes = _hash(values)
            keep = np.lexsort((values, hashes))[: self.capacity]  # ties of the hash: by value, deterministic
            self.threshold = hashes[keep].max()
            keep.sort()  # values stay sorted
            values, counts = values[keep], counts[keep]
        self.values, self.counts = values, counts

    @property
    def is_exact(self) -> bool:
        return self.threshold is None

    def boundaries(self, num_buckets: int) -> list[float]:
        """The sorted, deduplicated ``i/num_buckets`` quantiles (i = 1 .. num_buckets-1): for each, the
        smallest value whose cumulative count reaches ``i * total / num_buckets`` (numpy's ``inverted_cdf``),
        compared in integers so no rounding can move a boundary."""
        if self.values.size == 0:
            return []
        cumulative = np.cumsum(self.counts)
        total = int(cumulative[-1])
        found: list[float] = []
        for i in range(1, num_buckets):
            # smallest index with cumulative * num_buckets >= i * total
            index = int(np.searchsorted(cumulative * num_buckets, i * total, side="left"))
            value = float(self.values[min(index, self.values.size - 1)])
            if not found or value > found[-1]:
                found.append(value)
        return found


def make_quantile_accumulator() -> BottomKQuantiles:
    """The quantile accumulator every analyzer uses (the single place to switch implementations)."""
    return BottomKQuantiles()


__all__ = ["DEFAULT_CAPACITY", "BottomKQuantiles", "make_quantile_accumulator"]

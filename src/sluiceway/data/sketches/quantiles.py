"""Quantiles and histograms of a numeric feature: an exact value map, then a KLL sketch."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sluiceway.data.sketches.kll import KLL_K, KllSketch

EXACT_CAP = 16_384


class QuantileAccumulator:
    """Quantiles and histograms of a numeric feature: exact while few distinct values, else KLL.

    ``update(values)`` takes non-NaN float64 values; ``update_counts(values, counts)`` takes a batch
    already reduced to distinct values and their counts (Polars ``value_counts``), which is how the
    exact phase is fed cheaply. Deterministic: the same updates and merges in the same order give
    the same result (``KllSketch`` draws no clock-seeded randomness).
    """

    def __init__(self, *, exact_cap: int = EXACT_CAP, k: int = KLL_K) -> None:
        self.exact_cap = exact_cap
        self.k = k
        self._values: np.ndarray | None = np.empty(0, dtype=np.float64)  # sorted distinct values
        self._counts: np.ndarray = np.empty(0, dtype=np.float64)
        self._kll: KllSketch | None = None

    # -- state ------------------------------------------------------------------------------
    @property
    def is_exact(self) -> bool:
        return self._kll is None

    @property
    def n(self) -> float:
        if self._kll is not None:
            return float(self._kll.n)
        return float(self._counts.sum())

    @property
    def rank_error(self) -> float:
        """Normalised rank error bound of one quantile (0 while exact)."""
        if self._kll is None or not self._kll.is_estimation_mode():
            return 0.0
        return float(self._kll.normalized_rank_error())

    # -- updates ----------------------------------------------------------------------------
    def _sketch(self) -> KllSketch:
        assert self._kll is not None  # callers check is_exact first
        return self._kll

    def _spill_to_kll(self) -> None:
        """Leave the exact phase: feed the exact map into a KLL sketch in bounded chunks."""
        kll = KllSketch(self.k)
        values = self._values if self._values is not None else np.empty(0)
        counts = np.rint(self._counts).astype(np.int64)
        start = 0
        chunk_rows = 1 << 20
        while start < len(values):
            # take as many distinct values as fit in about chunk_rows repeated rows
            cum = np.cumsum(counts[start:])
            stop = start + max(1, int(np.searchsorted(cum, chunk_rows, side="right")))
            kll.update(np.repeat(values[start:stop], counts[start:stop]), is_sorted=True)
            start = stop
        self._kll = kll
        self._values = None
        self._counts = np.empty(0, dtype=np.float64)

    def _add_exact(self, values: np.ndarray, counts: np.ndarray) -> None:
        if self._values is not None and len(self._values):
            values = np.concatenate([self._values, values])
            counts = np.concatenate([self._counts, counts])
        uniq, inverse = np.unique(values, return_inverse=True)
        self._values = uniq
        self._counts = np.bincount(inverse.ravel(), weights=counts, minlength=len(uniq))

    def update_counts(self, values: np.ndarray, counts: np.ndarray, raw: np.ndarray | None = None) -> None:
        """Fold in distinct values with their counts (``raw``: the original values, if at hand)."""
        values = np.asarray(values, dtype=np.float64)
        counts = np.asarray(counts, dtype=np.float64)
        if self._kll is None:
            if len(values) <= self.exact_cap:
                self._add_exact(values, counts)
                if self._values is not None and len(self._values) <= self.exact_cap:
                    return
                self._spill_to_kll()
                return
            self._spill_to_kll()
        if raw is not None:
            self._sketch().update(raw)
        else:
            order = np.argsort(values, kind="stable")
            self._sketch().update(np.repeat(values[order], counts[order].astype(np.int64)), is_sorted=True)

    def update(self, values: np.ndarray, *, is_sorted: bool = False) -> None:
        """Fold in raw non-NaN values."""
        values = np.asarray(values, dtype=np.float64)
        if self._kll is None:
            uniq, counts = np.unique(values, return_counts=True)
            self.update_counts(uniq, counts, raw=values)
        else:
            self._kll.update(values, is_sorted=is_sorted)

    def to_sketch(self) -> None:
        """Leave the exact phase now (the caller knows the feature has too many distinct values)."""
        if self._kll is None:
            self._spill_to_kll()

    def update_weighted(self, values: np.ndarray, weights: np.ndarray, *, seed: int = 0) -> None:
        """Fold in values with real-valued weights.

        Exact phase: weights are summed per distinct value (exact weighted quantiles). Sketch phase:
        each value is repeated by its stochastically rounded weight (unbiased, approximate; the
        generator is seeded from the batch, so the same batches give the same result)."""
        values = np.asarray(values, dtype=np.float64)
        weights = np.asarray(weights, dtype=np.float64)
        if self._kll is None:
            uniq, inverse = np.unique(values, return_inverse=True)
            sums = np.bincount(inverse.ravel(), weights=weights, minlength=len(uniq))
            held = len(self._values) if self._values is not None else 0
            if len(uniq) + held <= self.exact_cap:
                self._add_exact(uniq, sums)
                return
            self._spill_to_kll()
        rng = np.random.default_rng(seed + len(values))
        reps = np.floor(weights + rng.random(len(weights))).astype(np.int64)
        self._sketch().update(np.repeat(values, np.maximum(reps, 0)))

    def wants_counts(self) -> bool:
        """True while reducing a batch to value counts first is worth it (the exact phase)."""
        return self._kll is None

    def merge(self, other: QuantileAccumulator) -> QuantileAccumulator:
        if other._kll is None:
            other_values = other._values if other._values is not None else np.empty(0)
            if self._kll is None:
                self._add_exact(other_values, other._counts)
                if self._values is not None and len(self._values) > self.exact_cap:
                    self._spill_to_kll()
            elif len(other_values):
                self._kll.update(np.repeat(other_values, np.rint(other._counts).astype(np.int64)), is_sorted=True)
            return self
        if self._kll is None:
            mine_v = self._values if self._values is not None else np.empty(0)
            mine_c = self._counts
            self._kll = KllSketch(self.k)
            self._values = None
            self._counts = np.empty(0, dtype=np.float64)
            if len(mine_v):
                self._kll.update(np.repeat(mine_v, np.rint(mine_c).astype(np.int64)), is_sorted=True)
        self._kll.merge(other._kll)
        return self

    # -- results ----------------------------------------------------------------------------
    def quantiles(self, ranks: Sequence[float]) -> list[float]:
        """Values at normalised ranks (inclusive: rank 0 = min, rank 1 = max)."""
        if self.n == 0:
            return [math.nan for _ in ranks]
        if self._kll is not None:
            return [self._kll.quantile(r) for r in ranks]  # exact ends: KLL keeps min and max
        assert self._values is not None
        cum = np.cumsum(self._counts)
        total = cum[-1]
        res = []
        for r in ranks:
            # smallest value whose cumulative count reaches r * total (inclusive rank), as KLL does
            target = max(r * total, 1e-12)
            idx = int(np.searchsorted(cum, target - 1e-9 * total, side="left"))
            res.append(float(self._values[min(idx, len(self._values) - 1)]))
        return res

    def count_below(self, edges: np.ndarray) -> np.ndarray:
        """Estimated number of values < each edge (≤ for the last edge)."""
        edges = np.asarray(edges, dtype=np.float64)
        total = self.n
        if total == 0:
            return np.zeros(len(edges))
        if self._kll is not None:
            ranks = np.array([self._kll.rank(float(e)) for e in edges[:-1]] + [1.0])
            return ranks * total
        assert self._values is not None
        cum = np.concatenate([[0.0], np.cumsum(self._counts)])
        idx = np.searchsorted(self._values, edges[:-1], side="left")
        return np.concatenate([cum[idx], [total]])

    def histogram(self, lo: float, hi: float, num_buckets: int) -> list[tuple[float, float, float]]:
        """Equi-width histogram over [lo, hi] as (low, high, count)."""
        if self.n == 0 or not (math.isfinite(lo) and math.isfinite(hi)):
            return []
        if hi <= lo:
            return [(lo, hi, self.n)]
        edges = np.linspace(lo, hi, num_buckets + 1)
        below = self.count_below(edges)
        below[0] = 0.0
        counts = np.diff(below)
        return [(float(edges[i]), float(edges[i + 1]), float(max(counts[i], 0.0))) for i in range(num_buckets)]

    def quantile_histogram(self, num_buckets: int) -> list[tuple[float, float, float]]:
        """Equal-count buckets bounded by quantiles (TFDV's QUANTILES histogram)."""
        if self.n == 0:
            return []
        ranks = np.linspace(0.0, 1.0, num_buckets + 1)
        q = self.quantiles(list(ranks))
        per = self.n / num_buckets
        return [(q[i], q[i + 1], per) for i in range(num_buckets)]


__all__ = ["EXACT_CAP", "QuantileAccumulator"]

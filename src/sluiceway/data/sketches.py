"""Mergeable accumulators for one streaming pass: moments, quantiles, distinct counts, frequent values.

Each accumulator has ``update_*`` methods fed with whole numpy/Polars batches (never a Python loop
over rows), a ``merge(other)`` that combines two accumulators built over disjoint data (in any order,
on any worker), and pickles to a compact form (DataSketches objects travel as their ``serialize()``
bytes) so a distributed engine can ship them. Memory is bounded by parameters, never by row count.

- ``Moments``: exact count/mean/M2 (Chan et al.'s parallel merge of Welford accumulators), min, max,
  zeros, NaN and inf counts, plus the weighted mean/M2 when an example weight is given.
- ``QuantileAccumulator``: exact value → count map while a feature has at most ``exact_cap`` distinct
  values (exact quantiles and histograms for low-cardinality features), then Apache DataSketches
  ``kll_doubles_sketch`` fed with numpy arrays (vectorised update).
- ``DistinctCounter``: a HyperLogLog with Ertl's (2017) improved estimator over Polars' 64-bit value
  hashes, updated with numpy in one vectorised step per batch. DataSketches' ``hll_sketch`` takes one
  item per Python call (measured: 0.43 s per million distinct strings), which dominated a statistics
  pass on high-cardinality columns such as ids; this one costs ~20 ms per million. Standard error
  1.04/sqrt(2**p) (0.4 % at the default p=16).
- ``FrequentValues``: DataSketches ``frequent_strings_sketch`` fed with value/count pairs the batch
  was already reduced to by Polars. A batch with more distinct values than the sketch can hold exactly
  is first reduced Misra–Gries style (subtract the (m+1)-th largest count, keep what stays positive),
  which keeps the same error guarantee (under-count ≤ N/(m+1)) and skips feeding millions of
  singletons such as unique ids. Exact (``is_exact``) while no reduction or purge happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

_KLL_K = 400  # normalised rank error ≈ 0.65 % (single quantile, 99 % confidence)
_EXACT_CAP = 16_384
_FREQ_LG_MAP = 12  # 4096-slot map: up to 3072 values counted exactly
_FREQ_EXACT_ITEMS = 3 * (1 << _FREQ_LG_MAP) // 4


def _datasketches():  # imported lazily: the CLI core must start without it
    import datasketches

    return datasketches


# ----------------------------------------------------------------------------------------------
# Moments
# ----------------------------------------------------------------------------------------------
@dataclass
class Moments:
    """Exact running moments of a numeric feature (NaN excluded; ±inf only in min/max/num_inf)."""

    count: int = 0  # finite values in mean/M2
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    num_values: int = 0  # non-null values incl. NaN/inf
    num_zeros: int = 0
    num_nan: int = 0
    num_inf: int = 0
    w_sum: float = 0.0
    w_mean: float = 0.0
    w_m2: float = 0.0

    def update_summary(
        self,
        *,
        num_values: int,
        count: int,
        mean: float,
        m2: float,
        min: float,  # noqa: A002
        max: float,  # noqa: A002
        num_zeros: int,
        num_nan: int,
        num_inf: int,
        w_sum: float = 0.0,
        w_mean: float = 0.0,
        w_m2: float = 0.0,
    ) -> None:
        """Fold in a batch already summarised (by Polars or numpy)."""
        self.merge(
            Moments(count, mean, m2, min, max, num_values, num_zeros, num_nan, num_inf, w_sum, w_mean, w_m2)
        )

    def update(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Fold in an array of non-null values (float64); ``weights`` aligned with it."""
        v = np.asarray(values, dtype=np.float64)
        nan = np.isnan(v)
        inf = np.isinf(v)
        finite_mask = ~(nan | inf)
        f = v[finite_mask] if not finite_mask.all() else v
        notnan = v[~nan] if nan.any() else v
        n = int(f.size)
        mean = float(f.mean()) if n else 0.0
        m2 = float(((f - mean) ** 2).sum()) if n else 0.0
        w_sum = w_mean = w_m2 = 0.0
        if weights is not None and n:
            w = np.asarray(weights, dtype=np.float64)
            w = w[finite_mask] if not finite_mask.all() else w
            w_sum = float(w.sum())
            if w_sum > 0:
                w_mean = float((w * f).sum() / w_sum)
                w_m2 = float((w * (f - w_mean) ** 2).sum())
        self.update_summary(
            num_values=int(v.size),
            count=n,
            mean=mean,
            m2=m2,
            min=float(notnan.min()) if notnan.size else math.inf,
            max=float(notnan.max()) if notnan.size else -math.inf,
            num_zeros=int((v == 0).sum()),
            num_nan=int(nan.sum()),
            num_inf=int(inf.sum()),
            w_sum=w_sum,
            w_mean=w_mean,
            w_m2=w_m2,
        )

    def merge(self, other: Moments) -> Moments:
        """Chan et al.'s pairwise update; returns self."""
        n_a, n_b = self.count, other.count
        if n_b:
            n = n_a + n_b
            delta = other.mean - self.mean
            self.mean = self.mean + delta * n_b / n
            self.m2 = self.m2 + other.m2 + delta * delta * n_a * n_b / n
            self.count = n
        w_a, w_b = self.w_sum, other.w_sum
        if w_b > 0:
            w = w_a + w_b
            delta = other.w_mean - self.w_mean
            self.w_mean = self.w_mean + delta * w_b / w
            self.w_m2 = self.w_m2 + other.w_m2 + delta * delta * w_a * w_b / w
            self.w_sum = w
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.num_values += other.num_values
        self.num_zeros += other.num_zeros
        self.num_nan += other.num_nan
        self.num_inf += other.num_inf
        return self

    @property
    def std(self) -> float | None:
        return math.sqrt(self.m2 / self.count) if self.count else None

    @property
    def weighted_std(self) -> float | None:
        return math.sqrt(self.w_m2 / self.w_sum) if self.w_sum > 0 else None


# ----------------------------------------------------------------------------------------------
# Quantiles: exact map, then KLL
# ----------------------------------------------------------------------------------------------
class QuantileAccumulator:
    """Quantiles and histograms of a numeric feature: exact while few distinct values, else KLL.

    ``update(values)`` takes non-NaN float64 values; ``update_counts(values, counts)`` takes a batch
    already reduced to distinct values and their counts (Polars ``value_counts``), which is how the
    exact phase is fed cheaply.
    """

    def __init__(self, *, exact_cap: int = _EXACT_CAP, k: int = _KLL_K) -> None:
        self.exact_cap = exact_cap
        self.k = k
        self._values: np.ndarray | None = np.empty(0, dtype=np.float64)  # sorted distinct values
        self._counts: np.ndarray = np.empty(0, dtype=np.float64)
        self._kll: Any = None

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
        return float(self._kll.normalized_rank_error(False))

    def __getstate__(self) -> dict[str, Any]:
        return {
            "exact_cap": self.exact_cap,
            "k": self.k,
            "values": self._values,
            "counts": self._counts,
            "kll": None if self._kll is None else self._kll.serialize(),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.exact_cap, self.k = state["exact_cap"], state["k"]
        self._values, self._counts = state["values"], state["counts"]
        kll = state["kll"]
        self._kll = None if kll is None else _datasketches().kll_doubles_sketch.deserialize(kll)

    # -- updates ----------------------------------------------------------------------------
    def _new_kll(self) -> Any:
        return _datasketches().kll_doubles_sketch(self.k)

    def _spill_to_kll(self) -> None:
        """Leave the exact phase: feed the exact map into a KLL sketch in bounded chunks."""
        kll = self._new_kll()
        values, counts = self._values, np.rint(self._counts).astype(np.int64)
        start = 0
        chunk_rows = 1 << 20
        while start < len(values):
            # take as many distinct values as fit in about chunk_rows repeated rows
            cum = np.cumsum(counts[start:])
            stop = start + max(1, int(np.searchsorted(cum, chunk_rows, side="right")))
            kll.update(np.repeat(values[start:stop], counts[start:stop]))
            start = stop
        self._kll = kll
        self._values = None
        self._counts = np.empty(0, dtype=np.float64)

    def _add_exact(self, values: np.ndarray, counts: np.ndarray) -> None:
        if len(self._values):
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
                if len(self._values) <= self.exact_cap:
                    return
                self._spill_to_kll()
                return
            self._spill_to_kll()
        if raw is not None:
            self._kll.update(np.ascontiguousarray(raw, dtype=np.float64))
        else:
            self._kll.update(np.repeat(values, counts.astype(np.int64)))

    def update(self, values: np.ndarray) -> None:
        """Fold in raw non-NaN values."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        if not values.flags.writeable:
            values = values.copy()
        if self._kll is None:
            uniq, counts = np.unique(values, return_counts=True)
            self.update_counts(uniq, counts, raw=values)
        else:
            self._kll.update(values)

    def to_sketch(self) -> None:
        """Leave the exact phase now (the caller knows the feature has too many distinct values)."""
        if self._kll is None:
            self._spill_to_kll()

    def update_weighted(self, values: np.ndarray, weights: np.ndarray, *, seed: int = 0) -> None:
        """Fold in values with real-valued weights.

        Exact phase: weights are summed per distinct value (exact weighted quantiles). Sketch phase:
        each value is repeated by its stochastically rounded weight (unbiased, approximate)."""
        values = np.asarray(values, dtype=np.float64)
        weights = np.asarray(weights, dtype=np.float64)
        if self._kll is None:
            uniq, inverse = np.unique(values, return_inverse=True)
            sums = np.bincount(inverse.ravel(), weights=weights, minlength=len(uniq))
            if len(uniq) + len(self._values) <= self.exact_cap:
                self._add_exact(uniq, sums)
                return
            self._spill_to_kll()
        rng = np.random.default_rng(seed + len(values))
        reps = np.floor(weights + rng.random(len(weights))).astype(np.int64)
        self._kll.update(np.repeat(values, np.maximum(reps, 0)))

    def wants_counts(self) -> bool:
        """True while reducing a batch to value counts first is worth it (the exact phase)."""
        return self._kll is None

    def merge(self, other: QuantileAccumulator) -> QuantileAccumulator:
        if other._kll is None:
            if self._kll is None:
                self._add_exact(other._values, other._counts)
                if len(self._values) > self.exact_cap:
                    self._spill_to_kll()
            elif len(other._values):
                self._kll.update(np.repeat(other._values, np.rint(other._counts).astype(np.int64)))
            return self
        if self._kll is None:
            mine_v, mine_c = self._values, self._counts
            self._kll = _datasketches().kll_doubles_sketch.deserialize(other._kll.serialize())
            self._values = None
            self._counts = np.empty(0, dtype=np.float64)
            if len(mine_v):
                self._kll.update(np.repeat(mine_v, np.rint(mine_c).astype(np.int64)))
            return self
        self._kll.merge(other._kll)
        return self

    # -- results ----------------------------------------------------------------------------
    def quantiles(self, ranks: Sequence[float]) -> list[float]:
        """Values at normalised ranks (inclusive: rank 0 = min, rank 1 = max)."""
        if self.n == 0:
            return [math.nan for _ in ranks]
        if self._kll is not None:
            out = [float(self._kll.get_quantile(r)) for r in ranks]
            # KLL retains the exact min/max: make the ends exact
            return [
                float(self._kll.get_min_value()) if r <= 0 else float(self._kll.get_max_value()) if r >= 1 else q
                for r, q in zip(ranks, out)
            ]
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
            ranks = np.array([self._kll.get_rank(float(e), False) for e in edges[:-1]] + [1.0])
            return ranks * total
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


# ----------------------------------------------------------------------------------------------
# Distinct counts: vectorised HyperLogLog over 64-bit hashes
# ----------------------------------------------------------------------------------------------
def _leading_zeros_u64(x: np.ndarray) -> np.ndarray:
    """Number of leading zero bits of each uint64 (64 for 0)."""
    x = x.copy()
    for shift in (1, 2, 4, 8, 16, 32):
        x |= x >> np.uint64(shift)
    return (64 - np.bitwise_count(x)).astype(np.uint8)


class DistinctCounter:
    """HyperLogLog over 64-bit hashes with Ertl's improved raw estimator (no bias tables needed)."""

    def __init__(self, p: int = 16) -> None:
        if not 4 <= p <= 18:
            raise ValueError(f"The 'p' parameter of DistinctCounter must be in [4, 18]. Got {p} instead.")
        self.p = p
        self.registers = np.zeros(1 << p, dtype=np.uint8)

    def update_hashes(self, hashes: np.ndarray) -> None:
        h = np.asarray(hashes, dtype=np.uint64)
        if h.size == 0:
            return
        if h.size > 1 and not bool((h[1:] >= h[:-1]).all()):
            h = np.sort(h)
        self.update_sorted_hashes(h)

    def update_sorted_hashes(self, h: np.ndarray) -> None:
        """Fold in hashes sorted ascending (so register indexes come in runs: no scatter needed)."""
        if h.size == 0:
            return
        q = 64 - self.p
        idx = (h >> np.uint64(q)).astype(np.int64)
        rest = h << np.uint64(self.p)  # the low q bits, moved to the top
        rho = (np.minimum(_leading_zeros_u64(rest), q) + 1).astype(np.uint8)  # 1..q+1
        starts = np.concatenate([[0], np.flatnonzero(idx[1:] != idx[:-1]) + 1])
        regs = idx[starts]
        self.registers[regs] = np.maximum(self.registers[regs], np.maximum.reduceat(rho, starts))

    def merge(self, other: DistinctCounter) -> DistinctCounter:
        if other.p != self.p:
            raise ValueError(f"Cannot merge DistinctCounter with p={other.p} into p={self.p}.")
        np.maximum(self.registers, other.registers, out=self.registers)
        return self

    def estimate(self) -> float:
        m = float(1 << self.p)
        q = 64 - self.p
        c = np.bincount(self.registers, minlength=q + 2).astype(np.float64)

        def sigma(x: float) -> float:
            if x == 1.0:
                return math.inf
            y, z = 1.0, x
            while True:
                x = x * x
                z_old = z
                z += x * y
                y += y
                if z == z_old:
                    return z

        def tau(x: float) -> float:
            if x == 0.0 or x == 1.0:
                return 0.0
            y, z = 1.0, 1.0 - x
            while True:
                x = math.sqrt(x)
                z_old = z
                y *= 0.5
                z -= (1.0 - x) ** 2 * y
                if z == z_old:
                    return z / 3.0

        z = m * tau(1.0 - c[q + 1] / m)
        for k in range(q, 0, -1):
            z = 0.5 * (z + c[k])
        z += m * sigma(c[0] / m)
        if math.isinf(z):
            return 0.0
        return (m / (2.0 * math.log(2.0))) * m / z

    @property
    def relative_standard_error(self) -> float:
        return 1.04 / math.sqrt(1 << self.p)


# ----------------------------------------------------------------------------------------------
# Frequent values
# ----------------------------------------------------------------------------------------------
class FrequentValues:
    """Top values with counts: DataSketches frequent_strings_sketch fed with reduced batches."""

    def __init__(self, lg_max_map_size: int = _FREQ_LG_MAP) -> None:
        self.lg_max_map_size = lg_max_map_size
        self.capacity = 3 * (1 << lg_max_map_size) // 4
        self._sketch = _datasketches().frequent_strings_sketch(lg_max_map_size)
        self.offset = 0.0  # total under-count introduced by batch reductions
        self.total = 0.0

    def __getstate__(self) -> dict[str, Any]:
        return {
            "lg": self.lg_max_map_size,
            "sketch": self._sketch.serialize(),
            "offset": self.offset,
            "total": self.total,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.lg_max_map_size = state["lg"]
        self.capacity = 3 * (1 << self.lg_max_map_size) // 4
        self._sketch = _datasketches().frequent_strings_sketch.deserialize(state["sketch"])
        self.offset = state["offset"]
        self.total = state["total"]

    @staticmethod
    def reduce_counts(counts: np.ndarray, capacity: int) -> tuple[np.ndarray, float]:
        """Misra–Gries reduction of one batch to at most ``capacity`` counters.

        Returns (mask of the values to keep, amount subtracted from each kept count)."""
        if len(counts) <= capacity:
            return np.ones(len(counts), dtype=bool), 0.0
        threshold = float(np.partition(counts, len(counts) - capacity - 1)[len(counts) - capacity - 1])
        return counts > threshold, threshold

    def update_counts(self, labels: Sequence[str], counts: np.ndarray, *, reduced_by: float = 0.0) -> None:
        """Fold in distinct labels with their counts (counts may be weights; rounded to integers)."""
        counts = np.asarray(counts, dtype=np.float64)
        self.offset += reduced_by
        upd = self._sketch.update
        for label, c in zip(labels, np.rint(counts).astype(np.int64).tolist()):
            if c > 0:
                upd(label, c)

    def add_total(self, n: float) -> None:
        self.total += n

    def merge(self, other: FrequentValues) -> FrequentValues:
        self._sketch.merge(other._sketch)
        self.offset += other.offset
        self.total += other.total
        return self

    @property
    def num_active(self) -> int:
        return int(self._sketch.num_active_items)

    @property
    def max_error(self) -> float:
        """Largest possible under-count of any reported value."""
        return self.offset + self._sketch_error()

    def _sketch_error(self) -> float:
        # upper - lower bound is the same offset for every item of a frequent-items sketch
        items = self._sketch.get_frequent_items(_datasketches().frequent_items_error_type.NO_FALSE_NEGATIVES)
        if not items:
            return 0.0
        label, est, lower, upper = items[0]
        return float(upper - lower)

    @property
    def is_exact(self) -> bool:
        return self.offset == 0 and self._sketch_error() == 0

    def top(self, k: int) -> list[tuple[str, float]]:
        """The k most frequent values (count descending, then value ascending for ties)."""
        ft = _datasketches().frequent_items_error_type
        items = self._sketch.get_frequent_items(ft.NO_FALSE_POSITIVES if not self.is_exact else ft.NO_FALSE_NEGATIVES, 0)
        pairs = [(str(label), float(est)) for label, est, _lo, _hi in items]
        pairs.sort(key=lambda t: (-t[1], t[0]))
        return pairs[:k]


__all__ = ["DistinctCounter", "FrequentValues", "Moments", "QuantileAccumulator"]

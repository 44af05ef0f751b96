"""A deterministic KLL quantile sketch in numpy (see ``KllSketch``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

KLL_K = 400  # normalised rank error ≈ 0.65 % (single quantile, 99 % confidence)
_KLL_MIN_CAPACITY = 8
_KLL_SHRINK = 2.0 / 3.0
_KLL_SEED = 0x5EED_5111CE
_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    """One splitmix64 step: a well-mixed 64-bit value from a counter (for reproducible coin flips)."""
    z = (x * 0x9E3779B97F4A7C15 + _KLL_SEED) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _merge_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not a.size:
        return b
    if not b.size:
        return a
    # two sorted runs: numpy's stable sort (timsort for floats) merges them in linear time
    return np.sort(np.concatenate([a, b]), kind="stable")


class KllSketch:
    """Karnin–Lang–Liberty quantile sketch whose coin flips come from a counter, not a clock.

    Apache DataSketches' ``kll_doubles_sketch`` draws its compaction coins from a generator seeded
    by the clock and cannot be seeded from Python, so the same data gave different quantiles from
    run to run. This sketch keeps KLL's structure (level ``h`` holds sorted items of weight
    ``2**h``; capacities shrink geometrically by 2/3 below the top level; an overfull level keeps
    every other item, from a random offset, for the level above) but draws each coin from
    ``splitmix64(number of compactions so far)``: the same sequence of updates and merges gives the
    same bytes. ``update`` takes a whole numpy batch, sorts it once and compacts level by level, so
    a batch costs a sort plus linear work, with no Python loop over values.
    """

    def __init__(self, k: int = KLL_K) -> None:
        self.k = k
        self.levels: list[np.ndarray] = [np.empty(0, dtype=np.float64)]
        self.n = 0
        self.min_value = math.inf
        self.max_value = -math.inf
        self.compactions = 0
        self._view: tuple[np.ndarray, np.ndarray] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_view"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def num_retained(self) -> int:
        return sum(int(level.size) for level in self.levels)

    def is_estimation_mode(self) -> bool:
        return len(self.levels) > 1

    def normalized_rank_error(self) -> float:
        """KLL's normalised rank error of one quantile at 99 % confidence (DataSketches' fitted
        formula for the same k and compaction scheme)."""
        return 2.296 / self.k**0.9723

    def _capacity(self, level: int) -> int:
        depth = len(self.levels) - 1 - level
        return max(_KLL_MIN_CAPACITY, int(math.ceil(self.k * _KLL_SHRINK**depth)))

    def _coin(self) -> int:
        self.compactions += 1
        return _splitmix64(self.compactions) & 1

    def _compress(self) -> None:
        while True:
            overfull = next((h for h, lv in enumerate(self.levels) if lv.size > self._capacity(h)), None)
            if overfull is None:
                return
            level = self.levels[overfull]
            odd = level.size % 2
            # an odd item stays behind (the smallest): every promoted pair stands for two items
            body = level[odd:]
            promoted = body[self._coin() :: 2]
            self.levels[overfull] = level[:odd].copy()
            if overfull + 1 == len(self.levels):
                self.levels.append(np.empty(0, dtype=np.float64))
            self.levels[overfull + 1] = _merge_sorted(self.levels[overfull + 1], promoted)

    def update(self, values: np.ndarray, *, is_sorted: bool = False) -> None:
        """Fold in non-NaN float64 values (sorted ascending if ``is_sorted``)."""
        v = np.asarray(values, dtype=np.float64)
        if not v.size:
            return
        if not is_sorted:
            v = np.sort(v)
        self._view = None
        self.n += int(v.size)
        self.min_value = min(self.min_value, float(v[0]))
        self.max_value = max(self.max_value, float(v[-1]))
        self.levels[0] = _merge_sorted(self.levels[0], v)
        self._compress()

    def merge(self, other: KllSketch) -> KllSketch:
        if other.n == 0:
            return self
        self._view = None
        while len(self.levels) < len(other.levels):
            self.levels.append(np.empty(0, dtype=np.float64))
        for h, level in enumerate(other.levels):
            self.levels[h] = _merge_sorted(self.levels[h], level)
        self.n += other.n
        self.min_value = min(self.min_value, other.min_value)
        self.max_value = max(self.max_value, other.max_value)
        self.compactions += other.compactions
        self._compress()
        return self

    def _sorted_view(self) -> tuple[np.ndarray, np.ndarray]:
        """(retained values ascending, cumulative weights): what every query reads."""
        if self._view is None:
            values = np.concatenate(self.levels)
            weights = np.concatenate([np.full(lv.size, float(1 << h)) for h, lv in enumerate(self.levels)])
            order = np.argsort(values, kind="stable")
            self._view = (values[order], np.cumsum(weights[order]))
        return self._view

    def quantile(self, rank: float) -> float:
        """The smallest retained value whose inclusive cumulative weight reaches ``rank * n``."""
        if rank <= 0:
            return self.min_value
        if rank >= 1:
            return self.max_value
        values, cum = self._sorted_view()
        # retained weights can differ from n by the odd items left behind: rank against their total
        idx = int(np.searchsorted(cum, rank * cum[-1], side="left"))
        return float(values[min(idx, values.size - 1)])

    def rank(self, value: float) -> float:
        """Fraction of the weight strictly below ``value``."""
        values, cum = self._sorted_view()
        idx = int(np.searchsorted(values, value, side="left"))
        return float(cum[idx - 1] / cum[-1]) if idx else 0.0


__all__ = ["KLL_K", "KllSketch"]

"""Frequent values: DataSketches' frequent_strings_sketch fed with batches already reduced to counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

_FREQ_LG_MAP = 12  # 4096-slot map: up to 3072 values counted exactly


def _datasketches() -> Any:  # imported lazily: the CLI core must start without it
    import datasketches

    return datasketches


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
        # in label order: the sketch's purges depend on the order items arrive, and Polars'
        # group-bys list values in an order that changes from run to run
        pairs = sorted(zip(labels, np.rint(counts).astype(np.int64).tolist(), strict=True))
        for label, c in pairs:
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
        error_type = ft.NO_FALSE_NEGATIVES if self.is_exact else ft.NO_FALSE_POSITIVES
        items = self._sketch.get_frequent_items(error_type, 0)
        pairs = [(str(label), float(est)) for label, est, _lo, _hi in items]
        pairs.sort(key=lambda t: (-t[1], t[0]))
        return pairs[:k]


__all__ = ["FrequentValues"]

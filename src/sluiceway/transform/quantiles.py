"""Quantile boundaries for ``T.quantiles`` / ``T.bucketize``: the statistics' deterministic sketch.

Bucket boundaries are fitted constants that the analyzer cache and the graph's bytes depend on, so the
same data must give the same boundaries, byte for byte. They come from ``sluiceway.data.sketches``'
``QuantileAccumulator``, the one StatisticsGen uses:

- **exact** while a column has at most ``EXACT_CAP`` (16,384) distinct values (categorical-like and most
  measured columns: every boundary is numpy's ``inverted_cdf`` quantile), kept as value -> count;
- above that, a **KLL sketch** (k = 400: rank error about 0.65 % at 99 % confidence, a few kilobytes
  whatever the number of rows) whose compaction coins come from a counter, not a clock.

KLL's state depends on the order it sees data, so determinism comes from the order of the work, which the
fit fixes: batches in file order inside a fragment, fragments merged in fragment order per file
(``Engine.map_reduce``'s contract), files merged in the order given. The same files with the same engine
settings give the same bytes, with or without the analyzer cache. The graph records which of the two
phases produced each boundary list (``accuracy`` of the constant, graph format 2).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from sluiceway.data.sketches import QuantileAccumulator
from sluiceway.data.sketches.quantiles import EXACT_CAP

# A batch whose first SAMPLE_ROWS rows already hold more than EXACT_CAP / 2 distinct values goes straight to
# the sketch (StatisticsGen's rule): counting the values of an id-like column first would be wasted work.
SAMPLE_ROWS = 4096


class QuantileSketch:
    """Mergeable quantiles of one numeric input; ``update`` takes non-null, non-NaN float64 Series."""

    def __init__(self) -> None:
        self.sketch = QuantileAccumulator()

    def update(self, values: pl.Series) -> None:
        if values.len() == 0:
            return
        sketch = self.sketch
        if sketch.wants_counts():
            sample = values.head(SAMPLE_ROWS)
            if sample.len() >= SAMPLE_ROWS and sample.n_unique() > EXACT_CAP // 2:
                sketch.to_sketch()
            else:
                counts = values.value_counts(name="count")
                if counts.height <= EXACT_CAP:
                    distinct = counts.to_series(0).to_numpy() + 0.0  # + 0.0: -0.0 and 0.0 are one value
                    sketch.update_counts(distinct, counts.get_column("count").to_numpy())
                    return
                sketch.to_sketch()
        sketch.update(values.to_numpy() + 0.0)

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        self.sketch.merge(other.sketch)
        return self

    def boundaries(self, num_buckets: int) -> list[float]:
        """The sorted, deduplicated ``i/num_buckets`` quantiles (i = 1 .. num_buckets-1): each the smallest
        value whose cumulative count reaches ``i/num_buckets`` of the values (numpy's ``inverted_cdf``)."""
        if self.sketch.n == 0:
            return []
        found: list[float] = []
        for value in self.sketch.quantiles([i / num_buckets for i in range(1, num_buckets)]):
            if not found or value > found[-1]:
                found.append(float(value))
        return found

    def accuracy(self) -> dict[str, Any]:
        """Whether the boundaries are exact, and the sketch's normalised rank error (0 when exact)."""
        return {"exact": self.sketch.is_exact, "rank_error": round(self.sketch.rank_error, 6)}


__all__ = ["SAMPLE_ROWS", "QuantileSketch"]

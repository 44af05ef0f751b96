"""Mergeable, picklable accumulators behind the analyzers, and the fitted values they produce.

One accumulator serves every analyzer over the same input (``mean``, ``var`` and ``scale_to_z_score`` of a
column share one ``Moments``). ``merge`` is associative and commutative (for quantiles: up to the sketch's
error, see below) and the engine merges in fragment order (threads today, Ray later), so the fitted
constants stay byte-identical:

- ``Moments`` keeps one (n, mean, M2) triple per batch and combines them in sorted order at the end;
- ``Range`` and the integer counts (``Count``, ``ValueCounts``, ``DocumentFrequency``) are order-free;
- quantiles use the statistics' deterministic sketch (``quantiles.py``: exact, then KLL), whose state
  depends on order: the fit merges it in a fixed order (fragment order within a file, then file order).

``ValueCounts`` and ``DocumentFrequency`` hold one row per distinct value (the vocabulary itself); the
others are bounded whatever the number of rows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from sluiceway.transform.quantiles import QuantileSketch

# analyzer name -> accumulator kind
ACCUMULATOR_OF = {
    "mean": "moments",
    "var": "moments",
    "min": "range",
    "max": "range",
    "count": "count",
    "quantiles": "quantiles",
    "vocabulary": "value_counts",
    "document_frequency": "document_frequency",
}
_TOKEN = r"\S+"


def _numbers(series: pl.Series) -> np.ndarray:
    """Non-null, non-NaN values as float64."""
    values = series.drop_nulls().cast(pl.Float64).to_numpy()
    return values[~np.isnan(values)]


class Moments:
    def __init__(self) -> None:
        self.parts: list[tuple[int, float, float]] = []

    def update(self, series: pl.Series) -> None:
        values = _numbers(series)
        if values.size:
            mean = float(values.mean())
            self.parts.append((int(values.size), mean, float(np.square(values - mean).sum())))

    def merge(self, other: Moments) -> Moments:
        self.parts.extend(other.parts)
        return self

    def combined(self) -> tuple[int, float, float]:
        n, mean, m2 = 0, 0.0, 0.0
        for part_n, part_mean, part_m2 in sorted(self.parts):  # sorted: the same float result in any order
            total = n + part_n
            delta = part_mean - mean
            mean += delta * part_n / total
            m2 += part_m2 + delta * delta * n * part_n / total
            n = total
        return n, mean, m2

    def result(self, analyzer: str, params: dict[str, Any]) -> float | None:
        n, mean, m2 = self.combined()
        if n == 0:
            return None
        return mean if analyzer == "mean" else m2 / n


class Range:
    def __init__(self) -> None:
        self.low = math.inf
        self.high = -math.inf

    def update(self, series: pl.Series) -> None:
        values = _numbers(series)
        if values.size:
            self.low = min(self.low, float(values.min()))
            self.high = max(self.high, float(values.max()))

    def merge(self, other: Range) -> Range:
        self.low, self.high = min(self.low, other.low), max(self.high, other.high)
        return self

    def result(self, analyzer: str, params: dict[str, Any]) -> float | None:
        if self.low > self.high:
            return None
        return self.low if analyzer == "min" else self.high


class Count:
    def __init__(self) -> None:
        self.n = 0

    def update(self, series: pl.Series) -> None:
        self.n += series.len() - series.null_count()

    def merge(self, other: Count) -> Count:
        self.n += other.n
        return self

    def result(self, analyzer: str, params: dict[str, Any]) -> int:
        return self.n


class Quantiles:
    def __init__(self) -> None:
        self.sketch = QuantileSketch()

    def update(self, series: pl.Series) -> None:
        values = series.drop_nulls().cast(pl.Float64)
        self.sketch.update(values.filter(values.is_not_nan()))

    def merge(self, other: Quantiles) -> Quantiles:
        self.sketch.merge(other.sketch)
        return self

    def result(self, analyzer: str, params: dict[str, Any]) -> list[float]:
        return self.sketch.boundaries(int(params["num_buckets"]))

    def accuracy(self) -> dict[str, Any]:
        return self.sketch.accuracy()


def _top(counts: pl.DataFrame | None, top_k: int | None, threshold: int) -> pl.DataFrame:
    if counts is None:
        return pl.DataFrame({"value": [], "count": []})
    ranked = counts.filter(pl.col("count") >= threshold).sort(["count", "value"], descending=[True, False])
    return ranked if top_k is None else ranked.head(top_k)


def _add_counts(left: pl.DataFrame | None, right: pl.DataFrame | None) -> pl.DataFrame | None:
    if left is None or right is None:
        return left if right is None else right
    return pl.concat([left, right]).group_by("value").agg(pl.col("count").sum())


class ValueCounts:
    def __init__(self) -> None:
        self.counts: pl.DataFrame | None = None

    def update(self, series: pl.Series) -> None:
        batch = (
            series.drop_nulls().rename("value").value_counts(name="count").with_columns(pl.col("count").cast(pl.Int64))
        )
        self.counts = _add_counts(self.counts, batch)

    def merge(self, other: ValueCounts) -> ValueCounts:
        self.counts = _add_counts(self.counts, other.counts)
        return self

    def result(self, analyzer: str, params: dict[str, Any]) -> list[Any]:
        return _top(self.counts, params.get("top_k"), int(params.get("frequency_threshold", 1)))["value"].to_list()


def tokens(series: pl.Series) -> pl.Series:
    """The whitespace-separated tokens of each row (list of strings; null for a null row)."""
    return series.str.extract_all(_TOKEN)


class DocumentFrequency:
    def __init__(self) -> None:
        self.documents = 0
        self.counts: pl.DataFrame | None = None

    def update(self, series: pl.Series) -> None:
        present = series.drop_nulls()
        self.documents += present.len()
        per_document = tokens(present).list.unique().explode().drop_nulls().rename("value")
        batch = per_document.value_counts(name="count").with_columns(pl.col("count").cast(pl.Int64))
        self.counts = _add_counts(self.counts, batch)

    def merge(self, other: DocumentFrequency) -> DocumentFrequency:
        self.documents += other.documents
        self.counts = _add_counts(self.counts, other.counts)
        return self

    def result(self, analyzer: str, params: dict[str, Any]) -> dict[str, Any]:
        top = _top(self.counts, params.get("top_k"), int(params.get("frequency_threshold", 1)))
        idf = [1.0 + math.log((1 + self.documents) / (1 + int(df))) for df in top["count"].to_list()]
        return {"terms": top["value"].to_list(), "idf": idf, "documents": self.documents}


ACCUMULATORS: dict[str, type] = {
    "moments": Moments,
    "range": Range,
    "count": Count,
    "quantiles": Quantiles,
    "value_counts": ValueCounts,
    "document_frequency": DocumentFrequency,
}


def new_accumulator(kind: str) -> Any:
    return ACCUMULATORS[kind]()


__all__ = ["ACCUMULATORS", "ACCUMULATOR_OF", "new_accumulator", "tokens"]

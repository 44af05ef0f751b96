"""Mergeable, picklable accumulators of one statistics pass: one per feature, one per dataset.

``FeatureAccumulator`` folds in one feature's batches through the general path (any type: numeric,
string, list, struct field, weighted or not) and turns its sketches into ``FeatureStatistics``
(``finish``). Plain numeric columns without weights take the batched path in
``sluiceway.data.statistics.numeric`` instead, which feeds the same accumulators.
``DatasetAccumulator`` holds a dataset's row counts and feature accumulators; ``merge_results``
merges the per-fragment dictionaries keyed by (split, slice column, slice value).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sluiceway.data.statistics.model import (
    FeatureKind,
    FeatureStatistics,
    ListStats,
    NumericStats,
    StringStats,
)
from sluiceway.data.statistics.options import (
    APPROX_RANK_BUCKETS,
    HASH_SEED,
    SAMPLE_ROWS,
    WEIGHT_SCALE,
    StatisticsOptions,
)
from sluiceway.errors import DataError

if TYPE_CHECKING:  # imported at run time where used: numpy and DataSketches load only for a pass
    from sluiceway.data.sketches import DistinctCounter, FrequentValues, Moments, QuantileAccumulator


class FeatureAccumulator:
    """Everything known about one feature of one dataset so far; mergeable, picklable."""

    def __init__(self, ftype: FeatureKind, vtype: FeatureKind, options: StatisticsOptions, weighted: bool) -> None:
        from sluiceway.data.sketches import DistinctCounter, FrequentValues, Moments, QuantileAccumulator  # noqa: F811

        self.type, self.value_type = ftype, vtype
        self.count = 0
        self.missing = 0
        self.w_count = 0.0
        self.w_missing = 0.0
        # numeric features have moments and quantiles, string features frequent values and a
        # distinct counter; the ``numeric_*``/``string_*`` properties give them typed
        self.moments: Moments | None = None
        self.quantiles: QuantileAccumulator | None = None
        self.w_quantiles: QuantileAccumulator | None = None
        self.freq: FrequentValues | None = None
        self.w_freq: FrequentValues | None = None
        self.distinct: DistinctCounter | None = None
        self.len_min = math.inf
        self.len_max = -math.inf
        self.len_sum = 0
        self.len_n = 0
        self.list_min = math.inf
        self.list_max = -math.inf
        self.list_total = 0
        self.list_n = 0
        if vtype.is_numeric:
            self.moments = Moments()
            self.quantiles = QuantileAccumulator(exact_cap=options.exact_cap)
            if weighted:
                self.w_quantiles = QuantileAccumulator(exact_cap=options.exact_cap)
        elif vtype.is_string:
            self.freq = FrequentValues()
            self.distinct = DistinctCounter(options.hll_p)
            if weighted:
                self.w_freq = FrequentValues()

    @property
    def numeric_moments(self) -> Moments:
        assert self.moments is not None, "only numeric features have moments"
        return self.moments

    @property
    def numeric_quantiles(self) -> QuantileAccumulator:
        assert self.quantiles is not None, "only numeric features have quantiles"
        return self.quantiles

    @property
    def string_values(self) -> FrequentValues:
        assert self.freq is not None, "only string features have frequent values"
        return self.freq

    @property
    def string_distinct(self) -> DistinctCounter:
        assert self.distinct is not None, "only string features have a distinct counter"
        return self.distinct

    def merge(self, other: FeatureAccumulator) -> FeatureAccumulator:
        if other.type != self.type or other.value_type != self.value_type:
            numeric = {FeatureKind.INT, FeatureKind.FLOAT}
            if {self.value_type, other.value_type} <= numeric:
                self.value_type = FeatureKind.FLOAT
                if self.type in numeric:
                    self.type = FeatureKind.FLOAT
            elif other.type is FeatureKind.NULL:
                pass
            elif self.type is FeatureKind.NULL:
                other.count, other.missing = other.count + self.count, other.missing + self.missing
                other.w_count, other.w_missing = other.w_count + self.w_count, other.w_missing + self.w_missing
                self.__dict__.update(other.__dict__)
                return self
            else:
                raise DataError(
                    f"A feature has type {self.type.value} in one file and {other.type.value} in "
                    f"another; statistics need one type per feature within a split."
                )
        self.count += other.count
        self.missing += other.missing
        self.w_count += other.w_count
        self.w_missing += other.w_missing
        for name in ("moments", "quantiles", "w_quantiles", "freq", "w_freq", "distinct"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs is not None:
                if mine is None:
                    setattr(self, name, theirs)
                else:
                    mine.merge(theirs)
        self.len_min = min(self.len_min, other.len_min)
        self.len_max = max(self.len_max, other.len_max)
        self.len_sum += other.len_sum
        self.len_n += other.len_n
        self.list_min = min(self.list_min, other.list_min)
        self.list_max = max(self.list_max, other.list_max)
        self.list_total += other.list_total
        self.list_n += other.list_n
        return self

    # -- batch updates ------------------------------------------------------------------------
    def update(self, s: Any, w: Any | None, options: StatisticsOptions) -> None:
        """Fold in one batch of this feature (a Polars Series) and the weights (a Series or None)."""
        import polars as pl

        n = s.len()
        nulls = s.null_count()
        self.count += n - nulls
        self.missing += nulls
        if w is not None:
            w = w.fill_null(0.0).cast(pl.Float64)
            valid = s.is_not_null()
            wc = float(w.filter(valid).sum()) if nulls else float(w.sum())
            self.w_count += wc
            self.w_missing += float(w.sum()) - wc
        if n == nulls:
            return
        if nulls:
            if w is not None:
                w = w.filter(s.is_not_null())
            s = s.drop_nulls()
        if self.type is FeatureKind.LIST:
            lengths = s.list.len()
            self.list_min = min(self.list_min, int(lengths.min()))
            self.list_max = max(self.list_max, int(lengths.max()))
            self.list_total += int(lengths.sum())
            self.list_n += lengths.len()
            s = s.explode().drop_nulls()
            w = None  # weights are not spread over list elements
            if s.len() == 0:
                return
            if self.value_type is FeatureKind.STRING and s.dtype != pl.String:
                s = s.cast(pl.String)
        if self.value_type.is_numeric:
            self._update_numeric(s, w, options)
        elif self.value_type.is_string:
            self._update_string(s, w, options)

    def _update_numeric(self, s: Any, w: Any | None, options: StatisticsOptions) -> None:
        import numpy as np
        import polars as pl

        if s.dtype == pl.Boolean:
            s = s.cast(pl.Int8)
        elif s.dtype.is_temporal():
            s = s.to_physical()
        elif s.dtype.is_decimal():
            s = s.cast(pl.Float64)
        is_float = s.dtype.is_float()
        col = pl.col("v")
        frame = s.alias("v").to_frame()
        if is_float:
            finite = col.filter(col.is_finite())
            row = frame.select(
                finite.len().alias("count"),
                finite.mean().alias("mean"),
                finite.var(ddof=0).alias("var"),
                col.filter(col.is_not_nan()).min().alias("min"),
                col.filter(col.is_not_nan()).max().alias("max"),
                (col == 0).sum().alias("zeros"),
                col.is_nan().sum().alias("nan"),
                col.is_infinite().sum().alias("inf"),
            ).row(0)
        else:
            row = frame.select(
                col.len().alias("count"),
                col.cast(pl.Float64).mean().alias("mean"),
                col.cast(pl.Float64).var(ddof=0).alias("var"),
                col.min().cast(pl.Float64).alias("min"),
                col.max().cast(pl.Float64).alias("max"),
                (col == 0).sum().alias("zeros"),
            ).row(0) + (0, 0)
        count, mean, var, vmin, vmax, zeros, nan, inf = row
        count = int(count)
        self.numeric_moments.update_summary(
            num_values=s.len(),
            count=count,
            mean=float(mean) if count else 0.0,
            m2=float(var) * count if count and var is not None else 0.0,
            min=float(vmin) if vmin is not None else math.inf,
            max=float(vmax) if vmax is not None else -math.inf,
            num_zeros=int(zeros),
            num_nan=int(nan),
            num_inf=int(inf),
        )
        if nan:
            keep = s.is_not_nan()
            s = s.filter(keep)
            if w is not None:
                w = w.filter(keep)
        if s.len() == 0:
            return
        values = None
        q = self.numeric_quantiles
        if q.wants_counts():
            sample = s.head(SAMPLE_ROWS)
            if sample.len() >= SAMPLE_ROWS and sample.n_unique() > options.exact_cap // 2:
                q.to_sketch()
            else:
                vc = s.value_counts(name="count")
                if vc.height <= options.exact_cap:
                    q.update_counts(vc.to_series(0).cast(pl.Float64).to_numpy(), vc.get_column("count").to_numpy())
                else:
                    q.to_sketch()
        if not q.wants_counts():
            values = np.require(s.cast(pl.Float64).to_numpy(), dtype=np.float64, requirements=["C", "W"])
            q.update(values)
        if w is not None:
            x = values if values is not None else s.cast(pl.Float64).to_numpy()
            wv = w.to_numpy()
            self.numeric_moments.merge(_weighted_moments(x, wv))
            if self.w_quantiles is not None:
                self.w_quantiles.update_weighted(x, wv)

    def _update_string(self, s: Any, w: Any | None, options: StatisticsOptions) -> None:
        import numpy as np
        import polars as pl

        if s.dtype == pl.Binary:
            lengths = s.bin.size()
        else:
            if s.dtype != pl.String:
                s = s.cast(pl.String)
            lengths = s.str.len_bytes()
        self.len_min = min(self.len_min, int(lengths.min()))
        self.len_max = max(self.len_max, int(lengths.max()))
        self.len_sum += int(lengths.sum())
        self.len_n += lengths.len()
        freq = self.string_values
        sample = s.head(SAMPLE_ROWS)
        low_cardinality = sample.n_unique() <= freq.capacity // 2
        if low_cardinality:
            vc = s.value_counts(name="count")
            labels_s = vc.get_column(s.name)
            counts = vc.get_column("count").to_numpy()
            self.string_distinct.update_hashes(labels_s.hash(HASH_SEED).to_numpy())
            keep, reduced_by = freq.reduce_counts(counts, freq.capacity)
            if not keep.all():
                labels_s, counts = labels_s.filter(pl.Series(keep)), counts[keep] - reduced_by
            freq.update_counts(_labels(labels_s), counts, reduced_by=reduced_by)
        else:
            hashes = s.hash(HASH_SEED)
            # count by sorting the hashes (cheaper than a hash group-by when most values are unique)
            sorted_h = np.sort(hashes.to_numpy())
            starts = np.concatenate([[0], np.flatnonzero(sorted_h[1:] != sorted_h[:-1]) + 1])
            hh = sorted_h[starts]
            counts = np.diff(np.append(starts, len(sorted_h)))
            self.string_distinct.update_sorted_hashes(hh)
            keep, reduced_by = freq.reduce_counts(counts, freq.capacity)
            if keep.any():
                kept = pl.Series("h", hh[keep])
                kept_counts = counts[keep] - reduced_by
                frame = pl.DataFrame({"v": s, "h": hashes})
                reps = frame.filter(pl.col("h").is_in(kept.implode())).unique("h", keep="any")
                label_of = dict(zip(reps.get_column("h").to_list(), _labels(reps.get_column("v")), strict=True))
                freq.update_counts([label_of[h] for h in kept.to_list()], kept_counts, reduced_by=reduced_by)
            else:
                freq.update_counts([], np.empty(0), reduced_by=reduced_by)
        freq.add_total(s.len())
        if w is not None and self.w_freq is not None:
            # weight sums per value in row order (bincount), values in sorted order: a Polars group-by sums
            # in an order that depends on its threads' timing, which changed the last digits run to run
            codes = s.rank("dense").to_numpy().astype(np.int64) - 1
            wsum = np.bincount(codes, weights=w.cast(pl.Float64).fill_null(0.0).to_numpy()) * WEIGHT_SCALE
            values = s.unique().sort()
            keep, reduced_by = self.w_freq.reduce_counts(wsum, self.w_freq.capacity)
            lab = values.filter(pl.Series(keep)) if not keep.all() else values
            self.w_freq.update_counts(_labels(lab), wsum[keep] - reduced_by, reduced_by=reduced_by)

    # -- results ------------------------------------------------------------------------------
    def finish(self, name: str, options: StatisticsOptions, weighted: bool) -> FeatureStatistics:
        numeric = string = lst = None
        if self.type is FeatureKind.LIST and self.list_n:
            lst = ListStats(
                min_num_values=int(self.list_min),
                max_num_values=int(self.list_max),
                avg_num_values=self.list_total / self.list_n,
                total_num_values=self.list_total,
            )
        if self.moments is not None and self.moments.num_values:
            numeric = self._finish_numeric(options, weighted)
        if self.freq is not None and self.len_n:
            string = self._finish_string(options, weighted)
        return FeatureStatistics(
            name=name,
            type=self.type,
            value_type=self.value_type,
            count=self.count,
            missing=self.missing,
            weighted_count=self.w_count if weighted else None,
            weighted_missing=self.w_missing if weighted else None,
            numeric=numeric,
            string=string,
            list=lst,
        )

    # The results are built as plain data and validated once per NumericStats/StringStats: pydantic
    # validates a nested document in one native call, while a model object per bucket and quantile
    # (dozens a feature) was most of the finishing time on wide tables.
    def _finish_numeric(self, options: StatisticsOptions, weighted: bool) -> NumericStats:
        m, q = self.numeric_moments, self.numeric_quantiles
        ranks = [i / options.num_quantiles for i in range(options.num_quantiles + 1)]

        def parts(acc: QuantileAccumulator) -> dict[str, Any]:
            if acc.n == 0:
                return {}
            qs = acc.quantiles(ranks)
            lo, hi = qs[0], qs[-1]
            buckets = options.num_histogram_buckets
            return {
                "median": acc.quantiles([0.5])[0],
                "quantile_values": qs,
                "histogram": {"kind": "standard", "buckets": _buckets(acc.histogram(lo, hi, buckets))},
                "quantile_histogram": {"kind": "quantiles", "buckets": _buckets(acc.quantile_histogram(buckets))},
            }

        w_stats = None
        if weighted and self.w_quantiles is not None:
            w_stats = {"mean": m.w_mean if m.w_sum > 0 else None, "std": m.weighted_std, **parts(self.w_quantiles)}
        has_values = m.num_values > m.num_nan
        return NumericStats.model_validate(
            {
                "mean": m.mean if m.count else None,
                "std": m.std,
                "min": m.min if has_values else None,
                "max": m.max if has_values else None,
                "num_zeros": m.num_zeros,
                "num_nan": m.num_nan,
                "num_inf": m.num_inf,
                "exact": q.is_exact,
                "rank_error": q.rank_error,
                "weighted": w_stats,
                **parts(q),
            }
        )

    def _finish_string(self, options: StatisticsOptions, weighted: bool) -> StringStats:
        freq = self.string_values
        exact = freq.is_exact
        if exact:
            unique = freq.num_active
        else:
            unique = max(int(round(self.string_distinct.estimate())), 1)
        top = freq.top(max(options.top_k, _rank_buckets(options, exact)))
        w_stats = None
        if weighted and self.w_freq is not None:
            w_buckets = _rank_buckets(options, self.w_freq.is_exact)
            wtop = [(v, c / WEIGHT_SCALE) for v, c in self.w_freq.top(max(options.top_k, w_buckets))]
            w_stats = {"top_values": _top(wtop[: options.top_k]), "rank_histogram": _ranked(wtop[:w_buckets])}
        return StringStats.model_validate(
            {
                "unique": unique,
                "unique_exact": exact,
                "top_values": _top(top[: options.top_k]),
                "top_values_exact": exact,
                "rank_histogram": _ranked(top[: _rank_buckets(options, exact)]),
                "avg_length": self.len_sum / self.len_n if self.len_n else None,
                "min_length": int(self.len_min) if self.len_n else None,
                "max_length": int(self.len_max) if self.len_n else None,
                "weighted": w_stats,
            }
        )


def _buckets(triples: list[tuple[float, float, float]]) -> list[dict[str, float]]:
    return [{"low": lo, "high": hi, "count": n} for lo, hi, n in triples]


def _top(pairs: list[tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"value": v, "count": c} for v, c in pairs]


def _ranked(pairs: list[tuple[str, float]]) -> list[dict[str, Any]]:
    """A rank histogram of one value per bucket (TFDV's layout), from (value, count) by rank."""
    return [{"low_rank": i, "high_rank": i, "label": v, "count": c} for i, (v, c) in enumerate(pairs)]


def _rank_buckets(options: StatisticsOptions, exact: bool) -> int:
    """How many values the rank histogram lists: all up to the option while counts are exact."""
    n = options.num_rank_histogram_buckets
    return n if exact else min(n, APPROX_RANK_BUCKETS)


def _labels(series: Any) -> list[str]:
    """Python strings for a Polars String or Binary series (bytes decoded with backslash escapes)."""
    values = series.to_list()
    if values and isinstance(values[0], (bytes, bytearray)):
        return [v.decode("utf-8", "backslashreplace") for v in values]
    return values


def _weighted_moments(x: Any, w: Any) -> Any:
    import numpy as np

    from sluiceway.data.sketches import Moments

    finite = np.isfinite(x)
    if not finite.all():
        x, w = x[finite], w[finite]
    out = Moments()
    w_sum = float(w.sum())
    if w_sum > 0:
        out.w_sum = w_sum
        out.w_mean = float((w * x).sum() / w_sum)
        out.w_m2 = float((w * (x - out.w_mean) ** 2).sum())
    return out


class DatasetAccumulator:
    def __init__(self) -> None:
        self.num_examples = 0
        self.w_num_examples = 0.0
        self.features: dict[str, FeatureAccumulator] = {}

    def merge(self, other: DatasetAccumulator) -> DatasetAccumulator:
        self.num_examples += other.num_examples
        self.w_num_examples += other.w_num_examples
        for name, acc in other.features.items():
            mine = self.features.get(name)
            if mine is None:
                self.features[name] = acc
            else:
                try:
                    mine.merge(acc)
                except DataError as exc:
                    raise DataError(f"Feature '{name}': {exc}") from exc
        return self


# key: (split, slice column or None, slice value or None)
Key = tuple[str, Any, Any]


def merge_results(a: dict[Key, DatasetAccumulator], b: dict[Key, DatasetAccumulator]) -> dict[Key, DatasetAccumulator]:
    for key, acc in b.items():
        if key in a:
            a[key].merge(acc)
        else:
            a[key] = acc
    return a


def slice_text(value: Any) -> str | None:
    """A slice value as text: None for null, ``true``/``false`` for booleans, else ``str``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)



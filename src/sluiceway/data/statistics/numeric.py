"""The batched numeric path: every plain numeric column of a batch in a few Polars queries.

Plain numeric columns without weights (most columns of most tables) skip the per-feature general
path of ``FeatureAccumulator.update``: one select computes counts, moments, min/max, zeros, NaN and
inf of every column together; one ``collect_all`` computes the value counts of the columns still in
the exact phase; then, column by column (one float64 copy in memory at a time), the values of the
columns in the sketch phase go to their KLL sketch, sorted by numpy (without the GIL). Polars runs
the queries on its thread pool without the GIL. Same results as ``FeatureAccumulator.update`` (a
test checks the two paths against each other).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sluiceway.data.statistics.accumulators import FeatureAccumulator
from sluiceway.data.statistics.options import SAMPLE_ROWS, StatisticsOptions


def numeric_expr(dtype: Any, col: Any) -> Any:
    """``col`` as a numeric Polars expression (booleans 0/1, datetimes in their epoch unit)."""
    import polars as pl

    if dtype == pl.Boolean:
        return col.cast(pl.Int8)
    if dtype.is_temporal():
        return col.to_physical()
    if dtype.is_decimal():
        return col.cast(pl.Float64)
    return col


_COLUMNS_PER_QUERY = 512

# (column, accumulator, numeric expression, is a float column)
_Prepared = tuple[str, FeatureAccumulator, Any, bool]


def update_numeric_columns(
    df: Any, items: Sequence[tuple[str, FeatureAccumulator]], options: StatisticsOptions
) -> None:
    """Fold one batch of several plain numeric columns (no weights) into their accumulators.

    Columns go in groups of ``_COLUMNS_PER_QUERY``, each group as a frame of its own columns (the
    series are shared, not copied): the queries' one-row results hold several values per column,
    and every Polars query on a frame costs time in the frame's width, so on a very wide table
    queries over the whole frame would cost time and memory in the square of the column count."""
    import polars as pl

    position = {name: i for i, name in enumerate(df.columns)}
    for start in range(0, len(items), _COLUMNS_PER_QUERY):
        group = items[start : start + _COLUMNS_PER_QUERY]
        part = pl.DataFrame([df.to_series(position[c]) for c, _ in group])
        prepared, row = _summaries(part, group)
        _fold_moments(part, prepared, row)
        _fold_exact_counts(part, prepared, row, options)
        _fold_sketch_values(part, prepared, row)


def _summaries(df: Any, items: Sequence[tuple[str, FeatureAccumulator]]) -> tuple[list[_Prepared], dict[str, Any]]:
    """One select over the batch: counts, moments, min/max, zeros, NaN, inf (and a distinct-count
    sample for columns in the exact phase) of every column."""
    import polars as pl

    schema = df.schema
    exprs = []
    prepared: list[_Prepared] = []
    for i, (c, fa) in enumerate(items):
        dtype = schema[c]
        x = numeric_expr(dtype, pl.col(c))
        is_float = dtype.is_float() or dtype.is_decimal()
        # no Float64 cast of integers: Polars' integer mean/var accumulate in float64 already (same
        # results), and a cast would materialise a copy of every column at once
        exprs += [
            x.null_count().alias(f"{i}n"),
            x.count().alias(f"{i}c"),
            x.mean().alias(f"{i}m"),
            x.var(ddof=0).alias(f"{i}v"),
            x.min().alias(f"{i}lo"),  # Polars' min/max skip NaN
            x.max().alias(f"{i}hi"),
            (x == 0).sum().alias(f"{i}z"),
        ]
        if is_float:
            exprs += [x.is_nan().sum().alias(f"{i}nan"), x.is_infinite().sum().alias(f"{i}inf")]
        if fa.numeric_quantiles.wants_counts():
            # the first SAMPLE_ROWS non-null, non-NaN values: the same sample the general path takes
            kept = x.drop_nulls()
            sample = (kept.filter(kept.is_not_nan()) if is_float else kept).head(SAMPLE_ROWS)
            exprs += [sample.n_unique().alias(f"{i}u"), sample.len().alias(f"{i}ul")]
        prepared.append((c, fa, x, is_float))
    return prepared, df.select(exprs).row(0, named=True)


def _fold_moments(df: Any, prepared: list[_Prepared], row: dict[str, Any]) -> None:
    import polars as pl

    for i, (_c, fa, x, _is_float) in enumerate(prepared):
        nulls, n = int(row[f"{i}n"]), int(row[f"{i}c"])
        fa.count += n
        fa.missing += nulls
        if n == 0:
            continue
        nan = int(row.get(f"{i}nan") or 0)
        inf = int(row.get(f"{i}inf") or 0)
        count, mean, var, lo, hi = n - nan - inf, row[f"{i}m"], row[f"{i}v"], row[f"{i}lo"], row[f"{i}hi"]
        if nan or inf:  # mean/var over finite values only, min/max over non-NaN values
            xf = x.cast(pl.Float64)
            fin = xf.filter(xf.is_finite())
            notnan = xf.filter(xf.is_not_nan())
            count, mean, var, lo, hi = df.select(
                fin.len().alias("n"),
                fin.mean().alias("m"),
                fin.var(ddof=0).alias("v"),
                notnan.min().alias("lo"),
                notnan.max().alias("hi"),
            ).row(0)
            count = int(count)
        lo = math.inf if lo is None or math.isnan(lo) else float(lo)
        hi = -math.inf if hi is None or math.isnan(hi) else float(hi)
        fa.numeric_moments.update_summary(
            num_values=n,
            count=count,
            mean=float(mean) if count else 0.0,
            m2=float(var) * count if count and var is not None else 0.0,
            min=lo,
            max=hi,
            num_zeros=int(row[f"{i}z"]),
            num_nan=nan,
            num_inf=inf,
        )


def _has_values(row: dict[str, Any], i: int) -> bool:
    """The column has a non-null, non-NaN value in this batch."""
    return int(row[f"{i}c"]) > int(row.get(f"{i}nan") or 0)


def _fold_exact_counts(df: Any, prepared: list[_Prepared], row: dict[str, Any], options: StatisticsOptions) -> None:
    """Columns in the exact phase: value counts of all of them in one ``collect_all``; a column whose
    sample already shows too many distinct values leaves the exact phase without counting."""
    import polars as pl

    counted: list[tuple[int, Any]] = []  # (item, value-count expression)
    for i, (_c, fa, x, _is_float) in enumerate(prepared):
        q = fa.numeric_quantiles
        if not q.wants_counts() or not _has_values(row, i):
            continue
        if int(row[f"{i}ul"]) >= SAMPLE_ROWS and int(row[f"{i}u"]) > options.exact_cap // 2:
            q.to_sketch()
        else:
            # counts of every value, null and NaN included (dropped from the small result, not
            # from the column: no copy of the column), as one list per column
            counted.append((i, x.value_counts(sort=False, name="count").implode().alias(f"{i}vc")))
    if not counted:
        return
    # one select for every column: a lazy query per column would re-plan the whole (maybe very
    # wide) frame once per column, a cost that grows with the square of the column count
    lists = df.select([expr for _, expr in counted])
    for i, _ in counted:
        q, is_float = prepared[i][1].numeric_quantiles, prepared[i][3]
        vc = lists.get_column(f"{i}vc").explode().struct.unnest()
        values = vc.to_series(0)
        if values.has_nulls() or is_float:
            keep = values.is_not_null()
            if is_float:
                keep = keep & values.is_not_nan()
            vc = vc.filter(keep)
        if vc.height <= options.exact_cap:
            q.update_counts(vc.to_series(0).cast(pl.Float64).to_numpy(), vc.get_column("count").to_numpy())
        else:
            q.to_sketch()


def _fold_sketch_values(df: Any, prepared: list[_Prepared], row: dict[str, Any]) -> None:
    """Columns in the sketch phase: their non-null, non-NaN values, one column at a time (one
    float64 copy in memory at once), sorted by numpy, which releases the GIL while the sketch's
    compactions then only merge sorted runs."""
    import numpy as np
    import polars as pl

    for i, (_c, fa, x, is_float) in enumerate(prepared):
        if fa.numeric_quantiles.wants_counts() or not _has_values(row, i):
            continue
        vals = x.drop_nulls().cast(pl.Float64)
        if is_float and int(row.get(f"{i}nan") or 0):
            vals = vals.filter(vals.is_not_nan())
        values = np.require(df.select(vals).to_series(0).to_numpy(), dtype=np.float64, requirements=["C", "W"])
        values.sort()
        fa.numeric_quantiles.update(values, is_sorted=True)
        del values


__all__ = ["numeric_expr", "update_numeric_columns"]

"""The two numeric paths (the batched one for plain columns, the general per-feature one used with
weights, lists and struct fields) give the same statistics on the same data, and both match numpy."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from sluiceway.data.statistics import StatisticsOptions
from sluiceway.data.statistics.accumulators import FeatureAccumulator
from sluiceway.data.statistics.features import plan_features
from sluiceway.data.statistics.numeric import update_numeric_columns


def _frame(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    wide = rng.lognormal(1, 2, n)  # ~n distinct values: the sketch path beyond the exact cap
    wide[rng.random(n) < 0.02] = np.nan
    wide[rng.random(n) < 0.001] = np.inf
    small = rng.integers(-5, 40, n)  # few distinct values: the exact path
    start = dt.datetime(2024, 1, 1)
    return pl.DataFrame(
        {
            "wide": wide,
            "small": pl.Series(small).set(pl.Series(rng.random(n) < 0.1), None),
            "flag": rng.random(n) < 0.3,
            "when": [start + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 100_000, n)],
            "zeros": np.where(rng.random(n) < 0.5, 0.0, rng.normal(0, 1, n)),
            "nothing": pl.Series([None] * n, dtype=pl.Float64),
        }
    )


@pytest.mark.parametrize("exact_cap", [16_384, 50])
def test_batched_and_general_numeric_paths_agree(exact_cap: int) -> None:
    options = StatisticsOptions(exact_cap=exact_cap)
    batches = [_frame(n, seed) for seed, n in enumerate((40_000, 25_000, 3))]
    plan = plan_features(batches[0].to_arrow().schema)
    batched = {name: FeatureAccumulator(kind, element, options, False) for name, _, kind, element in plan}
    general = {name: FeatureAccumulator(kind, element, options, False) for name, _, kind, element in plan}
    for df in batches:
        update_numeric_columns(df, list(batched.items()), options)
        for name, acc in general.items():
            acc.update(df.get_column(name), None, options)
    for name in batched:
        a = batched[name].finish(name, options, False)
        b = general[name].finish(name, options, False)
        assert a == b, name
    whole = pl.concat(batches)
    wide = batched["wide"].finish("wide", options, False).numeric
    values = whole["wide"].to_numpy()
    finite = values[np.isfinite(values)]
    assert not wide.exact
    assert wide.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert wide.std == pytest.approx(finite.std(), rel=1e-9)
    assert (wide.num_nan, wide.num_inf) == (int(np.isnan(values).sum()), int(np.isinf(values).sum()))
    small = batched["small"].finish("small", options, False)
    ints = whole["small"].drop_nulls().to_numpy()
    assert small.missing == whole["small"].null_count()
    assert small.numeric.exact == (exact_cap > 50)
    if small.numeric.exact:
        ranks = [q.rank for q in small.numeric.quantiles]
        assert [q.value for q in small.numeric.quantiles] == list(np.quantile(ints, ranks, method="inverted_cdf"))
    when = batched["when"].finish("when", options, False).numeric
    micros = whole["when"].dt.epoch("us").to_numpy()
    assert (when.min, when.max) == (micros.min(), micros.max())
    assert batched["zeros"].finish("zeros", options, False).numeric.num_zeros == int((whole["zeros"] == 0).sum())
    nothing = batched["nothing"].finish("nothing", options, False)
    assert nothing.missing == whole.height and nothing.numeric is None


def test_paths_agree_where_nulls_and_nan_decide_between_exact_and_sketch() -> None:
    # 20k rows, ~19 % null or NaN: fewer than 16,384 values in all, ~10k distinct, of which more
    # than half the exact cap among the first 16,384 rows. Judged on rows (as the batched path once
    # did) the column went to the sketch; judged on values (as the general path does) it is exact.
    rng = np.random.default_rng(21)
    n = 20_000
    values = rng.integers(0, 15_000, n).astype(float)
    values[rng.random(n) < 0.1] = np.nan
    column = pl.Series("x", values).set(pl.Series(rng.random(n) < 0.1), None)
    options = StatisticsOptions(exact_cap=16_384)
    a = FeatureAccumulator(*plan_features(column.to_frame().to_arrow().schema)[0][2:], options, False)
    b = FeatureAccumulator(*plan_features(column.to_frame().to_arrow().schema)[0][2:], options, False)
    update_numeric_columns(column.to_frame(), [("x", a)], options)
    b.update(column, None, options)
    assert a.finish("x", options, False) == b.finish("x", options, False)
    assert a.finish("x", options, False).numeric.exact

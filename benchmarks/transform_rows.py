#!/usr/bin/env python
"""Transforming one request: Sluiceway's row path vs its frame path vs scikit-learn's ColumnTransformer.

    .venv/bin/python benchmarks/transform_rows.py                 # 5,000 calls per figure
    .venv/bin/python benchmarks/transform_rows.py --calls 500     # quick

A penguin-like graph fitted on the Palmer penguins (the example's data, shipped by ``palmerpenguins``):
z-score of bill length, vocabulary ids of island (one OOV bucket), 5 quantile buckets of body mass, the
flipper / bill ratio, bill depth with missing values filled by the mean, the species passed through.
scikit-learn: the same features with StandardScaler, OrdinalEncoder (unknown → -1), KBinsDiscretizer
(quantile, ordinal), a FunctionTransformer for the ratio and SimpleImputer(mean) + passthrough, fitted
on the same rows.

Per call, after warm-up, median and 95th percentile of ``--calls`` calls, in microseconds:
  dict      ``FittedTransform.transform(row)`` (row path) | the same rows through a Polars DataFrame
            (frame path, what every call cost before) | scikit-learn on ``pd.DataFrame([row])``
  8 dicts   the same with a list of 8 rows
  frame     a 1-row Polars DataFrame (row path) | its frame path | scikit-learn on a prebuilt 1-row
            pandas DataFrame
The machine may be shared: the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any


def preprocessing_fn(inputs):  # noqa: ANN001, ANN201 - the inputs dict of column placeholders
    import sluiceway.transform as T

    return {
        "bill_length_z": T.scale_to_z_score(inputs["bill_length_mm"]),
        "island_id": T.compute_and_apply_vocabulary(inputs["island"], top_k=100, num_oov_buckets=1),
        "mass_bucket": T.bucketize(inputs["body_mass_g"], num_buckets=5),
        "flipper_ratio": inputs["flipper_length_mm"] / inputs["bill_length_mm"],
        "bill_depth": T.fill_missing(inputs["bill_depth_mm"], T.mean(inputs["bill_depth_mm"])),
        "species": inputs["species"],
    }


def _ratio(frame: Any) -> Any:
    return (frame["flipper_length_mm"] / frame["bill_length_mm"]).to_frame()


def sklearn_transformer(frame: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import FunctionTransformer, KBinsDiscretizer, OrdinalEncoder, StandardScaler

    return ColumnTransformer(
        [
            ("bill_length_z", StandardScaler(), ["bill_length_mm"]),
            (
                "island_id",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                ["island"],
            ),
            (
                "mass_bucket",
                KBinsDiscretizer(n_bins=5, encode="ordinal", strategy="quantile", subsample=None),
                ["body_mass_g"],
            ),
            ("flipper_ratio", FunctionTransformer(_ratio), ["flipper_length_mm", "bill_length_mm"]),
            ("bill_depth", SimpleImputer(strategy="mean"), ["bill_depth_mm"]),
            ("species", "passthrough", ["species"]),
        ]
    ).fit(frame)


def per_call_us(call: Callable[[], Any], calls: int) -> tuple[float, float]:
    """Median and 95th percentile of one call, in microseconds (after 50 warm-up calls)."""
    for _ in range(50):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        call()
        times.append((time.perf_counter_ns() - start) / 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    spec = find_spec("palmerpenguins")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("This benchmark needs the penguins data: pip install palmerpenguins")
    import pandas as pd
    import polars as pl

    from sluiceway.transform.fit import column_kinds, fit, trace

    csv = Path(spec.submodule_search_locations[0]) / "data" / "penguins.csv"
    raw = pl.read_csv(csv, null_values="NA")
    scratch = Path(__file__).resolve().parent.parent / ".bench" / "transform_rows"
    scratch.mkdir(parents=True, exist_ok=True)
    parquet = scratch / "penguins.parquet"
    raw.write_parquet(parquet)
    fitted = fit(trace(preprocessing_fn, column_kinds([str(parquet)])), [str(parquet)])
    sklearn = sklearn_transformer(raw.drop_nulls("body_mass_g").to_pandas())  # KBinsDiscretizer takes no NaN

    row = raw.row(0, named=True)
    rows = raw.drop_nulls("body_mass_g").head(8).to_dicts()  # rows scikit-learn can bucket
    frame = raw.head(1)
    pandas_row = pd.DataFrame([row])
    assert fitted.transform(row) == fitted._transform_as_frame(row)  # the same values either way
    cases = [
        (
            "dict",
            lambda: fitted.transform(row),
            lambda: fitted._transform_as_frame(row),
            lambda: sklearn.transform(pd.DataFrame([row])),
        ),
        (
            "8 dicts",
            lambda: fitted.transform(rows),
            lambda: fitted._transform_as_frame(rows),
            lambda: sklearn.transform(pd.DataFrame(rows)),
        ),
        (
            "1-row frame",
            lambda: fitted.transform(frame),
            lambda: fitted._transform_as_frame(frame),
            lambda: sklearn.transform(pandas_row),
        ),
    ]
    print(f"load average before: {os.getloadavg()}, cores: {os.cpu_count()}; {args.calls:,} calls per figure")
    print(f"{'input':<12} {'row path':>20} {'frame path':>20} {'scikit-learn':>20}   (median / p95, µs)")
    for name, row_path, frame_path, peer in cases:
        figures = [per_call_us(call, args.calls) for call in (row_path, frame_path, peer)]
        cells = " ".join(f"{f'{median:,.1f} / {p95:,.1f}':>20}" for median, p95 in figures)
        print(
            f"{name:<12} {cells}   frame/row {figures[1][0] / figures[0][0]:.0f}x, sklearn/row "
            f"{figures[2][0] / figures[0][0]:.0f}x"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Transform: Sluiceway's analyze + apply vs scikit-learn's ColumnTransformer fit + transform, same data, same run.

    .venv/bin/python benchmarks/transform.py                          # 1M and 10M rows, both libraries
    .venv/bin/python benchmarks/transform.py --rows 1000000           # one size
    .venv/bin/python benchmarks/transform.py --rows 200000 --repeats 1   # quick

Data: benchmarks/taxi_data.py's taxi-like table (19 columns, nulls, skewed categoricals, heavy tails), as
Parquet in row groups of 1M rows written group by group (``taxi_parquet_in_row_groups``: 10M rows never sit
in memory while generating), under ``.bench/data/``.

The same features both ways (missing values handled the same way on both sides):
  z-score of fare, trip_miles, trip_seconds (nulls stay null)   | StandardScaler (NaN stays NaN)
  0..1 scale of tips (nulls stay null)                          | MinMaxScaler
  vocabulary ids of company, payment_type (null -> "(missing)") | SimpleImputer(constant) + OrdinalEncoder
  10 quantile buckets of trip_miles, fare, pickup_latitude      | SimpleImputer(constant) +
     (null -> a constant)                                       |   KBinsDiscretizer(quantile, ordinal)
Sluiceway: ``fit`` (one pass over the Parquet file: analyzers on the in-process engine; quantiles from the
deterministic KLL sketch, pickup_latitude has ~2M distinct values) and ``apply_to_files`` (the transformed
table written as Parquet). scikit-learn: ``pd.read_parquet`` of the columns used, ``fit``, then
``transform`` (in memory, nothing written). Each measurement runs in a fresh subprocess; times exclude
imports; peak RSS is the whole process (``os.wait4``). The machine may be shared: every figure is printed
with the load average before and after, and is provisional under load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

GROUP_ROWS = 1_000_000
LATITUDE_FILL = 41.85  # a missing pickup latitude: the city centre, on both sides


def preprocessing_fn(inputs):  # noqa: ANN001, ANN201 - the inputs dict of column placeholders
    import sluiceway.transform as T

    return {
        "fare_z": T.scale_to_z_score(inputs["fare"]),
        "miles_z": T.scale_to_z_score(inputs["trip_miles"]),
        "seconds_z": T.scale_to_z_score(inputs["trip_seconds"]),
        "tips_01": T.scale_to_0_1(inputs["tips"]),
        "company_id": T.compute_and_apply_vocabulary(T.fill_missing(inputs["company"], "(missing)")),
        "payment_id": T.compute_and_apply_vocabulary(T.fill_missing(inputs["payment_type"], "(missing)")),
        "miles_bucket": T.bucketize(T.fill_missing(inputs["trip_miles"], 0.0), 10),
        "fare_bucket": T.bucketize(T.fill_missing(inputs["fare"], 0.0), 10),
        "latitude_bucket": T.bucketize(T.fill_missing(inputs["pickup_latitude"], LATITUDE_FILL), 10),
    }


COLUMNS = ["fare", "trip_miles", "trip_seconds", "tips", "company", "payment_type", "pickup_latitude"]


# ------------------------------------------------------------------------------------------ workers
def worker_sluiceway(path: str, out: str) -> dict:
    import polars  # noqa: F401 (imports are not part of the timed work)

    from sluiceway.transform.fit import apply_to_files, column_kinds, fit, trace

    start = time.perf_counter()
    fitted = fit(trace(preprocessing_fn, column_kinds([path])), [path])
    analyze = time.perf_counter() - start
    rows = apply_to_files(fitted, [path], out)
    return {"fit": analyze, "transform": time.perf_counter() - start - analyze, "rows": rows}


def worker_sklearn(path: str) -> dict:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import KBinsDiscretizer, MinMaxScaler, OrdinalEncoder, StandardScaler

    def buckets(fill: float):  # noqa: ANN202
        return make_pipeline(
            SimpleImputer(strategy="constant", fill_value=fill),
            KBinsDiscretizer(n_bins=10, encode="ordinal", strategy="quantile", subsample=None),
        )

    start = time.perf_counter()
    frame = pd.read_parquet(path, columns=COLUMNS)
    read = time.perf_counter() - start
    transformer = ColumnTransformer(
        [
            ("z", StandardScaler(), ["fare", "trip_miles", "trip_seconds"]),
            ("unit", MinMaxScaler(), ["tips"]),
            (
                "ids",
                make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"), OrdinalEncoder()),
                ["company", "payment_type"],
            ),
            ("buckets", buckets(0.0), ["trip_miles", "fare"]),
            ("latitude", buckets(LATITUDE_FILL), ["pickup_latitude"]),
        ]
    )
    transformer.fit(frame)
    fitted = time.perf_counter() - start - read
    result = transformer.transform(frame)
    return {
        "read": read,
        "fit": fitted,
        "transform": time.perf_counter() - start - read - fitted,
        "rows": int(result.shape[0]),
    }


def run_worker(*args: str) -> dict:
    """Run this script as a worker in a fresh process; its JSON result plus peak RSS in MB."""
    process = subprocess.Popen([sys.executable, __file__, "--worker", *args], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"worker {args} failed with status {status}")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    return result


def _median(results: list[dict], key: str) -> float:
    return sorted(r.get(key, 0.0) for r in results)[len(results) // 2]


def measure(rows: int, repeats: int, data: Path) -> None:
    from taxi_data import taxi_parquet_in_row_groups

    path = str(taxi_parquet_in_row_groups(rows, data, group_rows=min(GROUP_ROWS, rows)))
    load_before = os.getloadavg()
    ours = [run_worker("sluiceway", path, str(data / f"transformed_{rows}_{i}")) for i in range(repeats)]
    theirs = [run_worker("sklearn", path) for _ in range(repeats)]
    load_after = os.getloadavg()
    sw = {k: _median(ours, k) for k in ("fit", "transform")}
    sk = {k: _median(theirs, k) for k in ("read", "fit", "transform")}
    sw_total, sk_total = sw["fit"] + sw["transform"], sk["read"] + sk["fit"] + sk["transform"]
    sw_peak, sk_peak = max(r["peak_rss_mb"] for r in ours), max(r["peak_rss_mb"] for r in theirs)
    print(f"{rows:,} rows, median of {repeats} fresh process(es); load average {load_before} -> {load_after}")
    print(f"  {'':<13}{'fit':>9}{'transform':>11}{'total':>9}{'rows/s':>12}{'peak RSS':>12}")
    print(
        f"  {'Sluiceway':<13}{sw['fit']:>8.2f}s{sw['transform']:>10.2f}s{sw_total:>8.2f}s"
        f"{rows / sw_total:>12,.0f}{sw_peak:>9,.0f} MB   (fit reads the Parquet; transform writes Parquet)"
    )
    print(
        f"  {'scikit-learn':<13}{sk['fit']:>8.2f}s{sk['transform']:>10.2f}s{sk_total:>8.2f}s"
        f"{rows / sk_total:>12,.0f}{sk_peak:>9,.0f} MB   (+ read {sk['read']:.2f}s in total; in memory)"
    )
    print(
        f"  ratio (scikit-learn / Sluiceway): fit {sk['fit'] / sw['fit']:.1f}x, transform "
        f"{sk['transform'] / sw['transform']:.1f}x, total {sk_total / sw_total:.1f}x, peak RSS {sk_peak / sw_peak:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--data", default=str(HERE.parent / ".bench" / "data"))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        result = worker_sluiceway(rest[0], rest[1]) if kind == "sluiceway" else worker_sklearn(rest[0])
        print(json.dumps(result))
        return
    data = Path(args.data)
    print(f"cores: {os.cpu_count()}; command: {' '.join(sys.argv)}")
    for rows in args.rows:
        measure(rows, args.repeats, data)


if __name__ == "__main__":
    main()

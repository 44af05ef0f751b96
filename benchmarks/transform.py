#!/usr/bin/env python
"""Transform: Sluiceway's analyze + apply vs scikit-learn's ColumnTransformer fit + transform, same data, same run.

    .venv/bin/python benchmarks/transform.py                     # 1M rows (+ Sluiceway alone at 10M)
    .venv/bin/python benchmarks/transform.py --rows 200000 --scale-rows 0   # quick

Data: a taxi-like table from a small deterministic generator in this script (helper H is adding a shared
generator to benchmarks/; switch to it when it lands): fare, tips, trip_miles (floats), trip_seconds (float
with 3 % nulls), pickup_community_area (int), trip_start_hour (int), company (~120 Zipf strings),
payment_type (8 strings). Parquet, row groups of 256k rows, written chunk by chunk (memory stays flat).

The same features both ways:
  z-score of fare, trip_miles, trip_seconds  | StandardScaler
  0..1 scale of tips                         | MinMaxScaler
  vocabulary ids of company, payment_type    | OrdinalEncoder
  10 quantile buckets of trip_miles and fare | KBinsDiscretizer(strategy="quantile", encode="ordinal")
Sluiceway: ``fit`` (one pass over the Parquet file, analyzers on the in-process engine) then
``apply_to_files`` (transformed Parquet written). scikit-learn: ``pd.read_parquet`` then
``ColumnTransformer.fit_transform`` (in memory, nothing written). Each measurement runs in a fresh
subprocess; "timed" excludes imports; peak RSS is the whole process (``os.wait4``).
The machine may be shared: every figure is printed with the load average, and is provisional under load.
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
CHUNK_ROWS = 256 * 1024


def generate(rows: int, path: Path, seed: int = 7) -> None:
    """Write ``rows`` taxi-like rows to ``path`` (deterministic: same rows and seed, same file)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    companies = np.array([f"{i:04d} - Cab Co {i}" for i in range(120)])
    company_p = 1.0 / np.arange(1, 121) ** 1.1
    company_p /= company_p.sum()
    payments = np.array(["Cash", "Credit Card", "Mobile", "Prcard", "Unknown", "No Charge", "Dispute", "Pcard"])
    payment_p = np.array([0.45, 0.4, 0.05, 0.04, 0.03, 0.015, 0.01, 0.005])
    writer = None
    try:
        for start in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - start)
            rng = np.random.default_rng([seed, start])
            miles = np.round(rng.gamma(1.5, 2.2, n), 2)
            seconds = np.round(miles * 180 + rng.normal(300, 120, n)).clip(60)
            table = pa.table(
                {
                    "fare": np.round(3.25 + miles * 2.25 + rng.normal(0, 1.5, n).clip(-3), 2),
                    "tips": np.round(rng.exponential(1.5, n) * (rng.random(n) < 0.6), 2),
                    "trip_miles": miles,
                    "trip_seconds": pa.array(seconds, mask=rng.random(n) < 0.03),
                    "pickup_community_area": rng.integers(1, 78, n),
                    "trip_start_hour": rng.integers(0, 24, n),
                    "company": companies[rng.choice(120, n, p=company_p)],
                    "payment_type": payments[rng.choice(8, n, p=payment_p)],
                }
            )
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=CHUNK_ROWS)
    finally:
        if writer is not None:
            writer.close()


def preprocessing_fn(inputs):  # noqa: ANN001, ANN201
    import sluiceway.transform as T

    return {
        "fare_z": T.scale_to_z_score(inputs["fare"]),
        "miles_z": T.scale_to_z_score(inputs["trip_miles"]),
        "seconds_z": T.scale_to_z_score(inputs["trip_seconds"]),
        "tips_01": T.scale_to_0_1(inputs["tips"]),
        "company_id": T.compute_and_apply_vocabulary(inputs["company"]),
        "payment_id": T.compute_and_apply_vocabulary(inputs["payment_type"]),
        "miles_bucket": T.bucketize(inputs["trip_miles"], 10),
        "fare_bucket": T.bucketize(inputs["fare"], 10),
    }


# ------------------------------------------------------------------------------------------ workers
def worker_sluiceway(path: str, out: str, analyze_only: bool) -> dict:
    import polars  # noqa: F401 (imports are not part of the timed work)

    from sluiceway.transform.fit import apply_to_files, column_kinds, fit, trace

    start = time.perf_counter()
    fitted = fit(trace(preprocessing_fn, column_kinds([path])), [path])
    analyze = time.perf_counter() - start
    if analyze_only:
        return {"analyze": analyze}
    rows = apply_to_files(fitted, [path], out)
    return {"analyze": analyze, "apply": time.perf_counter() - start - analyze, "rows": rows}


def worker_sklearn(path: str) -> dict:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import KBinsDiscretizer, MinMaxScaler, OrdinalEncoder, StandardScaler

    start = time.perf_counter()
    frame = pd.read_parquet(path)
    read = time.perf_counter() - start
    transformer = ColumnTransformer(
        [
            ("z", StandardScaler(), ["fare", "trip_miles", "trip_seconds"]),
            ("unit", MinMaxScaler(), ["tips"]),
            ("ids", OrdinalEncoder(), ["company", "payment_type"]),
            (
                "buckets",
                KBinsDiscretizer(n_bins=10, encode="ordinal", strategy="quantile", subsample=None),
                ["trip_miles", "fare"],
            ),
        ]
    )
    result = transformer.fit_transform(frame)
    return {"read": read, "fit_transform": time.perf_counter() - start - read, "rows": int(result.shape[0])}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--scale-rows", type=int, default=10_000_000, help="Sluiceway-only memory check (0: skip)")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parent.parent / ".bench" / "transform"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "sluiceway":
            result = worker_sluiceway(rest[0], rest[1], analyze_only=rest[2] == "analyze")
        else:
            result = worker_sklearn(rest[0])
        print(json.dumps(result))
        return

    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    sizes = [args.rows] + ([args.scale_rows] if args.scale_rows else [])
    for rows in sizes:
        path = data / f"taxi_{rows}.parquet"
        if not path.exists():
            generate(rows, path)
    path = str(data / f"taxi_{args.rows}.parquet")

    def median(results: list[dict], key: str) -> float:
        return sorted(r[key] for r in results)[len(results) // 2]

    print(f"load average before: {os.getloadavg()}, cores: {os.cpu_count()}")
    ours = [run_worker("sluiceway", path, str(data / f"out_{i}"), "full") for i in range(args.repeats)]
    theirs = [run_worker("sklearn", path) for _ in range(args.repeats)]
    sw_total = median(ours, "analyze") + median(ours, "apply")
    sk_total = median(theirs, "read") + median(theirs, "fit_transform")
    print(f"{args.rows:,} rows, median of {args.repeats} fresh processes")
    print(
        f"  Sluiceway  analyze {median(ours, 'analyze'):.2f} s + apply (Parquet written) {median(ours, 'apply'):.2f} s"
        f" = {sw_total:.2f} s, {args.rows / sw_total:,.0f} rows/s, peak RSS {max(r['peak_rss_mb'] for r in ours)} MB"
    )
    print(
        f"  sklearn    read {median(theirs, 'read'):.2f} s + fit_transform {median(theirs, 'fit_transform'):.2f} s"
        f" = {sk_total:.2f} s, {args.rows / sk_total:,.0f} rows/s, peak RSS {max(r['peak_rss_mb'] for r in theirs)} MB"
    )
    print(f"  speed-up: {sk_total / sw_total:.1f}x")
    for rows in sizes:  # memory against rows: the analyze pass alone, then analyze + apply
        source = str(data / f"taxi_{rows}.parquet")
        analyze = run_worker("sluiceway", source, str(data / "unused"), "analyze")
        full = run_worker("sluiceway", source, str(data / f"out_scale_{rows}"), "full")
        print(
            f"  {rows:,} rows: analyze only {analyze['analyze']:.2f} s, peak RSS {analyze['peak_rss_mb']} MB; "
            f"analyze + apply {full['analyze'] + full['apply']:.2f} s "
            f"({rows / (full['analyze'] + full['apply']):,.0f} rows/s), peak RSS {full['peak_rss_mb']} MB"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

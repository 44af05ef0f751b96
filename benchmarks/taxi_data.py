#!/usr/bin/env python
"""A synthetic, deterministic table shaped like the Chicago taxi trips of TFX's taxi example.

The benchmarks' data: 19 columns (8 float, 8 int, 3 string including a unique id), about 2-3% of the
cells null, skewed categoricals and heavy-tailed numbers, so that statistics, ingest and validation meet
what real data gives them. Same rows and seed, same bytes.

    python benchmarks/taxi_data.py 1000000             # .bench/data/taxi_1000000.{csv,parquet}
    python benchmarks/taxi_data.py 200000 --out DIR --seed 7

From another benchmark: ``taxi_files(rows)`` (generated once, then reused) or ``taxi_table(rows, seed)``.
Needs numpy and pyarrow (both core dependencies of Sluiceway).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

BENCH_DIR = Path(__file__).resolve().parent.parent / ".bench"
DATA_DIR = BENCH_DIR / "data"

PAYMENT_TYPES = ["Cash", "Credit Card", "No Charge", "Unknown", "Dispute", "Prcard", "Pcard", "Mobility"]
PAYMENT_WEIGHTS = [52.0, 43.0, 2.0, 1.5, 0.5, 0.5, 0.3, 0.2]
COMPANY_WORDS = ["Taxi Affiliation Services", "Flash", "Dispatch Taxi", "Choice", "Blue Ribbon", "Chicago Carriage",
                 "KOAM", "Top Cab", "Yellow", "Northwest", "City Service", "Medallion Leasing"]
COMPANY_COUNT = 120
COMMUNITY_AREAS = 77
CENSUS_TRACTS = 3000
FIRST_DAY = 1356998400  # 2013-01-01 00:00 UTC
DAYS = 1826  # to the end of 2017
# Relative trip counts by hour of the day: quiet before dawn, busiest in the evening.
HOUR_WEIGHTS = [3, 2.5, 2, 1.5, 1, 1, 2, 3.5, 4.5, 4.5, 4.5, 5, 5.5, 5.5, 5.5, 5.5, 6, 6.5, 7, 7, 6, 5.5, 5, 4]


def _zipf_ranks(rng: np.random.Generator, values: int, exponent: float, size: int) -> np.ndarray:
    """Indexes 0..values-1 drawn with probability proportional to 1 / (rank + 1) ** exponent."""
    weights = np.arange(1, values + 1, dtype=np.float64) ** -exponent
    return rng.choice(values, size=size, p=weights / weights.sum())


def _nullable(values: np.ndarray, missing: np.ndarray) -> pa.Array:
    return pa.array(values, mask=missing)


def _trip_ids(rng: np.random.Generator, rows: int) -> pa.Array:
    # 16 random bytes a row, written as 32 hex digits: unique with overwhelming probability.
    hexed = rng.integers(0, 256, size=(rows, 16), dtype=np.uint8).tobytes().hex().encode("ascii")
    return pa.array(np.frombuffer(hexed, dtype="S32"), type=pa.binary()).cast(pa.string())


def _companies(rng: np.random.Generator, rows: int) -> pa.Array:
    names = np.array([f"{i:04d} - {COMPANY_WORDS[i % len(COMPANY_WORDS)]} Cab Co" for i in range(COMPANY_COUNT)])
    return _nullable(names[_zipf_ranks(rng, COMPANY_COUNT, 1.1, rows)], rng.random(rows) < 0.04)


def _timestamps(rng: np.random.Generator, rows: int) -> dict[str, pa.Array]:
    hour_p = np.asarray(HOUR_WEIGHTS, dtype=np.float64)
    day = rng.integers(0, DAYS, size=rows)
    hour = rng.choice(24, size=rows, p=hour_p / hour_p.sum())
    quarter = rng.integers(0, 4, size=rows) * 15  # trips are recorded on the quarter hour
    seconds = FIRST_DAY + day * 86400 + hour * 3600 + quarter * 60
    moment = seconds.astype("datetime64[s]")
    month = moment.astype("datetime64[M]").astype(np.int64) % 12 + 1
    weekday = (moment.astype("datetime64[D]").astype(np.int64) + 4) % 7 + 1  # 1 = Sunday, as in the source data
    return {
        "trip_start_timestamp": pa.array(seconds.astype(np.int64)),
        "trip_start_hour": pa.array(hour.astype(np.int64)),
        "trip_start_day": pa.array(weekday.astype(np.int64)),
        "trip_start_month": pa.array(month.astype(np.int64)),
    }


def _trip(rng: np.random.Generator, rows: int, credit_card: np.ndarray) -> dict[str, pa.Array]:
    miles = np.round(rng.lognormal(0.6, 1.0, size=rows), 2)
    miles[rng.random(rows) < 0.08] = 0.0  # cancelled or same-block trips
    speed = np.clip(rng.normal(14.0, 5.0, size=rows), 2.0, 60.0)
    duration = np.round(miles / speed * 3600 + rng.exponential(120.0, size=rows), -1)
    fare = np.clip(np.round(3.25 + 2.25 * miles + duration / 144 + rng.normal(0.0, 0.5, rows), 2), 0.0, None)
    outliers = rng.random(rows) < 0.001  # the rare very large fares of the real data
    fare[outliers] = np.round(rng.uniform(100.0, 3000.0, size=int(outliers.sum())), 2)
    tips = np.where(credit_card, np.round(fare * rng.uniform(0.10, 0.25, rows), 2), 0.0)
    return {
        "fare": _nullable(fare, rng.random(rows) < 0.002),
        "tips": _nullable(tips, rng.random(rows) < 0.002),
        "trip_miles": _nullable(miles, rng.random(rows) < 0.01),
        "trip_seconds": _nullable(duration, rng.random(rows) < 0.01),
    }


def taxi_table(rows: int, seed: int = 42) -> pa.Table:
    """``rows`` taxi-like trips; the same ``rows`` and ``seed`` give the same table."""
    rng = np.random.default_rng(seed)
    trip_id = _trip_ids(rng, rows)
    company = _companies(rng, rows)
    payment_p = np.asarray(PAYMENT_WEIGHTS) / sum(PAYMENT_WEIGHTS)
    payment = np.asarray(PAYMENT_TYPES)[rng.choice(len(PAYMENT_TYPES), size=rows, p=payment_p)]

    # Community areas 1..77 with popular areas spread out; census tracts: 3,000 11-digit codes.
    area_order = rng.permutation(COMMUNITY_AREAS) + 1
    pickup_area = area_order[_zipf_ranks(rng, COMMUNITY_AREAS, 1.2, rows)].astype(np.int64)
    dropoff_area = area_order[_zipf_ranks(rng, COMMUNITY_AREAS, 1.0, rows)].astype(np.int64)
    tracts = 17031000000 + rng.choice(900000, size=CENSUS_TRACTS, replace=False).astype(np.int64)
    pickup_tract = tracts[_zipf_ranks(rng, CENSUS_TRACTS, 1.05, rows)]
    dropoff_tract = tracts[_zipf_ranks(rng, CENSUS_TRACTS, 0.95, rows)]
    when = _timestamps(rng, rows)
    trip = _trip(rng, rows, payment == "Credit Card")

    # Coordinates: near the area's centre; missing together with the area, as in the real data.
    centre_lat = 41.75 + rng.random(COMMUNITY_AREAS + 1) * 0.25
    centre_lon = -87.75 + rng.random(COMMUNITY_AREAS + 1) * 0.15

    def near(centres: np.ndarray, area: np.ndarray) -> np.ndarray:
        return np.round(centres[area] + rng.normal(0.0, 0.004, rows), 6)

    pickup_lat, pickup_lon = near(centre_lat, pickup_area), near(centre_lon, pickup_area)
    dropoff_lat, dropoff_lon = near(centre_lat, dropoff_area), near(centre_lon, dropoff_area)
    pickup_missing = rng.random(rows) < 0.03
    dropoff_missing = rng.random(rows) < 0.05
    pickup_tract_missing = pickup_missing | (rng.random(rows) < 0.05)
    dropoff_tract_missing = dropoff_missing | (rng.random(rows) < 0.06)

    columns = {
        "trip_id": trip_id,
        "company": company,
        "payment_type": pa.array(payment),
        "pickup_community_area": _nullable(pickup_area, pickup_missing),
        "dropoff_community_area": _nullable(dropoff_area, dropoff_missing),
        "pickup_census_tract": _nullable(pickup_tract, pickup_tract_missing),
        "dropoff_census_tract": _nullable(dropoff_tract, dropoff_tract_missing),
        **when,
        **trip,
        "pickup_latitude": _nullable(pickup_lat, pickup_missing),
        "pickup_longitude": _nullable(pickup_lon, pickup_missing),
        "dropoff_latitude": _nullable(dropoff_lat, dropoff_missing),
        "dropoff_longitude": _nullable(dropoff_lon, dropoff_missing),
    }
    return pa.table(columns)


def taxi_files(rows: int, out_dir: Path = DATA_DIR, seed: int = 42) -> tuple[Path, Path]:
    """``taxi_{rows}.csv`` and ``.parquet`` in ``out_dir``, generated on first use (written atomically)."""
    suffix = "" if seed == 42 else f"_seed{seed}"
    csv, parquet = out_dir / f"taxi_{rows}{suffix}.csv", out_dir / f"taxi_{rows}{suffix}.parquet"
    if csv.exists() and parquet.exists():
        return csv, parquet
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    table = taxi_table(rows, seed)
    for path, write in ((parquet, lambda p: pq.write_table(table, p)),
                        (csv, lambda p: pa_csv.write_csv(table, p, pa_csv.WriteOptions(quoting_style="needed")))):
        partial = path.with_name(path.name + ".partial")
        write(partial)
        partial.replace(path)
    nulls = sum(column.null_count for column in table.columns) / (rows * table.num_columns)
    print(f"generated {rows:,} taxi-like rows ({table.num_columns} columns, {nulls:.1%} null cells): "
          f"{csv.stat().st_size / 1e6:.0f} MB CSV, {parquet.stat().st_size / 1e6:.0f} MB Parquet "
          f"in {time.perf_counter() - started:.1f} s", flush=True)
    return csv, parquet


def taxi_parquet_in_row_groups(rows: int, out_dir: Path = DATA_DIR, group_rows: int = 1_000_000) -> Path:
    """A ``rows``-row Parquet file of row groups of ``group_rows`` (one seed each), written group by group,
    so that even 10M rows never sit in memory at once (for memory-scaling checks)."""
    path = out_dir / f"taxi_{rows}_groups_{group_rows}.parquet"
    if path.exists():
        return path
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    writer: pq.ParquetWriter | None = None
    written = 0
    try:
        while written < rows:
            size = min(group_rows, rows - written)
            table = taxi_table(size, seed=42 + written // group_rows)
            writer = writer or pq.ParquetWriter(partial, table.schema)
            writer.write_table(table, row_group_size=group_rows)
            written += size
            print(f"  generated {written:,} / {rows:,} rows", flush=True)
    finally:
        if writer is not None:
            writer.close()
    partial.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=int, nargs="+", help="number of rows (one pair of files each)")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="folder for the files (default: .bench/data)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    for rows in args.rows:
        csv, parquet = taxi_files(rows, args.out, args.seed)
        print(f"{csv}\n{parquet}")


if __name__ == "__main__":
    main()

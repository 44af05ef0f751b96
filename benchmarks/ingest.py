"""CSV → Examples: Sluiceway's ``ingest`` beside a plain Polars ``read_csv`` + ``write_parquet``.

Each measurement runs in a fresh subprocess (so peak RSS is that of one run); the table shows the median of
``--repeat`` runs of wall time, CPU time (user + system, all threads) and peak RSS. Imports are done before
the clock starts, on both sides. Machine load varies: compare the ratio to the baseline of the same run.

    .venv/bin/python benchmarks/ingest.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

GENERATOR = "/work/shared/bench/gen_taxi.py"
DATA_DIR = os.path.join(tempfile.gettempdir(), "sluiceway-bench-ingest")

TASKS = {
    "polars read_csv": "plain read_csv only (lower bound for reading)",
    "polars read_csv + write_parquet": "the baseline: read, write one zstd Parquet file",
    "sluiceway ingest": "CsvSource → hash splits train:eval 2:1 → Parquet parts, all checks",
}


def _median(values) -> float:  # not statistics.median: benchmarks/statistics.py shadows the module here
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def child(task: str, csv_path: str, out: str) -> None:
    import polars as pl

    from sluiceway.data.ingest import CsvSource, ingest

    import sluiceway

    print(f"sluiceway from {os.path.dirname(sluiceway.__file__)}", file=sys.stderr)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if task == "polars read_csv":
        frame = pl.read_csv(csv_path)
        rows = frame.height
    elif task == "polars read_csv + write_parquet":
        frame = pl.read_csv(csv_path)
        os.makedirs(out)
        frame.write_parquet(os.path.join(out, "data.parquet"))
        rows = frame.height
    else:
        result = ingest(CsvSource(csv_path), out)
        rows = sum(result.row_counts.values())
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "cpu": cpu, "peak_mb": peak_mb, "rows": rows}))


def ensure_data(rows: int) -> str:
    path = os.path.join(DATA_DIR, f"taxi_{rows}.csv")
    if not os.path.exists(path):
        os.makedirs(DATA_DIR, exist_ok=True)
        subprocess.run([sys.executable, GENERATOR, str(rows), "--out", DATA_DIR], check=True)
    return path


def measure(task: str, csv_path: str, src: str | None = None) -> dict[str, float]:
    out = tempfile.mkdtemp(prefix="sluiceway-ingest-out-")
    shutil.rmtree(out)
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.path.abspath(src) + os.pathsep + env.get("PYTHONPATH", "")
    try:
        done = subprocess.run([sys.executable, __file__, "--child", task, csv_path, out], check=True,
                              capture_output=True, text=True, env=env)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of taxi-like CSV (default 1M)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes a measurement (median)")
    parser.add_argument("--csv", help="an existing CSV file instead of generated data")
    parser.add_argument("--before", metavar="SRC",
                        help="also time ingest from another checkout's src folder (e.g. an older commit)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    csv_path = args.csv or ensure_data(args.rows)
    size_mb = os.path.getsize(csv_path) / 1e6
    print(f"input: {csv_path} ({size_mb:.0f} MB), {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}, median of {args.repeat} fresh processes")
    tasks = {task: (task, None) for task in TASKS}
    if args.before:
        tasks[f"sluiceway ingest (--before)"] = ("sluiceway ingest", args.before)
    results: dict[str, list[dict[str, float]]] = {label: [] for label in tasks}
    for _ in range(args.repeat):  # interleaved, so that a burst of load hits every task alike
        for label, (task, src) in tasks.items():
            results[label].append(measure(task, csv_path, src))
    base = _median(r["wall"] for r in results["polars read_csv + write_parquet"])
    base_cpu = _median(r["cpu"] for r in results["polars read_csv + write_parquet"])
    print(f"{'task':34s} {'wall s':>7s} {'cpu s':>7s} {'peak MB':>8s} {'wall/base':>9s} {'cpu/base':>8s}  rows")
    for task, runs in results.items():
        wall = _median(r["wall"] for r in runs)
        cpu = _median(r["cpu"] for r in runs)
        peak = _median(r["peak_mb"] for r in runs)
        print(f"{task:34s} {wall:7.2f} {cpu:7.2f} {peak:8.0f} {wall / base:9.2f} {cpu / base_cpu:8.2f}  "
              f"{int(runs[0]['rows']):,}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

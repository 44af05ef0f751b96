"""CSV → Examples: Sluiceway's ``ingest`` beside a plain Polars ``read_csv`` + ``write_parquet``.

Each measurement runs in a fresh subprocess (so peak RSS is that of one run); the table shows the median of
``--repeat`` runs of wall time, CPU time (user + system, all threads) and peak RSS. Imports are done before
the clock starts, on both sides. Machine load varies: compare the ratio to the baseline of the same run, and
prefer CPU time on a loaded machine. Two ways to read CSV with every error located are timed side by side:
today's byte-level structure check + Polars, and pyarrow's reader with ``invalid_row_handler`` (which
reports the line, field count and text of a bad row). ``sluiceway stats`` is also timed as a whole process.

    .venv/bin/python benchmarks/ingest.py --rows 1000000

The data is benchmarks/taxi_data.py's taxi-like table, under ``.bench/data/`` of the checkout (ignored by git).
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TASKS = {
    "polars read_csv": "plain read_csv only (lower bound for reading)",
    "polars read_csv + write_parquet": "the baseline: read, write one zstd Parquet file",
    "structure check + polars read_csv": "the reader ingest uses: bitmap scan (field counts, quotes) + Polars",
    "pyarrow read_csv + invalid_row_handler": "the alternative: pyarrow's reader, bad rows located by a handler",
    "sluiceway ingest": "CsvSource → hash splits train:eval 2:1 → Parquet parts, all checks",
    "sluiceway stats (whole process)": "the `sluiceway stats FILE.csv` command, imports and all",
}


def _median(values) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM where there is /proc: ru_maxrss survives exec, so in a child it can
    report the parent that forked it."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):  # not Linux: the portable figure
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(task: str, csv_path: str, out: str) -> None:
    import polars as pl

    from sluiceway.data.ingest import CsvSource, ingest

    import sluiceway

    print(f"sluiceway from {os.path.dirname(sluiceway.__file__)}", file=sys.stderr)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if task == "polars read_csv":
        frame = pl.read_csv(csv_path)
        rows = frame.height
    elif task == "structure check + polars read_csv":
        from sluiceway.data.ingest.csv_check import _read_csv_header, _scan_csv_structure

        header = _read_csv_header(csv_path, ",", '"', 1 << 20)
        _scan_csv_structure(csv_path, len(header), ",", '"')
        rows = pl.read_csv(csv_path).height
    elif task == "pyarrow read_csv + invalid_row_handler":
        import pyarrow.csv as pacsv

        bad: list[object] = []

        def located(row: object) -> str:  # row.number, row.expected_columns, row.actual_columns, row.text
            bad.append(row)
            return "error"

        rows = pacsv.read_csv(csv_path, parse_options=pacsv.ParseOptions(invalid_row_handler=located)).num_rows
    elif task == "polars read_csv + write_parquet":
        frame = pl.read_csv(csv_path)
        os.makedirs(out)
        frame.write_parquet(os.path.join(out, "data.parquet"))
        rows = frame.height
    else:
        result = ingest(CsvSource(csv_path), out)
        rows = sum(result.row_counts.values())
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    peak_mb = _peak_rss_mb()
    print(json.dumps({"wall": wall, "cpu": cpu, "peak_mb": peak_mb, "rows": rows}))


#: The console script's entry point, run so that the child can report its own peak RSS when it exits.
WHOLE_PROCESS = """
import atexit, sys
sys.argv = ["sluiceway", *sys.argv[1:]]
def report():
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    sys.stderr.write(f"\\npeak_kb={peak}\\n")
atexit.register(report)
from sluiceway.cli.main import main
main()
"""


def _whole_process(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall, CPU (user + system of the child) and peak RSS of one `sluiceway` command, imports and all."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", WHOLE_PROCESS, *args], check=True, capture_output=True, text=True,
                          env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_kb = int(done.stderr.rsplit("peak_kb=", 1)[1].split()[0]) if "peak_kb=" in done.stderr else 0
    return {"wall": wall, "cpu": cpu, "peak_mb": peak_kb / 1024, "rows": 0}


def ensure_data(rows: int) -> str:
    """The taxi-like CSV of ``rows`` rows, generated under .bench/data/ on first use (benchmarks/taxi_data.py)."""
    from taxi_data import taxi_files

    csv, _parquet = taxi_files(rows)
    return str(csv)


def measure(task: str, csv_path: str, src: str | None = None) -> dict[str, float]:
    out = tempfile.mkdtemp(prefix="sluiceway-ingest-out-")
    shutil.rmtree(out)
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.path.abspath(src) + os.pathsep + env.get("PYTHONPATH", "")
    if task == "sluiceway stats (whole process)":
        return _whole_process(["stats", csv_path], env)
    try:
        done = subprocess.run([sys.executable, __file__, "--child", task, csv_path, out], check=False,
                              capture_output=True, text=True, env=env)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if done.returncode != 0:  # counted and shown: a reader that crashes is a finding, not a benchmark error
        print(f"  {task}: the child failed with exit {done.returncode}: {done.stderr.strip()[-300:]}")
        return {"failed": 1.0}
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
        tasks["sluiceway ingest (--before)"] = ("sluiceway ingest", args.before)
    results: dict[str, list[dict[str, float]]] = {label: [] for label in tasks}
    for _ in range(args.repeat):  # interleaved, so that a burst of load hits every task alike
        for label, (task, src) in tasks.items():
            results[label].append(measure(task, csv_path, src))
    base = _median(r["wall"] for r in results["polars read_csv + write_parquet"])
    base_cpu = _median(r["cpu"] for r in results["polars read_csv + write_parquet"])
    print(f"{'task':40s} {'wall s':>7s} {'cpu s':>7s} {'peak MB':>8s} {'wall/base':>9s} {'cpu/base':>8s}  rows")
    for task, all_runs in results.items():
        runs = [r for r in all_runs if "failed" not in r]
        failed = len(all_runs) - len(runs)
        if not runs:
            print(f"{task:40s} every run failed ({failed})")
            continue
        wall = _median(r["wall"] for r in runs)
        cpu = _median(r["cpu"] for r in runs)
        peak = _median(r["peak_mb"] for r in runs)
        print(f"{task:40s} {wall:7.2f} {cpu:7.2f} {peak:8.0f} {wall / base:9.2f} {cpu / base_cpu:8.2f}  "
              f"{int(runs[0]['rows']):,}" + (f"  ({failed} of {len(all_runs)} runs crashed)" if failed else ""))
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

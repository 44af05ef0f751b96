#!/usr/bin/env python
"""Drift of a window against stored reference statistics: Sluiceway vs Evidently and TFDV, same data.

    .venv/bin/python benchmarks/drift.py                       # 1M-row window vs a 1M-row reference
    .venv/bin/python benchmarks/drift.py --rows 100000 --repeats 1 --skip-tfdv   # quick
    .venv/bin/python benchmarks/drift.py --write-results        # also update benchmarks/RESULTS.md

The data: benchmarks/taxi_data.py's taxi-like table without its unique id (18 columns), a reference (the
first half of a 2 × rows table, seed 42) and a window (its second half) in which two things moved:
``trip_miles`` is 20 % longer and a fifth of the cash payments became card payments.
Both are written under ``.bench/data/`` on first use.

What is timed, in a fresh process each (median of ``--repeats``; wall time and peak RSS of the whole process):

* Sluiceway: ``compute_statistics`` of the window + ``validate_statistics(window, schema,
  baseline=reference)`` against the reference statistics and schema computed once and stored as files
  (what ``sluiceway monitor`` does per window); the comparison alone is reported too.
* TFDV 1.16.1 (its own venv, ``.bench/tfdv-venv``, made as benchmarks/stats_vs_tfdv.py makes it): the same
  design — ``generate_statistics_from_dataframe`` of the window + ``validate_statistics`` with a drift
  comparator on every feature (L-infinity 0.1 for strings, Jensen-Shannon 0.1 for numbers) against stored
  reference statistics.
* Evidently 0.7 (its own venv, ``.bench/evidently-venv``): ``Report([DataDriftPreset()]).run(window,
  reference)``; it has no stored-statistics mode, so it reads both datasets every time.

Each tool reports which columns it calls drifted: the tools disagree, and the methods differ (Sluiceway: KS
with a noise bound for numbers, L-infinity for strings; TFDV: JSD and L-infinity; Evidently: per-column
tests chosen by size and type, e.g. Wasserstein distance or Jensen-Shannon for large numeric columns).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BENCH_DIR = REPO / ".bench"
EVIDENTLY_VENV = BENCH_DIR / "evidently-venv"
EVIDENTLY_PINS = ["evidently>=0.7,<0.8", "pandas<3"]
DROPPED = ["trip_id"]  # unique per row: no tool's drift check means anything on it


# ------------------------------------------------------------------------------------------ workers
# Each runs in a fresh interpreter and prints one JSON line: {"timed": seconds, "drifted": [...], ...}.
def worker_sw(window: str, reference_stats: str, schema: str) -> dict:
    from sluiceway.data.schema import load_schema
    from sluiceway.data.statistics import compute_statistics, load_statistics
    from sluiceway.data.validation import validate_statistics

    reference, curated = load_statistics(reference_stats), load_schema(schema)
    t = time.perf_counter()
    current = compute_statistics(window)
    c = time.perf_counter()
    found = validate_statistics(current, curated, baseline=reference)
    done = time.perf_counter()
    drifted = sorted({x.feature for x in found.comparisons if x.kind == "drift" and x.verdict == "drifted"})
    return {"timed": done - t, "compare": done - c, "drifted": drifted}


def worker_tfdv(window: str, reference_stats: str, schema: str) -> dict:
    import pandas as pd
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    reference, curated = tfdv.load_stats_text(reference_stats), tfdv.load_schema_text(schema)
    t = time.perf_counter()
    current = tfdv.generate_statistics_from_dataframe(pd.read_parquet(window))
    c = time.perf_counter()
    anomalies = tfdv.validate_statistics(current, curated, previous_statistics=reference)
    done = time.perf_counter()
    kind = anomalies_pb2.AnomalyInfo.Type.Name
    drifted = sorted(
        name
        for name, info in anomalies.anomaly_info.items()
        if any(kind(reason.type).startswith("COMPARATOR_") for reason in info.reason)
    )
    return {"timed": done - t, "compare": done - c, "drifted": drifted}


def worker_evidently(window: str, reference: str) -> dict:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    t = time.perf_counter()
    current_df, reference_df = pd.read_parquet(window), pd.read_parquet(reference)
    snapshot = Report([DataDriftPreset()]).run(current_data=current_df, reference_data=reference_df)
    result = snapshot.dict()
    done = time.perf_counter()
    drifted = []
    for metric in result.get("metrics", []):
        name = str(metric.get("metric_id") or metric.get("metric_name") or "")
        value = metric.get("value")
        # ValueDrift(column=X, ...) per column: drifted when its p-value/score crosses its threshold
        if name.startswith("ValueDrift(") and isinstance(value, int | float):
            column = name.split("column=", 1)[1].split(",", 1)[0].rstrip(")")
            threshold = (
                float(name.split("threshold=", 1)[1].split(",", 1)[0].rstrip(")")) if "threshold=" in name else None
            )
            method = name.split("method=", 1)[1].split(",", 1)[0] if "method=" in name else ""
            if threshold is not None and (
                value < threshold if "p_value" in method.lower() or "test" in method.lower() else value >= threshold
            ):
                drifted.append(column)
    return {"timed": done - t, "compare": None, "drifted": sorted(drifted), "metrics": len(result.get("metrics", []))}


WORKERS = {name[len("worker_") :]: fn for name, fn in globals().items() if name.startswith("worker_")}


# ------------------------------------------------------------------------------------------ data
def ensure_data(rows: int, data_dir: Path) -> tuple[Path, Path]:
    """The reference and the shifted window as Parquet (without the unique id), generated on first use."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from taxi_data import taxi_table

    reference, window = data_dir / f"drift_reference_{rows}.parquet", data_dir / f"drift_window_{rows}.parquet"
    if reference.exists() and window.exists():
        return reference, window
    data_dir.mkdir(parents=True, exist_ok=True)
    # One table cut in two: a seed also picks the "city" (areas, tracts, their coordinates), so two seeds
    # would differ everywhere; two halves of one are two samples of one distribution.
    both = taxi_table(2 * rows, seed=42).drop_columns(DROPPED)
    ref, cur = both.slice(0, rows), both.slice(rows, rows)
    cur = cur.set_column(cur.schema.get_field_index("trip_miles"), "trip_miles", pc.multiply(cur["trip_miles"], 1.2))
    payment = np.asarray(cur["payment_type"].to_pylist(), dtype=object)
    moved = (payment == "Cash") & (np.random.default_rng(7).random(rows) < 0.2)
    payment[moved] = "Credit Card"
    cur = cur.set_column(cur.schema.get_field_index("payment_type"), "payment_type", pa.array(payment, pa.string()))
    for path, table in ((reference, ref), (window, cur)):
        partial = path.with_name(path.name + ".partial")
        pq.write_table(table, partial)
        partial.replace(path)
    return reference, window


def prepare_sluiceway(reference: Path) -> tuple[Path, Path]:
    """Reference statistics and schema, computed once and stored (not timed)."""
    from sluiceway.data import compute_statistics, infer_schema, write_schema

    stats_path, schema_path = reference.with_suffix(".sw-statistics.json"), reference.with_suffix(".sw-schema.yaml")
    if not (stats_path.exists() and schema_path.exists()):
        stats = compute_statistics(reference)
        stats.write_json(stats_path)
        write_schema(infer_schema(stats), schema_path)
    return stats_path, schema_path


def worker_tfdv_prepare(reference: str, stats_path: str, schema_path: str) -> dict:
    """(Runs in the TFDV venv.) Reference statistics and a schema with a drift comparator on every feature."""
    import pandas as pd
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    stats = tfdv.generate_statistics_from_dataframe(pd.read_parquet(reference))
    schema = tfdv.infer_schema(stats)
    for feature in schema.feature:
        if feature.type == schema_pb2.BYTES:
            feature.drift_comparator.infinity_norm.threshold = 0.1
        else:
            feature.drift_comparator.jensen_shannon_divergence.threshold = 0.1
    tfdv.write_stats_text(stats, stats_path)
    tfdv.write_schema_text(schema, schema_path)
    return {"timed": None}


WORKERS["tfdv_prepare"] = worker_tfdv_prepare


def ensure_evidently(python: str) -> None:
    """Create the Evidently environment on first use; a half-made one (no marker) is made again."""
    venv = Path(python).parent.parent
    marker = venv / ".installed"
    if Path(python).exists() and (marker.exists() or venv != EVIDENTLY_VENV):
        return
    print(f"creating the Evidently environment at {venv} ...", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *EVIDENTLY_PINS],
        check=True,
    )
    marker.touch()


# ------------------------------------------------------------------------------------------ driver
def run_worker(python: str, task: str, *args: str) -> dict:
    """One worker in a fresh process; adds its wall time and peak RSS (MiB)."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if python == sys.executable:
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with tempfile.TemporaryFile("w+") as fout, tempfile.TemporaryFile("w+") as ferr:
        t = time.perf_counter()
        proc = subprocess.Popen(
            [python, str(Path(__file__).resolve()), "--worker", task, *args],
            stdout=fout,
            stderr=ferr,
            env=env,
            text=True,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        code = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        out, err = fout.read(), ferr.read()
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if code != 0 or not lines:
        raise RuntimeError(f"worker {task} failed (exit {code}):\n{err[-3000:]}")
    result = json.loads(lines[-1])
    result.update(wall=wall, rss_mib=usage.ru_maxrss / 1024, load=os.getloadavg()[0])
    return result


def measure(python: str, task: str, args: list[str], repeats: int) -> dict:
    import statistics

    runs = []
    for _ in range(repeats):
        r = run_worker(python, task, *args)
        print(
            f"    {task}: timed {r['timed']:.3f}s wall {r['wall']:.2f}s rss {r['rss_mib']:.0f} MiB "
            f"(load {r['load']:.2f}) drifted {r['drifted']}",
            flush=True,
        )
        runs.append(r)
    med = {k: statistics.median([r[k] for r in runs]) for k in ("timed", "wall", "rss_mib")}
    compares = [r["compare"] for r in runs if r.get("compare") is not None]
    med["compare"] = statistics.median(compares) if compares else None
    med["drifted"] = runs[-1]["drifted"]
    return med


def main() -> None:
    from stats_vs_tfdv import TFDV_VENV, ensure_tfdv, fmt_s, load_note

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data-dir", type=Path, default=BENCH_DIR / "data")
    ap.add_argument("--tfdv-python", default=str(TFDV_VENV / "bin" / "python"))
    ap.add_argument("--evidently-python", default=str(EVIDENTLY_VENV / "bin" / "python"))
    ap.add_argument("--skip-tfdv", action="store_true")
    ap.add_argument("--skip-evidently", action="store_true")
    ap.add_argument("--write-results", action="store_true", help="update benchmarks/RESULTS.md")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(WORKERS[a.worker](*a.args)))
        return

    reference, window = ensure_data(a.rows, a.data_dir)
    sw_stats, sw_schema = prepare_sluiceway(reference)
    load_start = os.getloadavg()[0]
    results: dict[str, dict] = {}
    print(f"drift of a {a.rows:,}-row window against stored reference statistics", flush=True)
    results["Sluiceway"] = measure(sys.executable, "sw", [str(window), str(sw_stats), str(sw_schema)], a.repeats)
    if not a.skip_tfdv:
        ensure_tfdv(a.tfdv_python)
        tfdv_stats, tfdv_schema = (
            reference.with_suffix(".tfdv-statistics.pbtxt"),
            reference.with_suffix(".tfdv-schema.pbtxt"),
        )
        if not (tfdv_stats.exists() and tfdv_schema.exists()):
            run_worker(a.tfdv_python, "tfdv_prepare", str(reference), str(tfdv_stats), str(tfdv_schema))
        results["TFDV 1.16.1"] = measure(
            a.tfdv_python, "tfdv", [str(window), str(tfdv_stats), str(tfdv_schema)], a.repeats
        )
    if not a.skip_evidently:
        ensure_evidently(a.evidently_python)
        version = subprocess.run(
            [a.evidently_python, "-c", "import evidently; print(evidently.__version__)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        results[f"Evidently {version} DataDriftPreset"] = measure(
            a.evidently_python, "evidently", [str(window), str(reference)], a.repeats
        )
    load_end = os.getloadavg()[0]

    ours = results["Sluiceway"]["timed"]
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    python = Path(sys.executable)
    shown = str(python.relative_to(REPO)) if python.is_relative_to(REPO) else "python"
    lines = [
        f"### {stamp}: {a.rows:,}-row window vs stored reference statistics (18 columns)",
        "",
        f"`{shown} benchmarks/drift.py {' '.join(sys.argv[1:])}`; {load_note(load_start, load_end)}; "
        f"median of {a.repeats}.",
        "",
        "| tool | drift (timed work) | comparison alone | whole process | peak memory | vs Sluiceway "
        "| columns called drifted |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        ratio = f"{r['timed'] / ours:.1f}×" if ours else "–"
        lines.append(
            f"| {name} | {fmt_s(r['timed'])} | {fmt_s(r['compare'])} | {r['wall']:.2f} s | "
            f"{r['rss_mib']:.0f} MiB | {ratio} | {', '.join(r['drifted']) or '(none)'} |"
        )
    lines += [
        "",
        "What moved in the window: `trip_miles` (×1.2) and `payment_type` (a fifth of Cash → Credit Card); "
        "the other columns are another sample of the same distribution (two halves of one seeded table).",
        "",
    ]
    print("\n".join(lines))
    if a.write_results:
        write_results(lines)


def write_results(lines: list[str]) -> None:
    """Put this run's subsection first under "## Drift"; earlier runs stay below it."""
    path = HERE / "RESULTS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    heading = "## Drift\n"
    section = "\n".join(lines).rstrip() + "\n"
    at = text.find(heading)
    if at == -1:
        text = text.rstrip() + "\n\n" + heading + "\n" + section
    else:
        text = text[: at + len(heading)] + "\n" + section + text[at + len(heading) :]
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""ExampleGen's ingest at scale: the in-process path vs Ray with 2 workers, on multi-file taxi-like input.

    .venv/bin/python benchmarks/ingest_scale.py                        # 10M rows: 10 CSV files, 10 Parquet files
    .venv/bin/python benchmarks/ingest_scale.py --rows 5000000 --formats csv --write-results

The data: benchmarks/scale.py's 1M-row Parquet files (benchmarks/taxi_data.py's table, a seed each, one
row group each) under ``.bench/data/scale/``, and the same rows as CSV files under
``.bench/data/ingest-csv/`` (written once). Every measurement is ``ingest`` (what CsvExampleGen and
ParquetExampleGen run) of the first N/1M files into a fresh folder, in a fresh driver process, once in
process and once with a ``RayEngine`` in force on a cluster started for that measurement (scale.py's
``Cluster``: ``ray start --head --num-cpus=2`` on 127.0.0.1). The two outputs are compared part by part,
byte for byte. Reported: wall time of the ``ingest`` call (Ray's connection apart), rows per second, the
driver's peak RSS, the largest Ray worker's peak RSS. ``--write-results`` adds the table under
"## ExampleGen on Ray" in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scale import PART_ROWS, RAY_CPUS, REPO, Cluster, _cluster_peaks, _peak_kb, load, parts  # noqa: E402

CSV_DIR = REPO / ".bench" / "data" / "ingest-csv"
SECTION = "## ExampleGen on Ray"


def inputs(rows: int, kind: str) -> Path:
    """A folder of links to the first rows/1M files of ``kind`` (csv or parquet), generated when missing."""
    if rows % PART_ROWS:
        raise SystemExit(f"--rows must be multiples of {PART_ROWS:,}; got {rows:,}")
    sources = parts(rows // PART_ROWS)
    if kind == "csv":
        import polars as pl

        CSV_DIR.mkdir(parents=True, exist_ok=True)
        converted = []
        for source in sources:
            target = CSV_DIR / source.with_suffix(".csv").name
            if not target.exists():
                partial = target.with_name(target.name + ".partial")
                pl.read_parquet(source).write_csv(partial)
                partial.replace(target)
                print(f"  wrote {target.name}", flush=True)
            converted.append(target)
        sources = converted
    folder = REPO / ".bench" / "data" / f"ingest-{kind}-{rows}"
    folder.mkdir(parents=True, exist_ok=True)
    for source in sources:
        link = folder / source.name
        if not link.exists():
            link.symlink_to(source)
    return folder


def worker(engine: str, kind: str, folder: str, out: str, group: int) -> None:
    import polars  # noqa: F401  (imports are not part of the timed work)
    import pyarrow  # noqa: F401

    from sluiceway.data.engine import use_engine
    from sluiceway.data.ingest import CsvSource, ParquetSource, ingest

    source = CsvSource(f"{folder}/*.csv") if kind == "csv" else ParquetSource(f"{folder}/*.parquet")
    result: dict[str, float] = {}
    chosen = None
    if engine == "ray":
        from sluiceway.data.ray_engine import RayEngine

        started = time.perf_counter()
        chosen = RayEngine()
        chosen.connect()
        result["connect"] = time.perf_counter() - started
    started = time.perf_counter()
    with use_engine(chosen):
        done = ingest(source, out)
    result["work"] = time.perf_counter() - started
    result["rows"] = sum(done.row_counts.values())
    result["driver_peak_mb"] = _peak_kb() / 1024
    if engine == "ray":
        result.update(_cluster_peaks(group))
    print(json.dumps(result), flush=True)


def measure(engine: str, kind: str, folder: Path, out: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    cluster = Cluster() if engine == "ray" else None
    try:
        if cluster is not None:
            env["RAY_ADDRESS"] = cluster.address
        group = cluster.process.pid if cluster is not None else 0
        done = subprocess.run([sys.executable, __file__, "--worker", engine, kind, str(folder), str(out), str(group)],
                              env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{engine} worker failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        if cluster is not None:
            cluster.stop()


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--formats", nargs="+", choices=["csv", "parquet"], default=["csv", "parquet"])
    parser.add_argument("--write-results", action="store_true", help="record the table in benchmarks/RESULTS.md")
    args = parser.parse_args()
    folders = {kind: inputs(args.rows, kind) for kind in args.formats}
    before = load()
    print(f"load average {before}", flush=True)
    lines = [
        "| input | rows | in-process | Ray (2 workers) | Ray ÷ in-process | Ray connect | driver peak in-process / Ray "
        "| largest Ray worker peak | same parts, byte for byte |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    scratch_root = REPO / ".bench" / "scratch"
    scratch_root.mkdir(parents=True, exist_ok=True)
    for kind in args.formats:
        with tempfile.TemporaryDirectory(prefix="sw-ingest-", dir=scratch_root) as scratch:
            results = {}
            for engine in ("local", "ray"):
                results[engine] = measure(engine, kind, folders[kind], Path(scratch) / engine)
                print(f"{kind}, {engine}: {results[engine]} (load {load()})", flush=True)
            same = digests(Path(scratch) / "local") == digests(Path(scratch) / "ray")
        local, ray = results["local"], results["ray"]
        files = len(list(folders[kind].iterdir()))
        lines.append(
            f"| {files} {kind.upper() if kind == 'csv' else 'Parquet'} files | {args.rows:,} | {local['work']:.1f} s "
            f"| {ray['work']:.1f} s | {ray['work'] / local['work']:.2f} | {ray['connect']:.1f} s "
            f"| {local['driver_peak_mb']:.0f} / {ray['driver_peak_mb']:.0f} MiB | {ray['worker_peak_mb']:.0f} MiB "
            f"| {'yes' if same else 'NO'} |"
        )
    after = load()
    print("\n".join(lines))
    if args.write_results:
        path = HERE / "RESULTS.md"
        text = path.read_text()
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        command = f"python benchmarks/ingest_scale.py --rows {args.rows} --formats {' '.join(args.formats)}"
        block = "\n".join([
            f"### {stamp}", "",
            f"`{command}` — Python {platform.python_version()}, {os.cpu_count()} cores shared by the driver and "
            f"a Ray cluster of {RAY_CPUS} worker CPUs on the same machine; load average (1/5/15 min) {before} at "
            f"the start, {after} at the end.", "", *lines, "",
        ])
        if SECTION not in text:
            text = text.rstrip("\n") + f"\n\n{SECTION}\n\n"
        head, tail = text.split(SECTION, 1)
        path.write_text(f"{head}{SECTION}\n\n{block}\n{tail.lstrip(chr(10))}")


if __name__ == "__main__":
    main()

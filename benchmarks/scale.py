#!/usr/bin/env python
"""Statistics at scale: the in-process engine vs Ray with 2 workers, on 1M to 50M taxi-like rows.

    .venv/bin/python benchmarks/scale.py                                   # 1M, 5M, 10M, 50M rows
    .venv/bin/python benchmarks/scale.py --rows 1000000 10000000 --write-results

The data: 1M-row Parquet files of benchmarks/taxi_data.py's table (one row group each, a different seed
each), generated once under ``.bench/data/scale/``; a dataset of N rows is a folder of links to the first
N/1M files (so the rows are multiples of 1,000,000). Every measurement is ``compute_statistics`` over
that folder in a fresh driver process, once with ``engine="local"`` (threads, 2 cores) and once with
``engine="ray"`` on a Ray cluster this script starts for that measurement (``ray start --head --block
--num-cpus=2`` on 127.0.0.1, its own temporary folder and session, stopped afterwards), so every
Ray figure starts from fresh workers. The statistics of both engines are compared byte for byte.

Reported: "work" (the ``compute_statistics`` call; for Ray the connection to the cluster is "connect",
apart), rows per second, and peak memory per process: the driver's VmHWM, and for Ray the largest
worker's VmHWM and the sum over every process of the cluster (raylet, GCS, workers; the object store's
shared memory is counted in the processes that map it, so the sum is an upper bound). Linux only (/proc).
``--write-results`` puts the table first in the "## Scaling out (Ray)" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SCALE_DIR = REPO / ".bench" / "data" / "scale"
PART_ROWS = 1_000_000
RAY_CPUS = 2
SECTION = "## Scaling out (Ray)"


# ------------------------------------------------------------------------------------------ data
def parts(count: int) -> list[Path]:
    """The first ``count`` 1M-row files, generated (atomically) when missing."""
    sys.path.insert(0, str(HERE))
    import pyarrow.parquet as pq
    from taxi_data import taxi_table

    SCALE_DIR.mkdir(parents=True, exist_ok=True)
    files = []
    for index in range(count):
        path = SCALE_DIR / f"part-{index:05d}.parquet"
        if not path.exists():
            started = time.perf_counter()
            partial = path.with_name(path.name + ".partial")
            pq.write_table(taxi_table(PART_ROWS, seed=42 + index), partial, row_group_size=PART_ROWS)
            partial.replace(path)
            print(f"  generated {path.name} in {time.perf_counter() - started:.1f} s", flush=True)
        files.append(path)
    return files


def dataset(rows: int) -> Path:
    """A folder of links to the first rows/1M parts."""
    if rows % PART_ROWS:
        raise SystemExit(f"--rows must be multiples of {PART_ROWS:,}; got {rows:,}")
    folder = SCALE_DIR / f"rows_{rows}"
    folder.mkdir(parents=True, exist_ok=True)
    for part in parts(rows // PART_ROWS):
        link = folder / part.name
        if not link.exists():
            link.symlink_to(Path("..") / part.name)
    return folder


# ------------------------------------------------------------------------------------------ workers
def _peak_kb(pid: str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def session_processes(session: int) -> list[int]:
    """Every live process of a session (the cluster's: ``ray start`` leads it; workers have their own group)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == session:
                    pids.append(int(entry.name))
            except ProcessLookupError:  # exited meanwhile
                continue
    return pids


def _cluster_peaks(session: int) -> dict[str, float]:
    """VmHWM of every live process of the cluster: the largest worker's, and the sum."""
    workers, total = [], 0
    for pid in session_processes(session):
        entry = Path(f"/proc/{pid}")
        try:
            peak = _peak_kb(entry.name)
            name = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except (OSError, StopIteration, ProcessLookupError):  # exited meanwhile, or a kernel thread
            continue
        total += peak
        if name.startswith("ray::") and "Agent" not in name:
            workers.append(peak)
    return {"worker_peak_mb": max(workers, default=0) / 1024, "workers": len(workers), "cluster_mb": total / 1024}


def worker(engine: str, folder: str, out: str, group: int) -> None:
    import datasketches  # noqa: F401  (imports are not part of the timed work)
    import polars  # noqa: F401
    import pyarrow  # noqa: F401

    from sluiceway.data.statistics import compute_statistics

    result: dict[str, float] = {}
    if engine == "ray":
        from sluiceway.data.ray_engine import RayEngine

        started = time.perf_counter()
        RayEngine().connect()
        result["connect"] = time.perf_counter() - started
    started = time.perf_counter()
    statistics = compute_statistics(folder, engine=engine)
    result["work"] = time.perf_counter() - started
    result["rows"] = statistics.dataset("all").num_examples
    statistics.write_json(out)
    result["driver_peak_mb"] = _peak_kb() / 1024
    if engine == "ray":
        result.update(_cluster_peaks(group))  # while this driver lives: its workers exit with it
    print(json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------------ cluster
class Cluster:
    """``ray start --head --block`` in its own session; stopping it stops what it started."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.temp_dir = tempfile.mkdtemp(prefix="sw-ray-bench-")
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0",
               "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
        env.pop("RAY_ADDRESS", None)
        command = [str(Path(sys.executable).with_name("ray")), "start", "--head", f"--port={self.port}",
                   "--node-ip-address=127.0.0.1", f"--num-cpus={RAY_CPUS}", "--include-dashboard=false",
                   "--disable-usage-stats", f"--temp-dir={self.temp_dir}", "--block"]
        started = time.perf_counter()
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        env=env, start_new_session=True)
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if "Ray runtime started" in line:
                break
        else:
            raise SystemExit(f"ray start exited {self.process.wait()}")
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        self.start_seconds = time.perf_counter() - started

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass  # killed below
        for pid in session_processes(self.process.pid):  # what outlived ray start (normally nothing)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # exited meanwhile
                pass
        subprocess.run(["rm", "-rf", self.temp_dir], check=False)


def measure(engine: str, folder: Path, out: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    cluster = Cluster() if engine == "ray" else None
    try:
        if cluster is not None:
            env["RAY_ADDRESS"] = cluster.address
        group = cluster.process.pid if cluster is not None else 0
        done = subprocess.run([sys.executable, __file__, "--worker", engine, str(folder), str(out), str(group)],
                              env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{engine} worker failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if cluster is not None:
            result["cluster_start"] = cluster.start_seconds
        return result
    finally:
        if cluster is not None:
            cluster.stop()


# ------------------------------------------------------------------------------------------ report
def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def table(rows_list: list[int], results: dict[int, dict[str, dict[str, float]]]) -> list[str]:
    lines = [
        "| rows | local work | local rows/s | local peak RSS | Ray work | Ray rows/s | Ray ÷ local | Ray connect "
        "| Ray driver peak | largest Ray worker peak | Ray cluster RSS (sum) | same bytes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rows in rows_list:
        local, ray = results[rows]["local"], results[rows]["ray"]
        lines.append(
            f"| {rows:,} | {local['work']:.2f} s | {rows / local['work'] / 1e6:.2f}M "
            f"| {local['driver_peak_mb']:.0f} MiB "
            f"| {ray['work']:.2f} s | {rows / ray['work'] / 1e6:.2f}M | {ray['work'] / local['work']:.2f} "
            f"| {ray['connect']:.2f} s | {ray['driver_peak_mb']:.0f} MiB | {ray['worker_peak_mb']:.0f} MiB "
            f"| {ray['cluster_mb']:.0f} MiB | {'yes' if results[rows]['same'] else 'NO'} |"
        )
    return lines


def write_results(command: str, before: str, after: str, lines: list[str]) -> None:
    path = HERE / "RESULTS.md"
    text = path.read_text()
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join([
        f"### {stamp}", "",
        f"`{command}` — Python {platform.python_version()}, {os.cpu_count()} cores, Ray with {RAY_CPUS} worker CPUs "
        f"on the same machine; load average (1/5/15 min) {before} at the start, {after} at the end.", "",
        *lines, "",
    ])
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n"
    head, tail = text.split(SECTION, 1)
    path.write_text(f"{head}{SECTION}\n\n{block}\n{tail.lstrip(chr(10))}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000, 10_000_000, 50_000_000])
    parser.add_argument("--write-results", action="store_true", help="record the table in benchmarks/RESULTS.md")
    args = parser.parse_args()
    rows_list = sorted(args.rows)
    folders = {rows: dataset(rows) for rows in rows_list}
    before = load()
    print(f"load average {before}", flush=True)
    results: dict[int, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="sw-scale-") as scratch:
        for rows in rows_list:
            results[rows] = {}
            for engine in ("local", "ray"):
                results[rows][engine] = measure(engine, folders[rows], Path(scratch) / f"{engine}.json")
                print(f"{rows:,} rows, {engine}: {results[rows][engine]} (load {load()})", flush=True)
            same = (Path(scratch) / "local.json").read_bytes() == (Path(scratch) / "ray.json").read_bytes()
            results[rows]["same"] = same  # type: ignore[assignment]
    after = load()
    lines = table(rows_list, results)
    print("\n".join(lines))
    if args.write_results:
        command = "python benchmarks/scale.py" + (" --rows " + " ".join(map(str, args.rows)) if args.rows else "")
        write_results(command + " --write-results", before, after, lines)


if __name__ == "__main__":
    main()

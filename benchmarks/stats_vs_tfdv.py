#!/usr/bin/env python
"""Statistics generation: Sluiceway vs TFDV 1.16.1, side by side, on the same taxi-like files.

    .venv/bin/python benchmarks/stats_vs_tfdv.py                  # 1M rows + 10M-row memory check
    .venv/bin/python benchmarks/stats_vs_tfdv.py --rows 200000 --scale-rows 0 --skip-tfdv  # quick
    .venv/bin/python benchmarks/stats_vs_tfdv.py --skip-csv      # Parquet, schema and memory only

Every measurement is a fresh subprocess; wall time and peak RSS (``os.wait4``'s ``ru_maxrss``) are of
that whole process, and "timed" is the work alone (after imports), median of ``--repeats`` runs.

(a) CSV → statistics: ``sluiceway.data.statistics_of_file`` (what ``sluiceway stats FILE.csv`` runs:
    ingest's reader and checks, statistics computed from its batches as they are read) and the
    ``sluiceway stats FILE.csv --json`` command as a whole process, vs TFDV
    ``generate_statistics_from_csv`` (Beam DirectRunner).
(b) Parquet → statistics: ``compute_statistics`` on the Parquet file vs ``pd.read_parquet`` +
    TFDV ``generate_statistics_from_dataframe`` (its in-memory C++ path).
(c) Schema inference + validation on the statistics (Sluiceway and TFDV).
(d) Memory scaling: ``compute_statistics`` on 10M rows (same 1M-row row groups) vs 1M rows.

The data is benchmarks/taxi_data.py's taxi-like table, generated under ``.bench/data/`` on first use.
TFDV runs in its own virtual environment, ``.bench/tfdv-venv`` (CPython 3.11: TFDV has no wheels for newer
ones), created on first use with the pinned set below, which installs in about 100 s (2.8 GB) where an
unpinned install backtracks for minutes; ``--tfdv-python`` points at another, ``--skip-tfdv`` leaves it out.
``--write-results`` puts the new figures first in the "## Statistics" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BENCH_DIR = REPO / ".bench"
TFDV_VENV = BENCH_DIR / "tfdv-venv"
TFDV_PINS = [
    "tensorflow-data-validation==1.16.1",
    "apache-beam[gcp]==2.59.0",
    "pyarrow==10.0.1",
    "numpy<2",
    "pandas<2",
    "protobuf<5",
]


# ------------------------------------------------------------------------------------------ workers
# Each worker runs in a fresh interpreter and prints one JSON line: {"timed": seconds, ...}.
def worker_sw_parquet(path: str) -> dict:
    import datasketches  # noqa: F401  (imports are not part of the timed work)
    import polars  # noqa: F401
    import pyarrow  # noqa: F401

    from sluiceway.data.statistics import compute_statistics

    t = time.perf_counter()
    stats = compute_statistics(path)
    timed = time.perf_counter() - t
    ds = stats.datasets[0]
    return {"timed": timed, "num_examples": ds.num_examples, "features": len(ds.features)}


def worker_sw_csv(path: str, out_dir: str, ingest_with: str = "sluiceway") -> dict:
    import shutil

    import datasketches  # noqa: F401
    import polars as pl

    from sluiceway.data.statistics import compute_statistics

    shutil.rmtree(out_dir, ignore_errors=True)
    if ingest_with == "sluiceway":  # what `sluiceway stats FILE.csv` does: ingest's reader, read once
        from sluiceway.data.files import statistics_of_file

        t = time.perf_counter()
        stats = statistics_of_file(path)
        timed = time.perf_counter() - t
        return {"timed": timed, "how": "sluiceway.data.statistics_of_file (read once)",
                "num_examples": stats.datasets[0].num_examples}
    t = time.perf_counter()
    os.makedirs(f"{out_dir}/Split-train", exist_ok=True)
    pl.scan_csv(path).sink_parquet(f"{out_dir}/Split-train/part-00000.parquet")
    t_ingest = time.perf_counter() - t
    stats = compute_statistics(out_dir)
    timed = time.perf_counter() - t
    shutil.rmtree(out_dir, ignore_errors=True)
    return {
        "timed": timed,
        "ingest": t_ingest,
        "how": "polars scan_csv().sink_parquet",
        "num_examples": sum(d.num_examples for d in stats.datasets if d.slice is None),
    }


def worker_sw_schema(path: str) -> dict:
    from sluiceway.data.statistics import compute_statistics

    stats = compute_statistics(path)
    try:
        from sluiceway.data.schema import infer_schema
        from sluiceway.data.validation import validate_statistics
    except ImportError:
        return {"timed": None, "note": "TODO: sluiceway.data.schema/validation not available"}
    runs = []
    for _ in range(20):
        t = time.perf_counter()
        schema = infer_schema(stats)
        anomalies = validate_statistics(stats, schema)
        runs.append(time.perf_counter() - t)
    return {"timed": _median(runs), "anomalies": len(getattr(anomalies, "anomalies", []) or [])}


def worker_tfdv_csv(path: str) -> dict:
    import tensorflow_data_validation as tfdv

    t = time.perf_counter()
    stats = tfdv.generate_statistics_from_csv(path)
    timed = time.perf_counter() - t
    return {"timed": timed, "num_examples": stats.datasets[0].num_examples}


def worker_tfdv_parquet(path: str) -> dict:
    import pandas as pd
    import tensorflow_data_validation as tfdv

    t = time.perf_counter()
    df = pd.read_parquet(path)
    stats = tfdv.generate_statistics_from_dataframe(df)
    timed = time.perf_counter() - t
    return {"timed": timed, "num_examples": stats.datasets[0].num_examples}


def worker_tfdv_schema(path: str) -> dict:
    import pandas as pd
    import tensorflow_data_validation as tfdv

    stats = tfdv.generate_statistics_from_dataframe(pd.read_parquet(path))
    runs = []
    for _ in range(20):
        t = time.perf_counter()
        schema = tfdv.infer_schema(stats)
        tfdv.validate_statistics(stats, schema)
        runs.append(time.perf_counter() - t)
    return {"timed": _median(runs)}


def _median(values) -> float:
    return statistics.median(list(values))


WORKERS = {name[len("worker_"):]: fn for name, fn in globals().items() if name.startswith("worker_")}


# ------------------------------------------------------------------------------------------ driver
def run_worker(python: str, task: str, *args: str) -> dict:
    """Run one worker in a fresh process; add its wall time and peak RSS (MiB). The task ``cli`` runs
    the ``sluiceway`` command itself (``args``: its arguments): the whole process a user starts."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tempfile

    if task == "cli":
        command = [str(Path(python).parent / "sluiceway"), *args]
    else:
        command = [python, str(Path(__file__).resolve()), "--worker", task, *args]
    with tempfile.TemporaryFile("w+") as fout, tempfile.TemporaryFile("w+") as ferr:
        t = time.perf_counter()
        proc = subprocess.Popen(
            command,
            stdout=fout,
            stderr=ferr,
            env=env,
            text=True,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        out, err = fout.read(), ferr.read()
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"worker {task} failed (exit {proc.returncode}):\n{err[-3000:]}")
    result = {"timed": None} if task == "cli" else json.loads(lines[-1])
    result["wall"] = wall
    result["rss_mib"] = usage.ru_maxrss / 1024
    return result


def measure(python: str, task: str, args: list[str], repeats: int) -> dict:
    runs = [run_worker(python, task, *args) for _ in range(repeats)]
    for r in runs:
        print(f"    {task}: timed {r['timed']} wall {r['wall']:.2f}s rss {r['rss_mib']:.0f} MiB", flush=True)
    med = {k: _median([r[k] for r in runs]) for k in ("wall", "rss_mib")}
    med["timed"] = _median([r["timed"] for r in runs]) if runs[0]["timed"] is not None else None
    med["runs"] = runs
    return med


def measure_pair(ours: tuple, theirs: tuple, repeats: int) -> tuple[dict, dict]:
    """Like ``measure`` for two workers, run alternately (ours, theirs, ours, ...)."""
    runs: tuple[list, list] = ([], [])
    for _ in range(repeats):
        for side, (python, task, args) in enumerate((ours, theirs)):
            r = run_worker(python, task, *args)
            r["load"] = os.getloadavg()[0]
            runs[side].append(r)
            print(f"    {task}: timed {r['timed']:.3f}s wall {r['wall']:.2f}s rss {r['rss_mib']:.0f} MiB "
                  f"(load {r['load']:.2f})", flush=True)
    out = []
    for rs in runs:
        med = {k: _median([r[k] for r in rs]) for k in ("wall", "rss_mib", "timed")}
        med["runs"] = rs
        out.append(med)
    return out[0], out[1]


def measure_rounds(tasks: dict[str, tuple]) -> dict[str, dict]:
    """Like ``measure`` for several workers, interleaved: round i runs each task that has an i-th repeat, so
    that every task sees the same (shared-machine) load. ``tasks``: name → (python, task, args, repeats)."""
    runs: dict[str, list] = {name: [] for name in tasks}
    for round_ in range(max(repeats for *_, repeats in tasks.values())):
        for name, (python, task, args, repeats) in tasks.items():
            if round_ >= repeats:
                continue
            r = run_worker(python, task, *args)
            r["load"] = os.getloadavg()[0]
            runs[name].append(r)
            timed = "–" if r["timed"] is None else f"{r['timed']:.3f}s"
            print(f"    {name}: timed {timed} wall {r['wall']:.2f}s rss {r['rss_mib']:.0f} MiB "
                  f"(load {r['load']:.2f})", flush=True)
    out = {}
    for name, rs in runs.items():
        med = {k: _median([r[k] for r in rs]) for k in ("wall", "rss_mib")}
        med["timed"] = _median([r["timed"] for r in rs]) if rs[0]["timed"] is not None else None
        med["runs"] = rs
        out[name] = med
    return out


def _python311() -> str:
    for candidate in ("python3.11", str(Path.home() / ".pyenv" / "versions" / "3.11" / "bin" / "python")):
        found = shutil.which(candidate)
        if found:
            return found
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    raise SystemExit("TFDV 1.16 needs CPython 3.11 (no wheels for newer versions) and no python3.11 was found on "
                     "the PATH. Install it (e.g. `pyenv install 3.11`), pass --tfdv-python, or use --skip-tfdv.")


def ensure_tfdv(python: str) -> None:
    """Create the TFDV environment on first use; a half-made one (no marker) is made again."""
    venv = Path(python).parent.parent
    marker = venv / ".installed"
    if Path(python).exists() and (marker.exists() or venv != TFDV_VENV):
        return
    print(f"creating the TFDV environment at {venv} (about 100 s, 2.8 GB) ...", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([_python311(), "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *TFDV_PINS], check=True)
    marker.touch()


def compile_bytecode() -> None:
    """Byte-compile Sluiceway as ``pip install`` does (TFDV's venv is compiled by its install): with
    PYTHONDONTWRITEBYTECODE set, as in some sandboxes, a source checkout would otherwise compile every
    module again in every fresh process (about 0.2 s of each whole-process figure)."""
    import compileall

    import sluiceway

    compileall.compile_dir(str(Path(sluiceway.__file__).parent), quiet=1)


def ensure_data(rows: int, data_dir: Path) -> tuple[Path, Path]:
    from taxi_data import taxi_files

    return taxi_files(rows, data_dir)


def ensure_scale_parquet(rows: int, data_dir: Path) -> Path:
    """A ``rows``-row Parquet file of 1M-row row groups (the CSV is not needed for the memory check)."""
    from taxi_data import taxi_parquet_in_row_groups

    return taxi_parquet_in_row_groups(rows, data_dir)


def mib(x: float | None) -> str:
    return "–" if x is None else f"{x:.0f} MiB"


def fmt_s(x: float | None) -> str:
    return "–" if x is None else (f"{x * 1000:.2f} ms" if x < 0.1 else f"{x:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--scale-rows", type=int, default=10_000_000, help="rows for the memory check (0: skip)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tfdv-csv-repeats", type=int, default=None,
                    help="default: --repeats; 0 skips TFDV's slow CSV path")
    ap.add_argument("--skip-csv", action="store_true", help="leave out the CSV → statistics comparisons (a)")
    ap.add_argument("--data-dir", type=Path, default=BENCH_DIR / "data")
    ap.add_argument("--tfdv-python", default=str(TFDV_VENV / "bin" / "python"))
    ap.add_argument("--skip-tfdv", action="store_true", help="measure Sluiceway only")
    ap.add_argument("--write-results", action="store_true", help="update benchmarks/RESULTS.md")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.worker:
        print(json.dumps(WORKERS[a.worker](*a.args)))
        return

    me = sys.executable
    compile_bytecode()
    csv, parquet = ensure_data(a.rows, a.data_dir)
    load_start = os.getloadavg()[0]
    if not a.skip_tfdv:
        ensure_tfdv(a.tfdv_python)
    examples_dir = str(a.data_dir / "examples")
    res: dict[str, dict] = {}
    print("(b) Parquet -> statistics", flush=True)
    if a.skip_tfdv:
        res["sw_parquet"] = measure(me, "sw_parquet", [str(parquet)], a.repeats)
    else:  # alternate the two so that both see the same (shared-machine) load
        res["sw_parquet"], res["tfdv_parquet"] = measure_pair(
            (me, "sw_parquet", [str(parquet)]), (a.tfdv_python, "tfdv_parquet", [str(parquet)]), a.repeats
        )
    if not a.skip_csv:
        print("(a) CSV -> statistics", flush=True)
        csv_repeats = a.repeats if a.tfdv_csv_repeats is None else a.tfdv_csv_repeats
        tasks = {
            "sw_csv": (me, "sw_csv", [str(csv), examples_dir], a.repeats),
            "sw_cli_csv": (me, "cli", ["stats", str(csv), "--json"], a.repeats),
            "sw_csv_polars": (me, "sw_csv", [str(csv), examples_dir, "polars"], a.repeats),
        }
        if not a.skip_tfdv and csv_repeats > 0:
            tasks["tfdv_csv"] = (a.tfdv_python, "tfdv_csv", [str(csv)], csv_repeats)
        res.update(measure_rounds(tasks))
    print("(c) schema inference + validation", flush=True)
    res["sw_schema"] = measure(me, "sw_schema", [str(parquet)], 1)
    if not a.skip_tfdv:
        res["tfdv_schema"] = measure(a.tfdv_python, "tfdv_schema", [str(parquet)], 1)
    if a.scale_rows:
        print(f"(d) memory scaling: {a.scale_rows:,} rows", flush=True)
        big = ensure_scale_parquet(a.scale_rows, a.data_dir)
        res["sw_scale"] = measure(me, "sw_parquet", [str(big)], a.repeats)

    res["load"] = (load_start, os.getloadavg()[0])
    lines = report(res, a)
    print("\n".join(lines))
    if a.write_results:
        write_results(lines)


def command_line() -> str:
    """The command as a reader reruns it: the interpreter relative to the repository, else plain `python`."""
    python = Path(sys.executable)
    shown = str(python.relative_to(REPO)) if python.is_relative_to(REPO) else "python"
    return f"{shown} benchmarks/stats_vs_tfdv.py " + " ".join(sys.argv[1:])


def load_note(start: float, end: float) -> str:
    cores = os.cpu_count() or 1
    note = f"load average (1 min) {start:.2f} at the start, {end:.2f} at the end, on {cores} cores"
    if max(start, end) > cores:
        note += (" — measured on a loaded machine (other jobs shared the cores): absolute times are pessimistic; "
                 "compare Sluiceway and TFDV only by the ratios of this run")
    return note


def report(res: dict[str, dict], a: argparse.Namespace) -> list[str]:
    def ratio(x: float | None, y: float | None) -> str:
        return "–" if not x or not y else f"{y / x:.1f}×"

    ingest_how = res["sw_csv"]["runs"][0].get("how", "") if "sw_csv" in res else ""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        f"### {stamp}, {a.rows:,} rows",
        "",
        f"`{command_line()}` — Python {platform.python_version()}, {load_note(*res['load'])}; "
        f"{a.rows:,} taxi-like rows from benchmarks/taxi_data.py, median of {a.repeats} fresh processes.",
        "\"work\" is the timed section after imports; \"process\" is the whole fresh process (imports included);",
        "peak RSS is the process's maximum resident set. Ratios are TFDV ÷ Sluiceway in this run "
        "(higher is better for us).",
        "",
        "| comparison | Sluiceway work | TFDV work | speed-up (work) | Sluiceway process | TFDV process "
        "| speed-up (process) | Sluiceway peak RSS | TFDV peak RSS | memory ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, ours, theirs in (
        ("CSV → statistics", "sw_csv", "tfdv_csv"),
        ("CSV → statistics, `sluiceway stats FILE.csv --json` vs the TFDV worker", "sw_cli_csv", "tfdv_csv"),
        ("CSV → statistics, Polars sink_parquet ingest", "sw_csv_polars", "tfdv_csv"),
        ("Parquet → statistics", "sw_parquet", "tfdv_parquet"),
        ("schema inference + validation", "sw_schema", "tfdv_schema"),
    ):
        o, t = res.get(ours), res.get(theirs)
        if o is None:
            continue
        if t is None:
            t = {"timed": None, "wall": None, "rss_mib": None}
        out.append(
            f"| {label} | {fmt_s(o['timed'])} | {fmt_s(t['timed'])} | {ratio(o['timed'], t['timed'])} | "
            f"{fmt_s(o['wall'])} | {fmt_s(t['wall'])} | {ratio(o['wall'], t['wall'])} | "
            f"{o['rss_mib']:.0f} MiB | {mib(t['rss_mib'])} | "
            f"{ratio(o['rss_mib'], t['rss_mib'])} |"
        )
    out.append("")
    if "sw_csv" in res:
        out.append(f"CSV → statistics on the Sluiceway side = {ingest_how}: ingest's reader and checks, the "
                   "statistics computed from its batches (no Parquet copy); the `sluiceway stats` row is the "
                   "command a user runs (CLI start-up and JSON output included; its work is not timed apart).")
    if "sw_scale" in res:
        s1, s10 = res["sw_parquet"], res["sw_scale"]
        out.append(
            f"Memory scaling: {a.scale_rows:,} rows → work {fmt_s(s10['timed'])}, peak RSS {s10['rss_mib']:.0f} MiB "
            f"vs {s1['rss_mib']:.0f} MiB at {a.rows:,} rows (ratio {s10['rss_mib'] / s1['rss_mib']:.2f}; aim ≤ 1.5)."
        )
    if res.get("sw_schema", {}).get("timed") is None:
        out.append("Schema inference + validation: not measured (sluiceway.data.schema / validation not available).")
    out.append("")
    return out


def write_results(lines: list[str]) -> None:
    """Put this run's subsection first under "## Statistics"; earlier runs stay below it as they were."""
    path = HERE / "RESULTS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    heading = "## Statistics\n"
    section = "\n".join(lines).rstrip() + "\n"
    at = text.find(heading)
    if at == -1:
        text = text.rstrip() + "\n\n" + heading + "\n" + section
    else:
        insert = at + len(heading)
        text = text[:insert] + "\n" + section + text[insert:]
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()

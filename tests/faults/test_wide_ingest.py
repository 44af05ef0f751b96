"""Wide files (issue 7): ingest's memory grows linearly with the columns, and one file's cost is bounded.

Each measurement ingests a CSV of N columns × 5 rows in a child process and reads the child's peak RSS, so
the figure is that of one ingest and not of the test process. Before this probe, the whole path (ingest and
statistics) took 0.44 GB at 1,000 columns, 3.7 GB at 4,000 and more than 21 GB at 10,000: quadratic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from faultlog import record, trials

import sluiceway

CHILD = """
import json, sys, time
from sluiceway.data.ingest import CsvSource, ingest
from sluiceway.errors import DataError

path, out, max_columns = sys.argv[1], sys.argv[2], int(sys.argv[3])
started = time.perf_counter()
try:
    result = ingest(CsvSource(path), out, max_columns=max_columns)
    outcome = {"rows": sum(result.row_counts.values()), "columns": len(result.column_types)}
except DataError as exc:
    outcome = {"error": str(exc)}
outcome["seconds"] = time.perf_counter() - started
# VmHWM, not ru_maxrss: ru_maxrss survives exec, so it can report the (larger) parent that forked us.
with open("/proc/self/status") as status:
    outcome["peak_mb"] = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
print(json.dumps(outcome))
"""
ROWS = 5


def _wide_csv(folder: Path, columns: int) -> Path:
    path = folder / f"wide-{columns}.csv"
    with path.open("w") as out:
        out.write(",".join(f"c{i}" for i in range(columns)) + "\n")
        for row in range(ROWS):
            out.write(",".join(str((i * 7 + row) % 100) for i in range(columns)) + "\n")
    return path


def _ingest_in_child(folder: Path, columns: int, max_columns: int) -> dict[str, object]:
    path = _wide_csv(folder, columns)
    env = {**os.environ, "PYTHONPATH": str(Path(sluiceway.__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), str(folder / f"out-{columns}-{max_columns}"),
                           str(max_columns)], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_ingest_memory_is_linear_in_columns_and_bounded(tmp_path: Path) -> None:
    # `make test`: 2,000 and 10,000 columns; `make test-faults`: 10,000, 50,000 and 100,000 columns.
    wide = [10_000, 50_000, 100_000] if trials(0, 1) else [2_000, 10_000]
    runs = {columns: _ingest_in_child(tmp_path, columns, max_columns=200_000) for columns in [10, *wide]}
    refused = _ingest_in_child(tmp_path, 50_000, max_columns=20_000)  # the default bound
    base = float(runs[10]["peak_mb"])  # type: ignore[arg-type]
    per_column = {c: (float(r["peak_mb"]) - base) / c for c, r in runs.items() if c > 10}  # type: ignore[arg-type]
    problems = []
    for columns, run in runs.items():
        if run.get("columns") != columns or run.get("rows") != ROWS:
            problems.append(f"{columns} columns: {run}")
    # Linear: what a column costs does not grow with the width (quadratic growth would make it 5× per 5×).
    narrowest, widest = wide[0], wide[-1]
    if per_column[widest] > 2 * per_column[narrowest] + 0.002:
        problems.append(f"memory per column grows with the width: {per_column}")
    bound_mb = {2_000: 400, 10_000: 700, 50_000: 2_000, 100_000: 4_000}
    over = {c: runs[c]["peak_mb"] for c in wide if float(runs[c]["peak_mb"]) > bound_mb[c]}  # type: ignore[arg-type]
    if over:
        problems.append(f"over the memory bound {bound_mb}: {over}")
    error = str(refused.get("error", ""))
    if "50,000 columns" not in error or "max_columns=20,000" not in error or float(refused["peak_mb"]) > 400:  # type: ignore[arg-type]
        problems.append(f"the default bound did not refuse 50,000 columns cheaply: {refused}")
    record("wide ingest", trials=len(runs) + 1, located=int("wide-50000.csv" in error), unexpected=len(problems))
    assert not problems, (problems, runs)

"""Wide tables: statistics cost memory and time linear in the column count (issue 7).

Before: memory grew with the square of the column count (1,000 columns 0.44 GB, 4,000 columns
3.7 GB, 10,000 columns × 5 rows 21 GB end to end before it was killed). Each width is computed in a
child process whose peak RSS (``VmHWM``; ``ru_maxrss`` would start at the forking pytest's peak, since it
survives exec) is read before and after
``compute_statistics`` and ``write_json``; the growth must stay under a per-column budget. The fast
subset (``make test``) runs 10,000 columns; ``make test-faults`` adds 50,000 and checks that five
times the columns cost at most seven times the memory growth.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from faultlog import record, rng, trials

# budget of the growth of peak RSS during the statistics pass and the JSON write; measured on
# this machine: ~28 KB a column at 10,000 columns, ~19 KB at 50,000 (101 quantiles a numeric feature)
BASE_MB = 300
PER_COLUMN_KB = 30

_WRITE = """
import sys
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
columns, rows, seed, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(seed)
arrays = []
for i in range(columns):
    kind = i % 3
    if kind == 0:
        arrays.append(pa.array(rng.integers(0, 100, rows)))
    elif kind == 1:
        arrays.append(pa.array(rng.normal(0, 1, rows)))
    else:
        arrays.append(pa.array([f"v{j}" for j in rng.integers(0, 4, rows)]))
pq.write_table(pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(columns)]), path)
"""

_MEASURE = """
import json, sys, time
from sluiceway.data.statistics import compute_statistics
import pyarrow.parquet as pq
def peak_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
path, out = sys.argv[1], sys.argv[2]
before = peak_kb()
cpu = time.process_time()
stats = compute_statistics(path)
stats.write_json(out)
after = peak_kb()
table = pq.read_table(path, columns=["c0", "c1", "c2"]).to_pydict()
ds = stats["all"]
print(json.dumps({
    "growth_kb": after - before,
    "cpu_s": time.process_time() - cpu,
    "features": len(ds.features),
    "c0_max": ds.feature("c0").numeric.max, "c0_expected": max(table["c0"]),
    "c1_mean": ds.feature("c1").numeric.mean, "c1_expected": sum(table["c1"]) / len(table["c1"]),
    "c2_unique": ds.feature("c2").string.unique, "c2_expected": len(set(table["c2"])),
}))
"""


def _run(script: str, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True)


def test_statistics_of_wide_tables_cost_memory_linear_in_columns(tmp_path: Path) -> None:
    widths = [10_000, 50_000][: trials(1, 2)]
    seed = rng("wide-statistics").randrange(2**32)
    tracebacks = unexpected = 0
    results: dict[int, dict] = {}
    for width in widths:
        data = tmp_path / f"wide-{width}.parquet"
        written = _run(_WRITE, width, 5, seed, data)
        assert written.returncode == 0, written.stderr[-2000:]
        measured = _run(_MEASURE, data, tmp_path / f"statistics-{width}.json")
        if measured.returncode != 0:
            tracebacks += "Traceback" in measured.stderr
            unexpected += "Traceback" not in measured.stderr
            continue
        result = json.loads(measured.stdout)
        results[width] = result
        budget_kb = BASE_MB * 1024 + PER_COLUMN_KB * width
        correct = (
            result["features"] == width
            and result["c0_max"] == result["c0_expected"]
            and abs(result["c1_mean"] - result["c1_expected"]) < 1e-12
            and result["c2_unique"] == result["c2_expected"]
        )
        unexpected += result["growth_kb"] > budget_kb or not correct
    if len(results) == 2:
        small, large = results[10_000], results[50_000]
        # five times the columns: linear is 5x; the quadratic cost this guards against was 25x
        unexpected += large["growth_kb"] > 7 * max(small["growth_kb"], BASE_MB * 1024 / 5)
    record("wide statistics (10k/50k columns)", trials=len(widths), tracebacks=tracebacks, unexpected=unexpected)
    assert tracebacks == 0 and unexpected == 0, results

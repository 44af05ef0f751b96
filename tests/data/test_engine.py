"""The in-process engine: every row once, column groups for a single big row group, errors surface."""

from __future__ import annotations

import pickle
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluiceway.data.engine import Fragment, InProcessEngine, list_parquet_files, plan_fragments
from sluiceway.errors import ConfigError, DataError


def _write(path: Path, n: int, row_group_size: int) -> None:
    table = pa.table({"x": list(range(n)), "y": [float(i) for i in range(n)], "s": [str(i % 7) for i in range(n)]})
    pq.write_table(table, path, row_group_size=row_group_size)


def _sum_x(fragment: Fragment, batches) -> dict:
    total = rows = 0
    for b in batches:
        if "x" in b.column_names if hasattr(b, "column_names") else b.columns:
            total += sum(b.column("x").to_pylist()) if hasattr(b, "column") else int(b["x"].sum())
        if fragment.column_group == 0:
            rows += b.num_rows if hasattr(b, "num_rows") else b.height
    return {"sum": total, "rows": rows, "threads": {threading.current_thread().name}}


def _merge(a: dict, b: dict) -> dict:
    return {"sum": a["sum"] + b["sum"], "rows": a["rows"] + b["rows"], "threads": a["threads"] | b["threads"]}


@pytest.mark.parametrize("batch_format", ["arrow", "polars"])
def test_map_reduce_sees_every_row_once(tmp_path: Path, batch_format: str) -> None:
    for i in range(3):
        _write(tmp_path / f"part-{i}.parquet", 10_000, 3_000)
    files = list_parquet_files(tmp_path)
    fragments = plan_fragments(files, parallelism=2)
    assert len(fragments) == 12  # 4 row groups per file: no column split needed
    engine = InProcessEngine(2, batch_rows=1_000)
    result = engine.map_reduce(fragments, _sum_x, _merge, batch_format=batch_format)
    assert result["rows"] == 30_000
    assert result["sum"] == 3 * sum(range(10_000))


def test_single_row_group_is_split_into_column_groups(tmp_path: Path) -> None:
    _write(tmp_path / "one.parquet", 5_000, 10_000)
    fragments = plan_fragments([tmp_path / "one.parquet"], parallelism=2, always_columns=["s"])
    assert len(fragments) == 2
    assert [f.column_group for f in fragments] == [0, 1]
    assert all("s" in f.columns for f in fragments)
    read = sorted(c for f in fragments for c in f.columns if c != "s")
    assert read == ["x", "y"]
    result = InProcessEngine(2).map_reduce(fragments, _sum_x, _merge)
    assert result["rows"] == 5_000 and result["sum"] == sum(range(5_000))


def test_fragments_pickle_for_remote_engines(tmp_path: Path) -> None:
    _write(tmp_path / "a.parquet", 100, 50)
    fragment = plan_fragments([tmp_path / "a.parquet"])[0]
    assert pickle.loads(pickle.dumps(fragment)) == fragment


def test_errors_in_map_fn_propagate(tmp_path: Path) -> None:
    _write(tmp_path / "a.parquet", 1_000, 100)

    def boom(fragment, batches):
        raise ValueError("bad batch")

    with pytest.raises(ValueError, match="bad batch"):
        InProcessEngine(2).map_reduce(plan_fragments([tmp_path / "a.parquet"]), boom, _merge)


def test_missing_and_bad_inputs_raise_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        list_parquet_files(tmp_path / "nope")
    with pytest.raises(DataError, match="No Parquet files"):
        list_parquet_files(tmp_path)
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="bad.parquet"):
        plan_fragments([tmp_path / "bad.parquet"])


def test_engine_parameters_are_checked() -> None:
    with pytest.raises(ConfigError, match="max_workers"):
        InProcessEngine(0)
    assert InProcessEngine().map_reduce([], _sum_x, _merge) is None


def test_results_are_merged_in_fragment_order_not_completion_order(tmp_path: Path) -> None:
    # fragment 0 cannot finish before fragment 2 has: completion order is 1, 2, 0 (or 2, 1, 0)
    _write(tmp_path / "a.parquet", 400, 100)
    fragments = plan_fragments([tmp_path / "a.parquet"])
    assert len(fragments) == 4
    last_done = threading.Event()
    finished: list[int] = []

    def map_fn(fragment: Fragment, batches) -> list[int]:
        for _ in batches:
            pass
        index = fragments.index(fragment)
        if index == 0:
            assert last_done.wait(timeout=60), "fragment 2 never finished"
        finished.append(index)
        if index == 2:
            last_done.set()
        return [index]

    merged = InProcessEngine(3).map_reduce(fragments, map_fn, lambda a, b: a + b)
    assert finished.index(0) > finished.index(2)  # they did complete out of order
    assert merged == [0, 1, 2, 3]

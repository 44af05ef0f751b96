"""ExampleGen's data work on the session's real Ray cluster: the same Examples as the in-process engine.

Every test ingests the same input twice, in process and with a ``RayEngine`` in force, and compares
the properties (row counts, column types, split names), every part (its name, its row groups, its bytes)
and the statistics computed from them (byte for byte). ``MIN_DISTRIBUTED_BYTES`` is lowered so that small
inputs are distributed; the last test keeps it and checks that a small input stays in process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

import sluiceway as sw
from sluiceway.components import CsvExampleGen, StatisticsGen
from sluiceway.data.engine import use_engine
from sluiceway.data.ingest import CsvSource, JsonLinesSource, ParquetSource, ingest
from sluiceway.data.ingest import distributed
from sluiceway.data.ingest.writer import _ExamplesWriter, part_layout
from sluiceway.data.splits import HashSplit, TimeSplit
from sluiceway.data.statistics import compute_statistics
from sluiceway.errors import DataError

pytestmark = [pytest.mark.integration, pytest.mark.ray]


@pytest.fixture
def distribute_small_inputs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Distribute inputs of any size (the threshold is read on the driver, this process)."""
    monkeypatch.setattr(distributed, "MIN_DISTRIBUTED_BYTES", 0)
    yield


def _ray(address: str) -> Any:
    from sluiceway.data.ray_engine import RayEngine

    return RayEngine(address)


def _frame(seed: int, rows: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "id": np.arange(seed * 10_000, seed * 10_000 + rows),
        "fare": np.round(rng.gamma(2.0, 7.5, rows), 2),
        "qty": rng.integers(0, 9, rows),
        "payment": rng.choice(["cash", "card", "app"], rows),
        "day": [f"2026-01-{1 + i % 28:02d}" for i in range(rows)],
    })


def _both(address: str, source: object, tmp_path: Path, log: list[str] | None = None,
          **options: object) -> tuple[Any, Any]:
    """The result of ingesting ``source`` in process and on Ray (into ``tmp_path/local`` and ``tmp_path/ray``),
    checking that the second one was distributed."""
    local = ingest(source, tmp_path / "local", **options)  # type: ignore[arg-type]
    records: list[str] = [] if log is None else log
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger(distributed.__name__)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with use_engine(_ray(address)):
            on_ray = ingest(source, tmp_path / "ray", **options)  # type: ignore[arg-type]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert any("as Ray tasks" in r for r in records), records
    return local, on_ray


def _assert_same_examples(local: Any, on_ray: Any, tmp_path: Path) -> None:
    """Same properties, same parts (names, row groups, bytes), same statistics bytes."""
    assert on_ray.properties == local.properties
    for split in local.split_names:
        names = sorted(p.name for p in (tmp_path / "local" / f"Split-{split}").iterdir())
        assert sorted(p.name for p in (tmp_path / "ray" / f"Split-{split}").iterdir()) == names
        for name in names:
            a, b = tmp_path / "local" / f"Split-{split}" / name, tmp_path / "ray" / f"Split-{split}" / name
            groups = [pq.read_metadata(p).row_group(i).num_rows for p in (a, b)
                      for i in range(pq.read_metadata(p).num_row_groups)]
            assert pq.read_table(b).equals(pq.read_table(a)), f"{split}/{name}: other rows or order"
            assert groups[: len(groups) // 2] == groups[len(groups) // 2:], f"{split}/{name}: other row groups"
            assert b.read_bytes() == a.read_bytes(), f"{split}/{name}: other bytes"
    assert not list((tmp_path / "ray").rglob("*.inprogress")) and not list((tmp_path / "ray").rglob("*.arrow"))
    assert not (tmp_path / "ray" / distributed.STAGING_FOLDER).exists()
    local_stats, ray_stats = tmp_path / "local-stats.json", tmp_path / "ray-stats.json"
    compute_statistics(str(tmp_path / "local"), engine="local").to_json(local_stats)
    compute_statistics(str(tmp_path / "ray"), engine="local").to_json(ray_stats)
    assert ray_stats.read_bytes() == local_stats.read_bytes()


def test_csv_files_with_a_column_int_in_one_file_and_float_in_another(
    ray_address: str, distribute_small_inputs: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Types are decided over every file, as in process: 'qty' is int in a.csv, has 2.5 in b.csv and a missing
    value in c.csv, so it is a float column (with a null) everywhere; the rows land in the same parts."""
    data = tmp_path / "in"
    data.mkdir()
    frames = [_frame(i, rows) for i, rows in enumerate((900, 700, 1100))]
    frames[1] = frames[1].with_columns(pl.when(pl.col("id") == 10_003).then(2.5).otherwise(pl.col("qty")).alias("qty"))
    frames[2] = frames[2].with_columns(pl.when(pl.col("id") == 20_005).then(None).otherwise(pl.col("qty")).alias("qty"))
    for name, frame in zip("abc", frames, strict=True):
        frame.write_csv(data / f"{name}.csv")
    with caplog.at_level(logging.INFO, logger="sluiceway"):
        local, on_ray = _both(ray_address, CsvSource(str(data / "*.csv")), tmp_path, rows_per_file=500,
                              batch_rows=256)
    assert "Ingesting 3 piece(s) of CsvSource as Ray tasks" in caplog.text
    assert on_ray.column_types["qty"] == "double" and on_ray.row_counts["train"] + on_ray.row_counts["eval"] == 2700
    rows = pl.concat(pl.read_parquet(p) for p in sorted((tmp_path / "ray").glob("Split-*/*.parquet")))
    assert rows["qty"].null_count() == 1 and 2.5 in rows["qty"].to_list()
    assert len(list((tmp_path / "ray" / "Split-train").glob("*.parquet"))) >= 3  # rows_per_file cut parts
    _assert_same_examples(local, on_ray, tmp_path)


def test_parquet_files_and_row_groups_with_a_partition_split(
    ray_address: str, distribute_small_inputs: None, tmp_path: Path
) -> None:
    data = tmp_path / "in"
    data.mkdir()
    for i, rows in enumerate((1500, 600, 2100)):
        _frame(i, rows).write_parquet(data / f"part-{i}.parquet", row_group_size=400)
    splits = HashSplit({"train": 3, "eval": 1, "test": 1}, partition_column="payment")
    local, on_ray = _both(ray_address, ParquetSource(str(data / "*.parquet")), tmp_path, splits=splits,
                          batch_rows=500)
    assert sum(on_ray.row_counts.values()) == 4200
    _assert_same_examples(local, on_ray, tmp_path)


def test_json_lines_pre_split_and_csv_split_by_time(
    ray_address: str, distribute_small_inputs: None, tmp_path: Path
) -> None:
    data = tmp_path / "in"
    data.mkdir()
    for i, name in enumerate(("train-1", "train-2", "eval-1", "eval-2")):
        _frame(i, 300 + 100 * i).write_ndjson(data / f"{name}.jsonl")
    source = JsonLinesSource({"train": str(data / "train-*.jsonl"), "eval": str(data / "eval-*.jsonl")})
    local, on_ray = _both(ray_address, source, tmp_path / "json", batch_rows=250)
    assert on_ray.row_counts == {"train": 700, "eval": 1100}
    _assert_same_examples(local, on_ray, tmp_path / "json")

    for i in range(2):
        _frame(i, 800).write_csv(data / f"t{i}.csv")
    split = TimeSplit(column="day", cutoff="2026-01-20")
    local, on_ray = _both(ray_address, CsvSource(str(data / "t*.csv")), tmp_path / "time", splits=split)
    _assert_same_examples(local, on_ray, tmp_path / "time")


def test_the_layout_of_parts_is_the_one_the_in_process_writer_writes(tmp_path: Path) -> None:
    """``part_layout`` (what the distributed ingest writes) against ``_ExamplesWriter`` itself, at the sizes
    where its buffering matters (row groups of 128K-256K rows, parts of ``rows_per_file`` rows)."""
    import pyarrow as pa

    for case, (tables, rows_per_file) in enumerate([
        ([250_000, 250_000, 70_000], 5_000_000),
        ([83_000, 83_000, 0, 84_000, 90_000, 300_000, 5], 5_000_000),
        ([200_000, 200_000, 200_000], 330_000),
        ([10, 20], 5),
        ([], 100),
    ]):
        writer = _ExamplesWriter(str(tmp_path / str(case)), ["all"], rows_per_file)
        for rows in tables:
            writer.write(0, pa.table({"x": pa.array(np.zeros(rows, dtype=np.int8))}))
        parts = writer.finish(pa.schema([("x", pa.int8())]))["all"]
        written = [[pq.read_metadata(p).row_group(i).num_rows for i in range(pq.read_metadata(p).num_row_groups)]
                   for p in parts]
        assert part_layout(tables, rows_per_file) == written, (tables, rows_per_file)


def test_a_bad_row_in_the_second_file_fails_the_execution_and_leaves_nothing(
    ray_address: str, distribute_small_inputs: None, tmp_path: Path
) -> None:
    """A ragged row in b.csv (of a.csv, b.csv, c.csv): the same DataError as in process, naming the file and
    the line; the execution FAILED, no Examples recorded, no part, staging file or folder left."""
    data = tmp_path / "in"
    data.mkdir()
    for i, name in enumerate("abc"):
        _frame(i, 400).write_csv(data / f"{name}.csv")
    lines = (data / "b.csv").read_text().splitlines(keepends=True)
    lines[57] = lines[57].rstrip("\n") + ",extra\n"
    (data / "b.csv").write_text("".join(lines))
    with pytest.raises(DataError) as in_process:
        ingest(CsvSource(str(data / "*.csv")), tmp_path / "local")
    assert "b.csv" in str(in_process.value) and "line 58" in str(in_process.value)
    with use_engine(_ray(ray_address)), pytest.raises(DataError) as on_ray:
        ingest(CsvSource(str(data / "*.csv")), tmp_path / "direct")
    assert str(on_ray.value) == str(in_process.value)
    assert not (tmp_path / "direct").exists()

    gen = CsvExampleGen(input_pattern=str(data / "*.csv"))
    store = sw.MetadataStore(f"sqlite:///{tmp_path / 'md.db'}")
    artifacts = tmp_path / "artifacts"
    run = sw.LocalRunner(store=store, artifact_root=artifacts).run(sw.Pipeline("bad", [gen], engine="ray"))
    failed = run["CsvExampleGen"]
    assert run.state == "FAILED" and failed.state == "FAILED" and failed.outputs == {}
    assert "DataError" in (failed.error or "") and str(in_process.value) in (failed.error or "")
    assert "Ingesting 3 piece(s) of CsvSource as Ray tasks" in Path(failed.log_uri or "").read_text()
    assert store.list_artifacts(type_name="Examples") == []
    left = [p for p in artifacts.rglob("*") if p.is_file() and p.suffix in {".parquet", ".inprogress", ".arrow"}]
    assert left == [] and not list(artifacts.rglob(distributed.STAGING_FOLDER))


def test_pipeline_on_ray_gives_the_statistics_of_a_local_run_and_small_inputs_stay_in_process(
    ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CsvExampleGen + StatisticsGen on Ray and locally: byte-identical statistics.json. With the default
    threshold the same small input stays in process, and its log says so."""
    data = tmp_path / "in"
    data.mkdir()
    for i in range(3):
        _frame(i, 600).write_csv(data / f"f{i}.csv")

    def run(engine: str, name: str) -> Any:
        gen = CsvExampleGen(input_pattern=str(data / "*.csv"))
        stats = StatisticsGen(examples=gen.examples)
        runner = sw.LocalRunner(store=f"sqlite:///{tmp_path / f'{name}.db'}", artifact_root=tmp_path / name)
        return runner.run(sw.Pipeline("gen", [gen, stats], engine=engine)).raise_for_status()

    small = run("ray", "small")
    assert "Ingest stays in process on Ray" in Path(small["CsvExampleGen"].log_uri or "").read_text()
    monkeypatch.setattr(distributed, "MIN_DISTRIBUTED_BYTES", 0)
    on_ray, local = run("ray", "ray"), run("local", "local")
    assert "as Ray tasks" in Path(on_ray["CsvExampleGen"].log_uri or "").read_text()
    files = [Path(r.output("StatisticsGen", "statistics").uri) / sw.ExampleStatistics.FILENAME
             for r in (on_ray, local, small)]
    assert files[0].read_bytes() == files[1].read_bytes() == files[2].read_bytes()
    examples = [r.output("CsvExampleGen", "examples") for r in (on_ray, local)]
    assert examples[0].properties["row_counts"] == examples[1].properties["row_counts"]
    assert examples[0].properties["column_types"] == examples[1].properties["column_types"]
    assert os.listdir(examples[0].uri) == os.listdir(examples[1].uri)


def test_a_value_past_the_sampled_rows_makes_both_engines_infer_over_whole_files(
    ray_address: str, distribute_small_inputs: None, tmp_path: Path
) -> None:
    """'qty' is an int in the first 10,000 rows of every file, then 'n/a-ish' text in b.csv: a task finds it
    does not fit, and the driver infers again over whole files, as the in-process reader does (string)."""
    data = tmp_path / "in"
    data.mkdir()
    for i, name in enumerate("abc"):
        frame = _frame(i, 10_400).with_columns(pl.col("qty").cast(pl.String))
        if name == "b":
            frame = frame.with_columns(pl.when(pl.col("id") == 10_000 + 10_200).then(pl.lit("seven"))
                                       .otherwise(pl.col("qty")).alias("qty"))
        frame.write_csv(data / f"{name}.csv")
    log: list[str] = []
    local, on_ray = _both(ray_address, CsvSource(str(data / "*.csv")), tmp_path, log)
    assert any("Re-inferring column types over whole files" in r for r in log), log
    assert on_ray.column_types["qty"] in {"string", "large_string"}
    _assert_same_examples(local, on_ray, tmp_path)


def test_a_csv_file_with_blank_lines_is_ingested_in_process_on_ray(
    ray_address: str, distribute_small_inputs: None, tmp_path: Path
) -> None:
    """The in-process reader drops blank lines inside its batches (moving where batches end, hence the row
    groups): a distributed read cannot know where, so the driver says so and ingests in process."""
    data = tmp_path / "in"
    data.mkdir()
    for i, name in enumerate("ab"):
        _frame(i, 500).write_csv(data / f"{name}.csv")
    lines = (data / "b.csv").read_text().splitlines(keepends=True)
    (data / "b.csv").write_text("".join([*lines[:100], "\n", *lines[100:]]))
    log: list[str] = []
    local, on_ray = _both(ray_address, CsvSource(str(data / "*.csv")), tmp_path, log)
    assert any("a CSV file has blank lines" in r for r in log), log
    assert on_ray.row_counts["train"] + on_ray.row_counts["eval"] == 1000
    _assert_same_examples(local, on_ray, tmp_path)


def test_a_corrupt_parquet_file_gets_the_in_process_error_on_ray(
    ray_address: str, distribute_small_inputs: None, tmp_path: Path
) -> None:
    data = tmp_path / "in"
    data.mkdir()
    for i in range(2):
        _frame(i, 300).write_parquet(data / f"part-{i}.parquet")
    (data / "part-2.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError) as in_process:
        ingest(ParquetSource(str(data / "*.parquet")), tmp_path / "local")
    with use_engine(_ray(ray_address)), pytest.raises(DataError) as on_ray:
        ingest(ParquetSource(str(data / "*.parquet")), tmp_path / "ray")
    assert str(on_ray.value) == str(in_process.value) and "part-2.parquet" in str(on_ray.value)
    assert not (tmp_path / "ray").exists()

"""Statistics of a CSV file read once (ingest's reader feeding the statistics, no Parquet copy).

The read-once path must give the same bytes as statistics of the same rows stored as Parquet (and as the
Parquet-copy path it replaced), which holds because it cuts the rows into the row groups ingest writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluiceway.data.engine import InProcessEngine
from sluiceway.data.files import statistics_of_file
from sluiceway.data.ingest import CsvSource
from sluiceway.data.ingest.driver import read_into
from sluiceway.data.ingest.writer import RowGroupCutter, _ExamplesWriter
from sluiceway.data.statistics.stream import statistics_of_tables
from sluiceway.errors import DataError


def _frame(rows: int, seed: int) -> pl.DataFrame:
    """Mixed columns with nulls: a float with >16k distinct values (the sketch path), small ints, strings of
    a few and of many values, booleans."""
    rng = np.random.default_rng(seed)
    missing = rng.random(rows) < 0.03
    fare = np.round(rng.lognormal(2, 1, rows), 6)
    return pl.DataFrame(
        {
            "fare": pl.Series(np.where(missing, np.nan, fare)).fill_nan(None),
            "passengers": rng.integers(0, 7, rows),
            "company": pl.Series([f"company-{v}" for v in rng.integers(0, 40, rows)]),
            "trip": pl.Series([f"trip-{v:09d}" for v in rng.permutation(rows)]),
            "cash": rng.random(rows) < 0.4,
            "weight": np.round(rng.uniform(0.1, 2.0, rows), 4),
        }
    )


@pytest.fixture(scope="module")
def taxi_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same 600k rows as CSV and as Parquet in the row groups ingest writes (250k, 250k, 100k)."""
    folder = tmp_path_factory.mktemp("stream")
    frame = _frame(600_000, seed=11)
    frame.write_csv(folder / "trips.csv")
    pq.write_table(frame.to_arrow(), folder / "trips.parquet", row_group_size=250_000)
    return folder / "trips.csv", folder / "trips.parquet"


def test_csv_and_the_same_rows_as_parquet_give_the_same_statistics_json(
    taxi_files: tuple[Path, Path], tmp_path: Path
) -> None:
    csv, parquet = taxi_files
    from_csv, from_parquet = statistics_of_file(csv), statistics_of_file(parquet)
    from_csv.to_json(tmp_path / "csv.json")
    from_parquet.to_json(tmp_path / "parquet.json")
    assert (tmp_path / "csv.json").read_bytes() == (tmp_path / "parquet.json").read_bytes()
    fare = from_csv["all"].feature("fare")
    assert not fare.numeric.exact  # the sketch path (merged across row groups) was exercised
    assert fare.missing > 0 and from_csv["all"].num_examples == 600_000


def test_a_small_csv_and_its_parquet_give_the_same_bytes(tmp_path: Path) -> None:
    frame = _frame(5_000, seed=3)
    frame.write_csv(tmp_path / "small.csv")
    frame.write_parquet(tmp_path / "small.parquet")
    from_csv = statistics_of_file(tmp_path / "small.csv").to_json()
    assert from_csv == statistics_of_file(tmp_path / "small.parquet").to_json()


def test_read_once_gives_the_bytes_of_the_parquet_copy_path_with_every_option(taxi_files: tuple[Path, Path]) -> None:
    csv, _ = taxi_files
    options = {"slice_by": "company", "weight_column": "weight", "columns": ["fare", "trip", "cash"], "top_k": 7}
    read_once = statistics_of_file(csv, **options).to_json()
    # an explicit engine maps over stored Parquet: the temporary-copy path (ingest, then compute_statistics)
    via_copy = statistics_of_file(csv, engine=InProcessEngine(), **options).to_json()
    assert read_once == via_copy
    assert '"name": "all/company=company-39"' in read_once  # the slices were computed


def test_the_row_group_cutter_cuts_as_the_examples_writer_writes(tmp_path: Path) -> None:
    # batch sizes around the writer's thresholds (buffered below 128Ki rows, row groups at most 256Ki rows)
    # and a part size that cuts a buffered table in the middle
    sizes = [50_000, 100_000, 300_000, 7, 262_144, 131_072, 131_071, 1, 600_000, 9_999]
    rows_per_file = 400_000
    writer = _ExamplesWriter(str(tmp_path / "out"), ["all"], rows_per_file)
    cutter = RowGroupCutter(rows_per_file)
    cut: list[int] = []
    start = 0
    for size in sizes:
        table = pa.table({"x": np.arange(start, start + size)})
        start += size
        writer.write(0, table)
        cut.extend(group.num_rows for group in cutter.add(table))
    writer.flush()
    cut.extend(group.num_rows for group in cutter.flush())
    files = writer.finish(pa.schema([("x", pa.int64())]))["all"]
    written = [pq.ParquetFile(f).metadata.row_group(i).num_rows for f in files
               for i in range(pq.ParquetFile(f).metadata.num_row_groups)]
    assert cut == written
    assert len(files) > 1 and max(written) == 256 * 1024  # both cuts were exercised


def test_a_second_read_starts_the_statistics_again(tmp_path: Path) -> None:
    # "NaN" is a null marker: the fast read (markers applied after parsing) cannot tell it from a float NaN
    # and reads again with the markers; the rows of the first read must not be counted twice
    lines = ["x,y"] + [f"{i}.5,{i % 3}" for i in range(3_000)] + ["NaN,1"] + [f"{i}.25,2" for i in range(2_000)]
    (tmp_path / "nan.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    sinks: list[object] = []

    def read(make_sink):  # noqa: ANN001, ANN202 - the callable statistics_of_tables hands over
        def counting(split_names: list[str]):  # noqa: ANN202
            sinks.append(make_sink(split_names))
            return sinks[-1]

        return read_into(CsvSource({"all": str(tmp_path / "nan.csv")}), counting, batch_rows=1_000)

    stats = statistics_of_tables(read)
    assert len(sinks) == 2  # read twice
    assert stats["all"].num_examples == 5_001
    assert stats["all"].feature("x").missing == 1
    assert stats["all"].feature("x").numeric.num_nan == 0


def test_bad_csv_is_the_same_located_data_error(tmp_path: Path) -> None:
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 3 has 1 fields; expected 2"):
        statistics_of_file(tmp_path / "ragged.csv")
    (tmp_path / "ok.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"Column\(s\) 'c' not found"):
        statistics_of_file(tmp_path / "ok.csv", columns=["a", "c"])


def test_the_default_engine_named_explicitly_still_reads_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sluiceway.data.statistics import stream

    (tmp_path / "small.csv").write_text("a,b\n1,x\n2,y\n", encoding="utf-8")
    made: list[list[str]] = []
    original = stream._StatisticsSink.__init__

    def spy(self: stream._StatisticsSink, split_names: list[str], *args: object) -> None:
        made.append(split_names)  # the real sink still does the work
        original(self, split_names, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(stream._StatisticsSink, "__init__", spy)
    for engine in (None, "local"):
        assert statistics_of_file(tmp_path / "small.csv", engine=engine)["all"].num_examples == 2
    assert made == [["all"], ["all"]]
    assert statistics_of_file(tmp_path / "small.csv", engine=InProcessEngine())["all"].num_examples == 2
    assert len(made) == 2  # an explicit engine object maps over a temporary Parquet copy

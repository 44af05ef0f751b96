"""Statistics of a data file outside any pipeline: what ``sluiceway stats/schema/validate`` read.

A CSV or JSON-lines file goes through the same reader as ExampleGen (so bad input gets the same
``DataError`` naming file, line and problem) into a temporary Parquet copy; a Parquet file is read
directly; a ``statistics.json`` written by StatisticsGen (or ``sluiceway stats --json``) is loaded as is.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from sluiceway.errors import DataError

SPLIT = "all"


def statistics_of_file(path: str | Path, **options: Any) -> Any:
    """A ``StatisticsSet`` with one dataset named ``all`` for a CSV, JSON-lines or Parquet file."""
    from sluiceway.data.statistics import StatisticsSet, compute_statistics

    file = Path(path)
    if not file.exists():
        raise DataError(f"Data file {str(file)!r} does not exist (looked from {Path.cwd()}). Pass the path of a CSV, JSON-lines or Parquet file.")
    suffix = file.suffix.lower()
    if suffix == ".json" and _is_statistics_json(file):
        return StatisticsSet.from_json(file)
    if suffix in (".parquet", ".pq") or file.is_dir():
        if file.is_file():  # refused as ingest refuses it (zero rows, no columns, …): one behaviour a source
            from sluiceway.data.ingest.file_reader import check_parquet_file

            check_parquet_file(str(file))
        try:
            return compute_statistics(str(file), default_split=SPLIT, **options)
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - pyarrow's errors for corrupt files have many types
            raise DataError(f"Cannot read Parquet data {str(file)!r}: {exc}. Check that it is a Parquet file or folder.") from exc
    from sluiceway.data.ingest import CsvSource, JsonLinesSource, ingest

    if suffix in (".jsonl", ".ndjson", ".json"):
        source: Any = JsonLinesSource({SPLIT: str(file)})
    elif suffix in (".csv", ".tsv", ".txt"):
        source = CsvSource({SPLIT: str(file)}, delimiter="\t" if suffix == ".tsv" else ",")
    else:
        raise DataError(
            f"Cannot tell the format of {str(file)!r} from its extension {suffix!r}; expected .csv, .tsv, "
            ".jsonl/.json, .parquet, or a statistics.json. Rename the file or convert it."
        )
    with tempfile.TemporaryDirectory(prefix="sluiceway-stats-") as scratch:
        ingest(source, Path(scratch) / "examples")
        from sluiceway.artifacts import Examples

        return compute_statistics(Examples(str(Path(scratch) / "examples")), split_names=[SPLIT], **options)


def _is_statistics_json(file: Path) -> bool:
    try:
        with file.open(encoding="utf-8") as handle:
            head = handle.read(200)
        return '"format"' in head and "sluiceway.statistics" in head or json.loads(file.read_text())["format"] == "sluiceway.statistics"
    except (OSError, ValueError, KeyError, TypeError):
        return False

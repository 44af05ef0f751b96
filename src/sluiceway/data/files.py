"""Statistics of a data file or folder outside any pipeline: what ``sluiceway stats/schema/validate`` read.

A CSV or JSON-lines file goes through the same reader as ExampleGen (so bad input gets the same
``DataError`` naming file, line and problem), whose tables feed the statistics as they are read (no
Parquet copy; the same statistics as of the ingested ``Examples``); a Parquet file is read
directly; a ``statistics.json`` written by StatisticsGen (or ``sluiceway stats --json``) is loaded as is.
A folder is read as one dataset of all its data files, which must share one format: CSV (``.csv``),
TSV (``.tsv``), JSON lines (``.jsonl``/``.ndjson``/``.json``) or Parquet (``.parquet``, also an
``Examples`` folder with ``Split-*`` sub-folders, one dataset a split).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from sluiceway.data.statistics import FORMAT_NAME, StatisticsSet, compute_statistics, load_statistics
from sluiceway.errors import DataError, SluicewayError

SPLIT = "all"

_CSV = (".csv", ".txt")
_TSV = (".tsv",)
_JSON_LINES = (".jsonl", ".ndjson", ".json")
_PARQUET = (".parquet", ".pq")


def statistics_of_file(path: str | Path, **options: Any) -> StatisticsSet:
    """A ``StatisticsSet`` with one dataset named ``all`` for a CSV, JSON-lines or Parquet file or folder."""
    file = Path(path)
    if not file.exists():
        raise DataError(
            f"Data file {str(file)!r} does not exist (looked from {Path.cwd()}). "
            "Pass the path of a CSV, JSON-lines or Parquet file, or of a folder of them."
        )
    if file.is_dir():
        return _statistics_of_folder(file, options)
    suffix = file.suffix.lower()
    if suffix == ".json" and _is_statistics_json(file):
        return load_statistics(file)
    if suffix in _PARQUET:
        return _statistics_of_parquet(file, options)
    if suffix in (*_CSV, *_TSV, *_JSON_LINES):
        return _statistics_via_ingest(str(file), suffix, options)
    raise DataError(
        f"Cannot tell the format of {str(file)!r} from its extension {suffix!r}; expected .csv, .tsv, "
        ".jsonl/.json, .parquet, or a statistics.json. Rename the file or convert it."
    )


def _statistics_of_folder(folder: Path, options: dict[str, Any]) -> StatisticsSet:
    if any(d.is_dir() for d in folder.glob("Split-*")):
        return _statistics_of_parquet(folder, options)  # an Examples folder: one dataset a split
    files = sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
    kinds = {kind for kind in map(_kind, files) if kind is not None}
    if not kinds:
        raise DataError(
            f"The folder {str(folder)!r} holds no data files (.csv, .tsv, .jsonl/.json, .parquet). "
            "Pass a folder of data files of one format, or one file."
        )
    if len(kinds) > 1:
        raise DataError(
            f"The folder {str(folder)!r} mixes data formats ({', '.join(sorted(kinds))}); statistics of a folder "
            "read files of one format. Move the others out, or pass one file."
        )
    kind = kinds.pop()
    if kind == "parquet":
        return _statistics_of_parquet(folder, options)
    suffixes = {f.suffix.lower() for f in files if _kind(f) == kind}
    if len(suffixes) > 1:
        raise DataError(
            f"The folder {str(folder)!r} holds {kind} files with several extensions ({', '.join(sorted(suffixes))}); "
            "give them one extension, or pass one file."
        )
    suffix = suffixes.pop()
    return _statistics_via_ingest(str(folder / f"*{suffix}"), suffix, options)


def _kind(file: Path) -> str | None:
    suffix = file.suffix.lower()
    if suffix in _CSV:
        return "CSV"
    if suffix in _TSV:
        return "TSV"
    if suffix in _JSON_LINES:
        return "JSON lines"
    if suffix in _PARQUET:
        return "parquet"
    return None


def _statistics_of_parquet(path: Path, options: dict[str, Any]) -> StatisticsSet:
    if path.is_file():  # refused as ingest refuses it (zero rows, no columns, …): one behaviour a source
        from sluiceway.data.ingest.file_reader import check_parquet_file

        check_parquet_file(str(path))
    try:
        return compute_statistics(str(path), default_split=SPLIT, **options)
    except SluicewayError:  # already says what went wrong (a DataError, an unreachable Ray cluster, ...)
        raise
    except Exception as exc:  # noqa: BLE001 - pyarrow's errors for corrupt files have many types
        raise DataError(
            f"Cannot read Parquet data {str(path)!r}: {exc}. Check that it is a Parquet file or folder."
        ) from exc


#: Options the read-once path understands; any other (an engine, split names) takes the Parquet-copy path.
_STREAM_OPTIONS = frozenset(
    {"columns", "slice_by", "weight_column", "top_k", "num_rank_histogram_buckets", "num_histogram_buckets",
     "num_quantiles", "exact_cap"}
)


def _statistics_via_ingest(pattern: str, suffix: str, options: dict[str, Any]) -> StatisticsSet:
    """Read CSV/JSON lines (a file, or a ``*`` pattern of a folder's files) through ExampleGen's reader.

    The rows are read once: ingest's reader hands its checked tables straight to the statistics pass, cut
    into the row groups ingest would have written, so the result is the same as statistics of the
    ingested ``Examples``. Only an engine other than the local one (which maps over stored Parquet) or
    ``split_names`` still goes through a temporary Parquet copy."""
    from sluiceway.data.ingest import CsvSource, JsonLinesSource

    if suffix in _JSON_LINES:
        source: Any = JsonLinesSource({SPLIT: pattern})
    else:
        source = CsvSource({SPLIT: pattern}, delimiter="\t" if suffix in _TSV else ",")
    if options.get("engine", "local") in (None, "local"):
        options = {k: v for k, v in options.items() if k != "engine"}  # the default engine: threads, here too
    if set(options) <= _STREAM_OPTIONS:
        from sluiceway.data.ingest.driver import read_into
        from sluiceway.data.statistics.stream import statistics_of_tables

        return statistics_of_tables(lambda make_sink: read_into(source, make_sink), **options)
    from sluiceway.artifacts import Examples
    from sluiceway.data.ingest import ingest

    with tempfile.TemporaryDirectory(prefix="sluiceway-stats-") as scratch:
        ingest(source, Path(scratch) / "examples")
        return compute_statistics(Examples(str(Path(scratch) / "examples")), split_names=[SPLIT], **options)


def _is_statistics_json(file: Path) -> bool:
    """A JSON file that says it is a statistics document (read as statistics, not as data)."""
    try:
        with file.open(encoding="utf-8") as handle:
            head = handle.read(200)
    except (OSError, UnicodeDecodeError):  # unreadable here: the data reader reports it with context
        return False
    if '"format"' in head and FORMAT_NAME in head:
        return True
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # not one JSON document (JSON lines, say): data, not statistics
        return False
    return isinstance(document, dict) and document.get("format") == FORMAT_NAME


__all__ = ["SPLIT", "statistics_of_file"]

"""Ingestion behind the ExampleGen components: read a source, assign splits, write ``Examples``.

``ingest(source, output_uri)`` reads CSV, Parquet, JSON lines, a SQL query or an in-memory frame in
batches, assigns each row to a split and writes ``{output_uri}/Split-{name}/part-NNNNN.parquet`` (the
``Examples`` layout). Nothing is published unless every split is complete; bad input raises a
``DataError`` that names the file, the line and the problem.

The modules, in the order data flows through them:

- ``sources``: what can be read (``CsvSource``, ``ParquetSource``, …) and ``IngestResult``.
- ``csv_check``: the CSV structure check (header, field counts, quotes, NUL bytes) over raw bytes.
- ``column_types``: declared column types (``column_types=``) and integers too wide for 64 bits.
- ``file_reader`` / ``readers``: readers of files, of a SQL query's result and of a DataFrame.
- ``writer``: the Parquet writer of the ``Examples`` parts.
- ``driver``: ``ingest`` itself, tying the reader, the split assignment and the writer together.
- ``diagnostics``: locating what is wrong in an input a reader refused.
- ``distributed``: ``ingest`` of file inputs as Ray tasks when a ``RayEngine`` is in force (same parts).
"""

from sluiceway.data.ingest.diagnostics import DEFAULT_MAX_COLUMNS
from sluiceway.data.ingest.driver import ingest
from sluiceway.data.ingest.sources import (
    DEFAULT_NULL_VALUES,
    CsvSource,
    DataFrameSource,
    IngestResult,
    JsonLinesSource,
    ParquetSource,
    Source,
    SqlSource,
)

__all__ = [
    "DEFAULT_MAX_COLUMNS",
    "DEFAULT_NULL_VALUES",
    "CsvSource",
    "DataFrameSource",
    "IngestResult",
    "JsonLinesSource",
    "ParquetSource",
    "Source",
    "SqlSource",
    "ingest",
]

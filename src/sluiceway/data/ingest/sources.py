"""What ingest reads (the sources) and what it reports back (``IngestResult``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

#: Cells read as missing in CSV files (pandas' and Arrow's usual markers).
DEFAULT_NULL_VALUES: tuple[str, ...] = (
    "", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None", "#N/A", "#NA",
)

@dataclass(frozen=True)
class CsvSource:
    """CSV files with a header row. ``pattern`` is one input pattern (see ``sluiceway.data.spans``) or a
    mapping of split name to pattern for pre-split input. ``column_types`` declares how to read some
    columns instead of inferring it: ``{"id": "string"}``; the types are those of
    ``sluiceway.data.ingest.column_types.COLUMN_TYPES`` (string, int64, float64, bool, date, datetime).

    Refused with a located ``DataError``: NUL bytes anywhere (they mean a binary or UTF-16 file), old-Mac
    CR-only line ends, UTF-16, ragged rows, unclosed quotes, a header without data rows, integers beyond
    64 bits in a column not declared ``string`` or ``float64``."""

    pattern: str | Mapping[str, str]
    delimiter: str = ","
    quote_char: str | None = '"'
    null_values: Sequence[str] = DEFAULT_NULL_VALUES
    try_parse_dates: bool = False
    column_types: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParquetSource:
    """Parquet files; ``pattern`` as for :class:`CsvSource`."""

    pattern: str | Mapping[str, str]


@dataclass(frozen=True)
class JsonLinesSource:
    """JSON lines files (one object a line); ``pattern`` and ``column_types`` as for :class:`CsvSource`."""

    pattern: str | Mapping[str, str]
    column_types: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SqlSource:
    """The result of a SQL query through SQLAlchemy 2. ``url`` is a database URL or an ``Engine``."""

    url: Any
    query: str
    span: int = 0


@dataclass(frozen=True, eq=False)
class DataFrameSource:
    """An in-memory pandas or Polars DataFrame (or LazyFrame, or pyarrow Table), for notebooks."""

    frame: Any
    span: int = 0


Source = Union[CsvSource, ParquetSource, JsonLinesSource, SqlSource, DataFrameSource]


@dataclass(frozen=True)
class IngestResult:
    """What :func:`ingest` wrote: the properties of the ``Examples`` artifact and where they came from."""

    uri: str
    split_names: tuple[str, ...]
    row_counts: Mapping[str, int]
    column_types: Mapping[str, str]
    span: int
    version: int | None
    input_files: tuple[str, ...]
    input_fingerprint: str
    split_files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def properties(self) -> dict[str, Any]:
        """The ``Examples`` artifact properties."""
        return {
            "split_names": list(self.split_names),
            "span": self.span,
            "version": self.version,
            "row_counts": dict(self.row_counts),
            "column_types": dict(self.column_types),
        }


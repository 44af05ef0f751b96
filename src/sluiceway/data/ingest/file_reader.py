"""The reader of files: CSV, JSON lines and Parquet, with spans, versions and pre-split patterns."""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sluiceway.data.ingest.column_types import check_integer_widths, polars_overrides
from sluiceway.data.ingest.csv_check import _read_csv_header, _StructureCheck
from sluiceway.data.ingest.diagnostics import (
    DEFAULT_MAX_COLUMNS,
    _check_column_count,
    _check_column_names,
    _check_nested_fields,
    _check_unique_columns,
    _locate_json_error,
    _locate_utf8_error,
    _reads_as_nan,
)
from sluiceway.data.ingest.readers import _NullMarkersNeeded, _Reader, _SchemaTooNarrow
from sluiceway.data.ingest.sources import CsvSource, JsonLinesSource, ParquetSource
from sluiceway.data.spans import ResolvedInput, resolve_pattern, resolve_splits
from sluiceway.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)

_SCHEMA_SAMPLE_ROWS = 10_000
#: Inputs at least this large are checked in a thread beside the reader.
_BACKGROUND_SCAN_BYTES = 32 << 20


class _FileReader(_Reader):
    #: Parquet only: read just these row groups of the (single) file; the distributed ingest sets it.
    row_groups: tuple[int, ...] | None = None

    def __init__(self, source: CsvSource | ParquetSource | JsonLinesSource, *, span: int | None,
                 version: int | None, max_columns: int, scan_structure: bool = True) -> None:
        self.source = source
        self.max_columns = max_columns
        self.resolved: dict[str | None, ResolvedInput]
        patterns = source.pattern if isinstance(source.pattern, Mapping) else {None: os.fspath(source.pattern)}
        if span is None and version is None and all(_names_a_file(p) for p in patterns.values()):
            # a path that names an existing file is that file, even with wildcard or placeholder characters
            # in its name (``train[1].csv``, ``a*b.csv``): span 0, no version, like a path without them
            self.resolved = {split: ResolvedInput(os.fspath(p), 0, None, (os.fspath(p),))
                             for split, p in patterns.items()}
        elif isinstance(source.pattern, Mapping):
            by_split = resolve_splits(source.pattern, span=span, version=version)
            self.resolved = {split: r for split, r in by_split.items()}
        else:
            self.resolved = {None: resolve_pattern(os.fspath(source.pattern), span=span, version=version)}
        resolved = self.resolved
        first = next(iter(resolved.values()))
        self.span, self.version = first.span, first.version
        self.files = tuple(f for r in resolved.values() for f in r.files)
        for path in self.files:
            if os.path.getsize(path) == 0:
                raise DataError(
                    f"Input file {path!r} is empty (0 bytes); expected {self._kind} data. Remove the file "
                    "from the input folder or write its data again."
                )
        if isinstance(source, CsvSource):
            self._check_csv_headers()
            if scan_structure:
                self.start_checks()

    @property
    def _kind(self) -> str:
        return {CsvSource: "CSV", ParquetSource: "Parquet", JsonLinesSource: "JSON lines"}[type(self.source)]

    # -- CSV
    def _check_csv_headers(self) -> None:
        source = self.source
        assert isinstance(source, CsvSource)
        self.header: list[str] | None = None
        for index, path in enumerate(self.files):
            header = _read_csv_header(path, source.delimiter, source.quote_char, self.max_columns)
            if self.header is None:
                self.header = header
            elif header != self.header:
                # The files before this one are checked first, as they would be read first.
                _StructureCheck(self.files[:index], self.header, source).run()
                raise DataError(
                    f"CSV file {path!r} has the columns {header}, but {self.files[0]!r} of the same input has "
                    f"{self.header}. Expected the same header in every file of a span. Fix the file's header."
                )
        assert self.header is not None
        self._overrides = polars_overrides(source.column_types, self.header, f"CSV file {self.files[0]!r}")

    def start_checks(self) -> None:
        """Start the checks that read every byte (CSV only): at once unless ``scan_structure=False`` deferred
        them (the distributed ingest runs them in its tasks, one file each, and here only when it does not
        distribute the input)."""
        source = self.source
        if not isinstance(source, CsvSource) or getattr(self, "_structure", None) is not None:
            return
        assert self.header is not None
        # The byte-level structure check (ragged rows, open quotes, zero rows, blank lines) reads every
        # byte: on large inputs it runs in a thread beside the Polars reader (NumPy releases the GIL),
        # and its verdict is awaited before anything is published, or to explain a reader error.
        self._structure = _StructureCheck(self.files, self.header, source)
        if sum(os.path.getsize(p) for p in self.files) < _BACKGROUND_SCAN_BYTES:
            self._structure.run()
        else:
            self._structure.start()

    def wait_checks(self) -> None:
        structure = getattr(self, "_structure", None)
        if structure is not None:
            structure.wait()

    def close(self) -> None:
        structure = getattr(self, "_structure", None)
        if structure is not None:
            structure.cancel()

    def _polars_csv_options(self, *, fast_nulls: bool = False) -> dict[str, Any]:
        source = self.source
        assert isinstance(source, CsvSource)
        null_values: list[str] | None = list(source.null_values)
        if fast_nulls:
            null_values = [""] if "" in source.null_values else None
        return {
            "separator": source.delimiter,
            "quote_char": source.quote_char,
            "null_values": null_values,
            "try_parse_dates": source.try_parse_dates,
            "raise_if_empty": True,
            "schema_overrides": self._overrides or None,
        }

    def _can_read_fast_nulls(self) -> bool:
        """Whether the batches may be read without Polars' null markers, applying them afterwards.

        Polars compares every field of every column with each marker (13 by default), which costs more
        than the parsing itself. A marker that is not a number can only be read, without the list, as text
        in a string column (replaced by null afterwards, the same as Polars does) or as a parse error in a
        typed column (then the batches are read again with the list). Markers that read as NaN ("NaN",
        "nan") are checked after parsing: a float column holding NaN is read again with the list."""
        source = self.source
        if not isinstance(source, CsvSource) or source.try_parse_dates or getattr(self, "_exact_nulls", False):
            return False
        for marker in source.null_values:
            if marker == "":
                continue
            if marker.strip().lower() in {"true", "false"}:
                return False
            try:
                value = float(marker)
            except ValueError:
                continue
            if value == value:  # a number, not NaN: it would parse silently
                return False
        return True

    def use_exact_nulls(self) -> None:
        self._exact_nulls = True

    def schema(self, *, full_inference: bool) -> pa.Schema:
        import polars as pl
        import pyarrow as pa
        from polars.exceptions import PanicException  # a Rust panic: a BaseException, caught as bad input

        length = None if full_inference else _SCHEMA_SAMPLE_ROWS
        if isinstance(self.source, ParquetSource):
            return self._parquet_schema()
        source = self.source
        try:
            if isinstance(source, CsvSource):
                lazy = pl.scan_csv(list(self.files), infer_schema_length=length, glob=False,
                                   infer_schema_files=len(self.files), **self._polars_csv_options())
                polars_schema = lazy.collect_schema()
            else:
                polars_schema = pl.scan_ndjson(_polars_paths(self.files), infer_schema_length=length).collect_schema()
                where = f"JSON lines input {list(self.files)}"
                _check_column_count(len(polars_schema), self.max_columns, where)
                _check_column_names(polars_schema.names(), where)  # before Polars' Arrow export panics on NUL
                _check_nested_fields(polars_schema, where)
                overrides = polars_overrides(source.column_types, polars_schema.names(), where)
                if overrides:
                    polars_schema = pl.Schema({**polars_schema, **overrides})
            delimiter, quote = (source.delimiter, source.quote_char) if isinstance(source, CsvSource) else (",", None)
            check_integer_widths(polars_schema, self.files, self._kind, delimiter, quote)
            empty = pl.DataFrame(schema=polars_schema).to_arrow()
        except DataError:
            raise
        except (Exception, PanicException) as exc:  # noqa: BLE001 - polars raises many error types for bad input
            raise self._diagnose(exc, None) from exc
        self._polars_schema = polars_schema
        return pa.schema(empty.schema)

    def _parquet_schema(self) -> pa.Schema:
        import pyarrow as pa

        schemas, total = [], 0
        for path in self.files:
            schema, rows = _parquet_schema_and_rows(path, self.max_columns)
            schemas.append(schema)
            total += rows
        try:
            unified = pa.unify_schemas(schemas, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(
                f"The Parquet files of span {self.span} have conflicting column types ({exc}); expected one "
                "type a column within a span. Rewrite the odd file or give its span separately."
            ) from exc
        if total == 0:
            raise DataError(
                f"The Parquet input {list(self.files)} has zero rows; expected at least one. Check the files."
            )
        return unified.remove_metadata()

    def batches(self, schema: pa.Schema, batch_rows: int) -> Iterator[tuple[str | None, pa.Table, str]]:
        for split, resolved in self.resolved.items():
            if isinstance(self.source, ParquetSource):
                yield from self._parquet_batches(split, resolved, schema, batch_rows)
            else:
                yield from self._polars_batches(split, resolved, batch_rows)

    def _parquet_batches(self, split: str | None, resolved: ResolvedInput, schema: pa.Schema,
                         batch_rows: int) -> Iterator[tuple[str | None, pa.Table, str]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        row_groups = list(self.row_groups) if self.row_groups is not None else None
        for path in resolved.files:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, row_groups=row_groups):
                table = pa.Table.from_batches([batch])
                for missing in (n for n in schema.names if n not in table.column_names):
                    table = table.append_column(missing, pa.nulls(table.num_rows, schema.field(missing).type))
                yield split, table.select(schema.names).cast(schema), f"Parquet file {path!r}"

    def _polars_batches(self, split: str | None, resolved: ResolvedInput,
                        batch_rows: int) -> Iterator[tuple[str | None, pa.Table, str]]:
        import polars as pl
        from polars.exceptions import PanicException  # a Rust panic: a BaseException, caught as bad input

        files = list(resolved.files)
        fast_nulls = self._can_read_fast_nulls()
        nan_check: pl.Expr | None = None
        if isinstance(self.source, CsvSource):
            lazy = pl.scan_csv(files, schema=self._polars_schema, glob=False,
                               **self._polars_csv_options(fast_nulls=fast_nulls))
            if fast_nulls:
                markers = [m for m in self.source.null_values if m != ""]
                strings = [n for n, t in self._polars_schema.items() if t == pl.String]
                if markers and strings:  # in the query: Polars applies them on its threads, batch by batch
                    lazy = lazy.with_columns(pl.when(pl.col(n).is_in(markers)).then(None).otherwise(pl.col(n)).alias(n)
                                             for n in strings)
                floats = [n for n, t in self._polars_schema.items() if t in (pl.Float32, pl.Float64)]
                if floats and any(_reads_as_nan(m) for m in markers):
                    nan_check = pl.any_horizontal(pl.col(floats).is_nan()).any()
        else:
            lazy = pl.scan_ndjson(_polars_paths(files), schema=self._polars_schema)
        where = f"{self._kind} file {files[0]!r}" if len(files) == 1 else f"{self._kind} files {files}"
        iterator = iter(lazy.collect_batches(chunk_size=batch_rows))
        structure = getattr(self, "_structure", None)
        while True:
            try:
                frame = next(iterator)
            except StopIteration:
                return
            except (Exception, PanicException) as exc:  # noqa: BLE001
                self.wait_checks()  # a ragged row or an open quote explains the reader's error best
                if fast_nulls:
                    raise _NullMarkersNeeded(str(exc)) from exc
                if "could not parse" in str(exc) or "cannot parse" in str(exc) or "failed to parse" in str(exc):
                    raise _SchemaTooNarrow(
                        f"{where} has values that do not fit the column types inferred from its first "
                        f"{_SCHEMA_SAMPLE_ROWS} rows, even after inferring over whole files: {exc}"
                    ) from exc
                raise self._diagnose(exc, files) from exc
            if nan_check is not None and frame.select(nan_check).item():
                raise _NullMarkersNeeded("a float column holds NaN, which may have been a null marker")
            # Polars reads a blank line as a row of nulls; readers such as pandas skip it, and so do we.
            # Only a batch with an all-null row needs the structure check's count of blank lines, and only
            # a batch whose every column holds a null can have one (null counts are known without a scan).
            if structure is not None and frame.width > 1 and min(c.null_count() for c in frame.iter_columns()):
                all_null = pl.all_horizontal(pl.all().is_null())
                if frame.select(all_null.any()).item():
                    structure.wait()
                    if structure.blank_lines:
                        frame = frame.filter(~all_null)
            yield split, frame.to_arrow(), where

    def _diagnose(self, exc: BaseException, files: list[str] | None) -> DataError:
        """Turn a reader's error into a DataError that names the file, the line and the problem."""
        self.wait_checks()
        for path in files or self.files:
            problem = _locate_utf8_error(path)
            if problem is None and isinstance(self.source, JsonLinesSource):
                problem = _locate_json_error(path)
            if problem is not None:
                return DataError(f"{self._kind} file {path!r}: {problem}")
        where = files or list(self.files)
        return DataError(
            f"Cannot read {self._kind} input {where}: {exc}. Expected well-formed {self._kind}. Check the file "
            "named above around the position the reader reports."
        )



def _names_a_file(pattern: object) -> bool:
    return isinstance(pattern, (str, os.PathLike)) and os.path.isfile(pattern)


def _polars_paths(files: Sequence[str]) -> list[str]:
    """Resolved file names for a Polars reader that expands globs (``scan_ndjson`` has no ``glob=False``):
    ``[``, ``*`` and ``?`` in a name are escaped so that ``t[1].jsonl`` is read as that file."""
    return [glob.escape(f) for f in files]


def _parquet_schema_and_rows(path: str, max_columns: int) -> tuple[pa.Schema, int]:
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_metadata(path)
        schema = metadata.schema.to_arrow_schema()
    except Exception as exc:  # noqa: BLE001 - pyarrow's errors for corrupt files vary
        raise DataError(
            f"Parquet file {path!r} cannot be read ({exc}); expected a Parquet file. Replace or remove it."
        ) from exc
    _check_column_count(len(schema), max_columns, f"Parquet file {path!r}")
    _check_unique_columns(schema.names, f"Parquet file {path!r}")
    return schema, metadata.num_rows


def check_parquet_file(path: str, max_columns: int = DEFAULT_MAX_COLUMNS) -> None:
    """Refuse a Parquet file that ingest would refuse (unreadable, zero rows or columns, too wide, duplicate or
    unusable column names), with the same ``DataError``: for readers of Parquet outside ingest (``sluiceway
    stats file.parquet``), so that every source behaves the same."""
    schema, rows = _parquet_schema_and_rows(path, max_columns)
    if len(schema) == 0:
        raise DataError(f"Parquet file {path!r} has no columns; expected at least one column. Check the file.")
    _check_column_names(schema.names, f"Parquet file {path!r}")
    if rows == 0:
        raise DataError(f"Parquet file {path!r} has zero rows; expected at least one. Check the file.")

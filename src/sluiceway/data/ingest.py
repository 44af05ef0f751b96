"""Ingestion behind the ExampleGen components: read a source, assign splits, write ``Examples``.

``ingest(source, output_uri)`` reads CSV, Parquet, JSON lines, a SQL query or an in-memory frame in
batches, assigns each row to a split and writes ``{output_uri}/Split-{name}/part-NNNNN.parquet`` (the
``Examples`` layout). Parts are written under an ``.inprogress`` name and renamed only once every split
is complete; on any error everything written is removed before the error propagates.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from sluiceway.data.spans import ResolvedInput, input_fingerprint, resolve_pattern, resolve_splits
from sluiceway.data.splits import HashSplit, TimeSplit, _check_split_name, hash_rows
from sluiceway.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)

#: Cells read as missing in CSV files (pandas' and Arrow's usual markers).
DEFAULT_NULL_VALUES: tuple[str, ...] = (
    "", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None", "#N/A", "#NA",
)
_BATCH_ROWS = 250_000
_SCHEMA_SAMPLE_ROWS = 10_000
_SCAN_CHUNK_BYTES = 8 << 20
#: Parquet row groups: at least this many rows (unless a split is smaller), at most the maximum.
_ROW_GROUP_ROWS = 128 * 1024
_MAX_ROW_GROUP_ROWS = 256 * 1024
_ZSTD_LEVEL = 1
_DICTIONARY_SAMPLE_ROWS = 8192
_WRITES_IN_FLIGHT = 1
#: Inputs at least this large are checked in a thread beside the reader.
_BACKGROUND_SCAN_BYTES = 32 << 20


# --------------------------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class CsvSource:
    """CSV files with a header row. ``pattern`` is one input pattern (see ``sluiceway.data.spans``) or a
    mapping of split name to pattern for pre-split input."""

    pattern: str | Mapping[str, str]
    delimiter: str = ","
    quote_char: str | None = '"'
    null_values: Sequence[str] = DEFAULT_NULL_VALUES
    try_parse_dates: bool = False


@dataclass(frozen=True)
class ParquetSource:
    """Parquet files; ``pattern`` as for :class:`CsvSource`."""

    pattern: str | Mapping[str, str]


@dataclass(frozen=True)
class JsonLinesSource:
    """JSON lines files (one object a line); ``pattern`` as for :class:`CsvSource`."""

    pattern: str | Mapping[str, str]


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


# ------------------------------------------------------------------------------------------------ ingest
def ingest(
    source: Source,
    output_uri: str | os.PathLike[str],
    *,
    splits: HashSplit | TimeSplit | None = None,
    span: int | None = None,
    version: int | None = None,
    rows_per_file: int = 5_000_000,
    batch_rows: int = _BATCH_ROWS,
) -> IngestResult:
    """Read ``source`` and write it as ``Examples`` under ``output_uri``.

    ``splits`` defaults to ``HashSplit()`` (train:eval = 2:1 by row hash); pre-split sources (a mapping of
    split name to pattern) take their splits from the mapping and must leave ``splits`` unset. ``span`` and
    ``version`` pick a span/version of the pattern (default: the latest). Raises ``DataError`` for unusable
    input, leaving no Parquet file behind.
    """
    output = os.fspath(output_uri)
    pattern = getattr(source, "pattern", None)
    presplit = isinstance(pattern, Mapping)
    if presplit and splits is not None:
        raise DataError(
            f"The source is pre-split (one pattern per split: {sorted(pattern)}), so it cannot also be split "
            f"by {type(splits).__name__}. Leave splits unset, or give a single pattern."
        )
    if not presplit and splits is None:
        splits = HashSplit()
    if rows_per_file < 1 or batch_rows < 1:
        raise DataError(f"rows_per_file and batch_rows must be >= 1; got {rows_per_file} and {batch_rows}.")

    reader = _reader_for(source, span=span, version=version)
    try:
        split_names, schema, writer, split_files = _ingest_with(reader, source, output, splits, presplit,
                                                                rows_per_file, batch_rows)
    except Exception as exc:
        # Checks that run beside the reader found the root cause (a ragged row, an open quote): report it.
        try:
            reader.wait_checks()
        except DataError as found:
            if found is exc:
                raise
            raise found from exc
        raise
    finally:
        reader.close()

    return IngestResult(
        uri=output,
        split_names=tuple(split_names),
        row_counts=MappingProxyType(dict(zip(split_names, writer.row_counts))),
        column_types=MappingProxyType({f.name: str(f.type) for f in schema}),
        span=reader.span,
        version=reader.version,
        input_files=reader.files,
        input_fingerprint=reader.fingerprint(),
        split_files=MappingProxyType(split_files),
    )


def _ingest_with(reader: _Reader, source: Source, output: str, splits: HashSplit | TimeSplit | None,
                 presplit: bool, rows_per_file: int,
                 batch_rows: int) -> tuple[list[str], pa.Schema, _ExamplesWriter, dict[str, tuple[str, ...]]]:
    pattern = getattr(source, "pattern", None)
    split_names = list(pattern) if presplit else list(splits.split_names)  # type: ignore[union-attr,arg-type]
    for name in split_names:
        _check_split_name(name)
    _check_output(output, split_names)

    attempt = 0
    while attempt < 2:
        writer = _ExamplesWriter(output, split_names, rows_per_file)
        try:
            schema = reader.schema(full_inference=attempt == 1)
            for split, table, where in reader.batches(schema, batch_rows):
                if split is not None:
                    writer.write(split_names.index(split), table)
                else:
                    assignment = splits.assign(table, source=where)  # type: ignore[union-attr]
                    writer.write_assigned(table, assignment)
            reader.wait_checks()
            writer.flush()
            if sum(writer.row_counts) == 0:
                raise DataError(
                    f"The input {list(reader.files) or type(source).__name__} has zero data rows; expected at "
                    "least one. Check the input."
                )
            split_files = writer.finish(schema)
        except _NullMarkersNeeded as exc:
            writer.abort()
            logger.info("Reading again with null markers applied by the reader: %s", exc)
            reader.use_exact_nulls()  # type: ignore[attr-defined]
            continue
        except _SchemaTooNarrow as exc:
            writer.abort()
            if attempt == 1:
                raise DataError(str(exc)) from exc
            logger.info("Re-inferring column types over whole files: %s", exc)
            attempt += 1
            continue
        except BaseException:
            writer.abort()
            raise
        break
    return split_names, schema, writer, split_files


def _check_output(output: str, split_names: list[str]) -> None:
    if os.path.exists(output) and not os.path.isdir(output):
        raise DataError(f"Output {output!r} is a file; ingest writes Examples into a folder. Give a folder path.")
    for name in split_names:
        folder = os.path.join(output, f"Split-{name}")
        if os.path.isdir(folder) and any(f.endswith(".parquet") for f in os.listdir(folder)):
            raise DataError(
                f"Output folder {folder!r} already holds Parquet parts; ingest writes into an empty folder so "
                "that no old rows mix with new ones. Give a fresh output folder."
            )


class _NullMarkersNeeded(Exception):
    """The fast CSV read (null markers applied after parsing) cannot reproduce the exact read; redo it."""


class _SchemaTooNarrow(Exception):
    """A later batch did not fit the types inferred from a sample; retry with whole-file inference."""


# ------------------------------------------------------------------------------------------------ writer
class _ExamplesWriter:
    """Parquet parts of every split. Rows are buffered per split into row groups of about
    ``_ROW_GROUP_ROWS`` rows (the statistics engine works a row group at a time), and each split's parts are
    encoded in a thread of their own (Arrow's Parquet writer releases the GIL), so that encoding overlaps
    with reading and hashing the next batch."""

    def __init__(self, output: str, split_names: list[str], rows_per_file: int) -> None:
        self.output = output
        self.split_names = split_names
        self.rows_per_file = rows_per_file
        self.row_counts = [0] * len(split_names)
        self._writers: list[Any] = [None] * len(split_names)
        self._rows_in_file = [0] * len(split_names)
        self._parts: list[list[str]] = [[] for _ in split_names]
        self._created_dirs: list[str] = []
        self._created_files: list[str] = []
        self._buffers: list[list[pa.Table]] = [[] for _ in split_names]
        self._buffered = [0] * len(split_names)
        self._pending: list[list[Future[None]]] = [[] for _ in split_names]
        self._dictionary_columns: list[str] | None = None
        self._pools: list[ThreadPoolExecutor | None] = [None] * len(split_names)
        self._lock = threading.Lock()

    def _folder(self, index: int) -> str:
        folder = os.path.join(self.output, f"Split-{self.split_names[index]}")
        with self._lock:
            if not os.path.isdir(folder):
                for path in (self.output, folder):
                    if not os.path.isdir(path):
                        os.makedirs(path)
                        self._created_dirs.append(path)
        return folder

    def _open(self, index: int, schema: pa.Schema) -> Any:
        import pyarrow.parquet as pq

        part = os.path.join(self._folder(index), f"part-{len(self._parts[index]):05d}.parquet.inprogress")
        with self._lock:
            self._created_files.append(part)
        self._parts[index].append(part)
        self._rows_in_file[index] = 0
        writer = pq.ParquetWriter(part, schema, compression="zstd", compression_level=_ZSTD_LEVEL,
                                  use_dictionary=self._dictionary_columns if self._dictionary_columns is not None
                                  else True)
        self._writers[index] = writer
        return writer

    def _choose_dictionary_columns(self, table: pa.Table) -> None:
        """Dictionary-encode only columns that repeat values in the first rows: building a dictionary for a
        column of distinct values (ids, coordinates) costs time and saves nothing. Decided once, from the
        first rows, so the same input always gives the same bytes."""
        import pyarrow.compute as pc

        if self._dictionary_columns is not None:
            return
        sample = table.slice(0, _DICTIONARY_SAMPLE_ROWS)
        if sample.num_rows < _DICTIONARY_SAMPLE_ROWS:
            self._dictionary_columns = list(table.column_names)  # too few rows to judge: Arrow's default
            return
        chosen = []
        for name in table.column_names:
            try:
                distinct = pc.count_distinct(sample.column(name), mode="all").as_py()
            except Exception:  # noqa: BLE001 - types without a distinct-count kernel keep the default
                distinct = 0
            if distinct * 2 <= sample.num_rows:
                chosen.append(name)
        self._dictionary_columns = chosen

    def _write_now(self, index: int, table: pa.Table) -> None:
        offset = 0
        while offset < table.num_rows:
            writer = self._writers[index]
            if writer is None or self._rows_in_file[index] >= self.rows_per_file:
                if writer is not None:
                    writer.close()
                writer = self._open(index, table.schema)
            room = self.rows_per_file - self._rows_in_file[index]
            piece = table.slice(offset, room)
            writer.write_table(piece, row_group_size=_MAX_ROW_GROUP_ROWS)
            self._rows_in_file[index] += piece.num_rows
            offset += piece.num_rows

    def _submit(self, index: int, table: pa.Table) -> None:
        pool = self._pools[index]
        if pool is None:
            # One thread a split keeps each split's parts in order.
            pool = self._pools[index] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sluiceway-parquet")
        pending = self._pending[index]
        pending.append(pool.submit(self._write_now, index, table))
        while len(pending) > _WRITES_IN_FLIGHT:  # bounds the rows waiting in memory
            pending.pop(0).result()

    def write(self, index: int, table: pa.Table) -> None:
        import pyarrow as pa

        if table.num_rows == 0:
            return
        self._choose_dictionary_columns(table)
        self.row_counts[index] += table.num_rows
        self._buffers[index].append(table)
        self._buffered[index] += table.num_rows
        if self._buffered[index] >= _ROW_GROUP_ROWS:
            self._flush(index, pa)

    def _flush(self, index: int, pa: Any) -> None:
        buffered = self._buffers[index]
        if not buffered:
            return
        table = buffered[0] if len(buffered) == 1 else pa.concat_tables(buffered)
        self._buffers[index], self._buffered[index] = [], 0
        self._submit(index, table)

    def write_assigned(self, table: pa.Table, assignment: np.ndarray) -> None:
        if len(self.split_names) == 1:
            self.write(0, table)
            return
        for index in range(len(self.split_names)):
            mask = assignment == index
            if mask.all():
                self.write(index, table)
            elif mask.any():
                self.write(index, table.filter(_boolean_array(mask)))

    def flush(self) -> None:
        """Write what is buffered and wait for every part to be written (raising the first error)."""
        import pyarrow as pa

        for index in range(len(self.split_names)):
            self._flush(index, pa)
        for pending in self._pending:
            while pending:
                pending.pop(0).result()

    def finish(self, schema: pa.Schema) -> dict[str, tuple[str, ...]]:
        self.flush()
        self._shutdown()
        for index, writer in enumerate(self._writers):
            if writer is None:  # an empty split still gets one (empty) part, so readers see its columns
                writer = self._open(index, schema)
            writer.close()
        self._writers = [None] * len(self.split_names)
        final: dict[str, tuple[str, ...]] = {}
        for index, parts in enumerate(self._parts):
            names = []
            for part in parts:
                done = part[: -len(".inprogress")]
                os.replace(part, done)
                self._created_files.append(done)
                names.append(done)
            final[self.split_names[index]] = tuple(names)
        return final

    def _shutdown(self) -> None:
        for index, pool in enumerate(self._pools):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
                self._pools[index] = None

    def abort(self) -> None:
        for pending in self._pending:
            for future in pending:
                future.cancel()
        self._shutdown()  # running writes finish before their files are removed
        self._pending = [[] for _ in self.split_names]
        for writer in self._writers:
            if writer is not None:
                try:
                    writer.close()
                except Exception:  # noqa: BLE001 - already failing; cleaning up is what matters
                    pass
        for path in self._created_files:
            if os.path.exists(path):
                os.remove(path)
        for path in reversed(self._created_dirs):
            try:
                os.rmdir(path)
            except OSError:
                pass


def _boolean_array(mask: np.ndarray) -> pa.Array:
    """A NumPy bool mask as an Arrow BooleanArray, built from its bits (``pa.array`` would import pandas)."""
    import pyarrow as pa

    bits = np.packbits(mask, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(mask), [None, pa.py_buffer(bits)])


# ----------------------------------------------------------------------------------------------- readers
class _Reader:
    span: int = 0
    version: int | None = None
    files: tuple[str, ...] = ()

    def schema(self, *, full_inference: bool) -> pa.Schema:
        raise NotImplementedError

    def batches(self, schema: pa.Schema, batch_rows: int) -> Iterator[tuple[str | None, pa.Table, str]]:
        """(split name or None for 'assign', table, description of where the rows came from)."""
        raise NotImplementedError

    def fingerprint(self) -> str:
        return input_fingerprint(self.files)

    def wait_checks(self) -> None:
        """Wait for checks running beside the reader; raise the DataError they found, if any."""

    def close(self) -> None:
        """Stop checks still running (after an error)."""

    def use_exact_nulls(self) -> None:
        """Let the reader apply null markers itself (the slower, always exact way)."""


def _reader_for(source: Source, *, span: int | None, version: int | None) -> _Reader:
    if isinstance(source, (CsvSource, ParquetSource, JsonLinesSource)):
        return _FileReader(source, span=span, version=version)
    if isinstance(source, SqlSource):
        return _SqlReader(source)
    if isinstance(source, DataFrameSource):
        return _FrameReader(source)
    raise DataError(
        f"ingest got a source of type {type(source).__name__}; expected CsvSource, ParquetSource, "
        "JsonLinesSource, SqlSource or DataFrameSource. Wrap your input in one of those."
    )


class _FileReader(_Reader):
    def __init__(self, source: CsvSource | ParquetSource | JsonLinesSource, *, span: int | None,
                 version: int | None) -> None:
        self.source = source
        if isinstance(source.pattern, Mapping):
            resolved = resolve_splits(source.pattern, span=span, version=version)
        else:
            resolved = {None: resolve_pattern(os.fspath(source.pattern), span=span, version=version)}
        self.resolved: dict[str | None, ResolvedInput] = resolved  # type: ignore[assignment]
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

    @property
    def _kind(self) -> str:
        return {CsvSource: "CSV", ParquetSource: "Parquet", JsonLinesSource: "JSON lines"}[type(self.source)]

    # -- CSV
    def _check_csv_headers(self) -> None:
        source = self.source
        assert isinstance(source, CsvSource)
        self.header: list[str] | None = None
        for index, path in enumerate(self.files):
            header = _read_csv_header(path, source.delimiter, source.quote_char)
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

        length = None if full_inference else _SCHEMA_SAMPLE_ROWS
        if isinstance(self.source, ParquetSource):
            return self._parquet_schema()
        try:
            if isinstance(self.source, CsvSource):
                lazy = pl.scan_csv(list(self.files), infer_schema_length=length,
                                   infer_schema_files=len(self.files), **self._polars_csv_options())
            else:
                lazy = pl.scan_ndjson(list(self.files), infer_schema_length=length)
            polars_schema = lazy.collect_schema()
            empty = pl.DataFrame(schema=polars_schema).to_arrow()
        except Exception as exc:  # noqa: BLE001 - polars raises many error types for bad input
            raise self._diagnose(exc, None) from exc
        self._polars_schema = polars_schema
        return pa.schema(empty.schema)

    def _parquet_schema(self) -> pa.Schema:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schemas = []
        for path in self.files:
            try:
                schemas.append(pq.read_schema(path))
            except Exception as exc:  # noqa: BLE001 - pyarrow's errors for corrupt files vary
                raise DataError(
                    f"Parquet file {path!r} cannot be read ({exc}); expected a Parquet file. Replace or "
                    "remove it."
                ) from exc
            _check_unique_columns(schemas[-1].names, f"Parquet file {path!r}")
        try:
            schema = pa.unify_schemas(schemas, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(
                f"The Parquet files of span {self.span} have conflicting column types ({exc}); expected one "
                "type a column within a span. Rewrite the odd file or give its span separately."
            ) from exc
        total = sum(pq.ParquetFile(p).metadata.num_rows for p in self.files)
        if total == 0:
            raise DataError(
                f"The Parquet input {list(self.files)} has zero rows; expected at least one. Check the files."
            )
        return schema.remove_metadata()

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

        for path in resolved.files:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
                table = pa.Table.from_batches([batch])
                for missing in (n for n in schema.names if n not in table.column_names):
                    table = table.append_column(missing, pa.nulls(table.num_rows, schema.field(missing).type))
                yield split, table.select(schema.names).cast(schema), f"Parquet file {path!r}"

    def _polars_batches(self, split: str | None, resolved: ResolvedInput,
                        batch_rows: int) -> Iterator[tuple[str | None, pa.Table, str]]:
        import polars as pl

        files = list(resolved.files)
        fast_nulls = self._can_read_fast_nulls()
        after_read: list[pl.Expr] = []
        nan_check: pl.Expr | None = None
        if isinstance(self.source, CsvSource):
            lazy = pl.scan_csv(files, schema=self._polars_schema,
                               **self._polars_csv_options(fast_nulls=fast_nulls))
            if fast_nulls:
                markers = [m for m in self.source.null_values if m != ""]
                strings = [n for n, t in self._polars_schema.items() if t == pl.String]
                if markers and strings:
                    after_read = [pl.when(pl.col(n).is_in(markers)).then(None).otherwise(pl.col(n)).alias(n)
                                  for n in strings]
                floats = [n for n, t in self._polars_schema.items() if t in (pl.Float32, pl.Float64)]
                if floats and any(_reads_as_nan(m) for m in markers):
                    nan_check = pl.any_horizontal(pl.col(floats).is_nan()).any()
        else:
            lazy = pl.scan_ndjson(files, schema=self._polars_schema)
        where = f"{self._kind} file {files[0]!r}" if len(files) == 1 else f"{self._kind} files {files}"
        iterator = iter(lazy.collect_batches(chunk_size=batch_rows))
        structure = getattr(self, "_structure", None)
        while True:
            try:
                frame = next(iterator)
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001
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
            if after_read:
                frame = frame.with_columns(after_read)
            # Polars reads a blank line as a row of nulls; readers such as pandas skip it, and so do we.
            # Only a batch with an all-null row needs the structure check's count of blank lines.
            if structure is not None and frame.width > 1:
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


class _SqlReader(_Reader):
    def __init__(self, source: SqlSource) -> None:
        self.source = source
        self.span = source.span
        self._table: pa.Table | None = None

    def _load(self) -> pa.Table:
        import polars as pl
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import Connection, Engine

        if self._table is not None:
            return self._table
        url = self.source.url
        engine = url if isinstance(url, (Engine, Connection)) else create_engine(url)
        try:
            with (engine.connect() if isinstance(engine, Engine) else _nullcontext(engine)) as connection:
                result = connection.execute(text(self.source.query))
                names = list(result.keys())
                _check_unique_columns(names, f"The result of SQL query {self.source.query!r}")
                rows = result.fetchall()
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - DBAPI errors differ by driver
            raise DataError(
                f"SQL query {self.source.query!r} failed on {_safe_url(url)}: {exc}. Expected a query that "
                "runs and returns rows. Fix the query or the database URL."
            ) from exc
        if not rows:
            raise DataError(
                f"SQL query {self.source.query!r} on {_safe_url(url)} returned zero rows; expected at least one. "
                "Check the query's filters."
            )
        frame = pl.DataFrame([tuple(r) for r in rows], schema=names, orient="row", infer_schema_length=None)
        self._table = frame.to_arrow()
        return self._table

    def schema(self, *, full_inference: bool) -> pa.Schema:
        return self._load().schema

    def batches(self, schema: pa.Schema, batch_rows: int) -> Iterator[tuple[str | None, pa.Table, str]]:
        table = self._load()
        for offset in range(0, table.num_rows, batch_rows):
            yield None, table.slice(offset, batch_rows), f"the result of SQL query {self.source.query!r}"

    def fingerprint(self) -> str:
        # The database cannot be fingerprinted cheaply; the query and the database identify the input.
        text = f"{_safe_url(self.source.url)}\0{self.source.query}"
        return "sql-sha256:" + hashlib.sha256(text.encode()).hexdigest()


class _FrameReader(_Reader):
    def __init__(self, source: DataFrameSource) -> None:
        self.source = source
        self.span = source.span
        self.table = _frame_to_arrow(source.frame)
        if self.table.num_rows == 0:
            raise DataError(
                f"The DataFrame given to ingest has columns {self.table.column_names} but zero rows; expected "
                "at least one row. Check how the frame was built."
            )

    def schema(self, *, full_inference: bool) -> pa.Schema:
        return self.table.schema

    def batches(self, schema: pa.Schema, batch_rows: int) -> Iterator[tuple[str | None, pa.Table, str]]:
        for offset in range(0, self.table.num_rows, batch_rows):
            yield None, self.table.slice(offset, batch_rows), "the DataFrame"

    def fingerprint(self) -> str:
        digest = hashlib.sha256(str(self.table.schema).encode())
        digest.update(hash_rows(self.table, self.table.column_names).tobytes())
        return "frame-sha256:" + digest.hexdigest()


def _frame_to_arrow(frame: Any) -> pa.Table:
    import pyarrow as pa

    module = type(frame).__module__.split(".")[0]
    if isinstance(frame, pa.Table):
        table = frame
    elif module == "polars":
        import polars as pl

        if isinstance(frame, pl.LazyFrame):
            frame = frame.collect()
        if not isinstance(frame, pl.DataFrame):
            raise DataError(f"DataFrameSource got a Polars {type(frame).__name__}; expected a DataFrame or LazyFrame.")
        table = frame.to_arrow()
    elif module == "pandas":
        names = [str(c) for c in frame.columns]
        _check_unique_columns(names, "The pandas DataFrame")
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(
                f"The pandas DataFrame cannot be converted to Arrow ({exc}); expected one type a column. Cast the "
                "mixed column, e.g. df[col] = df[col].astype(str)."
            ) from exc
    else:
        raise DataError(
            f"DataFrameSource got a {type(frame).__module__}.{type(frame).__name__}; expected a pandas or Polars "
            "DataFrame, a Polars LazyFrame or a pyarrow Table."
        )
    _check_unique_columns(table.column_names, "The DataFrame")
    return table.replace_schema_metadata(None)


# ---------------------------------------------------------------------------------- CSV structure check
class _StructureCheck:
    """The structure scan of every CSV file of an input, in order; run inline or in a thread."""

    def __init__(self, files: Sequence[str], header: list[str], source: CsvSource) -> None:
        self.files = list(files)
        self.header = header
        self.source = source
        self.blank_lines = 0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._cancelled = threading.Event()

    def run(self) -> None:
        for path in self.files:
            if self._cancelled.is_set():
                return
            data_rows, blank_lines = _scan_csv_structure(path, len(self.header), self.source.delimiter,
                                                         self.source.quote_char, self._cancelled)
            self.blank_lines += blank_lines
            if data_rows == 0 and not self._cancelled.is_set():
                raise DataError(
                    f"CSV file {path!r} has a header ({len(self.header)} columns) but zero data rows; expected at "
                    "least one row after the header. Remove the file or write its rows again."
                )

    def _run_in_thread(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            self._error = exc

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run_in_thread, name="sluiceway-csv-check", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error.with_traceback(None)

    def cancel(self) -> None:
        self._cancelled.set()
        if self._thread is not None:
            self._thread.join()


# ------------------------------------------------------------------------------------- CSV diagnostics
def _reads_as_nan(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return value != value


def _check_unique_columns(names: Sequence[str], where: str) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names):
        if name in seen:
            raise DataError(
                f"{where} has the column name {name!r} twice (columns {seen[name] + 1} and {position + 1}); "
                "expected unique column names. Rename one of them."
            )
        seen[name] = position


def _read_csv_header(path: str, delimiter: str, quote_char: str | None) -> list[str]:
    with open(path, "rb") as handle:
        raw = handle.readline(1 << 20)
    try:
        line = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"CSV file {path!r} line 1 (the header) is not UTF-8: byte {exc.start} is {raw[exc.start]:#04x}. "
            "Expected UTF-8 text. Re-encode the file, e.g. iconv -f latin1 -t utf-8."
        ) from None
    kwargs: dict[str, Any] = {"delimiter": delimiter}
    kwargs.update({"quotechar": quote_char} if quote_char else {"quoting": csv.QUOTE_NONE})
    header = next(csv.reader(io.StringIO(line), **kwargs), [])
    if not header or header == [""]:
        raise DataError(
            f"CSV file {path!r} line 1 is blank; expected a header row with column names. Add the header."
        )
    for position, name in enumerate(header):
        if not name.strip():
            raise DataError(
                f"CSV file {path!r} header (line 1) has an empty column name at column {position + 1}; "
                "expected a name for every column. Name it."
            )
    _check_unique_columns(header, f"CSV file {path!r} header (line 1)")
    return header


def _bitmask(mask: np.ndarray) -> np.ndarray:
    """A boolean byte mask as little-endian 64-bit words, one bit a byte (zero-padded to whole words)."""
    packed = np.packbits(mask, bitorder="little")
    if packed.size % 8:
        packed = np.concatenate((packed, np.zeros(8 - packed.size % 8, dtype=np.uint8)))
    return packed.view("<u8")


def _prefix_xor(words: np.ndarray) -> np.ndarray:
    """Within each 64-bit word, bit j becomes the XOR of bits 0..j (quote parity inside the word)."""
    x = words.copy()
    for shift in (1, 2, 4, 8, 16, 32):
        x ^= x << np.uint64(shift)
    return x


def _bit_positions(words: np.ndarray) -> np.ndarray:
    """The byte positions of the set bits of a bitmap, ascending (cheap when few bits are set)."""
    index = np.flatnonzero(words)
    remaining, base = words[index], index.astype(np.int64) * 64
    found = []
    one = np.uint64(1)
    while remaining.size:
        lowest = remaining & (~remaining + one)
        found.append(base + np.bitwise_count(lowest - one).astype(np.int64))
        remaining = remaining & (remaining - one)
        more = remaining != 0
        remaining, base = remaining[more], base[more]
    if not found:
        return np.empty(0, dtype=np.int64)
    positions = np.concatenate(found) if len(found) > 1 else found[0]
    if len(found) > 1:
        positions.sort()
    return positions


def _bits_before(words: np.ndarray, prefix: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """How many bits of ``words`` are set before each byte position (``prefix``: popcounts before each word)."""
    index = positions >> 6
    below = (np.uint64(1) << (positions & 63).astype(np.uint64)) - np.uint64(1)
    return prefix[index] + np.bitwise_count(words[index] & below).astype(np.int64)


def _scan_csv_structure(path: str, columns: int, delimiter: str, quote_char: str | None,
                        cancelled: threading.Event | None = None) -> tuple[int, int]:
    """Check every record has ``columns`` fields and every quote is closed.

    Returns (data rows, blank lines).

    Vectorized over the raw bytes as bitmaps (one bit a byte, 64 bytes a word, as simdjson does): a
    delimiter or newline counts only outside quotes, i.e. where the number of quote characters before it
    is even (RFC 4180: an escaped quote "" adds two). Quote parity is a prefix XOR inside each word plus
    the parity of all quotes in earlier words; fields a record are differences of delimiter popcounts
    between its newlines.
    """
    delim = ord(delimiter)
    quote = ord(quote_char) if quote_char else -1
    newline = ord("\n")
    parity = 0  # quote parity at the chunk start
    fields_open = 0  # delimiters seen in the record that spans the chunk boundary
    record_bytes = 0  # bytes of the record that spans the chunk boundary (to skip blank lines)
    record_start = 0  # absolute byte offset where the current record starts
    data_rows = -1  # the header is the first record
    blank_lines = 0
    consumed = 0
    all_ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_SCAN_CHUNK_BYTES)
            if cancelled is not None and cancelled.is_set():
                return 0, 0
            if not chunk:
                break
            data = np.frombuffer(chunk, dtype=np.uint8)
            delims = _bitmask(data == delim)
            newlines = _bitmask(data == newline)
            if quote >= 0 and (parity or chunk.find(bytes([quote])) >= 0):
                quotes = _bitmask(data == quote)
                counts_in_word = np.bitwise_count(quotes).astype(np.int64)
                before = np.cumsum(counts_in_word) - counts_in_word + parity
                inside = _prefix_xor(quotes)
                inside ^= np.where(before & 1, all_ones, np.uint64(0))
                parity = int(before[-1] + counts_in_word[-1]) & 1
                outside = ~inside
                delims &= outside
                newlines &= outside
            ends = _bit_positions(newlines)
            delim_counts = np.bitwise_count(delims).astype(np.int64)
            total_delims = int(delim_counts.sum())
            if ends.size:
                prefix = np.cumsum(delim_counts) - delim_counts
                # Delimiters a record: the delimiters before its newline minus those before the last one.
                cumulative = _bits_before(delims, prefix, ends)
                counts = np.diff(cumulative, prepend=0)
                counts[0] += fields_open
                tail = total_delims - int(cumulative[-1])
                starts = np.empty_like(ends)
                starts[0] = -1 - record_bytes
                starts[1:] = ends[:-1]
                lengths = ends - starts - 1  # bytes in each record, without the newline
                # A blank line (maybe a lone \r) is skipped, as readers do.
                blank = (counts == 0) & ((lengths == 0) | ((lengths == 1) & (data[np.maximum(ends - 1, 0)] == 13)))
                bad = np.flatnonzero((counts != columns - 1) & ~blank)
                if bad.size:
                    first = int(bad[0])
                    start = consumed + int(starts[first]) + 1 if first else record_start
                    line = _line_of(path, start)
                    got = int(counts[first]) + 1
                    raise DataError(
                        f"CSV file {path!r} line {line} has {got} fields; expected {columns} like the header. "
                        f"{_ragged_hint(path, start, delimiter)}"
                    )
                blanks = int(np.count_nonzero(blank))
                data_rows += int(ends.size) - blanks
                blank_lines += blanks
                record_start = consumed + int(ends[-1]) + 1
                fields_open = tail
                record_bytes = len(chunk) - int(ends[-1]) - 1
            else:
                fields_open += total_delims
                record_bytes += len(chunk)
            consumed += len(chunk)
    if parity:
        line = _line_of(path, _last_open_quote(path, record_start, quote_char or '"'))
        raise DataError(
            f"CSV file {path!r} has an unterminated quoted field starting on line {line}: the quote "
            f"{quote_char!r} opened there is never closed, so the rest of the file would become one value. "
            f"Expected each quoted field to end with {quote_char!r}. Close the quote or escape it by doubling it."
        )
    if record_bytes > 0 and not (record_bytes == 1 and _file_ends_with_cr(path)):
        if fields_open != columns - 1:
            line = _line_of(path, record_start)
            raise DataError(
                f"CSV file {path!r} line {line} (the last) has {fields_open + 1} fields; expected {columns} like "
                f"the header. {_ragged_hint(path, record_start, delimiter)}"
            )
        data_rows += 1
    return max(data_rows, 0), blank_lines


def _file_ends_with_cr(path: str) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\r"


def _ragged_hint(path: str, start: int, delimiter: str) -> str:
    with open(path, "rb") as handle:
        handle.seek(start)
        text = handle.readline(200).decode("utf-8", "replace").rstrip("\r\n")
    return (
        f"The line reads {text!r}. Add the missing fields (empty between delimiters {delimiter!r} is fine), "
        "remove the extra ones, or quote values that contain the delimiter."
    )


def _line_of(path: str, offset: int) -> int:
    """The 1-based line number of a byte offset."""
    lines = 1
    remaining = offset
    with open(path, "rb") as handle:
        while remaining > 0:
            chunk = handle.read(min(remaining, _SCAN_CHUNK_BYTES))
            if not chunk:
                break
            lines += chunk.count(b"\n")
            remaining -= len(chunk)
    return lines


def _last_open_quote(path: str, record_start: int, quote_char: str) -> int:
    """The offset of the quote that is left open at the end of the file (searched from a record start)."""
    quote = quote_char.encode()
    with open(path, "rb") as handle:
        handle.seek(record_start)
        tail = handle.read()
    open_at = None
    position = 0
    while True:
        found = tail.find(quote, position)
        if found < 0:
            break
        open_at = found if open_at is None else None
        position = found + 1
    return record_start + (open_at if open_at is not None else 0)


def _locate_utf8_error(path: str) -> str | None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    consumed = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_SCAN_CHUNK_BYTES)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                # The decoder may hold back up to 3 bytes of an incomplete sequence from the previous chunk.
                pending = len(exc.object) - len(chunk)
                offset = consumed - pending + exc.start
                line = _line_of(path, offset)
                return (
                    f"line {line} is not UTF-8: byte offset {offset} holds {exc.object[exc.start]:#04x} "
                    f"({exc.reason}). Expected UTF-8 text. Re-encode the file, e.g. iconv -f latin1 -t utf-8."
                )
            if not chunk:
                return None
            consumed += len(chunk)


def _locate_json_error(path: str) -> str | None:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                return (
                    f"line {number} is not valid JSON ({exc.msg} at column {exc.colno}); expected one JSON object "
                    "a line. Fix that line."
                )
            if not isinstance(value, dict):
                return (
                    f"line {number} holds a JSON {type(value).__name__}, not an object; expected one JSON object "
                    "a line, e.g. {\"a\": 1}."
                )
            _check_unique_json_keys(line, path, number)
    return None


def _check_unique_json_keys(line: str, path: str, number: int) -> None:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            dupe = next(k for k in keys if keys.count(k) > 1)
            raise DataError(
                f"JSON lines file {path!r} line {number} has the key {dupe!r} twice; expected unique column "
                "names. Rename one of them."
            )
        return dict(pairs)

    json.loads(line, object_pairs_hook=hook)


class _nullcontext:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __enter__(self) -> Any:
        return self.value

    def __exit__(self, *exc: object) -> None:
        return None


def _safe_url(url: Any) -> str:
    text = url.render_as_string(hide_password=True) if hasattr(url, "render_as_string") else None
    if text is None and hasattr(url, "url"):
        text = url.url.render_as_string(hide_password=True)
    if text is None:
        text = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", str(url))
    return text


__all__ = [
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

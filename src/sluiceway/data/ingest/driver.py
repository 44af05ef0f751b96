"""``ingest``: read a source batch by batch, assign each row a split, write the ``Examples`` parts.

Parts are written under an ``.inprogress`` name and renamed only once every split is complete; on any error
everything written is removed before the error propagates.

``read_into`` is the same reading, checking and split assignment handing the tables to another sink (the
statistics of a CSV file are computed from the tables as they are read, with no Parquet copy written).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from sluiceway.data.ingest.diagnostics import DEFAULT_MAX_COLUMNS, _check_column_count, _check_column_names
from sluiceway.data.ingest.file_reader import _FileReader
from sluiceway.data.ingest.readers import _FrameReader, _NullMarkersNeeded, _Reader, _SchemaTooNarrow, _SqlReader
from sluiceway.data.ingest.sources import (
    CsvSource,
    DataFrameSource,
    IngestResult,
    JsonLinesSource,
    ParquetSource,
    Source,
    SqlSource,
)
from sluiceway.data.ingest.writer import _ExamplesWriter
from sluiceway.data.splits import HashSplit, TimeSplit, _check_split_name
from sluiceway.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

logger = logging.getLogger(__name__)

_BATCH_ROWS = 250_000


def ingest(
    source: Source,
    output_uri: str | os.PathLike[str],
    *,
    splits: HashSplit | TimeSplit | None = None,
    span: int | None = None,
    version: int | None = None,
    rows_per_file: int = 5_000_000,
    batch_rows: int = _BATCH_ROWS,
    max_columns: int = DEFAULT_MAX_COLUMNS,
) -> IngestResult:
    """Read ``source`` and write it as ``Examples`` under ``output_uri``.

    ``splits`` defaults to ``HashSplit()`` (train:eval = 2:1 by row hash); pre-split sources (a mapping of
    split name to pattern) take their splits from the mapping and must leave ``splits`` unset. ``span`` and
    ``version`` pick a span/version of the pattern (default: the latest). Raises ``DataError`` for unusable
    input, leaving no Parquet file behind.

    ``max_columns`` (default 20,000) bounds what one input may cost: a wider input is refused with a
    ``DataError`` before any per-column work (ingest's cost grows linearly with the columns, but every later
    step pays for them too). Raise it for inputs that really are that wide.
    """
    output = os.fspath(output_uri)
    pattern = getattr(source, "pattern", None)
    presplit = isinstance(pattern, Mapping)
    if isinstance(pattern, Mapping) and splits is not None:
        raise DataError(
            f"The source is pre-split (one pattern per split: {sorted(pattern)}), so it cannot also be split "
            f"by {type(splits).__name__}. Leave splits unset, or give a single pattern."
        )
    if not presplit and splits is None:
        splits = HashSplit()
    if rows_per_file < 1 or batch_rows < 1:
        raise DataError(f"rows_per_file and batch_rows must be >= 1; got {rows_per_file} and {batch_rows}.")
    if isinstance(max_columns, bool) or not isinstance(max_columns, int) or max_columns < 1:
        raise DataError(f"The 'max_columns' parameter of ingest must be an int >= 1. Got {max_columns!r} instead.")

    cluster = _cluster_in_force(source)
    reader = _reader_for(source, span=span, version=version, max_columns=max_columns,
                         scan_structure=cluster is None)
    if cluster is not None:
        distributed = _ingest_distributed(cluster, reader, source, splits, presplit, output, rows_per_file, batch_rows)
        if distributed is not None:
            return distributed
        reader.start_checks()  # deferred for the tasks, which are not run after all

    def make_writer(split_names: list[str]) -> _ExamplesWriter:
        return _ExamplesWriter(output, split_names, rows_per_file)

    split_names, schema, writer, split_files = _read_with(reader, source, splits, presplit, batch_rows, make_writer,
                                                          output=output)
    return IngestResult(
        uri=output,
        split_names=tuple(split_names),
        row_counts=MappingProxyType(dict(zip(split_names, writer.row_counts, strict=True))),
        column_types=MappingProxyType({f.name: str(f.type) for f in schema}),
        span=reader.span,
        version=reader.version,
        input_files=reader.files,
        input_fingerprint=reader.fingerprint(),
        split_files=MappingProxyType(split_files),
    )


def _cluster_in_force(source: Source) -> Any:
    """The ``RayEngine`` in force, for a file input (which ``distributed`` may ingest on it), else None."""
    if not isinstance(source, (CsvSource, ParquetSource, JsonLinesSource)):
        return None
    from sluiceway.data.ingest.distributed import engine_in_force

    return engine_in_force()


def _ingest_distributed(cluster: Any, reader: _Reader, source: Source, splits: HashSplit | TimeSplit | None,
                        presplit: bool, output: str, rows_per_file: int, batch_rows: int) -> IngestResult | None:
    """``ingest`` as Ray tasks (``sluiceway.data.ingest.distributed``), or None when the input stays here."""
    from sluiceway.data.ingest.distributed import try_ingest

    pattern = getattr(source, "pattern", None)
    split_names = list(pattern) if isinstance(pattern, Mapping) else list(splits.split_names)  # type: ignore[union-attr]
    for name in split_names:
        _check_split_name(name)
    _check_output(output, split_names)
    done = try_ingest(cluster, reader, source, None if presplit else splits, split_names, output, rows_per_file,
                      batch_rows)
    if done is None:
        return None
    schema, counts, split_files = done
    return IngestResult(
        uri=output,
        split_names=tuple(split_names),
        row_counts=MappingProxyType(dict(zip(split_names, counts, strict=True))),
        column_types=MappingProxyType({f.name: str(f.type) for f in schema}),
        span=reader.span,
        version=reader.version,
        input_files=reader.files,
        input_fingerprint=reader.fingerprint(),
        split_files=MappingProxyType(split_files),
    )


class TableSink(Protocol):
    """Where the reader's checked tables go: ``_ExamplesWriter`` (Parquet parts), or a consumer such as the
    statistics of a file. ``abort`` drops everything received (the rows are read again after it, or the
    error propagates); ``finish`` is called once all rows arrived and returns the sink's result."""

    row_counts: list[int]

    def write(self, index: int, table: pa.Table) -> None: ...

    def write_assigned(self, table: pa.Table, assignment: np.ndarray) -> None: ...

    def flush(self) -> None: ...

    def finish(self, schema: pa.Schema) -> Any: ...

    def abort(self) -> None: ...


def read_into(
    source: Source,
    make_sink: Callable[[list[str]], TableSink],
    *,
    splits: HashSplit | TimeSplit | None = None,
    batch_rows: int = _BATCH_ROWS,
    max_columns: int = DEFAULT_MAX_COLUMNS,
) -> tuple[list[str], pa.Schema, Any]:
    """Read ``source`` with every check ``ingest`` makes, handing its tables to ``make_sink(split_names)``
    instead of writing Parquet parts: (split names, schema, what the sink's ``finish`` returned). A sink is
    made again (after ``abort`` of the last one) when the reader must read the rows a second time."""
    pattern = getattr(source, "pattern", None)
    presplit = isinstance(pattern, Mapping)
    if not presplit and splits is None:
        splits = HashSplit()
    reader = _reader_for(source, span=None, version=None, max_columns=max_columns)
    split_names, schema, _sink, result = _read_with(reader, source, splits, presplit, batch_rows, make_sink)
    return split_names, schema, result


def _read_with(reader: _Reader, source: Source, splits: HashSplit | TimeSplit | None, presplit: bool,
               batch_rows: int, make_sink: Callable[[list[str]], Any],
               output: str | None = None) -> tuple[list[str], pa.Schema, Any, Any]:
    try:
        try:
            return _ingest_with(reader, source, splits, presplit, batch_rows, make_sink, output)
        except _arrow_errors() as exc:  # a type the reader accepted but Arrow or Parquet cannot handle
            where = list(reader.files) or f"the {type(source).__name__}'s data"
            raise DataError(
                f"The input {where} cannot be written as Examples: {exc}. Expected columns of types Parquet can "
                "store. Declare the column's type (column_types=) or drop it."
            ) from exc
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


def _ingest_with(reader: _Reader, source: Source, splits: HashSplit | TimeSplit | None, presplit: bool,
                 batch_rows: int, make_sink: Callable[[list[str]], Any],
                 output: str | None) -> tuple[list[str], pa.Schema, Any, Any]:
    pattern = getattr(source, "pattern", None)
    split_names = list(pattern) if presplit else list(splits.split_names)  # type: ignore[union-attr,arg-type]
    for name in split_names:
        _check_split_name(name)
    if output is not None:
        _check_output(output, split_names)

    attempt = 0
    while attempt < 2:
        writer = make_sink(split_names)
        try:
            schema = reader.schema(full_inference=attempt == 1)
            _check_columns(schema, reader, source)
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
            result = writer.finish(schema)
        except _NullMarkersNeeded as exc:
            writer.abort()
            logger.info("Reading again with null markers applied by the reader: %s", exc)
            reader.use_exact_nulls()
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
    return split_names, schema, writer, result


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



def _arrow_errors() -> type[Exception]:
    import pyarrow as pa

    return pa.ArrowException


def _check_columns(schema: pa.Schema, reader: _Reader, source: Source) -> None:
    """The same rules on columns for every source: at least one, at most ``max_columns``, usable names."""
    where = f"The input {list(reader.files)}" if reader.files else f"The {type(source).__name__}'s data"
    if len(schema) == 0:
        raise DataError(f"{where} has no columns; expected at least one column. Check the input.")
    _check_column_count(len(schema), reader.max_columns, where)
    _check_column_names(schema.names, where)


def _reader_for(source: Source, *, span: int | None, version: int | None,
                max_columns: int = DEFAULT_MAX_COLUMNS, scan_structure: bool = True) -> _Reader:
    if isinstance(source, (CsvSource, ParquetSource, JsonLinesSource)):
        return _FileReader(source, span=span, version=version, max_columns=max_columns,
                           scan_structure=scan_structure)
    if isinstance(source, SqlSource):
        return _SqlReader(source, max_columns=max_columns)
    if isinstance(source, DataFrameSource):
        return _FrameReader(source, max_columns=max_columns)
    raise DataError(
        f"ingest got a source of type {type(source).__name__}; expected CsvSource, ParquetSource, "
        "JsonLinesSource, SqlSource or DataFrameSource. Wrap your input in one of those."
    )



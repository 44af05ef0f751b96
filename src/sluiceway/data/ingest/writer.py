"""The Parquet writer of ``Examples``: parts per split, row groups sized for the statistics engine."""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)

#: Parquet row groups: at least this many rows (unless a split is smaller), at most the maximum.
_ROW_GROUP_ROWS = 128 * 1024
_MAX_ROW_GROUP_ROWS = 256 * 1024
_ZSTD_LEVEL = 1
_DICTIONARY_SAMPLE_ROWS = 8192
_WRITES_IN_FLIGHT = 1


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
        part = os.path.join(self._folder(index), f"part-{len(self._parts[index]):05d}.parquet.inprogress")
        with self._lock:
            self._created_files.append(part)
        self._parts[index].append(part)
        self._rows_in_file[index] = 0
        writer = open_part(part, schema, self._dictionary_columns)
        self._writers[index] = writer
        return writer

    def _choose_dictionary_columns(self, table: pa.Table) -> None:
        if self._dictionary_columns is None:
            self._dictionary_columns = dictionary_columns(table)

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


def open_part(path: str, schema: pa.Schema, dictionary: list[str] | None) -> Any:
    """A Parquet writer of one ``Examples`` part: the compression and dictionary encoding of every part
    (``dictionary``: the columns to dictionary-encode, None for Arrow's default), whoever writes it."""
    import pyarrow.parquet as pq

    return pq.ParquetWriter(path, schema, compression="zstd", compression_level=_ZSTD_LEVEL,
                            use_dictionary=dictionary if dictionary is not None else True)


def dictionary_columns(table: pa.Table) -> list[str]:
    """The columns to dictionary-encode, judged from the first rows of the first table written: only columns
    that repeat values there (a dictionary of distinct values, ids or coordinates, costs time and saves
    nothing). Decided once, from the first rows, so the same input always gives the same bytes."""
    import pyarrow.compute as pc

    sample = table.slice(0, _DICTIONARY_SAMPLE_ROWS)
    if sample.num_rows < _DICTIONARY_SAMPLE_ROWS:
        return list(table.column_names)  # too few rows to judge: Arrow's default
    chosen = []
    for name in table.column_names:
        try:
            distinct = pc.count_distinct(sample.column(name), mode="all").as_py()
        except Exception:  # noqa: BLE001 - types without a distinct-count kernel keep the default
            distinct = 0
        if distinct * 2 <= sample.num_rows:
            chosen.append(name)
    return chosen


def part_layout(table_rows: list[int], rows_per_file: int) -> list[list[int]]:
    """The row groups of each part (their row counts) that ``_ExamplesWriter`` writes for one split that
    receives tables of ``table_rows`` rows in this order: buffered until ``_ROW_GROUP_ROWS``, a new part
    every ``rows_per_file`` rows, ``write_table`` pieces of at most ``_MAX_ROW_GROUP_ROWS``; a split without
    rows gets one part without row groups. The distributed ingest (``distributed``) writes this layout,
    because statistics are computed a row group at a time and so depend on it."""
    parts: list[list[int]] = []
    rows_in_file = 0

    def write(rows: int) -> None:
        nonlocal rows_in_file
        offset = 0
        while offset < rows:
            if not parts or rows_in_file >= rows_per_file:
                parts.append([])
                rows_in_file = 0
            piece = min(rows_per_file - rows_in_file, rows - offset)
            parts[-1].extend(min(_MAX_ROW_GROUP_ROWS, piece - start) for start in range(0, piece, _MAX_ROW_GROUP_ROWS))
            rows_in_file += piece
            offset += piece

    buffered = 0
    for rows in table_rows:
        buffered += rows
        if rows and buffered >= _ROW_GROUP_ROWS:
            write(buffered)
            buffered = 0
    write(buffered)
    return parts or [[]]


class RowGroupCutter:
    """The row groups ``_ExamplesWriter`` makes of one split's tables, cut the same way without writing them.

    Why: statistics are computed a row group at a time (``sluiceway.data.statistics``), so a consumer that
    takes the reader's tables directly (the statistics of a CSV file, with no Parquet copy) gets the same
    bytes as statistics of the written ``Examples`` only when it cuts the rows into the same row groups:
    tables are buffered until at least ``_ROW_GROUP_ROWS`` rows, then cut at every ``rows_per_file`` rows
    (a new part) and into pieces of at most ``_MAX_ROW_GROUP_ROWS`` (what ``write_table`` does).
    tests/data/test_ingest_stream.py checks that the two agree."""

    def __init__(self, rows_per_file: int) -> None:
        self.rows_per_file = rows_per_file
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._rows_in_file = 0

    def add(self, table: pa.Table) -> list[pa.Table]:
        """The row groups completed by ``table`` (often none)."""
        if table.num_rows == 0:
            return []
        self._buffer.append(table)
        self._buffered += table.num_rows
        return self.flush() if self._buffered >= _ROW_GROUP_ROWS else []

    def flush(self) -> list[pa.Table]:
        """The row groups of what is buffered (the end of the split)."""
        import pyarrow as pa

        if not self._buffer:
            return []
        table = self._buffer[0] if len(self._buffer) == 1 else pa.concat_tables(self._buffer)
        self._buffer, self._buffered = [], 0
        groups: list[pa.Table] = []
        offset = 0
        while offset < table.num_rows:
            if self._rows_in_file >= self.rows_per_file:
                self._rows_in_file = 0  # the writer opens the next part here
            piece = table.slice(offset, self.rows_per_file - self._rows_in_file)
            groups.extend(piece.slice(start, _MAX_ROW_GROUP_ROWS)
                          for start in range(0, piece.num_rows, _MAX_ROW_GROUP_ROWS))
            self._rows_in_file += piece.num_rows
            offset += piece.num_rows
        return groups


def _boolean_array(mask: np.ndarray) -> pa.Array:
    """A NumPy bool mask as an Arrow BooleanArray, built from its bits (``pa.array`` would import pandas)."""
    import pyarrow as pa

    bits = np.packbits(mask, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(mask), [None, pa.py_buffer(bits)])


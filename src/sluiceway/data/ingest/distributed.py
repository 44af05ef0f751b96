"""Ingest on the Ray engine: the files of one input read, checked and split by Ray tasks.

Design. When the engine in force (``default_engine(None)``, set by the runner) is a ``RayEngine`` and a
file input (CSV, JSON lines, Parquet) is at least ``MIN_DISTRIBUTED_BYTES`` in at least two pieces (files;
for Parquet, runs of whole row groups), ``ingest`` runs here instead of in the driver process. The
result is the in-process result: the same column types, the same rows in the same order, the same row
counts, and the same Parquet parts with the same row groups (hence byte-identical statistics: they are
computed a row group at a time, so the row groups must be the in-process ones, not one set per task).

1. The driver does what needs the whole input: resolve the pattern, check every CSV header, and decide
   the column types exactly as in process (``reader.schema()``: Polars infers over the first rows of
   *every* file, so a column that is int in one file and float in another is float everywhere; one
   declared in ``column_types`` is what it says). The decided schema is shipped to the tasks.
2. Map (Ray tasks, one a piece): a ``_PieceReader`` (the in-process ``_FileReader`` over one file, or a
   run of row groups of one Parquet file, reading with the shipped schema) feeds ``driver._read_with``,
   the in-process reading loop with every check (the CSV structure scan, null markers, Arrow errors)
   and the same split assignment (hash and time splits are per row, so they do not depend on where a
   batch starts). Each task writes its rows of each split, in order, to its own staging file (Arrow IPC,
   under ``{output}/.ingest-staging``) and returns its row counts and the split of every row.
3. The driver merges the results in input order: row counts, and (from the split of every row and the
   batches the in-process reader would have read: ``batch_rows`` rows of the concatenated files for
   CSV/JSON, of each file for Parquet) the tables the in-process writer would have received, hence
   its parts and row groups (``writer.part_layout``) and its dictionary-encoded columns.
4. Write (Ray tasks, one a part): each task copies its rows from the staging files into
   ``Split-{name}/part-NNNNN.parquet.inprogress`` with exactly those row groups.
5. Publish as in process: the ``.inprogress`` names are renamed only once every part of every split is
   written; the staging folder is removed. On any error or Ctrl-C (the engine cancels the tasks in
   flight), every staging file, part and folder this ingest made is removed before the error
   propagates: no half-written artifact. A task's error is returned as a value and raised by the driver
   in input order, so the first bad file is reported, with the message the in-process path gives.

A piece whose types do not fit the sampled schema sends the whole input back to step 1 with types
inferred over whole files (the in-process retry). A CSV file with blank lines (the in-process reader
drops them inside its batches, shifting batch boundaries) makes the driver ingest in process instead.

Stays in process, with a log line: any other engine, SQL and DataFrame sources, one piece, or less than
``MIN_DISTRIBUTED_BYTES`` of input (scheduling two rounds of tasks and staging the rows costs more than
reading such an input in the driver). CSV and JSON files are not cut into byte ranges: one task a file.

A little over 500 lines on purpose: the planning, the two task bodies and the staging sink share the
staging files' naming and order, and are easiest to check side by side.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sluiceway.data.engine import Fragment
from sluiceway.data.ingest.file_reader import _FileReader
from sluiceway.data.ingest.readers import _Reader, _SchemaTooNarrow
from sluiceway.data.ingest.sources import CsvSource, JsonLinesSource, ParquetSource
from sluiceway.data.ingest.writer import _DICTIONARY_SAMPLE_ROWS, dictionary_columns, open_part, part_layout
from sluiceway.errors import DataError, SluicewayError

if TYPE_CHECKING:
    import pyarrow as pa

    from sluiceway.data.ray_engine import RayEngine
    from sluiceway.data.splits import HashSplit, TimeSplit

logger = logging.getLogger(__name__)

#: Inputs smaller than this are ingested in the driver even on Ray.
MIN_DISTRIBUTED_BYTES = 64 << 20
STAGING_FOLDER = ".ingest-staging"
_MAX_WRITE_ROW_GROUP = 256 * 1024  # write_table's row_group_size: each written table is one row group


def engine_in_force() -> RayEngine | None:
    """The engine in force when it is a ``RayEngine`` (the only engine ingest distributes on)."""
    from sluiceway.data.engine import default_engine
    from sluiceway.data.ray_engine import RayEngine

    engine = default_engine(None)
    return engine if isinstance(engine, RayEngine) else None


@dataclass(frozen=True)
class _Piece:
    """One task's input: a file, or a run of row groups of a Parquet file, of one batch stream."""

    path: str
    split: str | None  # the split of a pre-split input's file
    stream: int  # pieces of one stream are read as one sequence of batches in process
    row_groups: tuple[int, ...] | None = None


@dataclass
class _PieceResult:
    counts: list[int]  # rows per split
    assignment: np.ndarray | None = None  # the split index of every row, in order
    staged: list[tuple[str, list[int]] | None] = dataclasses.field(default_factory=list)  # per split: file, batches
    blank_lines: int = 0
    error: SluicewayError | None = None
    too_narrow: str | None = None


def plan_pieces(reader: _Reader, source: Any, parallelism: int) -> list[_Piece]:
    """The pieces of a file input in input order (empty for other inputs)."""
    if not isinstance(reader, _FileReader) or not isinstance(source, (CsvSource, JsonLinesSource, ParquetSource)):
        return []
    pieces: list[_Piece] = []
    stream = 0
    if not isinstance(source, ParquetSource):
        for index, (split, resolved) in enumerate(reader.resolved.items()):
            pieces.extend(_Piece(path, split, index) for path in resolved.files)
        return pieces
    import pyarrow.parquet as pq

    groups = [(split, path, pq.read_metadata(path)) for split, r in reader.resolved.items() for path in r.files]
    total = sum(m.num_rows for _, _, m in groups)
    target = max(1, -(-total // (2 * parallelism)))  # about two pieces a worker
    for split, path, metadata in groups:
        run: list[int] = []
        rows = 0
        for group in range(metadata.num_row_groups):
            if metadata.row_group(group).num_rows == 0:
                continue  # nothing to read; an empty run would be an empty piece
            run.append(group)
            rows += metadata.row_group(group).num_rows
            if rows >= target:
                pieces.append(_Piece(path, split, stream, tuple(run)))
                run, rows = [], 0
        if run:
            pieces.append(_Piece(path, split, stream, tuple(run)))
        stream += 1  # in process, each Parquet file is a batch stream of its own
    return pieces


def try_ingest(engine: RayEngine, reader: _Reader, source: Any, splits: HashSplit | TimeSplit | None,
               split_names: list[str], output: str, rows_per_file: int,
               batch_rows: int) -> tuple[pa.Schema, list[int], dict[str, tuple[str, ...]]] | None:
    """Ingest ``source`` on ``engine`` (see the module's design): (schema, row counts, parts per split), or
    None when the input stays in process (then nothing was written)."""
    from sluiceway.data.ingest.driver import _check_columns

    size = sum(os.path.getsize(f) for f in reader.files)
    if size < MIN_DISTRIBUTED_BYTES:
        logger.info("Ingest stays in process on Ray: the input is %d bytes, under the %d bytes worth distributing",
                    size, MIN_DISTRIBUTED_BYTES)
        return None
    if not isinstance(source, ParquetSource) and len(reader.files) < 2:
        logger.info("Ingest stays in process on Ray: the input is one file (%s)", list(reader.files))
        return None
    try:
        schema = reader.schema(full_inference=False)  # for Parquet, also the check of every file's metadata
    except DataError as exc:  # the in-process path reads it again, with the checks that locate the problem
        logger.info("Ingest stays in process on Ray: the column types cannot be inferred (%s)", exc)
        return None
    pieces = plan_pieces(reader, source, engine.parallelism)
    if len(pieces) < 2:
        logger.info("Ingest stays in process on Ray: the input is one piece (%s)", list(reader.files))
        return None
    job = _Job(engine, reader, source, splits, split_names, output, rows_per_file, batch_rows, pieces)
    try:
        _check_columns(schema, reader, source)
        results = job.read(schema, full_inference=False)
        if results is None:
            logger.info("Re-inferring column types over whole files (a piece did not fit the sampled types)")
            schema = reader.schema(full_inference=True)
            results = job.read(schema, full_inference=True)
            assert results is not None
        if any(r.blank_lines for r in results):
            logger.info("Ingest stays in process on Ray: a CSV file has blank lines, which shift the batches")
            job.remove_all()
            return None
        counts = [sum(r.counts[s] for r in results) for s in range(len(split_names))]
        if sum(counts) == 0:
            raise DataError(
                f"The input {list(reader.files)} has zero data rows; expected at least one. Check the input."
            )
        files = job.write(schema, results)
    except BaseException:
        job.remove_all()
        raise
    return schema, counts, files


class _Job:
    """The state of one distributed ingest: what it planned and every path it made (to remove on failure)."""

    def __init__(self, engine: RayEngine, reader: _Reader, source: Any, splits: HashSplit | TimeSplit | None,
                 split_names: list[str], output: str, rows_per_file: int, batch_rows: int,
                 pieces: list[_Piece]) -> None:
        self.engine, self.reader, self.source, self.splits = engine, reader, source, splits
        self.split_names, self.output, self.pieces = split_names, output, pieces
        self.rows_per_file, self.batch_rows = rows_per_file, batch_rows
        self.staging_root = os.path.join(output, STAGING_FOLDER)
        self.staging = self.staging_root
        self.rounds = 0
        self.created_dirs: list[str] = []
        self.parts: list[str] = []

    def _make_dir(self, path: str) -> None:
        if not os.path.isdir(path):
            os.makedirs(path)
            self.created_dirs.append(path)

    def read(self, schema: pa.Schema, *, full_inference: bool) -> list[_PieceResult] | None:
        """Map the pieces; their results in input order, or None when the types must be inferred again."""
        # A folder a round: a task of an earlier round that outlived its cancellation cannot touch this one's files.
        self.rounds += 1
        self.staging = os.path.join(self.staging_root, f"read-{self.rounds}")
        for path in (self.output, self.staging_root, self.staging):
            self._make_dir(path)
        task = _ReadPiece(self.source, self.splits, self.split_names, self.pieces, schema,
                          getattr(self.reader, "_polars_schema", None), self.staging, self.batch_rows,
                          self.reader.max_columns)
        fragments = [Fragment(path=p.path, row_groups=p.row_groups, tag=str(i)) for i, p in enumerate(self.pieces)]
        logger.info("Ingesting %d piece(s) of %s as Ray tasks", len(fragments), type(self.source).__name__)
        try:
            none: list[Any] = []
            results = self.engine.map_reduce(fragments, task, _in_order, initial=none)
        except _SchemaTooNarrow as exc:
            if full_inference:
                raise DataError(str(exc)) from exc
            return None
        assert results is not None
        return results

    def write(self, schema: pa.Schema, results: list[_PieceResult]) -> dict[str, tuple[str, ...]]:
        """Write every split's parts with the in-process row groups; publish them once all are written."""
        table_rows = self._table_rows(results)
        staged: list[_Staged] = [[f for f in (r.staged[s] for r in results) if f is not None]
                                 for s in range(len(self.split_names))]
        dictionary = self._dictionary_columns(table_rows, staged)
        jobs: list[tuple[int, int, list[int], int]] = []  # split, part, row groups, first row of the split
        for s, sizes in enumerate(table_rows):
            self._make_dir(os.path.join(self.output, f"Split-{self.split_names[s]}"))
            first = 0
            for part, groups in enumerate(part_layout(sizes, self.rows_per_file)):
                jobs.append((s, part, groups, first))
                first += sum(groups)
        fragments: list[Fragment] = []
        for s, part, _groups, _first in jobs:
            path = os.path.join(self.output, f"Split-{self.split_names[s]}", f"part-{part:05d}.parquet.inprogress")
            self.parts.append(path)
            fragments.append(Fragment(path=path, tag=str(len(fragments))))
        task = _WritePart(jobs, staged, schema, dictionary)
        logger.info("Writing %d part(s) as Ray tasks", len(fragments))
        none: list[Any] = []
        self.engine.map_reduce(fragments, task, _in_order, initial=none)
        files: dict[str, list[str]] = {name: [] for name in self.split_names}
        for (s, *_), fragment in zip(jobs, fragments, strict=True):
            path = fragment.path
            done = path[: -len(".inprogress")]
            os.replace(path, done)
            self.parts.append(done)
            files[self.split_names[s]].append(done)
        self._remove_staging()
        return {name: tuple(paths) for name, paths in files.items()}

    def _table_rows(self, results: list[_PieceResult]) -> list[list[int]]:
        """Per split, the rows of each table the in-process writer receives: the in-process reader's batches
        are ``batch_rows`` rows of each stream, and each batch's rows of a split are one table."""
        splits = len(self.split_names)
        out: list[list[int]] = [[] for _ in range(splits)]
        streams: dict[int, list[np.ndarray]] = {}
        for piece, result in zip(self.pieces, results, strict=True):
            assert result.assignment is not None
            streams.setdefault(piece.stream, []).append(result.assignment)
        for stream in sorted(streams):
            assignment = np.concatenate(streams[stream])
            for start in range(0, len(assignment), self.batch_rows):
                counts = np.bincount(assignment[start:start + self.batch_rows], minlength=splits)
                for s in range(splits):
                    out[s].append(int(counts[s]))
        return out

    def _dictionary_columns(self, table_rows: list[list[int]], staged: list[_Staged]) -> list[str]:
        """The columns the in-process writer dictionary-encodes: judged from the first table it receives (the
        first batch's rows of its first split that has any)."""
        for batch in range(max(len(t) for t in table_rows)):
            for s, sizes in enumerate(table_rows):
                if batch < len(sizes) and sizes[batch]:
                    sample = min(sizes[batch], _DICTIONARY_SAMPLE_ROWS)  # what decides it; fewer: every column
                    return dictionary_columns(_StagedRows(staged[s], 0).take(sample))
        return []  # no rows at all: refused before this is asked

    def _remove_staging(self) -> None:
        shutil.rmtree(self.staging_root, ignore_errors=True)
        self.created_dirs = [d for d in self.created_dirs if not d.startswith(self.staging_root)]

    def remove_all(self) -> None:
        """Remove every file and folder this ingest made (on failure, or before ingesting in process)."""
        self._remove_staging()
        for path in self.parts:
            if os.path.exists(path):
                os.remove(path)
        self.parts = []
        for path in reversed(self.created_dirs):
            try:
                os.rmdir(path)
            except OSError:  # not empty: it held something before this ingest, which is not ours to remove
                pass
        self.created_dirs = []


def _in_order(results: list[Any], more: list[Any]) -> list[Any]:
    """The engine's merge (called in input order): the tasks' results as one list, raising the first error
    (so the first bad file is the one reported, as in process)."""
    for result in more:
        if isinstance(result, _PieceResult) and result.error is not None:
            raise result.error
        if isinstance(result, _PieceResult) and result.too_narrow is not None:
            raise _SchemaTooNarrow(result.too_narrow)
    return [*results, *more]


class _PieceReader(_FileReader):
    """The in-process file reader over one piece, with the column types the driver decided."""

    def __init__(self, source: Any, piece: _Piece, schema: pa.Schema, polars_schema: Any, max_columns: int) -> None:
        super().__init__(source, span=None, version=None, max_columns=max_columns)
        self.row_groups = piece.row_groups
        self._decided = schema
        self._polars_schema = polars_schema
        self.too_narrow: str | None = None

    def schema(self, *, full_inference: bool) -> pa.Schema:
        if full_inference:  # the driver infers again, over every file, and maps every piece again
            raise _InferAgain(self.too_narrow or "")
        return self._decided

    def batches(self, schema: pa.Schema, batch_rows: int) -> Iterator[tuple[str | None, pa.Table, str]]:
        try:
            yield from super().batches(schema, batch_rows)
        except _SchemaTooNarrow as exc:
            self.too_narrow = str(exc)
            raise


class _InferAgain(Exception):
    """A piece's values do not fit the schema the driver sent; carries the reader's explanation."""


class _ReadPiece:
    """The map function of step 2 (picklable; runs in a Ray task): read, check and split one piece."""

    def __init__(self, source: Any, splits: HashSplit | TimeSplit | None, split_names: list[str],
                 pieces: list[_Piece], schema: pa.Schema, polars_schema: Any, staging: str, batch_rows: int,
                 max_columns: int) -> None:
        self.source, self.splits, self.split_names, self.pieces = source, splits, split_names, pieces
        self.schema, self.polars_schema, self.staging = schema, polars_schema, staging
        self.batch_rows, self.max_columns = batch_rows, max_columns

    def __call__(self, fragment: Fragment, _batches: Any) -> list[Any]:
        """``[result]`` (a list: the engine's merge concatenates); ``_batches`` is not read (not Parquet)."""
        return [self._read(fragment)]

    def _read(self, fragment: Fragment) -> _PieceResult:
        from sluiceway.data.ingest.driver import _read_with

        index = int(fragment.tag)
        piece = self.pieces[index]
        # A pre-split piece is a one-split input; the others are split as in process.
        pattern: str | Mapping[str, str] = piece.path if piece.split is None else {piece.split: piece.path}
        source = dataclasses.replace(self.source, pattern=pattern)
        sink = None

        def make_sink(names: list[str]) -> _StagingSink:
            nonlocal sink
            targets = [self.split_names.index(n) for n in names]
            sink = _StagingSink(self.staging, index, targets, len(self.split_names))
            return sink

        try:
            reader = _PieceReader(source, piece, self.schema, self.polars_schema, self.max_columns)
            _read_with(reader, source, self.splits if piece.split is None else None, piece.split is not None,
                       self.batch_rows, make_sink)
        except _InferAgain as exc:
            return _PieceResult([], too_narrow=str(exc))
        except SluicewayError as exc:  # raised by the driver, in input order (see _in_order)
            return _PieceResult([], error=exc)
        assert sink is not None
        structure = getattr(reader, "_structure", None)
        return sink.result(structure.blank_lines if structure is not None else 0)


class _StagingSink:
    """A ``driver.TableSink`` that keeps a piece's rows of each split in a staging file, in order, and the
    split of every row."""

    def __init__(self, staging: str, piece: int, targets: list[int], splits: int) -> None:
        self.staging, self.piece, self.targets, self.splits = staging, piece, targets, splits
        self.row_counts = [0] * len(targets)
        self._writers: list[Any] = [None] * splits
        self._paths: list[str | None] = [None] * splits
        self._batches: list[list[int]] = [[] for _ in range(splits)]
        self._assignments: list[np.ndarray] = []

    def _stage(self, split: int, table: pa.Table) -> None:
        import pyarrow as pa

        if table.num_rows == 0:
            return
        if self._writers[split] is None:
            path = os.path.join(self.staging, f"piece-{self.piece:05d}-split-{split:03d}.arrow")
            self._paths[split] = path
            self._batches[split] = []
            options = pa.ipc.IpcWriteOptions(compression="lz4")
            self._writers[split] = pa.ipc.new_file(path, table.schema, options=options)
        for batch in table.combine_chunks().to_batches():  # one batch a table; its rows are noted to seek
            self._writers[split].write_batch(batch)
            self._batches[split].append(batch.num_rows)

    def write(self, index: int, table: pa.Table) -> None:  # a pre-split piece: every row is of one split
        target = self.targets[index]
        self.row_counts[index] += table.num_rows
        self._assignments.append(np.full(table.num_rows, target, dtype=np.min_scalar_type(self.splits)))
        self._stage(target, table)

    def write_assigned(self, table: pa.Table, assignment: np.ndarray) -> None:
        self._assignments.append(assignment.astype(np.min_scalar_type(self.splits)))
        for index, target in enumerate(self.targets):
            mask = assignment == index
            if mask.any():
                self.row_counts[index] += int(mask.sum())
                self._stage(target, table if mask.all() else table.filter(mask))

    def flush(self) -> None:
        """Nothing buffered: each table is staged as it comes."""

    def finish(self, schema: pa.Schema) -> None:
        for writer in self._writers:
            if writer is not None:
                writer.close()
        self._writers = [None] * self.splits

    def abort(self) -> None:
        for writer in self._writers:
            if writer is not None:
                try:
                    writer.close()
                except Exception:  # noqa: BLE001 - already failing; removing the file is what matters
                    pass
        self._writers = [None] * self.splits
        for path in self._paths:
            if path is not None and os.path.exists(path):
                os.remove(path)
        self._paths = [None] * self.splits
        self.row_counts = [0] * len(self.targets)
        self._assignments = []

    def result(self, blank_lines: int) -> _PieceResult:
        counts = [0] * self.splits
        for index, target in enumerate(self.targets):
            counts[target] = self.row_counts[index]
        dtype = np.min_scalar_type(self.splits)
        assignment = np.concatenate(self._assignments) if self._assignments else np.empty(0, dtype=dtype)
        staged: list[tuple[str, list[int]] | None] = [
            (path, self._batches[s]) if path is not None else None for s, path in enumerate(self._paths)]
        return _PieceResult(counts, assignment, staged, blank_lines)


class _WritePart:
    """The map function of step 4 (picklable; runs in a Ray task): one part from the staging files."""

    def __init__(self, jobs: list[tuple[int, int, list[int], int]], staged: list[_Staged], schema: pa.Schema,
                 dictionary: list[str]) -> None:
        self.jobs, self.staged, self.schema, self.dictionary = jobs, staged, schema, dictionary

    def __call__(self, fragment: Fragment, _batches: Any) -> list[Any]:
        """``[path]`` of the part written (at ``fragment.path``); ``_batches`` is not read."""
        split, _part, groups, first = self.jobs[int(fragment.tag)]
        writer = None
        try:
            if not groups:  # an empty split: one part without rows, so readers see its columns
                writer = open_part(fragment.path, self.schema, self.dictionary)
            rows_from = _StagedRows(self.staged[split], first)
            for rows in groups:
                table = rows_from.take(rows)
                if writer is None:
                    writer = open_part(fragment.path, table.schema, self.dictionary)
                writer.write_table(table, row_group_size=_MAX_WRITE_ROW_GROUP)
            assert writer is not None
            writer.close()
        except BaseException:
            if writer is not None:
                try:
                    writer.close()
                except Exception:  # noqa: BLE001 - already failing; removing the file is what matters
                    pass
            if os.path.exists(fragment.path):
                os.remove(fragment.path)
            raise
        return [fragment.path]


_Staged = list[tuple[str, list[int]]]  # a split's staging files in input order, with their batches' rows


class _StagedRows:
    """A split's staged rows from row ``start`` on, taken a table at a time (each staging file is read once,
    from the first batch needed: the batches' rows are known, so earlier ones are skipped unread)."""

    def __init__(self, staged: _Staged, start: int) -> None:
        self._batches = self._iter(staged, start)
        self._held: Any = None

    @staticmethod
    def _iter(staged: _Staged, start: int) -> Iterator[Any]:
        import pyarrow as pa

        offset = 0
        for path, sizes in staged:
            if offset + sum(sizes) <= start:
                offset += sum(sizes)
                continue
            with pa.OSFile(path) as handle:
                reader = pa.ipc.open_file(handle)
                for index, rows in enumerate(sizes):
                    if offset + rows > start:
                        batch = reader.get_batch(index)
                        yield batch.slice(start - offset) if start > offset else batch
                    offset += rows

    def take(self, rows: int) -> pa.Table:
        import pyarrow as pa

        pieces = []
        while rows:
            if self._held is None:
                self._held = next(self._batches)
            piece = self._held.slice(0, rows)
            pieces.append(piece)
            rows -= piece.num_rows
            self._held = self._held.slice(piece.num_rows) if piece.num_rows < self._held.num_rows else None
        return pa.Table.from_batches(pieces)


__all__ = ["MIN_DISTRIBUTED_BYTES", "engine_in_force", "plan_pieces", "try_ingest"]

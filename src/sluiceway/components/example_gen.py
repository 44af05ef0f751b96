"""ExampleGen components: ingest a source into ``Examples`` (Parquet splits), like TFX's ExampleGen.

All of them share one executor (``sluiceway.data.ingest``): hash-bucket splits (default train:eval 2:1,
optionally keyed on a partition column), a time cut-off split, or pre-split input (one pattern per split);
spans and versions from ``{SPAN}``/``{VERSION}``/``{YYYY}{MM}{DD}`` patterns (default: the latest), a span
range or a rolling window of the last N spans merged into one artifact.

Caching: file-based ExampleGens fingerprint the matched files (path, size, mtime), so a new span or a
changed file runs again. ``SqlExampleGen`` is not cached by default (a query's result can change while its
text does not); pass ``cache=True`` to cache it on the query text.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Union

from sluiceway.artifacts import Examples
from sluiceway.dsl.component import Component, Output
from sluiceway.errors import DataError

Pattern = Union[str, dict[str, str]]


def _splitter(splits: dict[str, int] | None, partition_column: str | None, time_column: str | None,
              time_cutoff: str | int | float | None) -> Any:
    from sluiceway.data.splits import HashSplit, TimeSplit

    if time_column is not None or time_cutoff is not None:
        if time_column is None or time_cutoff is None:
            raise DataError("A time split needs both time_column and time_cutoff; got only one of them. Pass both.")
        if splits is not None or partition_column is not None:
            raise DataError("Choose one way to split: time_column/time_cutoff, or splits/partition_column, not both.")
        return TimeSplit(column=time_column, cutoff=time_cutoff)
    if splits is None and partition_column is None:
        return None
    return HashSplit(buckets=splits or {"train": 2, "eval": 1}, partition_column=partition_column)


def _spans_to_ingest(pattern: Pattern, span: int | None, span_range: tuple[int, int] | None,
                     last_n_spans: int | None) -> list[int | None]:
    """Which spans one execution ingests: one (given or latest), a range, or the last N."""
    from sluiceway.data.spans import rolling_window
    from sluiceway.data.spans import span_range as resolve_range

    chosen = [span_range is not None, last_n_spans is not None, span is not None]
    if sum(chosen) > 1:
        raise DataError("Pass at most one of span, span_range and last_n_spans.")
    if span_range is None and last_n_spans is None:
        return [span]
    if isinstance(pattern, dict):
        raise DataError("span_range and last_n_spans need a single input pattern, not one pattern per split.")
    if span_range is not None:
        return [r.span for r in resolve_range(pattern, span_range[0], span_range[1])]
    return [r.span for r in rolling_window(pattern, last_n_spans)]  # type: ignore[arg-type]


def _ingest_into(examples: Examples, source: Any, *, splitter: Any, spans: list[int | None], version: int | None) -> None:
    from sluiceway.data.ingest import ingest

    if len(spans) == 1:
        result = ingest(source, examples.uri, splits=splitter, span=spans[0], version=version)
        examples.properties.update(result.properties)
        examples.properties["input_files"] = len(result.input_files)
        return
    # Several spans in one artifact: ingest each into its own folder, then gather the parts per split.
    root = Path(examples.uri)
    merged_counts: dict[str, int] = {}
    column_types: dict[str, str] | None = None
    first_span = None
    for span in spans:
        part_root = root / f".span-{span}"
        result = ingest(source, part_root, splits=splitter, span=span, version=None)
        if column_types is None:
            column_types, first_span = dict(result.column_types), span
        elif dict(result.column_types) != column_types:
            changed = sorted(k for k in set(column_types) | set(result.column_types)
                             if column_types.get(k) != result.column_types.get(k))
            raise DataError(
                f"Spans {first_span} and {span} disagree on the types of columns {changed} "
                f"({[column_types.get(c) for c in changed]} vs {[result.column_types.get(c) for c in changed]}), "
                "so they cannot be merged into one Examples artifact. Ingest the spans separately (and let "
                "ExampleValidator report the type change), or fix the input files."
            )
        for split in result.split_names:
            target = root / f"Split-{split}"
            target.mkdir(exist_ok=True)
            for part in sorted((part_root / f"Split-{split}").glob("*.parquet")):
                os.replace(part, target / f"span-{span}-{part.name}")
            merged_counts[split] = merged_counts.get(split, 0) + result.row_counts[split]
        shutil.rmtree(part_root)
    examples.properties.update({
        "split_names": list(merged_counts),
        "span": spans[-1],
        "spans": spans,
        "version": None,
        "row_counts": merged_counts,
        "column_types": column_types,
    })


class _FileExampleGen(Component):
    """Shared contract of the file-based ExampleGens; subclasses say how to read their files."""

    def _source(self, input_pattern: Pattern, **options: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def execute(  # type: ignore[override]
        self,
        examples: Output[Examples],
        *,
        input_pattern: Pattern,
        splits: dict[str, int] | None = None,
        partition_column: str | None = None,
        time_column: str | None = None,
        time_cutoff: str | int | float | None = None,
        span: int | None = None,
        version: int | None = None,
        span_range: tuple[int, int] | None = None,
        last_n_spans: int | None = None,
    ) -> None:
        self._ingest(examples, input_pattern, splits, partition_column, time_column, time_cutoff, span, version,
                     span_range, last_n_spans)

    def _ingest(self, examples: Examples, input_pattern: Pattern, splits: dict[str, int] | None,
                partition_column: str | None, time_column: str | None, time_cutoff: str | int | float | None,
                span: int | None, version: int | None, span_range: tuple[int, int] | None,
                last_n_spans: int | None, **options: Any) -> None:
        splitter = _splitter(splits, partition_column, time_column, time_cutoff)
        spans = _spans_to_ingest(input_pattern, span, span_range, last_n_spans)
        _ingest_into(examples, self._source(input_pattern, **options), splitter=splitter, spans=spans, version=version)

    def cache_key(self) -> dict[str, Any]:
        from sluiceway.data.spans import input_fingerprint, list_spans

        pattern = self.parameters["input_pattern"]
        patterns = pattern if isinstance(pattern, dict) else {"": pattern}
        files: list[str] = []
        try:
            for value in patterns.values():
                for resolved in list_spans(value):
                    files.extend(resolved.files)
            return {"input_files": input_fingerprint(files)}
        except (DataError, OSError) as exc:  # the executor reports missing input with the full message
            return {"input_error": str(exc)}


class CsvExampleGen(_FileExampleGen):
    """CSV files (with a header row) → Examples. ``input_pattern`` is a path pattern or {split: pattern}."""

    def execute(  # type: ignore[override]
        self,
        examples: Output[Examples],
        *,
        input_pattern: Pattern,
        splits: dict[str, int] | None = None,
        partition_column: str | None = None,
        time_column: str | None = None,
        time_cutoff: str | int | float | None = None,
        span: int | None = None,
        version: int | None = None,
        span_range: tuple[int, int] | None = None,
        last_n_spans: int | None = None,
        delimiter: str = ",",
    ) -> None:
        self._ingest(examples, input_pattern, splits, partition_column, time_column, time_cutoff, span, version,
                     span_range, last_n_spans, delimiter=delimiter)

    def _source(self, input_pattern: Pattern, **options: Any) -> Any:
        from sluiceway.data.ingest import CsvSource

        return CsvSource(input_pattern, delimiter=options["delimiter"])


class ParquetExampleGen(_FileExampleGen):
    """Parquet files → Examples. ``input_pattern`` is a path pattern or {split: pattern}."""

    def _source(self, input_pattern: Pattern, **options: Any) -> Any:
        from sluiceway.data.ingest import ParquetSource

        return ParquetSource(input_pattern)


class JsonExampleGen(_FileExampleGen):
    """JSON lines files (one object a line) → Examples. ``input_pattern`` is a path pattern or {split: pattern}."""

    def _source(self, input_pattern: Pattern, **options: Any) -> Any:
        from sluiceway.data.ingest import JsonLinesSource

        return JsonLinesSource(input_pattern)


class SqlExampleGen(Component):
    """The result of a SQL query (through SQLAlchemy) → Examples. Not cached unless ``cache=True``."""

    def __init__(self, *, cache: bool = False, **kwargs: Any) -> None:
        super().__init__(cache=cache, **kwargs)

    def execute(  # type: ignore[override]
        self,
        examples: Output[Examples],
        *,
        url: str,
        query: str,
        span: int = 0,
        splits: dict[str, int] | None = None,
        partition_column: str | None = None,
        time_column: str | None = None,
        time_cutoff: str | int | float | None = None,
    ) -> None:
        from sluiceway.data.ingest import SqlSource

        splitter = _splitter(splits, partition_column, time_column, time_cutoff)
        _ingest_into(examples, SqlSource(url, query, span=span), splitter=splitter, spans=[None], version=None)


class DataFrameExampleGen(Component):
    """An in-memory pandas/Polars DataFrame (or pyarrow Table) → Examples, for notebooks.

    The frame's content (not its identity) is fingerprinted for caching.
    """

    def execute(  # type: ignore[override]
        self,
        examples: Output[Examples],
        *,
        frame: Any,
        span: int = 0,
        splits: dict[str, int] | None = None,
        partition_column: str | None = None,
        time_column: str | None = None,
        time_cutoff: str | int | float | None = None,
    ) -> None:
        from sluiceway.data.ingest import DataFrameSource

        splitter = _splitter(splits, partition_column, time_column, time_cutoff)
        _ingest_into(examples, DataFrameSource(frame, span=span), splitter=splitter, spans=[None], version=None)

    def cache_key(self) -> dict[str, Any]:
        from sluiceway.data.ingest import DataFrameSource
        from sluiceway.data.ingest.driver import _reader_for

        try:
            return {"frame": _reader_for(DataFrameSource(self.parameters["frame"]), span=None, version=None).fingerprint()}
        except DataError as exc:
            return {"frame_error": str(exc)}

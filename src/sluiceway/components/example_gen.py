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
from typing import Annotated, Any, Union, cast

from pydantic import Field

from sluiceway.artifacts import Examples
from sluiceway.dsl.component import Component, Output
from sluiceway.errors import DataError, DefinitionError

Pattern = Union[str, dict[str, str]]
#: At most this many columns per input unless ``max_columns`` says otherwise (see ``ingest``).
MaxColumns = Annotated[int, Field(ge=1)]
DEFAULT_MAX_COLUMNS = 20_000


def _check_split_parameters(owner: str, parameters: dict[str, Any]) -> None:
    """Rules between the split parameters, checked when the component is built (``check_parameters``)."""
    time_column, time_cutoff = parameters.get("time_column"), parameters.get("time_cutoff")
    splits, partition_column = parameters.get("splits"), parameters.get("partition_column")
    if (time_column is None) != (time_cutoff is None):
        given, missing = ("time_column", "time_cutoff") if time_cutoff is None else ("time_cutoff", "time_column")
        raise DefinitionError(
            f"The {given!r} parameter of {owner} needs {missing!r} too: a time split sends rows before the "
            f"cut-off to 'train' and the rest to 'eval'. Got {given}={parameters[given]!r} and no {missing}. "
            f"Pass both, e.g. time_column='pickup', time_cutoff='2026-06-01'."
        )
    if time_column is not None and (splits is not None or partition_column is not None):
        raise DefinitionError(
            f"{owner} got both a time split (time_column/time_cutoff) and a hash split (splits/partition_column); "
            "expected one way to split. Pass one of them."
        )
    if isinstance(time_cutoff, str):
        import datetime as dt

        try:
            dt.datetime.fromisoformat(time_cutoff)
        except ValueError:
            raise DefinitionError(
                f"The 'time_cutoff' parameter of {owner} must be an ISO-8601 date or datetime "
                f"(e.g. '2026-06-01' or '2026-06-01T12:00:00+00:00') or a number of Unix seconds. "
                f"Got {time_cutoff!r} instead."
            ) from None
    if splits is not None:
        from sluiceway.data.splits import HashSplit

        try:
            HashSplit(buckets=splits)
        except DataError as exc:
            raise DefinitionError(f"The 'splits' parameter of {owner} is not usable: {exc}") from None
    pattern = parameters.get("input_pattern")
    if isinstance(pattern, dict) and (splits is not None or partition_column is not None or time_column is not None):
        raise DefinitionError(
            f"The 'input_pattern' of {owner} is already split ({sorted(pattern)}), so it cannot also be split by "
            "splits/partition_column/time_column. Leave those unset, or give a single pattern."
        )


def _check_span_parameters(owner: str, parameters: dict[str, Any]) -> None:
    span, span_range, last_n = parameters.get("span"), parameters.get("span_range"), parameters.get("last_n_spans")
    chosen = [name for name, value in (("span", span), ("span_range", span_range), ("last_n_spans", last_n))
              if value is not None]
    if len(chosen) > 1:
        raise DefinitionError(
            f"{owner} got {' and '.join(chosen)}; expected at most one way to pick spans. Pass one of them."
        )
    if span_range is not None and span_range[0] > span_range[1]:
        raise DefinitionError(
            f"The 'span_range' parameter of {owner} must be (first, last) with first <= last. "
            f"Got {tuple(span_range)!r} instead."
        )
    if last_n is not None and last_n < 1:
        raise DefinitionError(f"The 'last_n_spans' parameter of {owner} must be an int >= 1. Got {last_n!r} instead.")
    if (span_range is not None or last_n is not None) and isinstance(parameters.get("input_pattern"), dict):
        raise DefinitionError(
            f"{owner}: span_range and last_n_spans need a single input_pattern, not one pattern per split. "
            "Give one pattern with {SPAN} in it."
        )


def _check_max_columns(owner: str, parameters: dict[str, Any]) -> None:
    # Also declared as Annotated[int, Field(ge=1)]; checked here too because the bound is not enforced when
    # the executor's hints are resolved without their extras.
    value = parameters.get("max_columns", DEFAULT_MAX_COLUMNS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DefinitionError(f"The 'max_columns' parameter of {owner} must be an int >= 1. Got {value!r} instead.")


def _check_column_types(owner: str, parameters: dict[str, Any]) -> None:
    from sluiceway.data.ingest.column_types import COLUMN_TYPES

    for column, kind in (parameters.get("column_types") or {}).items():
        if kind not in COLUMN_TYPES:
            raise DefinitionError(
                f"The 'column_types' parameter of {owner} gives column {column!r} the type {kind!r}; expected one "
                f"of {list(COLUMN_TYPES)}. Got {kind!r} instead."
            )


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


def _ingest_into(output: Output[Examples] | Examples, source: Any, *, splitter: Any, spans: list[int | None],
                 version: int | None, max_columns: int = DEFAULT_MAX_COLUMNS) -> None:
    from sluiceway.data.ingest import ingest

    examples = cast(Examples, output)  # at run time the executor passes the Examples artifact itself

    if len(spans) == 1:
        result = ingest(source, examples.uri, splits=splitter, span=spans[0], version=version,
                        max_columns=max_columns)
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
        result = ingest(source, part_root, splits=splitter, span=span, version=None, max_columns=max_columns)
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

    def check_parameters(self, owner: str, parameters: dict[str, Any]) -> None:
        _check_split_parameters(owner, parameters)
        _check_span_parameters(owner, parameters)
        _check_column_types(owner, parameters)
        _check_max_columns(owner, parameters)

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
        max_columns: MaxColumns = DEFAULT_MAX_COLUMNS,
    ) -> None:
        self._ingest(examples, input_pattern, splits, partition_column, time_column, time_cutoff, span, version,
                     span_range, last_n_spans, max_columns)

    def _ingest(self, examples: Output[Examples], input_pattern: Pattern, splits: dict[str, int] | None,
                partition_column: str | None, time_column: str | None, time_cutoff: str | int | float | None,
                span: int | None, version: int | None, span_range: tuple[int, int] | None,
                last_n_spans: int | None, max_columns: int, **options: Any) -> None:
        splitter = _splitter(splits, partition_column, time_column, time_cutoff)
        spans = _spans_to_ingest(input_pattern, span, span_range, last_n_spans)
        _ingest_into(examples, self._source(input_pattern, **options), splitter=splitter, spans=spans, version=version,
                     max_columns=max_columns)

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
    """CSV files (with a header row) → Examples. ``input_pattern`` is a path pattern or {split: pattern}.

    ``column_types`` declares how to read some columns (``{"id": "string"}``: string, int64, float64, bool,
    date, datetime) instead of inferring it; ``max_columns`` bounds an input's width (default 20,000)."""

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
        max_columns: MaxColumns = DEFAULT_MAX_COLUMNS,
        delimiter: str = ",",
        column_types: dict[str, str] | None = None,
    ) -> None:
        self._ingest(examples, input_pattern, splits, partition_column, time_column, time_cutoff, span, version,
                     span_range, last_n_spans, max_columns, delimiter=delimiter, column_types=column_types)

    def check_parameters(self, owner: str, parameters: dict[str, Any]) -> None:
        super().check_parameters(owner, parameters)
        delimiter = parameters.get("delimiter")
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\"":
            raise DefinitionError(
                f"The 'delimiter' parameter of {owner} must be one character other than a quote or a line end, "
                f"e.g. ',' or '\\t'. Got {delimiter!r} instead."
            )

    def _source(self, input_pattern: Pattern, **options: Any) -> Any:
        from sluiceway.data.ingest import CsvSource

        return CsvSource(input_pattern, delimiter=options["delimiter"], column_types=options["column_types"] or {})


class ParquetExampleGen(_FileExampleGen):
    """Parquet files → Examples. ``input_pattern`` is a path pattern or {split: pattern}."""

    def _source(self, input_pattern: Pattern, **options: Any) -> Any:
        from sluiceway.data.ingest import ParquetSource

        return ParquetSource(input_pattern)


class JsonExampleGen(_FileExampleGen):
    """JSON lines files (one object a line) → Examples. ``input_pattern`` is a path pattern or {split: pattern};
    ``column_types`` and ``max_columns`` as for :class:`CsvExampleGen`."""

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
        max_columns: MaxColumns = DEFAULT_MAX_COLUMNS,
        column_types: dict[str, str] | None = None,
    ) -> None:
        self._ingest(examples, input_pattern, splits, partition_column, time_column, time_cutoff, span, version,
                     span_range, last_n_spans, max_columns, column_types=column_types)

    def _source(self, input_pattern: Pattern, **options: Any) -> Any:
        from sluiceway.data.ingest import JsonLinesSource

        return JsonLinesSource(input_pattern, column_types=options["column_types"] or {})


class SqlExampleGen(Component):
    """The result of a SQL query (through SQLAlchemy) → Examples. Not cached unless ``cache=True``."""

    def __init__(self, *, cache: bool = False, **kwargs: Any) -> None:
        super().__init__(cache=cache, **kwargs)

    def check_parameters(self, owner: str, parameters: dict[str, Any]) -> None:
        _check_split_parameters(owner, parameters)
        _check_max_columns(owner, parameters)

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
        max_columns: MaxColumns = DEFAULT_MAX_COLUMNS,
    ) -> None:
        from sluiceway.data.ingest import SqlSource

        splitter = _splitter(splits, partition_column, time_column, time_cutoff)
        _ingest_into(examples, SqlSource(url, query, span=span), splitter=splitter, spans=[None], version=None,
                     max_columns=max_columns)


class DataFrameExampleGen(Component):
    """An in-memory pandas/Polars DataFrame (or pyarrow Table) → Examples, for notebooks.

    The frame's content (not its identity) is fingerprinted for caching.
    """

    def check_parameters(self, owner: str, parameters: dict[str, Any]) -> None:
        _check_split_parameters(owner, parameters)
        _check_max_columns(owner, parameters)

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
        max_columns: MaxColumns = DEFAULT_MAX_COLUMNS,
    ) -> None:
        from sluiceway.data.ingest import DataFrameSource

        splitter = _splitter(splits, partition_column, time_column, time_cutoff)
        _ingest_into(examples, DataFrameSource(frame, span=span), splitter=splitter, spans=[None], version=None,
                     max_columns=max_columns)

    def cache_key(self) -> dict[str, Any]:
        from sluiceway.data.ingest import DataFrameSource
        from sluiceway.data.ingest.driver import _reader_for

        try:
            fingerprint = _reader_for(DataFrameSource(self.parameters["frame"]), span=None, version=None).fingerprint()
            return {"frame": fingerprint}
        except DataError as exc:
            return {"frame_error": str(exc)}

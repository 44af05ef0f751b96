"""Statistics of rows as a reader produces them: the CSV / JSON-lines path, read once, no Parquet copy.

``statistics_of_tables(read, ...)`` hands ``read`` a sink factory; the reader (ingest's ``read_into``, with
all of ingest's checks) writes its tables into the sink, which cuts them into the row groups the
``Examples`` writer would have written (``RowGroupCutter``) and maps each row group on a thread pool
while the reader parses the next. Results are merged in row-group order, exactly as the Parquet path
merges its fragments, so the statistics are the same bytes as statistics of the ingested ``Examples``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from sluiceway.data.statistics.accumulators import DatasetAccumulator, Key, merge_results
from sluiceway.data.statistics.compute import (
    StatisticsMapper,
    _finish,
    _list_features_of_empty_split,
    _make_options,
)
from sluiceway.data.statistics.features import FeaturePlan, plan_features
from sluiceway.data.statistics.model import StatisticsSet
from sluiceway.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

#: The part size of ``ingest``'s default: row groups are cut at part boundaries too.
_ROWS_PER_FILE = 5_000_000


class _StatisticsSink:
    """Ingest's ``TableSink`` that maps row groups to statistics accumulators instead of writing them."""

    def __init__(self, split_names: list[str], mapper: StatisticsMapper, columns: Sequence[str] | None,
                 always: Sequence[str], max_workers: int) -> None:
        from sluiceway.data.ingest.writer import RowGroupCutter

        self.split_names = split_names
        self.row_counts = [0] * len(split_names)
        self.results: dict[Key, DatasetAccumulator] = {}
        self.schema: pa.Schema | None = None
        self._mapper = mapper
        self._columns = list(columns) if columns is not None else None
        self._always = list(always)
        self._cutters = [RowGroupCutter(_ROWS_PER_FILE) for _ in split_names]
        self._workers = max_workers
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sluiceway-statistics")
        self._pending: list[Future[dict[Key, DatasetAccumulator]]] = []

    def write(self, index: int, table: pa.Table) -> None:
        self.row_counts[index] += table.num_rows
        for group in self._cutters[index].add(table):
            self._submit(index, group)

    def write_assigned(self, table: pa.Table, assignment: np.ndarray) -> None:
        from sluiceway.data.ingest.writer import _boolean_array

        for index in range(len(self.split_names)):
            mask = assignment == index
            if mask.all():
                self.write(index, table)
            elif mask.any():
                self.write(index, table.filter(_boolean_array(mask)))

    def _submit(self, index: int, group: pa.Table) -> None:
        if self.schema is None:
            self.schema = group.schema
            self._check_columns(group.schema, self.split_names[index])
        if self._columns is not None:
            group = group.select(list(dict.fromkeys([*self._columns, *self._always])))
        self._pending.append(
            self._pool.submit(self._mapper.map_batches, iter([group]), split=self.split_names[index])
        )
        while len(self._pending) > self._workers:  # bounds the row groups held in memory; keeps merge order
            merge_results(self.results, self._pending.pop(0).result())

    def _check_columns(self, schema: pa.Schema, split: str) -> None:
        missing = [c for c in (*(self._columns or ()), *self._always) if c not in schema.names]
        if missing:
            raise DataError(
                f"Column(s) {', '.join(map(repr, missing))} not found in split '{split}'. "
                f"Columns: {', '.join(schema.names)}"
            )

    def flush(self) -> None:
        for index, cutter in enumerate(self._cutters):
            for group in cutter.flush():
                self._submit(index, group)
        while self._pending:
            merge_results(self.results, self._pending.pop(0).result())

    def finish(self, schema: pa.Schema) -> dict[Key, DatasetAccumulator]:
        self.flush()
        self._pool.shutdown(wait=True)
        self.schema = self.schema or schema
        return self.results

    def abort(self) -> None:
        for future in self._pending:
            future.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending, self.results = [], {}


def statistics_of_tables(
    read: Callable[[Callable[[list[str]], _StatisticsSink]], tuple[list[str], Any, dict[Key, DatasetAccumulator]]],
    *,
    columns: Sequence[str] | None = None,
    slice_by: str | Sequence[str] | None = None,
    weight_column: str | None = None,
    max_workers: int | None = None,
    **numbers: int,
) -> StatisticsSet:
    """Statistics of the tables ``read`` writes into the sink it is given (one dataset a split name).

    ``read(make_sink)`` must return ``(split names, schema, what the last sink's finish returned)``: ingest's
    ``read_into`` does. ``columns``, ``slice_by``, ``weight_column`` and the numbers (``top_k``, …) mean what
    they mean for ``compute_statistics``."""
    options = _make_options(slice_by, weight_column, columns, numbers)
    mapper = StatisticsMapper(options)
    always = [c for c in (*options.slice_by, weight_column) if c]
    exclude = [weight_column] if weight_column else []
    workers = max_workers or os.cpu_count() or 1

    def make_sink(split_names: list[str]) -> _StatisticsSink:
        return _StatisticsSink(split_names, mapper, columns, always, workers)

    split_names, schema, results = read(make_sink)
    plan: list[FeaturePlan] = plan_features(schema, exclude)  # file order, as for Parquet (also with columns=)
    feature_order: dict[str, int] = {}
    for name, *_ in plan:
        feature_order.setdefault(name, len(feature_order))
    for split in split_names:
        results.setdefault((split, None, None), DatasetAccumulator())
        _list_features_of_empty_split(results[(split, None, None)], plan, options)
    return _finish(results, split_names, options, feature_order)


__all__ = ["statistics_of_tables"]

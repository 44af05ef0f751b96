"""The compute driver: ``compute_statistics`` resolves splits, plans fragments, maps and finishes.

One streaming pass per split: Parquet splits are mapped over their row groups on an engine
(``sluiceway.data.engine``), in-memory tables batch by batch; each batch is re-cut into windows of
``WINDOW_ROWS`` rows (so the result does not depend on the engine's batch size) and folded into
per-feature accumulators, which the engine merges in fragment order. ``_finish`` turns the merged
accumulators into the ``StatisticsSet`` model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sluiceway.data.engine import Engine
from sluiceway.data.statistics.accumulators import (
    DatasetAccumulator,
    FeatureAccumulator,
    Key,
    merge_results,
    slice_text,
)
from sluiceway.data.statistics.features import FeaturePlan, feature_kind, plan_features
from sluiceway.data.statistics.model import DatasetStatistics, SliceKey, StatisticsSet
from sluiceway.data.statistics.numeric import update_numeric_columns
from sluiceway.data.statistics.options import WINDOW_ROWS, StatisticsOptions
from sluiceway.errors import ConfigError, DataError


def _polars_frames(batches: Any) -> Any:
    """Polars DataFrames from batches that are Polars frames or Arrow record batches."""
    import polars as pl

    for batch in batches:
        if isinstance(batch, pl.DataFrame):
            yield batch
            continue
        df = pl.from_arrow(batch, rechunk=False)
        yield df.to_frame() if isinstance(df, pl.Series) else df  # one column can come back as a Series


def _canonical_windows(frames: Any, rows: int) -> Any:
    """The rows of ``frames`` re-cut into windows of exactly ``rows`` rows (the last one shorter),
    each stored as one contiguous chunk per column.

    Why: per-window sums and sketch updates round differently when a column is cut differently, so
    statistics are computed over windows that depend only on the data, not on the engine's batch
    size or on how a reader chunked its arrays. At least one (maybe empty) window is yielded when
    there was any frame, so an empty file still lists its features."""
    import polars as pl

    held: list[Any] = []
    held_rows = 0
    seen = False
    for df in frames:
        if not seen and df.height == 0:
            held.append(df)
        seen = True
        while df.height:
            take = min(rows - held_rows, df.height)
            held.append(df.slice(0, take))
            held_rows += take
            df = df.slice(take)
            if held_rows == rows:
                yield pl.concat(held, rechunk=True) if len(held) > 1 else held[0].rechunk()
                held, held_rows = [], 0
    if held_rows or (seen and held):
        yield pl.concat(held, rechunk=True) if len(held) > 1 else held[0].rechunk()


class StatisticsMapper:
    """The map function of a statistics pass: a fragment's batches → accumulators (picklable)."""

    def __init__(self, options: StatisticsOptions) -> None:
        self.options = options

    def __call__(self, fragment: Any, batches: Any) -> dict[Key, DatasetAccumulator]:
        return self.map_batches(batches, split=fragment.tag, count_rows=fragment.column_group == 0)

    def map_batches(self, batches: Any, *, split: str, count_rows: bool = True) -> dict[Key, DatasetAccumulator]:
        opts = self.options
        out: dict[Key, DatasetAccumulator] = {}
        plan = None
        for df in _canonical_windows(_polars_frames(batches), WINDOW_ROWS):
            if plan is None:
                exclude = [opts.weight_column] if opts.weight_column else []
                schema = df.head(0).to_arrow().schema
                plan = plan_features(schema, exclude)
                missing = [c for c in (*opts.slice_by, *exclude) if c not in schema.names]
                if missing:
                    raise DataError(
                        f"Column(s) {', '.join(map(repr, missing))} not found in split '{split}'. "
                        f"Columns: {', '.join(schema.names)}"
                    )
            self._update(out, (split, None, None), df, plan, count_rows)
            for col in opts.slice_by:
                for key, part in df.partition_by(col, as_dict=True, maintain_order=True).items():
                    value = key[0] if isinstance(key, tuple) else key
                    self._update(out, (split, col, slice_text(value)), part, plan, count_rows)
        if plan is None:
            out[(split, None, None)] = DatasetAccumulator()
        return out

    def _update(self, out: dict[Key, DatasetAccumulator], key: Key, df: Any, plan: Any, count_rows: bool) -> None:
        opts = self.options
        acc = out.get(key)
        if acc is None:
            acc = out[key] = DatasetAccumulator()
        w = df.get_column(opts.weight_column) if opts.weight_column else None
        weighted = w is not None
        if count_rows:
            acc.num_examples += df.height
            if w is not None:
                acc.w_num_examples += float(w.fill_null(0.0).sum())
        columnar: list[tuple[str, FeatureAccumulator]] = []
        # column positions once per window: lookups by name cost time in the frame's width
        position = {column: i for i, column in enumerate(df.columns)}
        for name, path, ftype, vtype in plan:
            if path[0] not in position:
                continue
            fa = acc.features.get(name)
            if fa is None:
                fa = acc.features[name] = FeatureAccumulator(ftype, vtype, opts, weighted)
            if not weighted and len(path) == 1 and ftype.is_numeric:
                columnar.append((path[0], fa))  # done below for all such columns at once
                continue
            s = df.to_series(position[path[0]])
            for field_name in path[1:]:
                s = s.struct.field(field_name)
            fa.update(s.alias(name.replace(".", "_")), w, opts)
        if columnar:
            update_numeric_columns(df, columnar, opts)


def _finish(
    results: dict[Key, DatasetAccumulator],
    split_order: Sequence[str],
    options: StatisticsOptions,
    feature_order: dict[str, int],
) -> StatisticsSet:
    weighted = options.weight_column is not None
    datasets = []

    def sort_key(key: Key) -> tuple[int, int, str, str]:
        split, col, value = key
        return (
            split_order.index(split) if split in split_order else len(split_order),
            0 if col is None else 1 + (options.slice_by.index(col) if col in options.slice_by else 0),
            "" if value is None else str(value),
            "",
        )

    for key in sorted(results, key=sort_key):
        split, col, value = key
        acc = results[key]
        names = sorted(acc.features, key=lambda n: (feature_order.get(n, len(feature_order)), n))
        # each accumulator is dropped once finished: its sketches make room for the results, so a
        # wide table does not hold both at once (the accumulators are not used after this)
        feats = tuple(acc.features.pop(n).finish(n, options, weighted) for n in names)
        datasets.append(
            DatasetStatistics(
                split=split,
                num_examples=acc.num_examples,
                features=feats,
                weighted_num_examples=acc.w_num_examples if weighted else None,
                slice=SliceKey(column=col, value=value) if col is not None else None,
            )
        )
    return StatisticsSet(datasets=tuple(datasets))


def _resolve_splits(data: Any, split_names: Sequence[str] | None, default_split: str) -> dict[str, Any]:
    """Map split name → list of Parquet files, or → an in-memory Arrow table."""
    from sluiceway.data.engine import list_parquet_files

    if hasattr(data, "uri") and not isinstance(data, (str, Path)):
        data = data.uri
    splits: dict[str, Any] = {}
    if isinstance(data, Mapping):
        for name, value in data.items():
            splits[str(name)] = _resolve_one(value)
    elif isinstance(data, (str, Path)):
        p = Path(data)
        split_dirs = sorted(d for d in p.glob("Split-*") if d.is_dir()) if p.is_dir() else []
        if split_dirs:
            for d in split_dirs:
                splits[d.name[len("Split-"):]] = list_parquet_files(d)
        else:
            splits[default_split] = list_parquet_files(p)
    else:
        splits[default_split] = _resolve_one(data)
    if split_names is not None:
        unknown = [s for s in split_names if s not in splits]
        if unknown:
            raise DataError(
                f"Split(s) {', '.join(map(repr, unknown))} not found. Available: {', '.join(splits) or '(none)'}"
            )
        splits = {s: splits[s] for s in split_names}
    return splits


def _resolve_one(value: Any) -> Any:
    from sluiceway.data.engine import list_parquet_files

    if isinstance(value, (str, Path)):
        return list_parquet_files(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, Path)) for v in value):
        files: list[str] = []
        for v in value:
            files.extend(list_parquet_files(v))
        return files
    return _to_arrow(value)


def _to_arrow(value: Any) -> Any:
    import pyarrow as pa

    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    module = type(value).__module__
    if module.startswith("polars"):
        return value.to_arrow()
    if module.startswith("pandas"):
        try:
            return pa.Table.from_pandas(value, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:  # a column of mixed Python types, say
            raise DataError(
                f"Cannot read the pandas DataFrame as a table: {exc}. Give each column one type "
                "(for example df[column] = df[column].astype(str)) and try again."
            ) from exc
    raise DataError(
        "The 'data' parameter of compute_statistics must be a Parquet path, an Examples artifact, a pyarrow "
        "Table, a Polars or pandas DataFrame, or a mapping of split name to one of those. "
        f"Got {type(value).__name__} instead."
    )


def _column_costs(path: str, schema: Any) -> dict[str, float]:
    """Relative work per column, to balance column groups between workers: a fixed part plus a part
    in the column's compressed bytes per row (high-cardinality columns go to sketches and cost more).
    Fitted on the taxi-like data: a small int ≈ 20 ms per million rows, a high-cardinality float ≈ 75
    ms, a unique string id ≈ 170 ms."""
    import pyarrow.parquet as pq

    sizes: dict[str, int] = {}
    rows = 0
    try:
        md = pq.ParquetFile(path).metadata
        rows = md.num_rows
        for i in range(md.num_row_groups):
            rg = md.row_group(i)
            for j in range(rg.num_columns):
                col = rg.column(j)
                top = col.path_in_schema.split(".")[0]
                sizes[top] = sizes.get(top, 0) + col.total_compressed_size
    except (OSError, ValueError):  # costs are only a hint: equal costs if the metadata cannot be read
        pass
    costs = {}
    for f in schema:
        string = feature_kind(f.type)[1].is_string
        per_row = sizes.get(f.name, 0) / rows if rows else 0.0
        costs[f.name] = (5.0 + 0.6 * per_row) if string else (2.0 + per_row)
    return costs


def compute_statistics(
    data: Any,
    *,
    split_names: Sequence[str] | None = None,
    slice_by: str | Sequence[str] | None = None,
    weight_column: str | None = None,
    columns: Sequence[str] | None = None,
    engine: Engine | str | None = None,
    default_split: str = "all",
    top_k: int = 20,
    num_rank_histogram_buckets: int = 1000,
    num_histogram_buckets: int = 10,
    num_quantiles: int = 100,
    exact_cap: int = 16_384,
) -> StatisticsSet:
    """Statistics of every feature of every split, in one streaming pass.

    ``data``: an ``Examples`` artifact (or its URI: splits from ``Split-{name}/`` folders), a Parquet
    file or folder (one dataset named ``default_split``), an in-memory pyarrow Table / Polars / pandas
    DataFrame, or a mapping ``{split: any of those}``. ``slice_by`` adds one dataset per value of each
    given column (per split); ``weight_column`` adds weighted statistics (and is not a feature).
    ``engine``: ``"local"`` (threads over row groups), ``"ray"`` (Ray tasks, ``RAY_ADDRESS``) or an
    ``Engine``; None: the engine selected for the running component, else ``"local"``.
    ``top_k`` values are listed in ``top_values``; the rank histogram lists up to
    ``num_rank_histogram_buckets`` values while a string feature's counts are exact (up to 3072
    distinct values), so schema inference sees complete value lists (at most 50 approximate values
    otherwise).
    """
    from sluiceway.data.engine import default_engine

    numbers = {
        "top_k": top_k,
        "num_rank_histogram_buckets": num_rank_histogram_buckets,
        "num_histogram_buckets": num_histogram_buckets,
        "num_quantiles": num_quantiles,
        "exact_cap": exact_cap,
    }
    options = _make_options(slice_by, weight_column, columns, numbers)
    splits = _resolve_splits(data, split_names, default_split)
    mapper = StatisticsMapper(options)
    results: dict[Key, DatasetAccumulator] = {}
    feature_order: dict[str, int] = {}
    always = [c for c in (*options.slice_by, weight_column) if c]
    exclude = [weight_column] if weight_column else []
    eng: Any = None
    for split, source in splits.items():
        if isinstance(source, list):
            if eng is None:
                # larger batches than the engine default: the Polars reader decodes a whole fragment
                # at once anyway, so small batches only repeat the per-batch work
                eng = default_engine(engine, batch_rows=WINDOW_ROWS)
            part, plan = _map_parquet_split(split, source, columns, always, exclude, eng, mapper)
        else:
            table = source.select(list(dict.fromkeys([*columns, *always]))) if columns is not None else source
            plan = plan_features(table.schema, exclude)
            part = mapper.map_batches(iter(table.to_batches(max_chunksize=WINDOW_ROWS)), split=split)
        for name, *_ in plan:
            feature_order.setdefault(name, len(feature_order))
        _list_features_of_empty_split(part.get((split, None, None)), plan, options)
        merge_results(results, part)
    return _finish(results, list(splits), options, feature_order)


def _make_options(slice_by: Any, weight_column: str | None, columns: Any, numbers: dict[str, int]) -> StatisticsOptions:
    """The checked options of a statistics pass (``StatisticsOptions`` checks its own fields)."""
    options = StatisticsOptions(slice_by=_names(slice_by), weight_column=weight_column, **numbers)
    if columns is not None and (isinstance(columns, str) or not all(isinstance(c, str) for c in columns)):
        raise ConfigError(
            "The 'columns' parameter of compute_statistics must be a list of column names or None. "
            f"Got {columns!r} instead."
        )
    return options


def _names(value: Any) -> Any:
    """``slice_by`` as a tuple of names; other values are passed on for ``StatisticsOptions`` to refuse."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return value


def _map_parquet_split(
    split: str,
    files: list[str],
    columns: Sequence[str] | None,
    always: Sequence[str],
    exclude: Sequence[str],
    engine: Any,
    mapper: StatisticsMapper,
) -> tuple[dict[Key, DatasetAccumulator], list[FeaturePlan]]:
    """Accumulators of one split stored as Parquet files, mapped over their row groups on the engine,
    and the split's features."""
    import pyarrow.parquet as pq

    from sluiceway.data.engine import plan_fragments

    try:
        schema = pq.read_schema(files[0])
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"Not a readable Parquet file: {files[0]} ({exc}).") from exc
    cols = list(columns) if columns is not None else schema.names
    names = set(schema.names)
    missing = [c for c in (*cols, *always) if c not in names]
    if missing:
        raise DataError(
            f"Column(s) {', '.join(map(repr, missing))} not found in split '{split}' "
            f"({files[0]}). Columns: {', '.join(schema.names)}"
        )
    fragments = plan_fragments(
        files,
        columns=cols,
        always_columns=always,
        parallelism=getattr(engine, "parallelism", 1),
        column_costs=_column_costs(files[0], schema),
        tag=split,
    )
    part = engine.map_reduce(fragments, mapper, merge_results, batch_format="polars")
    return part or {(split, None, None): DatasetAccumulator()}, plan_features(schema, exclude)


def _list_features_of_empty_split(
    acc: DatasetAccumulator | None, plan: list[FeaturePlan], options: StatisticsOptions
) -> None:
    """A split without rows (a zero-row file) still lists its columns, each with count 0, like a
    split with rows: an empty file is not a file without columns."""
    if acc is None or acc.features or acc.num_examples:
        return
    weighted = options.weight_column is not None
    for name, _path, kind, element in plan:
        acc.features[name] = FeatureAccumulator(kind, element, options, weighted)


__all__ = ["StatisticsMapper", "compute_statistics"]

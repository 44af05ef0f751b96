"""The data engine: map a function over pieces of Parquet files and merge mergeable accumulators.

Heavy data work (statistics, transform analyzers, metrics) is written once as

    accumulator = map_fn(fragment, batches)     # batches: an iterator of pyarrow.RecordBatch
    accumulator = merge_fn(accumulator, other)  # associative and commutative

and an ``Engine`` decides where the map calls run. ``InProcessEngine`` runs them on threads over
Parquet row groups (and over groups of columns when a file has fewer row groups than workers, so one
big row group still uses every core); ``RayEngine`` (``sluiceway.data.ray_engine``, the ``ray``
extra) backs the same interface with Ray tasks, which is why a ``Fragment`` is a small picklable
description (path, row group, columns) that the worker reads itself, and why accumulators and map
functions must pickle. Memory is bounded: at most ``max_workers`` fragments are read at a time, each
as record batches of at most ``batch_rows`` rows.

Which engine runs a component's data work is chosen by ``Pipeline(engine=)``, ``Component(engine=)``
or ``sluiceway run --engine``; the runner sets it around the executor (``use_engine``) and
``default_engine(None)`` returns it, so data code needs no engine argument.

Results are merged in fragment order, never in completion order: merges of floating-point moments
and of sketches are associative only up to rounding (and a sketch's state depends on the order it
sees data), so a fixed order is what makes the same input give the same bytes whatever the thread
count or the timing of the workers. A result that finishes early waits (at most ``2 * max_workers``
results are held) until the ones before it are merged.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sluiceway.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

A = TypeVar("A")

DEFAULT_BATCH_ROWS = 256 * 1024


@dataclass(frozen=True)
class Fragment:
    """One unit of work: some row groups and columns of one Parquet file.

    ``column_group`` numbers the column subsets a row group was split into (0 is the first); a map
    function that counts rows should count them only in column group 0. ``tag`` carries what the
    caller needs to route results (a split name, say).
    """

    path: str
    row_groups: tuple[int, ...] | None = None  # None: the whole file
    columns: tuple[str, ...] | None = None  # None: every column
    num_rows: int = 0
    column_group: int = 0
    tag: str = ""
    row_offset: int | None = None  # first row of ``row_groups`` in the file (one contiguous range)

    def iter_batches(self, batch_rows: int = DEFAULT_BATCH_ROWS, batch_format: str = "arrow") -> Iterator[Any]:
        """Read this fragment as batches of at most ``batch_rows`` rows.

        ``batch_format="arrow"`` yields ``pyarrow.RecordBatch``; ``"polars"`` yields Polars
        DataFrames read by Polars' Parquet reader (faster for strings; the row groups are decoded at
        once, so memory is bounded by the row-group size, not the file size)."""
        if batch_format == "polars":
            yield from self._iter_polars(batch_rows)
            return
        if batch_format != "arrow":
            raise ConfigError(
                f"The 'batch_format' parameter must be 'arrow' or 'polars'. Got {batch_format!r} instead."
            )
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(self.path)
            yield from pf.iter_batches(
                batch_size=batch_rows,
                row_groups=list(self.row_groups) if self.row_groups is not None else None,
                columns=list(self.columns) if self.columns is not None else None,
                use_threads=True,
            )
        except FileNotFoundError as exc:
            raise DataError(f"Parquet file not found: {self.path}") from exc
        except OSError as exc:
            raise DataError(f"Cannot read Parquet file {self.path}: {exc}") from exc

    def _iter_polars(self, batch_rows: int) -> Iterator[Any]:
        import polars as pl

        try:
            lf = pl.scan_parquet(self.path, glob=False)  # a resolved file: "[" in its name is literal
            if self.columns is not None:
                lf = lf.select(list(self.columns))
            if self.row_offset is not None:
                lf = lf.slice(self.row_offset, self.num_rows)
            df = lf.collect()
        except FileNotFoundError as exc:
            raise DataError(f"Parquet file not found: {self.path}") from exc
        except (OSError, pl.exceptions.ComputeError) as exc:
            raise DataError(f"Cannot read Parquet file {self.path}: {exc}") from exc
        for start in range(0, max(df.height, 1), batch_rows):
            yield df.slice(start, batch_rows)


class Engine(Protocol):
    """Where map/merge work runs. Implementations: ``InProcessEngine`` (threads), ``RayEngine`` (Ray tasks)."""

    def map_reduce(
        self,
        fragments: Sequence[Fragment],
        map_fn: Callable[[Fragment, Iterator[Any]], A],
        merge_fn: Callable[[A, A], A],
        *,
        initial: A | None = None,
        batch_format: str = "arrow",
    ) -> A | None: ...


def list_parquet_files(path: str | os.PathLike[str]) -> list[str]:
    """The Parquet files at ``path``: the file itself, or ``*.parquet`` under a directory (sorted)."""
    p = Path(path)
    if p.is_file():
        return [str(p)]
    if p.is_dir():
        files = sorted(str(f) for f in p.rglob("*.parquet") if f.is_file())
        if not files:
            raise DataError(f"No Parquet files (*.parquet) under {p}.")
        return files
    raise DataError(f"Path not found: {p}. Give a Parquet file or a directory of Parquet files.")


def _balance(columns: Sequence[str], costs: dict[str, float], groups: int) -> list[list[str]]:
    """Split columns into ``groups`` lists of about equal total cost (greedy, largest first)."""
    bins: list[tuple[float, list[str]]] = [(0.0, []) for _ in range(groups)]
    for col in sorted(columns, key=lambda c: -costs.get(c, 1.0)):
        i = min(range(groups), key=lambda j: bins[j][0])
        total, cols = bins[i]
        bins[i] = (total + costs.get(col, 1.0), [*cols, col])
    order = {c: i for i, c in enumerate(columns)}
    return [sorted(cols, key=order.__getitem__) for _, cols in bins if cols]


def plan_fragments(
    files: Iterable[str | os.PathLike[str]],
    *,
    columns: Sequence[str] | None = None,
    always_columns: Sequence[str] = (),
    parallelism: int = 1,
    column_costs: dict[str, float] | None = None,
    tag: str = "",
    split_rows: int = 256 * 1024,
) -> list[Fragment]:
    """One fragment per row group of each file; when there are fewer row groups than
    ``parallelism`` or row groups have ``split_rows`` rows or more, each row group is split into
    ``parallelism`` column groups (``always_columns``, e.g. a slice or weight column, are read by
    every group)."""
    import pyarrow.parquet as pq

    fragments: list[Fragment] = []
    file_list = [str(f) for f in files]
    row_groups: list[tuple[str, int, int, int]] = []
    schema_names: list[str] | None = None
    for path in file_list:
        try:
            md = pq.ParquetFile(path).metadata
        except FileNotFoundError as exc:
            raise DataError(f"Parquet file not found: {path}") from exc
        except Exception as exc:  # pyarrow raises ArrowInvalid for a non-Parquet file
            raise DataError(f"Not a readable Parquet file: {path} ({exc})") from exc
        if schema_names is None:
            schema_names = md.schema.to_arrow_schema().names
        offset = 0
        for i in range(md.num_row_groups):
            n = md.row_group(i).num_rows
            row_groups.append((path, i, n, offset))
            offset += n
    cols = list(columns) if columns is not None else list(schema_names or [])
    extra_cols = [c for c in always_columns if c not in cols]
    groups = 1
    largest = max((n for _, _, n, _ in row_groups), default=0)
    if parallelism > 1 and len(cols) > 1 and (len(row_groups) < parallelism or largest >= split_rows):
        # few row groups: split columns so every worker has work; big row groups: split them so
        # the workers together hold about one row group in memory, whatever the file size
        groups = min(parallelism, len(cols))
    col_groups = _balance(cols, column_costs or {}, groups) if groups > 1 else [cols]
    for path, rg, n, offset in row_groups:
        for gi, group in enumerate(col_groups):
            read = [*group, *[c for c in extra_cols if c not in group]]
            for c in always_columns:
                if c not in read:
                    read.append(c)
            fragments.append(
                Fragment(
                    path=path,
                    row_groups=(rg,),
                    columns=tuple(read),
                    num_rows=n,
                    column_group=gi,
                    tag=tag,
                    row_offset=offset,
                )
            )
    return fragments


class InProcessEngine:
    """Runs map functions on a thread pool in this process (Arrow, Polars and numpy release the GIL).

    ``max_workers`` defaults to the number of CPUs; ``batch_rows`` bounds each record batch.
    """

    def __init__(self, max_workers: int | None = None, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        if max_workers is not None and not (_is_int(max_workers) and max_workers >= 1):
            raise ConfigError(
                f"The 'max_workers' parameter of InProcessEngine must be an int >= 1 or None. "
                f"Got {max_workers!r} instead."
            )
        if not (_is_int(batch_rows) and batch_rows >= 1):
            raise ConfigError(
                f"The 'batch_rows' parameter of InProcessEngine must be an int >= 1. Got {batch_rows!r} instead."
            )
        self.max_workers = max_workers or os.cpu_count() or 1
        self.batch_rows = batch_rows

    @property
    def parallelism(self) -> int:
        return self.max_workers

    def map_reduce(
        self,
        fragments: Sequence[Fragment],
        map_fn: Callable[[Fragment, Iterator[Any]], A],
        merge_fn: Callable[[A, A], A],
        *,
        initial: A | None = None,
        batch_format: str = "arrow",
    ) -> A | None:
        """Apply ``map_fn`` to every fragment's batches and merge the results in fragment order.

        Returns ``initial`` (default None) when there are no fragments. Exceptions raised by
        ``map_fn`` propagate unchanged after the remaining work is cancelled."""
        result: A | None = initial

        def run(fragment: Fragment) -> A:
            return map_fn(fragment, fragment.iter_batches(self.batch_rows, batch_format))

        def fold(value: A) -> None:
            nonlocal result
            result = value if result is None else merge_fn(result, value)

        if self.max_workers == 1 or len(fragments) <= 1:
            for fragment in fragments:
                fold(run(fragment))
            return result

        # results are folded in fragment order: ``ready`` holds those that finished before an
        # earlier fragment; submission stops while it is full, so memory stays bounded
        futures: dict[Future[A], int] = {}
        ready: dict[int, A] = {}
        next_to_fold = 0
        next_to_submit = 0
        window = 2 * self.max_workers
        with ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="sluiceway-engine") as pool:
            try:
                while next_to_fold < len(fragments):
                    while (
                        next_to_submit < len(fragments)
                        and len(futures) < self.max_workers
                        and next_to_submit - next_to_fold < window
                    ):
                        futures[pool.submit(run, fragments[next_to_submit])] = next_to_submit
                        next_to_submit += 1
                    done, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for fut in done:
                        ready[futures.pop(fut)] = fut.result()
                    while next_to_fold in ready:
                        fold(ready.pop(next_to_fold))
                        next_to_fold += 1
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
        return result


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


ENGINE_NAMES = ("local", "ray")

# The engine a component's data work runs on when its code does not pass one: set by the runner around
# each executor (``Pipeline(engine=)``, ``Component(engine=)``, ``--engine``), read by ``default_engine``.
_current_engine: contextvars.ContextVar[Engine | str | None] = contextvars.ContextVar(
    "sluiceway_current_engine", default=None
)


@contextlib.contextmanager
def use_engine(engine: Engine | str | None) -> Iterator[None]:
    """Within this block (this thread or task), ``default_engine(None)`` resolves to ``engine``."""
    check_engine_spec(engine)
    token = _current_engine.set(engine)
    try:
        yield
    finally:
        _current_engine.reset(token)


def check_engine_spec(engine: object, what: str = "The 'engine' parameter") -> None:
    """Refuse an engine argument that is neither None, ``"local"``, ``"ray"`` nor an Engine; ``what``
    names the argument in the message."""
    if engine is None or engine in ENGINE_NAMES or (not isinstance(engine, str) and hasattr(engine, "map_reduce")):
        return
    raise ConfigError(
        f"{what} must be an Engine, 'local' or 'ray'. Got {engine!r} instead."
    )


def default_engine(engine: Engine | str | None = None, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> Engine:
    """Resolve an engine argument: an Engine, ``"local"`` (in-process threads), ``"ray"`` (Ray tasks on the
    cluster at ``RAY_ADDRESS``) or None (the engine selected for the running component, else ``"local"``).
    ``batch_rows`` applies to an engine built here from a name."""
    if engine is None:
        engine = _current_engine.get()
    check_engine_spec(engine)
    if engine is None or engine == "local":
        return InProcessEngine(batch_rows=batch_rows)
    if engine == "ray":
        from sluiceway.data.ray_engine import RayEngine

        return RayEngine(batch_rows=batch_rows)
    assert not isinstance(engine, str)  # check_engine_spec allows no other name
    return engine


__all__ = [
    "DEFAULT_BATCH_ROWS",
    "Engine",
    "Fragment",
    "InProcessEngine",
    "check_engine_spec",
    "default_engine",
    "list_parquet_files",
    "plan_fragments",
    "use_engine",
]

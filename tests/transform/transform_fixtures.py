"""Helpers of the Transform tests (a module with a unique name: conftest modules of other folders would shadow it)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import polars as pl

from sluiceway.transform.fit import column_kinds, fit, trace
from sluiceway.transform.graph import FittedTransform

PENGUINS_CSV = Path(find_spec("palmerpenguins").submodule_search_locations[0]) / "data" / "penguins.csv"


def penguins_frame() -> pl.DataFrame:
    return pl.read_csv(PENGUINS_CSV, null_values="NA")


def fit_fn(fn: Callable[[Any], Any], files: list[str], **options: Any) -> FittedTransform:
    """Trace and fit ``fn`` on ``files`` (what the Transform component does on the analyze splits)."""
    return fit(trace(fn, column_kinds(files)), files, **options)

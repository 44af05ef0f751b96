"""The standard components. Each lives in its own module; this package re-exports them."""

from sluiceway.components.example_gen import (
    CsvExampleGen,
    DataFrameExampleGen,
    JsonExampleGen,
    ParquetExampleGen,
    SqlExampleGen,
)

__all__ = [
    "CsvExampleGen",
    "DataFrameExampleGen",
    "JsonExampleGen",
    "ParquetExampleGen",
    "SqlExampleGen",
]

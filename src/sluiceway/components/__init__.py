"""The standard components. Each lives in its own module; this package re-exports them."""

from sluiceway.components.example_gen import (
    CsvExampleGen,
    DataFrameExampleGen,
    JsonExampleGen,
    ParquetExampleGen,
    SqlExampleGen,
)
from sluiceway.components.infra_validator import InfraValidator
from sluiceway.components.schema import ImportSchemaGen, SchemaGen
from sluiceway.components.serving_stats import ServingStatsGen
from sluiceway.components.statistics import StatisticsGen
from sluiceway.components.trainer import Trainer
from sluiceway.components.transform import Transform
from sluiceway.components.tuner import Tuner
from sluiceway.components.validator import ExampleValidator

__all__ = [
    "CsvExampleGen",
    "DataFrameExampleGen",
    "ExampleValidator",
    "ImportSchemaGen",
    "InfraValidator",
    "JsonExampleGen",
    "ParquetExampleGen",
    "SchemaGen",
    "ServingStatsGen",
    "SqlExampleGen",
    "StatisticsGen",
    "Trainer",
    "Transform",
    "Tuner",
]

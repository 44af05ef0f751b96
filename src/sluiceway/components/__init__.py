"""The standard components. Each lives in its own module; this package re-exports them."""

from sluiceway.components.evaluator import Evaluator
from sluiceway.components.example_gen import (
    CsvExampleGen,
    DataFrameExampleGen,
    JsonExampleGen,
    ParquetExampleGen,
    SqlExampleGen,
)
from sluiceway.components.bulk_inferrer import BulkInferrer
from sluiceway.components.pusher import Pusher
from sluiceway.components.infra_validator import InfraValidator
from sluiceway.components.schema import ImportSchemaGen, SchemaGen
from sluiceway.components.serving_stats import ServingStatsGen
from sluiceway.components.statistics import StatisticsGen
from sluiceway.components.trainer import Trainer
from sluiceway.components.transform import Transform
from sluiceway.components.tuner import Tuner
from sluiceway.components.validator import ExampleValidator

__all__ = [
    "BulkInferrer",
    "CsvExampleGen",
    "DataFrameExampleGen",
    "Evaluator",
    "ExampleValidator",
    "ImportSchemaGen",
    "InfraValidator",
    "JsonExampleGen",
    "ParquetExampleGen",
    "Pusher",
    "SchemaGen",
    "ServingStatsGen",
    "SqlExampleGen",
    "StatisticsGen",
    "Trainer",
    "Transform",
    "Tuner",
]

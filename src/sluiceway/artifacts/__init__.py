"""Artifact types: the typed, immutable outputs components exchange."""

from sluiceway.artifacts.base import Artifact, artifact_class
from sluiceway.artifacts.standard import (
    STANDARD_TYPES,
    ExampleAnomalies,
    Examples,
    ExampleStatistics,
    HyperParameters,
    InferenceResult,
    InfraBlessing,
    Model,
    ModelBlessing,
    ModelEvaluation,
    PushedModel,
    Schema,
    TransformGraph,
)

__all__ = [
    "Artifact",
    "artifact_class",
    "STANDARD_TYPES",
    "ExampleAnomalies",
    "Examples",
    "ExampleStatistics",
    "HyperParameters",
    "InferenceResult",
    "InfraBlessing",
    "Model",
    "ModelBlessing",
    "ModelEvaluation",
    "PushedModel",
    "Schema",
    "TransformGraph",
]

"""Sluiceway: production ML pipelines — TFX's components, lineage and caching, for any model library.

This module is the public API, with ``sluiceway.components`` (the standard components), ``sluiceway.data``
(statistics, schemas and validation as functions), ``sluiceway.testing`` (``check_component``) and
``sluiceway.errors``. Everything else is internal and may change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from sluiceway.artifacts import (  # noqa: E402 - light modules, imported eagerly
    Artifact,
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
from sluiceway.dsl import Component, Input, Output, Pipeline, component, when  # noqa: E402
from sluiceway.errors import (  # noqa: E402
    ComponentError,
    ConfigError,
    DataError,
    DataValidationError,
    DefinitionError,
    GateClosed,
    MissingExtraError,
    NotFoundError,
    RunError,
    SluicewayError,
    StoreError,
)

if TYPE_CHECKING:
    from sluiceway.data.engine import InProcessEngine
    from sluiceway.data.ray_engine import RayEngine
    from sluiceway.metadata.store import MetadataStore
    from sluiceway.runners.celery import CeleryRunner
    from sluiceway.runners.ray import RayRunner
    from sluiceway.runners.hooks import RunHooks
    from sluiceway.runners.local import LocalRunner, Run
    from sluiceway.trainer.bundle import load_model
    from sluiceway.transform.graph import load_transform
    from sluiceway import resolve

# Heavier parts load on first use, so `import sluiceway` stays fast.
_LAZY = {
    "LocalRunner": "sluiceway.runners.local",
    "Run": "sluiceway.runners.local",
    "CeleryRunner": "sluiceway.runners.celery",
    "RayRunner": "sluiceway.runners.ray",
    "RunHooks": "sluiceway.runners.hooks",
    "MetadataStore": "sluiceway.metadata.store",
    "load_settings": "sluiceway.config",
    "Settings": "sluiceway.config",
    "load_transform": "sluiceway.transform.graph",
    "load_model": "sluiceway.trainer.bundle",
    "resolve": "sluiceway.resolve",  # a module: sw.resolve.latest_blessed_model()
    "InProcessEngine": "sluiceway.data.engine",
    "RayEngine": "sluiceway.data.ray_engine",  # imports ray only when it runs something
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sluiceway' has no attribute {name!r}")
    # Lazy names resolve on first use; dir() and __all__ list them before that.
    import importlib

    imported = importlib.import_module(module)
    value = imported if module == f"{__name__}.{name}" else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "__version__",
    "Artifact",
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
    "Component",
    "Input",
    "Output",
    "Pipeline",
    "component",
    "when",
    "LocalRunner",
    "Run",
    "CeleryRunner",
    "RayRunner",
    "RunHooks",
    "MetadataStore",
    "load_settings",
    "Settings",
    "load_transform",
    "load_model",
    "resolve",
    "InProcessEngine",
    "RayEngine",
    "ComponentError",
    "ConfigError",
    "DataError",
    "DataValidationError",
    "DefinitionError",
    "GateClosed",
    "MissingExtraError",
    "NotFoundError",
    "RunError",
    "SluicewayError",
    "StoreError",
]

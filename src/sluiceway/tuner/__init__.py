"""Hyperparameter tuning with Optuna: the tuning context, the study beside the metadata store, the
``HyperParameters`` document.

The ``Tuner`` component (``sluiceway.components.Tuner``) runs the user's ``tuner_fn(trial, ctx)``;
``load_hyperparameters(artifact_or_path)`` reads the chosen values back (what the Trainer gives ``run_fn``).
"""

from __future__ import annotations

from sluiceway.tuner.context import TuningContext, TuningData
from sluiceway.tuner.hyperparameters import FORMAT, VERSION, load_hyperparameters

__all__ = ["FORMAT", "VERSION", "TuningContext", "TuningData", "load_hyperparameters"]

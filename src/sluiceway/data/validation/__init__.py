"""Validate statistics against a schema, and compare them with a baseline (drift) or serving data (skew).

* ``checks``: ``validate_statistics`` and the checks against the schema (the anomaly kinds are listed
  there);
* ``drift``: the distribution distances and their sampling-noise bounds (methods and calibration);
* ``model``: ``Anomalies``, ``Anomaly``, ``Comparison`` and ``describe_anomalies``.
"""

from __future__ import annotations

from sluiceway.data.validation.checks import validate_statistics
from sluiceway.data.validation.drift import (
    DEFAULT_INFINITY_NORM_THRESHOLD,
    DEFAULT_JSD_THRESHOLD,
    DEFAULT_KS_THRESHOLD,
    infinity_norm,
    jensen_shannon_divergence,
    ks_distance,
)
from sluiceway.data.validation.model import ANOMALY_KINDS, Anomalies, Anomaly, Comparison, describe_anomalies

__all__ = [
    "ANOMALY_KINDS",
    "DEFAULT_INFINITY_NORM_THRESHOLD",
    "DEFAULT_JSD_THRESHOLD",
    "DEFAULT_KS_THRESHOLD",
    "Anomalies",
    "Anomaly",
    "Comparison",
    "describe_anomalies",
    "infinity_norm",
    "jensen_shannon_divergence",
    "ks_distance",
    "validate_statistics",
]

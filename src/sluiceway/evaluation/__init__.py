"""Model evaluation: metrics by task, per slice, fairness, feature importance and blessing thresholds.

``EvalConfig`` says what to compute and gate on (``sluiceway.evaluation.config``); ``evaluate_model``
computes it with mergeable accumulators on the data engine (``sluiceway.evaluation.compute``); the
``Evaluator`` component (``sluiceway.components.Evaluator``) wraps both and writes the blessing.
"""

from __future__ import annotations

from sluiceway.evaluation.config import CustomMetric, EvalConfig, Fairness, Threshold

__all__ = ["CustomMetric", "EvalConfig", "Fairness", "Threshold"]

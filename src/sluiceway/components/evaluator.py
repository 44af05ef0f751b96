"""Evaluator: metrics per slice, fairness and feature importance of a model, gated by thresholds; the blessing.

    Evaluator(model=trainer.model, examples=gen.examples,
              baseline_model=sw.resolve.latest_blessed_model(),
              eval_config=EvalConfig(label="species", slices=[(), ("island",)],
                                     thresholds={"accuracy": Threshold(lower=0.9, max_drop=0.01)}))

Predictions come from ``sw.load_model(model).predict_proba/predict`` on the raw rows of ``split`` (the
server's code path: the bundle's fitted transform runs first). Value bounds are always checked; change
bounds only against ``baseline_model`` (none on a pipeline's first run: the resolver gives nothing). Slices
under ``min_slice_size`` rows are reported, not gated. With no thresholds every model is blessed.

Outputs: ``evaluation`` (``ModelEvaluation.file`` and ``.report_file``) and ``blessing`` (a
``ModelBlessing`` with its ``BLESSED``/``NOT_BLESSED`` marker and ``ModelBlessing.FILENAME``, whose
``reasons`` name every failed threshold with its values). A model that is not blessed is not a failure:
the run completes and components gated on the blessing (a Pusher) are skipped; ``fail_on_not_blessed=True``
makes it a gate that stops the run here instead, like ``ExampleValidator``.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from sluiceway.artifacts import Examples, Model, ModelBlessing, ModelEvaluation
from sluiceway.dsl.component import Component, Input, Output
from sluiceway.errors import GateClosed
from sluiceway.evaluation.config import EvalConfig

logger = logging.getLogger(__name__)

__all__ = ["Evaluator", "ModelNotBlessed"]


class ModelNotBlessed(GateClosed):
    """The model failed a threshold and the Evaluator was asked to stop the run (``fail_on_not_blessed``)."""


class Evaluator(Component):
    """Model + Examples (+ baseline Model) → ModelEvaluation + ModelBlessing."""

    def execute(  # type: ignore[override]
        self,
        model: Input[Model],
        examples: Input[Examples],
        evaluation: Output[ModelEvaluation],
        blessing: Output[ModelBlessing],
        baseline_model: Input[Model] | None = None,
        *,
        eval_config: EvalConfig | None = None,
        split: str = "eval",
        fail_on_not_blessed: bool = False,
    ) -> None:
        from sluiceway.evaluation.compute import evaluate_model
        from sluiceway.evaluation.config import make_config
        from sluiceway.evaluation.thresholds import check_thresholds
        from sluiceway.reports.evaluation_html import render_evaluation_html

        config = make_config(eval_config, where="The 'eval_config' parameter of Evaluator")
        baseline_uri = baseline_model.uri if baseline_model is not None else None
        result = evaluate_model(model.uri, examples, config, split=split, baseline_uri=baseline_uri)
        checks = check_thresholds(result, config)
        failed = [check for check in checks if not check["passed"]]
        blessed = not failed
        reasons = [check["message"] for check in failed]
        result.update(thresholds=checks, blessed=blessed, reasons=reasons)
        _write_json(evaluation.file, result)
        render_evaluation_html(result, path=evaluation.report_file)
        overall = next(s for s in result["candidate"]["slices"] if not s["spec"])
        evaluation.properties.update(
            blessed=blessed, has_baseline=baseline_uri is not None,
            metrics={name: value for name, value in overall["metrics"].items() if value is not None},
        )

        marker = ModelBlessing.BLESSED_MARKER if blessed else ModelBlessing.NOT_BLESSED_MARKER
        (blessing.path / marker).touch()
        _write_json(
            blessing.file,
            {"blessed": blessed, "reasons": reasons, "failed": failed, "checks": len(checks),
             "model_uri": model.uri, "baseline_uri": baseline_uri},
        )
        blessing.properties.update(blessed=blessed, model_uri=model.uri)
        against = f"against the baseline {baseline_uri}" if baseline_uri else "with no baseline (value bounds only)"
        if blessed:
            logger.info("Model blessed: %d threshold check(s) passed %s.", len(checks), against)
            return
        summary = f"Model {model.uri} is NOT blessed {against}:\n" + "\n".join(f"  - {r}" for r in reasons)
        logger.warning("%s", summary)
        if fail_on_not_blessed:
            raise ModelNotBlessed(f"{summary}\nReport: {evaluation.report_file}")


def _write_json(path: Path, value: Any) -> None:
    """Strict JSON (a metric that is not a number is written as null), sorted keys: same input, same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(value), indent=1, sort_keys=True, allow_nan=False, default=str)
    path.write_text(text + "\n", encoding="utf-8")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value

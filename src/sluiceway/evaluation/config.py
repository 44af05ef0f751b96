"""What an evaluation computes and gates on: flat, typed, checked when the pipeline is built.

    EvalConfig(label="species", slices=[(), ("island",), ("island", "sex")],
               metrics=["accuracy", "log_loss", "auc"],
               thresholds={"accuracy": Threshold(lower=0.90, max_drop=0.01)},
               fairness=Fairness(sensitive=["sex"], metrics=["demographic_parity_difference"]),
               min_slice_size=30)

A ``Threshold`` has value bounds (``lower``/``upper``, always checked) and change bounds against the
baseline model (``max_drop``/``max_rise``: the largest allowed fall or rise of candidate minus baseline,
checked only when there is a baseline). Every metric knows whether higher or lower is better, and a
change bound that could only block improvements is refused with the bound to use instead.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator, model_validator

from sluiceway.errors import ConfigError

# name -> (task, higher_is_better). "auc" is AUC-ROC (macro one-vs-rest over classes when there are more than two).
CLASSIFICATION_METRICS: dict[str, bool] = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "auc": True,
    "auc_pr": True,
    "log_loss": False,
    "calibration_error": False,  # expected calibration error over 10 probability bins
    "brier_score": False,
}
REGRESSION_METRICS: dict[str, bool] = {"rmse": False, "mae": False, "mape": False, "r2": True, "mean_error": False}
FAIRNESS_METRICS: dict[str, bool] = {
    "demographic_parity_difference": False,
    "demographic_parity_ratio": True,
    "equalized_odds_difference": False,
    "equalized_odds_ratio": True,
    "true_positive_rate_difference": False,
    "false_positive_rate_difference": False,
}
DEFAULT_METRICS = {
    "classification": ["accuracy", "precision", "recall", "f1", "auc", "auc_pr", "log_loss", "calibration_error"],
    "regression": ["rmse", "mae", "mape", "r2"],
}

Task = Literal["classification", "regression"]


def _overall_only() -> list[tuple[str, ...]]:
    return [()]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:  # a typed error that names every wrong field, not pydantic's
            raise ConfigError(f"{type(self).__name__} is invalid: {describe_validation(exc)}") from None


class Threshold(_Strict):
    """Bounds on one metric: value bounds always, change bounds (vs the baseline) only with a baseline.

    ``max_drop``: candidate may be at most this much below the baseline (for a higher-is-better metric);
    ``max_rise``: at most this much above it (for a lower-is-better metric). ``per_slice=True`` applies the
    value bounds to every slice with at least ``min_slice_size`` rows, not only to the overall slice.
    """

    lower: float | None = None
    upper: float | None = None
    max_drop: float | None = Field(default=None, ge=0)
    max_rise: float | None = Field(default=None, ge=0)
    per_slice: bool = False

    @model_validator(mode="after")
    def _some_bound(self) -> Threshold:
        if all(v is None for v in (self.lower, self.upper, self.max_drop, self.max_rise)):
            raise ValueError("give at least one of lower=, upper=, max_drop=, max_rise=")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"lower={self.lower} is above upper={self.upper}")
        return self


class Fairness(_Strict):
    """Fairness of the predictions across the groups of each sensitive feature.

    Rates per group (selection rate, true and false positive rates) and the gaps between groups, as
    Fairlearn defines them. ``positive_class`` is the class counted as the favourable outcome (default: the
    second of two classes; required with more than two).
    """

    sensitive: list[str] = Field(min_length=1)
    metrics: list[str] = Field(default_factory=lambda: ["demographic_parity_difference", "equalized_odds_difference"])
    positive_class: str | int | bool | None = None

    @field_validator("metrics")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [m for m in value if m not in FAIRNESS_METRICS]
        if unknown:
            raise ValueError(f"unknown fairness metric(s) {unknown}; known: {sorted(FAIRNESS_METRICS)}")
        return value


class CustomMetric(_Strict):
    """A metric of your own, mergeable so it runs on the engine: sums per batch, then a result from the sums.

    ``update(labels, predictions, probabilities)`` returns a 1-D array of sums for one batch of one slice
    (``probabilities`` is None for a regressor); arrays are added across batches and ``result(sums)`` turns
    the total into the metric's value. Both must be module-level functions (they are pickled to workers).
    """

    name: str = Field(min_length=1)
    update: Callable[..., Any]
    result: Callable[..., Any]
    size: int = Field(ge=1, description="length of the array update returns")
    higher_is_better: bool = True

    @field_validator("update", "result")
    @classmethod
    def _module_level(cls, value: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.isfunction(value) or "<locals>" in value.__qualname__ or value.__name__ == "<lambda>":
            raise ValueError(
                f"{value!r} must be a module-level function (def at the top of a module), so it can be pickled "
                "to engine workers and fingerprinted for the cache"
            )
        return value

    @field_serializer("update", "result")
    def _fingerprinted(self, function: Callable[..., Any]) -> dict[str, str]:
        # the cache follows the functions' code, as it does for a preprocessing_fn
        from sluiceway.dsl.fingerprint import callable_fingerprint

        return {"callable": f"{function.__module__}:{function.__qualname__}", "code": callable_fingerprint(function)}


class EvalConfig(_Strict):
    """The evaluation: label, metrics, slices, thresholds, fairness, feature importance, bootstrap."""

    label: str | None = None
    metrics: list[str] | None = None  # None: the task's defaults
    custom_metrics: list[CustomMetric] = Field(default_factory=list)
    slices: list[tuple[str, ...]] = Field(default_factory=_overall_only)
    numeric_buckets: int = Field(default=4, ge=2, le=100)
    bucket_boundaries: dict[str, list[float]] = Field(default_factory=dict)
    min_slice_size: int = Field(default=30, ge=1)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    fairness: Fairness | None = None
    feature_importance: bool = True
    importance_rows: int = Field(default=2000, ge=10)
    importance_repeats: int = Field(default=3, ge=1)
    bootstrap: int = Field(default=0, ge=0, le=1000)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    auc_bins: int = Field(default=1000, ge=10, le=100_000)
    seed: int = 0

    @field_validator("slices", mode="before")
    @classmethod
    def _slices(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise ValueError("slices must be a list of tuples of feature names, e.g. [(), ('island',)]")
        specs = []
        for item in value:
            spec = (item,) if isinstance(item, str) else item
            if not isinstance(spec, (list, tuple)) or not all(isinstance(n, str) and n for n in spec):
                raise ValueError(f"each slice is a tuple of feature names; got {item!r}")
            if len(set(spec)) != len(spec):
                raise ValueError(f"slice {tuple(spec)!r} names a feature twice")
            specs.append(tuple(spec))
        if len(set(specs)) != len(specs):
            raise ValueError("a slice is listed twice")
        return specs

    @field_validator("bucket_boundaries")
    @classmethod
    def _boundaries(cls, value: dict[str, list[float]]) -> dict[str, list[float]]:
        for name, edges in value.items():
            if not edges or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
                raise ValueError(f"bucket_boundaries[{name!r}] must be a non-empty increasing list; got {edges}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EvalConfig:
        names = [m.name for m in self.custom_metrics]
        builtin = {**CLASSIFICATION_METRICS, **REGRESSION_METRICS, **FAIRNESS_METRICS}
        clash = [n for n in names if n in builtin] or [n for n in set(names) if names.count(n) > 1]
        if clash:
            raise ValueError(f"custom metric name(s) {sorted(set(clash))} are taken; give each a unique name")
        if self.metrics is not None:
            unknown = [m for m in self.metrics if m not in CLASSIFICATION_METRICS and m not in REGRESSION_METRICS]
            if unknown:
                raise ValueError(
                    f"unknown metric(s) {unknown}; classification: {sorted(CLASSIFICATION_METRICS)}, "
                    f"regression: {sorted(REGRESSION_METRICS)}"
                )
        for metric, threshold in self.thresholds.items():
            if metric in FAIRNESS_METRICS and self.fairness is None:
                raise ValueError(
                    f"thresholds names the fairness metric {metric!r} but there is no fairness=; add "
                    "fairness=Fairness(sensitive=[...]) to say which features' groups to compare"
                )
            higher = self.higher_is_better(metric)
            if higher is None:
                raise ValueError(
                    f"thresholds names {metric!r}, which is not a metric; use one of the built-in metrics, a "
                    "fairness metric or a custom metric's name"
                )
            if higher and threshold.max_rise is not None:
                raise ValueError(
                    f"{metric} is higher-is-better: a rise is an improvement, so max_rise would only block better "
                    f"models. Bound its fall with max_drop= instead"
                )
            if not higher and threshold.max_drop is not None:
                raise ValueError(
                    f"{metric} is lower-is-better: a drop is an improvement, so max_drop would only block better "
                    f"models. Bound its rise with max_rise= instead"
                )
        return self

    def higher_is_better(self, metric: str) -> bool | None:
        """Whether a higher value of ``metric`` is better (None for a name that is no metric)."""
        for table in (CLASSIFICATION_METRICS, REGRESSION_METRICS, FAIRNESS_METRICS):
            if metric in table:
                return table[metric]
        for custom in self.custom_metrics:
            if custom.name == metric:
                return custom.higher_is_better
        return None

    def metrics_for(self, task: str) -> list[str]:
        """The metrics computed for a task: the configured ones that apply, else the task's defaults."""
        table = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
        if self.metrics is None:
            return list(DEFAULT_METRICS[task])
        wrong = [m for m in self.metrics if m not in table]
        if wrong:
            raise ConfigError(
                f"EvalConfig.metrics lists {wrong}, which do not apply to a {task} model. Pick from {sorted(table)}."
            )
        return list(self.metrics)


def make_config(value: EvalConfig | dict[str, Any] | None, *, where: str = "EvalConfig") -> EvalConfig:
    """An ``EvalConfig`` from itself, a dict of its fields or None (the defaults); ``ConfigError`` if invalid."""
    if isinstance(value, EvalConfig):
        return value
    if value is None:
        return EvalConfig()
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be an EvalConfig or a dict of its fields. Got {value!r} instead.")
    return EvalConfig(**value)


def describe_validation(exc: ValidationError) -> str:
    """pydantic's errors as one line each: where, what was wrong, what was given."""
    lines = []
    for error in exc.errors():
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        location = ".".join(str(part) for part in error.get("loc", ()))
        # a rule between fields has no location, and its input is the whole config: the message says enough
        lines.append(f"{location}: {message} (got {error.get('input')!r})" if location else message)
    return "; ".join(lines)


__all__ = [
    "CLASSIFICATION_METRICS",
    "FAIRNESS_METRICS",
    "REGRESSION_METRICS",
    "CustomMetric",
    "EvalConfig",
    "Fairness",
    "Threshold",
    "make_config",
]

"""Blessing thresholds: value bounds always, change bounds against the baseline when there is one.

Each bound checked gives one ``check`` (metric, slice, bound, value, baseline, passed, message); the model
is blessed when every check passed. Slices with fewer rows than ``min_slice_size`` are reported but not
gated; a fairness gap is gated over the groups that are large enough.
"""

from __future__ import annotations

from typing import Any

from sluiceway.evaluation.config import FAIRNESS_METRICS, EvalConfig, Threshold


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _bound_checks(
    metric: str, where: str, threshold: Threshold, value: float | None, baseline: float | None, *, required: bool
) -> list[dict[str, Any]]:
    subject = f"{metric} on {where}"
    checks: list[dict[str, Any]] = []

    def add(bound: str, limit: float, passed: bool, message: str) -> None:
        checks.append({"metric": metric, "slice": where, "bound": bound, "limit": limit, "value": value,
                       "baseline": baseline, "passed": passed, "message": message})

    wanted = [(b, getattr(threshold, b)) for b in ("lower", "upper", "max_drop", "max_rise")]
    wanted = [(b, limit) for b, limit in wanted if limit is not None]
    if value is None:
        if required:
            for bound, limit in wanted:
                add(bound, limit, False, f"{subject} could not be computed (no rows of some class?), so its "
                                         f"{bound.replace('_', ' ')} bound {limit:g} cannot be met")
        return checks
    for bound, limit in wanted:
        if bound == "lower":
            add(bound, limit, value >= limit, f"{subject} is {_fmt(value)}, below the lower bound {limit:g}")
        elif bound == "upper":
            add(bound, limit, value <= limit, f"{subject} is {_fmt(value)}, above the upper bound {limit:g}")
        elif baseline is None:
            continue  # change bounds apply only against a baseline
        elif bound == "max_drop":
            drop = baseline - value
            add(bound, limit, drop <= limit, f"{subject} fell from {_fmt(baseline)} (baseline) to {_fmt(value)}, a "
                                             f"drop of {_fmt(drop)} > max_drop {limit:g}")
        else:
            rise = value - baseline
            add(bound, limit, rise <= limit, f"{subject} rose from {_fmt(baseline)} (baseline) to {_fmt(value)}, a "
                                             f"rise of {_fmt(rise)} > max_rise {limit:g}")
    return checks


def check_thresholds(evaluation: dict[str, Any], config: EvalConfig) -> list[dict[str, Any]]:
    """Every bound of every threshold, checked on the evaluation (``evaluate_model``'s result)."""
    candidate = evaluation["candidate"]["slices"]
    baseline_slices = {s["name"]: s for s in (evaluation.get("baseline") or {}).get("slices", [])}
    has_baseline = evaluation.get("baseline") is not None
    checks: list[dict[str, Any]] = []
    for metric, threshold in sorted(config.thresholds.items()):
        if metric in FAIRNESS_METRICS:
            for entry in evaluation.get("fairness") or []:
                value = entry["gated_gaps"].get(metric)
                before = (entry.get("baseline") or {}).get(metric) if has_baseline else None
                checks += _bound_checks(metric, f"groups of {entry['feature']}", threshold, value, before,
                                        required=True)
            continue
        for entry in candidate:
            overall = not entry["spec"]
            if not overall and not (threshold.per_slice and entry["gated"]):
                continue
            previous = baseline_slices.get(entry["name"])
            before = previous["metrics"].get(metric) if previous is not None else None
            checks += _bound_checks(metric, entry["name"], threshold, entry["metrics"].get(metric), before,
                                    required=overall)
    return checks


__all__ = ["check_thresholds"]

"""Metrics from merged sums: one slice's vector (see ``accumulate``) in, named values out.

Definitions follow scikit-learn's: precision, recall and F1 of the positive class for two classes and
macro-averaged otherwise; AUC-ROC of the positive class, or macro one-vs-rest; log loss with
probabilities clipped at 1e-15; calibration error is the expected calibration error over 10 equal-width
probability bins (of the positive class, or averaged over classes); Brier score of the positive class for
two classes (scikit-learn's ``brier_score_loss``), summed over classes otherwise.

AUC-ROC and AUC-PR come from fixed-resolution score histograms (``auc_bins`` equal-width bins on [0, 1]):
pairs of a positive and a negative row in the same bin count one half. The exact AUC differs by at most
``auc_error_bound`` = half the share of positive-negative pairs that share a bin, computed from the same
histogram and reported beside the value (0 when no bin holds both).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sluiceway.evaluation.accumulate import CALIBRATION_BINS, EvalPlan


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator <= 0 else float(numerator / denominator)


def slice_metrics(plan: EvalPlan, vector: np.ndarray, positive: int | None) -> dict[str, Any]:
    """Every metric of one slice, plus its details (confusion matrix, per class, calibration curve)."""
    layout = plan.layout()
    if plan.task == "classification":
        result = _classification(plan, vector, layout, positive)
    else:
        result = _regression(vector, layout)
    for metric in plan.custom:
        sums = vector[layout[f"custom:{metric.name}"]]
        value = metric.result(sums)
        result["metrics"][metric.name] = None if value is None else float(value)
    return result


def _classification(
    plan: EvalPlan, vector: np.ndarray, layout: dict[str, slice], positive: int | None
) -> dict[str, Any]:
    k, bins = plan.num_classes, plan.auc_bins
    count = float(vector[layout["count"]][0])
    confusion = vector[layout["confusion"]].reshape(k, k)
    histogram = vector[layout["histogram"]].reshape(k, bins, 2)  # [..., 0]: negative rows, [..., 1]: positive
    calibration = vector[layout["calibration"]].reshape(k, CALIBRATION_BINS, 3)
    per_class: dict[str, dict[str, Any]] = {}
    for c, name in enumerate(plan.classes or ()):
        tp = confusion[c, c]
        predicted, actual = confusion[:, c].sum(), confusion[c, :].sum()
        precision, recall = _ratio(tp, predicted), _ratio(tp, actual)
        auc, bound = auc_roc(histogram[c, :, 1], histogram[c, :, 0])
        per_class[str(name)] = {
            "support": float(actual),
            "precision": precision,
            "recall": recall,
            "f1": _f1(precision, recall),
            "auc": auc,
            "auc_error_bound": bound,
            "auc_pr": average_precision(histogram[c, :, 1], histogram[c, :, 0]),
            "calibration_error": _ece(calibration[c]),
        }
    chosen = [str(plan.classes[positive])] if positive is not None and plan.classes else list(per_class)

    def average(name: str) -> float | None:
        values = [per_class[c][name] for c in chosen]
        return None if any(v is None for v in values) else float(np.mean(values))

    metrics = {
        "accuracy": _ratio(float(np.trace(confusion)), count),
        "precision": average("precision"),
        "recall": average("recall"),
        "f1": average("f1"),
        "auc": average("auc"),
        "auc_pr": average("auc_pr"),
        "log_loss": _ratio(float(vector[layout["log_loss"]][0]), count),
        "calibration_error": average("calibration_error"),
        # summed over classes; with two classes, scikit-learn's brier_score_loss counts the positive class only
        "brier_score": _ratio(float(vector[layout["brier"]][0]) / (2 if k == 2 else 1), count),
    }
    return {
        "count": count,
        "metrics": metrics,
        "auc_error_bound": average("auc_error_bound"),
        "confusion_matrix": confusion.tolist(),
        "per_class": per_class,
        "calibration": {
            str(name): [
                {"mean_probability": _ratio(b[0], b[2]), "positive_rate": _ratio(b[1], b[2]), "count": float(b[2])}
                for b in calibration[c]
            ]
            for c, name in enumerate(plan.classes or ())
        },
    }


def _f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None:
        return None
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _ece(bins: np.ndarray) -> float | None:
    total = bins[:, 2].sum()
    if total <= 0:
        return None
    filled = bins[:, 2] > 0
    gaps = np.abs(bins[filled, 0] / bins[filled, 2] - bins[filled, 1] / bins[filled, 2])
    return float((gaps * bins[filled, 2]).sum() / total)


def auc_roc(positives: np.ndarray, negatives: np.ndarray) -> tuple[float | None, float | None]:
    """AUC-ROC from score histograms (bins in increasing score) and its error bound; None without both classes."""
    total_pos, total_neg = positives.sum(), negatives.sum()
    if total_pos <= 0 or total_neg <= 0:
        return None, None
    below = np.cumsum(negatives) - negatives  # negatives in lower bins
    pairs = total_pos * total_neg
    auc = float((positives * (below + 0.5 * negatives)).sum() / pairs)
    return auc, float(0.5 * (positives * negatives).sum() / pairs)


def average_precision(positives: np.ndarray, negatives: np.ndarray) -> float | None:
    """Average precision (scikit-learn's AUC-PR) with thresholds at the histogram's bin edges."""
    total_pos = positives.sum()
    if total_pos <= 0:
        return None
    tp = np.cumsum(positives[::-1])
    fp = np.cumsum(negatives[::-1])
    taken = (tp + fp) > 0
    precision = np.where(taken, tp / np.where(taken, tp + fp, 1), 0.0)
    recall = tp / total_pos
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float((steps * precision).sum())


def _regression(vector: np.ndarray, layout: dict[str, slice]) -> dict[str, Any]:
    def total(name: str) -> float:
        return float(vector[layout[name]][0])

    count = total("count")
    sse = total("squared_error")
    sst = total("squared_label") - (total("label") ** 2 / count if count else 0.0)
    mse = _ratio(sse, count)
    metrics = {
        "rmse": None if mse is None else math.sqrt(mse),
        "mae": _ratio(total("absolute_error"), count),
        "mape": _ratio(total("absolute_pct_error"), total("nonzero_labels")),
        "r2": None if count < 2 or sst <= 0 else 1.0 - sse / sst,
        "mean_error": _ratio(total("error"), count),
    }
    return {"count": count, "metrics": metrics}


def fairness_rates(confusion: np.ndarray, positive: int) -> dict[str, float | None]:
    """Selection rate, true and false positive rates of one group, with ``positive`` the favourable class."""
    count = confusion.sum()
    tp = confusion[positive, positive]
    fp = confusion[:, positive].sum() - tp
    fn = confusion[positive, :].sum() - tp
    tn = count - tp - fp - fn
    return {
        "count": float(count),
        "selection_rate": _ratio(tp + fp, count),
        "true_positive_rate": _ratio(tp, tp + fn),
        "false_positive_rate": _ratio(fp, fp + tn),
    }


def fairness_gaps(groups: list[dict[str, Any]]) -> dict[str, float | None]:
    """Fairlearn's gaps between groups: differences (max − min) and ratios (min / max) of the rates."""

    def spread(rate: str) -> tuple[float | None, float | None]:
        values = [g[rate] for g in groups if g[rate] is not None]  # a group without positives has no TPR
        if not values:
            return None, None
        low, high = min(values), max(values)
        return high - low, (low / high if high > 0 else None)

    selection_diff, selection_ratio = spread("selection_rate")
    tpr_diff, tpr_ratio = spread("true_positive_rate")
    fpr_diff, fpr_ratio = spread("false_positive_rate")
    both = [d for d in (tpr_diff, fpr_diff) if d is not None]
    ratios = [r for r in (tpr_ratio, fpr_ratio) if r is not None]
    return {
        "demographic_parity_difference": selection_diff,
        "demographic_parity_ratio": selection_ratio,
        "equalized_odds_difference": max(both) if len(both) == 2 else None,
        "equalized_odds_ratio": min(ratios) if len(ratios) == 2 else None,
        "true_positive_rate_difference": tpr_diff,
        "false_positive_rate_difference": fpr_diff,
    }


__all__ = ["auc_roc", "average_precision", "fairness_gaps", "fairness_rates", "slice_metrics"]

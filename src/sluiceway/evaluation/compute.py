"""Evaluate a model on a split of Examples: sliced metrics, fairness, feature importance, a baseline comparison.

``evaluate_model(model_uri, examples, config)`` returns the evaluation as plain JSON-ready data (the
``evaluation.json`` of a ``ModelEvaluation``): one pass over the data on the engine per model (a first
pass finds the quantile boundaries of numeric slice features), predictions through
``sw.load_model(uri).predict_proba/predict`` on the raw rows (the server's code path).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl

from sluiceway.artifacts.standard import Examples
from sluiceway.data.engine import Engine, Fragment, default_engine, plan_fragments
from sluiceway.errors import ConfigError, DataError
from sluiceway.evaluation import accumulate
from sluiceway.evaluation.accumulate import OVERALL, EvalPlan, SliceSums, bucket_labels
from sluiceway.evaluation.config import FAIRNESS_METRICS, EvalConfig
from sluiceway.evaluation.metrics import fairness_gaps, fairness_rates, slice_metrics

logger = logging.getLogger(__name__)
FORMAT = "sluiceway.evaluation"
FORMAT_VERSION = 1
AUC_METHOD = (
    "fixed-resolution score histograms ({bins} equal-width bins); the exact AUC-ROC is within "
    "auc_error_bound of the value (pairs sharing a bin count one half)"
)


def slice_name(spec: tuple[str, ...], key: tuple[str | None, ...]) -> str:
    """``Overall`` or ``island=Biscoe, sex=female``."""
    if not spec:
        return "Overall"
    shown = (accumulate.NULL_KEY if value is None else value for value in key)
    return ", ".join(f"{name}={value}" for name, value in zip(spec, shown, strict=True))


def evaluate_model(
    model_uri: str,
    examples: Examples,
    config: EvalConfig,
    *,
    split: str = "eval",
    baseline_uri: str | None = None,
    engine: Engine | str | None = None,
) -> dict[str, Any]:
    """The evaluation of one model (and its baseline) on ``split`` of ``examples``, as JSON-ready data."""
    from sluiceway.trainer.bundle import load_model

    model = load_model(model_uri)
    task = model.manifest["task"]
    label = config.label or model.manifest.get("label")
    if not label:
        raise ConfigError(
            f"Evaluator: the model at {model_uri} records no label and EvalConfig has none. Pass "
            "EvalConfig(label='<label column>')."
        )
    metric_names = _metric_names(config, task)
    files = [str(f) for f in examples.split_files(split)]
    if not files:
        raise DataError(f"Evaluator: the split {split!r} of {examples.uri} holds no Parquet files.")
    fragments = plan_fragments(files, parallelism=1, tag=split)
    runner = default_engine(engine)
    specs = list(config.slices)
    if OVERALL not in specs:
        specs.insert(0, OVERALL)
    sensitive = _fairness_features(config, task)
    specs += [(name,) for name in sensitive if (name,) not in specs]
    buckets = _bucket_boundaries(runner, fragments, files[0], specs, config, label)
    positive = _positive_class(config, model.classes, task)
    plan = EvalPlan(
        model_uri=str(model_uri),
        task=task,
        label=label,
        classes=tuple(model.classes) if model.classes is not None else None,
        specs=tuple(specs),
        buckets=tuple(sorted(buckets.items())),
        auc_bins=config.auc_bins,
        custom=tuple(config.custom_metrics),
        custom_sizes=tuple(m.size for m in config.custom_metrics),
        bootstrap=config.bootstrap,
        seed=config.seed,
    )
    candidate = _evaluate(runner, fragments, plan, config, positive)
    baseline = None
    if baseline_uri is not None:
        _check_comparable(model, load_model(baseline_uri), baseline_uri)
        baseline = _evaluate(runner, fragments, replace(plan, model_uri=str(baseline_uri)), config, positive)
    result: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "task": task,
        "label": label,
        "split": split,
        "classes": model.classes,
        "positive_class": None if positive is None or model.classes is None else model.classes[positive],
        "metrics": metric_names,
        "min_slice_size": config.min_slice_size,
        "buckets": {name: {"boundaries": list(edges), "labels": bucket_labels(tuple(edges))}
                    for name, edges in sorted(buckets.items())},
        "auc_method": AUC_METHOD.format(bins=config.auc_bins) if task == "classification" else None,
        "rows": candidate["rows"],
        "unlabeled_rows": candidate["unlabeled"],
        "candidate": {"model_uri": str(model_uri), "slices": candidate["slices"]},
        "baseline": None if baseline is None else {"model_uri": str(baseline_uri), "slices": baseline["slices"]},
        "fairness": _fairness(candidate["slices"], baseline, sensitive, config, positive),
        "feature_importance": None,
    }
    if config.feature_importance:
        from sluiceway.evaluation.importance import permutation_importance

        result["feature_importance"] = permutation_importance(model, files, label, task, config)
    return result


def _check_comparable(model: Any, baseline: Any, baseline_uri: str) -> None:
    task = model.manifest["task"]
    if baseline.manifest["task"] != task or baseline.classes != model.classes:
        raise DataError(
            f"Evaluator: the baseline model at {baseline_uri} ({baseline.manifest['task']}, classes "
            f"{baseline.classes}) cannot be compared with the candidate ({task}, classes {model.classes})."
        )


def _metric_names(config: EvalConfig, task: str) -> list[str]:
    names = config.metrics_for(task)
    from sluiceway.evaluation.config import CLASSIFICATION_METRICS, REGRESSION_METRICS

    table = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    other = REGRESSION_METRICS if task == "classification" else CLASSIFICATION_METRICS
    for metric in config.thresholds:
        if metric in other:
            raise ConfigError(
                f"EvalConfig.thresholds names {metric!r}, a metric of the other task; the model is a {task} model. "
                f"Use one of {sorted(table)}."
            )
        if metric in table and metric not in names:
            names.append(metric)  # a gated metric is always computed
    return names + [m.name for m in config.custom_metrics]


def _fairness_features(config: EvalConfig, task: str) -> list[str]:
    if config.fairness is None:
        return []
    if task != "classification":
        raise ConfigError("EvalConfig.fairness applies to classifiers; the model is a regressor. Remove fairness=.")
    return list(config.fairness.sensitive)


def _positive_class(config: EvalConfig, classes: list[Any] | None, task: str) -> int | None:
    if task != "classification" or classes is None:
        return None
    wanted = config.fairness.positive_class if config.fairness is not None else None
    if wanted is not None:
        names = [str(c) for c in classes]
        if str(wanted) not in names:
            raise ConfigError(
                f"Fairness(positive_class={wanted!r}) is not one of the model's classes {classes}. Pick one of them."
            )
        return names.index(str(wanted))
    if len(classes) == 2:
        return 1
    if config.fairness is not None:
        raise ConfigError(
            f"Fairness needs positive_class= with more than two classes (the model has {classes}): name the class "
            "that counts as the favourable outcome."
        )
    return None


def _evaluate(
    runner: Engine, fragments: list[Fragment], plan: EvalPlan, config: EvalConfig, positive: int | None
) -> dict[str, Any]:
    merged = runner.map_reduce(
        fragments, functools.partial(accumulate.map_fragment, plan), accumulate.merge, batch_format="polars"
    )
    sums = merged or SliceSums()
    order = {spec: i for i, spec in enumerate(plan.specs)}
    bucket_order = {name: {label: i for i, label in enumerate(bucket_labels(edges))} for name, edges in plan.buckets}

    def position(item: tuple[tuple[tuple[str, ...], tuple[str | None, ...]], Any]) -> tuple[Any, ...]:
        spec, key = item[0]
        # missing values last; buckets in the order of their ranges, other values by name
        return order[spec], tuple(
            (1, 0, "") if value is None else (0, bucket_order.get(name, {}).get(value, 0), value)
            for name, value in zip(spec, key, strict=True)
        )

    slices = []
    for (spec, key), vector in sorted(sums.sums.items(), key=position):
        entry = slice_metrics(plan, vector, positive)
        entry = {
            "spec": list(spec),
            "key": dict(zip(spec, key, strict=True)),
            "name": slice_name(spec, key),
            "gated": entry["count"] >= config.min_slice_size,
            **entry,
        }
        if plan.bootstrap:
            entry["intervals"] = _intervals(plan, sums.replicates[(spec, key)], positive, config.confidence)
        slices.append(entry)
    if not any(not s["spec"] for s in slices):
        raise DataError(
            f"Evaluator: no labeled rows to evaluate ({sums.rows} rows, {sums.unlabeled} without a label "
            f"{plan.label!r})."
        )
    return {"slices": slices, "rows": sums.rows, "unlabeled": sums.unlabeled}


def _intervals(plan: EvalPlan, replicates: np.ndarray, positive: int | None, confidence: float) -> dict[str, Any]:
    """Percentile bootstrap intervals of every metric from the Poisson-resampled sums."""
    values: dict[str, list[float]] = {}
    layout = plan.replicate_plan()
    for row in replicates:
        for name, value in slice_metrics(layout, row, positive)["metrics"].items():
            if value is not None:
                values.setdefault(name, []).append(value)
    tail = (1 - confidence) / 2 * 100
    return {
        name: {"low": float(np.percentile(found, tail)), "high": float(np.percentile(found, 100 - tail)),
               "replicates": len(found)}
        for name, found in values.items()
    }


def _fairness(
    slices: list[dict[str, Any]], baseline: dict[str, Any] | None, sensitive: list[str], config: EvalConfig,
    positive: int | None,
) -> list[dict[str, Any]]:
    if config.fairness is None or positive is None:
        return []
    found = []
    for feature in sensitive:
        entry = _fairness_of(slices, feature, config, positive)
        if baseline is not None:
            entry["baseline"] = _fairness_of(baseline["slices"], feature, config, positive)["gated_gaps"]
        found.append(entry)
    return found


def _fairness_of(slices: list[dict[str, Any]], feature: str, config: EvalConfig, positive: int) -> dict[str, Any]:
    groups = []
    for s in slices:
        if s["spec"] == [feature]:
            confusion = np.asarray(s["confusion_matrix"])
            groups.append({"group": s["key"][feature], "gated": s["gated"], **fairness_rates(confusion, positive)})
    wanted = list(config.fairness.metrics) if config.fairness is not None else []
    wanted += [m for m in config.thresholds if m in FAIRNESS_METRICS and m not in wanted]  # gated: always computed
    every = fairness_gaps(groups)
    large = fairness_gaps([g for g in groups if g["gated"]])
    return {
        "feature": feature,
        "groups": groups,
        # over every group, as Fairlearn computes them; the gated values leave out groups under min_slice_size
        "gaps": {name: every[name] for name in wanted},
        "gated_gaps": {name: large[name] for name in wanted},
    }


def _bucket_boundaries(
    runner: Engine, fragments: list[Fragment], first_file: str, specs: list[tuple[str, ...]], config: EvalConfig,
    label: str,
) -> dict[str, tuple[float, ...]]:
    """Boundaries of the numeric slice features: given ones, else quantiles from one engine pass.

    A numeric feature with at most ``2 × numeric_buckets`` distinct values stays categorical (a year, a count).
    """
    import pyarrow.parquet as pq

    schema = pq.read_schema(first_file)
    features = sorted({name for spec in specs for name in spec})
    numeric = []
    for name in features:
        if name in config.bucket_boundaries:
            continue
        if name not in schema.names:
            raise DataError(
                f"Evaluator: the slice feature {name!r} is not a column of the examples; they have {schema.names}. "
                "Fix EvalConfig(slices=...)."
            )
        kind = schema.field(name).type
        if pa_is_numeric(kind) and name != label:
            numeric.append(name)
    found = {name: tuple(float(b) for b in edges) for name, edges in config.bucket_boundaries.items()}
    if not numeric:
        return found
    limit = 2 * config.numeric_buckets
    column_fragments = [replace(f, columns=tuple(numeric)) for f in fragments]
    sketches = runner.map_reduce(
        column_fragments, functools.partial(_sketch_map, tuple(numeric), limit), _sketch_merge, batch_format="polars"
    ) or {}
    for name in numeric:
        distinct, sketch = sketches.get(name, (set(), None))
        if (distinct is not None and len(distinct) <= limit) or sketch is None or sketch.n == 0:
            continue  # few distinct values: slice by value
        ranks = [i / config.numeric_buckets for i in range(1, config.numeric_buckets)]
        edges = sorted(set(sketch.quantiles(ranks)))
        found[name] = tuple(float(e) for e in edges)
    return found


def pa_is_numeric(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind))


def _sketch_map(columns: tuple[str, ...], limit: int, fragment: Fragment, batches: Iterator[Any]) -> dict[str, Any]:
    from sluiceway.data.sketches.quantiles import QuantileAccumulator

    result: dict[str, Any] = {name: (set(), QuantileAccumulator()) for name in columns}
    for batch in batches:
        for name in columns:
            values = batch.get_column(name).cast(pl.Float64).drop_nulls().drop_nans().to_numpy()
            distinct, sketch = result[name]
            if distinct is not None:
                seen = np.unique(values)
                distinct = None if len(seen) > limit else distinct | set(seen.tolist())
                if distinct is not None and len(distinct) > limit:
                    distinct = None
            sketch.update(values)
            result[name] = (distinct, sketch)
    return result


def _sketch_merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    for name, (distinct, sketch) in right.items():
        mine_distinct, mine_sketch = left[name]
        both = None if mine_distinct is None or distinct is None else mine_distinct | distinct
        left[name] = (both, mine_sketch.merge(sketch))
    return left


__all__ = ["FORMAT", "FORMAT_VERSION", "evaluate_model", "slice_name"]

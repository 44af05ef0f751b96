"""The engine side of an evaluation: per fragment, predict and add per-slice sums; merge by adding.

Everything a metric needs is a sum over rows, so one accumulator is a float64 vector per slice (its
layout below) and merging two is adding vectors: associative, commutative, and the same in any engine
(threads now, Ray tasks later — ``map_fragment`` and ``merge`` are module-level and the ``EvalPlan``
pickles). Each worker loads the model once (``_model``) from its URI, the way the server does.

Classification vector (``K`` classes, ``B`` score bins): count, log-loss sum, Brier sum, the K×K
confusion matrix (true × predicted), a B-bin histogram of each class's score for positive and negative
rows (AUC-ROC and AUC-PR are read from it: fixed resolution, with an error bound computed from the same
histogram, see ``metrics.auc``), 10 calibration bins per class (probability sum, positives, rows), then
the custom metrics' sums. Regression vector: count, sums of error, squared error, absolute error,
absolute percentage error, non-zero labels, label, squared label, then the custom metrics' sums.

With ``bootstrap=R`` each slice also keeps an R × L' matrix: row r the sums of the Poisson(1)-weighted
resample r (the mergeable "Poisson bootstrap"), seeded by the seed, the file's name, the row group and the
batch, so the same data gives the same intervals. Its score histograms have ``REPLICATE_AUC_BINS`` bins
(coarser than the point estimate's), which keeps R replicates of many slices in memory.
"""

from __future__ import annotations

import functools
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sluiceway.data.engine import Fragment
from sluiceway.errors import DataError

CALIBRATION_BINS = 10
LOG_EPS = 1e-15
REGRESSION_FIELDS = ("count", "error", "squared_error", "absolute_error", "absolute_pct_error", "nonzero_labels",
                     "label", "squared_label")
OVERALL: tuple[str, ...] = ()
NULL_KEY = "(missing)"
REPLICATE_AUC_BINS = 100


@dataclass(frozen=True)
class EvalPlan:
    """What every worker needs to evaluate its fragments: small and picklable."""

    model_uri: str
    task: str
    label: str
    classes: tuple[Any, ...] | None
    specs: tuple[tuple[str, ...], ...]
    buckets: tuple[tuple[str, tuple[float, ...]], ...] = ()
    auc_bins: int = 1000
    custom: tuple[Any, ...] = ()  # CustomMetric models
    custom_sizes: tuple[int, ...] = ()
    bootstrap: int = 0
    seed: int = 0

    @property
    def num_classes(self) -> int:
        return len(self.classes or ())

    def layout(self) -> dict[str, slice]:
        """Where each block of sums sits in a slice's vector."""
        blocks: list[tuple[str, int]]
        if self.task == "classification":
            k, b = self.num_classes, self.auc_bins
            blocks = [("count", 1), ("log_loss", 1), ("brier", 1), ("confusion", k * k), ("histogram", k * b * 2),
                      ("calibration", k * CALIBRATION_BINS * 3)]
        else:
            blocks = [(name, 1) for name in REGRESSION_FIELDS]
        blocks += [(f"custom:{metric.name}", size) for metric, size in zip(self.custom, self.custom_sizes, strict=True)]
        layout, start = {}, 0
        for name, size in blocks:
            layout[name] = slice(start, start + size)
            start += size
        return layout

    @property
    def width(self) -> int:
        return max(s.stop for s in self.layout().values())

    def replicate_plan(self) -> EvalPlan:
        """The layout of the bootstrap replicates: the same sums with coarser score histograms."""
        return replace(self, auc_bins=min(self.auc_bins, REPLICATE_AUC_BINS), bootstrap=0)


@dataclass
class SliceSums:
    """Merged sums: ``sums[(spec, key)]`` a slice's vector, ``replicates[(spec, key)]`` its bootstrap matrix."""

    sums: dict[tuple[tuple[str, ...], tuple[str | None, ...]], np.ndarray] = field(default_factory=dict)
    replicates: dict[tuple[tuple[str, ...], tuple[str | None, ...]], np.ndarray] = field(default_factory=dict)
    unlabeled: int = 0
    rows: int = 0


def merge(left: SliceSums, right: SliceSums) -> SliceSums:
    """Add ``right`` into ``left`` (slices in first-seen order, so merging in fragment order is deterministic)."""
    for target, source in ((left.sums, right.sums), (left.replicates, right.replicates)):
        for key, value in source.items():
            mine = target.get(key)
            target[key] = value if mine is None else mine + value
    left.unlabeled += right.unlabeled
    left.rows += right.rows
    return left


_models: dict[str, Any] = {}
_models_lock = threading.Lock()


def _model(uri: str) -> Any:
    """The loaded model for ``uri``, once per worker process (a few recent ones are kept)."""
    with _models_lock:
        found = _models.get(uri)
        if found is None:
            from sluiceway.trainer.bundle import load_model

            found = load_model(uri)
            if len(_models) >= 4:
                _models.pop(next(iter(_models)))
            _models[uri] = found
        return found


def map_fragment(plan: EvalPlan, fragment: Fragment, batches: Iterator[Any]) -> SliceSums:
    """Predict every batch of the fragment with the plan's model and add each slice's sums."""
    result = SliceSums()
    model = _model(plan.model_uri)
    for index, batch in enumerate(batches):
        frame = batch if isinstance(batch, pl.DataFrame) else pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)  # a RecordBatch converts to a frame
        if plan.label not in frame.columns:
            raise DataError(
                f"Evaluator: the examples have no label column {plan.label!r} ({fragment.path}); they have "
                f"{frame.columns}. Set EvalConfig(label=...) to the label's column."
            )
        result.rows += frame.height
        labeled = frame.filter(pl.col(plan.label).is_not_null())
        result.unlabeled += frame.height - labeled.height
        if labeled.height == 0:
            continue
        weights = _weights(plan, fragment, index, labeled.height)
        if plan.task == "classification":
            vectors = _classification_rows(plan, model, labeled)
        else:
            vectors = _regression_rows(plan, model, labeled)
        custom = _custom_rows(plan, model, labeled, vectors)
        for spec in plan.specs:
            keys, groups = slice_groups(labeled, spec, plan.buckets)
            count = len(keys)
            parts = [(result.sums, _group_sums(plan, vectors, custom, groups, count, weights[:1])[:, 0])]
            if plan.bootstrap:
                resampled = _group_sums(plan.replicate_plan(), vectors, custom, groups, count, weights[1:])
                parts.append((result.replicates, resampled))
            for target, totals in parts:
                for key, total in zip(keys, totals, strict=True):
                    found = target.get((spec, key))
                    target[(spec, key)] = total if found is None else found + total
    return result


def _weights(plan: EvalPlan, fragment: Fragment, batch_index: int, rows: int) -> np.ndarray:
    """Row 0: every row once; rows 1..R: Poisson(1) resample weights, seeded by where the rows are."""
    weights = np.ones((1 + plan.bootstrap, rows))
    if plan.bootstrap:
        where = [plan.seed, zlib.crc32(Path(fragment.path).name.encode()), *(fragment.row_groups or (0,)), batch_index]
        weights[1:] = np.random.default_rng(where).poisson(1.0, size=(plan.bootstrap, rows))
    return weights


@dataclass
class _RowTerms:
    """Per-row terms of one batch, before they are summed by slice."""

    label_index: np.ndarray | None = None
    predicted_index: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # per-row scalar terms
    labels: np.ndarray | None = None
    predictions: np.ndarray | None = None


def label_positions(labels: pl.Series, classes: tuple[Any, ...], where: str) -> np.ndarray:
    """Each label's index in the model's ``classes``, compared in the label column's own type (``True`` is the
    class ``True`` and ``1.0`` the class ``1``); a label the model never saw is a ``DataError``."""
    positions = pl.Series(range(len(classes)), dtype=pl.Int64)
    try:
        known = pl.Series(list(classes)).cast(labels.dtype, strict=True)
        found = labels.replace_strict(known, positions, default=None, return_dtype=pl.Int64)
    except (pl.exceptions.PolarsError, TypeError, ValueError):  # classes of another type: compare as text
        names = [str(c) for c in classes]
        text = labels.cast(pl.String)
        found = text.replace_strict(names, positions, default=None, return_dtype=pl.Int64)
    unseen = labels.filter(found.is_null()).unique(maintain_order=True).head(10).to_list()
    if unseen:
        raise DataError(
            f"{where}: the label column {labels.name!r} holds value(s) {sorted(map(str, unseen))} that are not "
            f"among the model's classes {list(classes)}. Evaluate on data whose labels the model was trained on, "
            "or retrain."
        )
    return found.to_numpy()


def _classification_rows(plan: EvalPlan, model: Any, frame: pl.DataFrame) -> _RowTerms:
    label_index = label_positions(frame.get_column(plan.label), plan.classes or (), "Evaluator")
    probabilities = np.asarray(model.predict_proba(frame.drop(plan.label)), dtype=np.float64)
    rows = np.arange(len(label_index))
    chosen = np.clip(probabilities[rows, label_index], LOG_EPS, 1.0)
    onehot = np.zeros_like(probabilities)
    onehot[rows, label_index] = 1.0
    return _RowTerms(
        label_index=label_index,
        predicted_index=probabilities.argmax(axis=1),  # the class predict() returns
        probabilities=probabilities,
        columns={"log_loss": -np.log(chosen), "brier": ((probabilities - onehot) ** 2).sum(axis=1)},
        labels=np.asarray(frame.get_column(plan.label).to_numpy()),
        predictions=np.asarray(plan.classes, dtype=object)[probabilities.argmax(axis=1)],
    )


def _regression_rows(plan: EvalPlan, model: Any, frame: pl.DataFrame) -> _RowTerms:
    try:
        labels = frame.get_column(plan.label).cast(pl.Float64).to_numpy()
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"Evaluator: the label {plan.label!r} of a regression model must be numeric ({exc}).") from exc
    predictions = np.asarray(model.predict(frame.drop(plan.label)), dtype=np.float64).reshape(-1)
    error = predictions - labels
    nonzero = labels != 0
    pct = np.zeros_like(error)
    pct[nonzero] = np.abs(error[nonzero]) / np.abs(labels[nonzero])
    columns = {
        "count": np.ones_like(error),
        "error": error,
        "squared_error": error**2,
        "absolute_error": np.abs(error),
        "absolute_pct_error": pct,
        "nonzero_labels": nonzero.astype(np.float64),
        "label": labels,
        "squared_label": labels**2,
    }
    return _RowTerms(columns=columns, labels=labels, predictions=predictions)


def _custom_rows(plan: EvalPlan, model: Any, frame: pl.DataFrame, terms: _RowTerms) -> list[np.ndarray]:
    """The arrays a custom metric's ``update`` receives (called once per slice group, see ``_group_sums``)."""
    return [] if not plan.custom else [terms.labels, terms.predictions, terms.probabilities]  # type: ignore[list-item]


def _group_sums(
    plan: EvalPlan, terms: _RowTerms, custom: list[Any], groups: np.ndarray, count: int, weights: np.ndarray
) -> np.ndarray:
    """Sums per group of this batch, one row per row of ``weights``: a groups × weights × width array."""
    layout = plan.layout()
    out = np.zeros((count, weights.shape[0], plan.width))
    for r, w in enumerate(weights):
        if plan.task == "classification":
            _classification_sums(plan, terms, groups, count, w, out[:, r, :], layout)
        else:
            for name in REGRESSION_FIELDS:
                out[:, r, layout[name].start] = np.bincount(groups, weights=w * terms.columns[name], minlength=count)
    if custom:
        labels, predictions, probabilities = custom
        for metric in plan.custom:
            place = layout[f"custom:{metric.name}"]
            for g in range(count):
                rows = groups == g
                for r, w in enumerate(weights):
                    # resampled rows repeat as many times as their Poisson weight
                    take = np.repeat(np.flatnonzero(rows), w[rows].astype(np.int64))
                    scores = None if probabilities is None else probabilities[take]
                    value = np.asarray(metric.update(labels[take], predictions[take], scores), dtype=np.float64)
                    value = value.reshape(-1)
                    if value.shape[0] != place.stop - place.start:
                        raise DataError(
                            f"Evaluator: custom metric {metric.name!r}: update returned {value.shape[0]} sums, its "
                            f"size= says {place.stop - place.start}."
                        )
                    out[g, r, place] = value
    return out


def _classification_sums(
    plan: EvalPlan, terms: _RowTerms, groups: np.ndarray, count: int, w: np.ndarray, out: np.ndarray,
    layout: dict[str, slice],
) -> None:
    assert terms.label_index is not None and terms.predicted_index is not None and terms.probabilities is not None
    k, bins = plan.num_classes, plan.auc_bins
    y, p, probs = terms.label_index, terms.predicted_index, terms.probabilities
    out[:, layout["count"].start] = np.bincount(groups, weights=w, minlength=count)
    out[:, layout["log_loss"].start] = np.bincount(groups, weights=w * terms.columns["log_loss"], minlength=count)
    out[:, layout["brier"].start] = np.bincount(groups, weights=w * terms.columns["brier"], minlength=count)
    out[:, layout["confusion"]] = np.bincount(
        groups * k * k + y * k + p, weights=w, minlength=count * k * k
    ).reshape(count, k * k)
    classes = np.arange(k)
    positive = (y[:, None] == classes[None, :]).astype(np.int64)  # n × k
    score_bin = np.minimum((probs * bins).astype(np.int64), bins - 1)
    index = groups[:, None] * (k * bins * 2) + classes[None, :] * (bins * 2) + score_bin * 2 + positive
    repeated = np.repeat(w, k)
    out[:, layout["histogram"]] = np.bincount(
        index.reshape(-1), weights=repeated, minlength=count * k * bins * 2
    ).reshape(count, -1)
    calibration_bin = np.minimum((probs * CALIBRATION_BINS).astype(np.int64), CALIBRATION_BINS - 1)
    per_class = CALIBRATION_BINS * 3
    base = groups[:, None] * (k * per_class) + classes[None, :] * per_class + calibration_bin * 3
    size = count * k * CALIBRATION_BINS * 3
    calibration = np.zeros(size)
    for offset, values in enumerate((probs, positive, np.ones_like(probs))):
        weighted = (w[:, None] * values).reshape(-1)
        calibration += np.bincount((base + offset).reshape(-1), weights=weighted, minlength=size)
    out[:, layout["calibration"]] = calibration.reshape(count, -1)


def slice_groups(
    frame: pl.DataFrame, spec: tuple[str, ...], buckets: tuple[tuple[str, tuple[float, ...]], ...]
) -> tuple[list[tuple[str | None, ...]], np.ndarray]:
    """The distinct keys of ``spec`` in ``frame`` (first-seen order) and each row's key index."""
    if not spec:
        return [()], np.zeros(frame.height, dtype=np.int64)
    missing = [name for name in spec if name not in frame.columns]
    if missing:
        raise DataError(
            f"Evaluator: the slice {spec} names feature(s) {missing} that are not columns of the examples; they "
            f"have {frame.columns}. Fix EvalConfig(slices=...)."
        )
    edges = dict(buckets)
    keys = pl.DataFrame({name: _key_column(frame.get_column(name), edges.get(name)) for name in spec})
    distinct = keys.unique(maintain_order=True).with_row_index("__slice")
    joined = keys.join(distinct, on=list(spec), how="left", nulls_equal=True, maintain_order="left")
    return [tuple(row) for row in distinct.drop("__slice").iter_rows()], joined.get_column("__slice").to_numpy()


def _key_column(column: pl.Series, edges: tuple[float, ...] | None) -> pl.Series:
    if edges is None:
        return column.cast(pl.String)
    values = column.cast(pl.Float64).fill_null(float("nan")).to_numpy()
    labels = bucket_labels(edges)
    position = pl.Series(column.name, np.searchsorted(np.asarray(edges), values, side="right"))
    named = position.replace_strict(list(range(len(labels))), labels, return_dtype=pl.String)
    return named.set(pl.Series(np.isnan(values)), None)


@functools.lru_cache(maxsize=64)
def bucket_labels(edges: tuple[float, ...]) -> list[str]:
    """``< a``, ``[a, b)``, ..., ``>= z``: the names of the buckets cut at ``edges``."""
    inner = [f"[{_short(lo)}, {_short(hi)})" for lo, hi in zip(edges, edges[1:], strict=False)]
    return [f"< {_short(edges[0])}", *inner, f">= {_short(edges[-1])}"]


def _short(value: float) -> str:
    return f"{value:.6g}"


__all__ = ["EvalPlan", "SliceSums", "bucket_labels", "map_fragment", "merge", "slice_groups"]

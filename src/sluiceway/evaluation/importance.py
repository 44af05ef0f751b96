"""Permutation feature importance: how much worse the model gets when one raw feature is shuffled.

On a seeded sample of ``importance_rows`` rows of the evaluation split (drawn without replacement, read
one file at a time), each raw input of the model's signature is shuffled ``importance_repeats`` times
with a seeded generator and the sample re-predicted through ``predict``/``predict_proba`` on raw rows,
so the fitted transform is part of what is measured. The score is accuracy for a classifier, RMSE for
a regressor; importance is the mean loss of score (positive: the model relies on the feature).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from sluiceway.evaluation.config import EvalConfig


def sample_rows(files: list[str], rows: int, seed: int) -> pl.DataFrame:
    """``rows`` rows drawn without replacement (seeded), in file order; every row when there are fewer."""
    import pyarrow.parquet as pq

    sizes = [pq.ParquetFile(f).metadata.num_rows for f in files]
    total = sum(sizes)
    chosen = np.sort(np.random.default_rng(seed).choice(total, size=min(rows, total), replace=False))
    parts, start = [], 0
    for file, size in zip(files, sizes, strict=True):
        local = chosen[(chosen >= start) & (chosen < start + size)] - start
        if local.size:
            parts.append(pl.read_parquet(file).gather(local))
        start += size
    return pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame()


def _score(model: Any, frame: pl.DataFrame, labels: np.ndarray, task: str) -> float:
    if task == "classification":
        return float(np.mean(np.asarray(model.predict(frame)).astype(str) == labels.astype(str)))
    predicted = np.asarray(model.predict(frame), dtype=np.float64).reshape(-1)
    return -math.sqrt(float(np.mean((predicted - labels.astype(np.float64)) ** 2)))


def permutation_importance(model: Any, files: list[str], label: str, task: str, config: EvalConfig) -> dict[str, Any]:
    """Importance of each raw input feature, most important first, with the spread over repeats."""
    sample = sample_rows(files, config.importance_rows, config.seed).filter(pl.col(label).is_not_null())
    metric = "accuracy" if task == "classification" else "rmse"
    if sample.height < 2:
        return {"metric": metric, "rows": sample.height, "features": []}
    labels = sample.get_column(label).to_numpy()
    inputs = sample.drop(label)
    base = _score(model, inputs, labels, task)
    names = [entry["name"] for entry in model.signature.get("inputs", []) if entry["name"] in inputs.columns]
    features = []
    for index, name in enumerate(names):
        losses = []
        for repeat in range(config.importance_repeats):
            order = np.random.default_rng([config.seed, index, repeat]).permutation(inputs.height)
            shuffled = inputs.with_columns(inputs.get_column(name).gather(order))
            losses.append(base - _score(model, shuffled, labels, task))
        features.append({"feature": name, "importance": float(np.mean(losses)), "std": float(np.std(losses))})
    features.sort(key=lambda f: (-f["importance"], f["feature"]))
    baseline_value = base if task == "classification" else -base
    return {"metric": metric, "rows": sample.height, "repeats": config.importance_repeats,
            "score": baseline_value, "features": features}


__all__ = ["permutation_importance", "sample_rows"]

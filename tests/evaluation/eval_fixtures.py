"""Helpers of the evaluation tests: real Examples folders and real Model bundles, written without a pipeline.

A synthetic credit-like table: numeric features ``x1``, ``x2``, ``income``, categorical ``group`` (the
sensitive feature) and ``region``; a binary label ``y`` (classes "no"/"yes") and a numeric ``target``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

import sluiceway as sw
from sluiceway.trainer.bundle import write_bundle

FEATURES = ["x1", "x2", "income"]


def make_frame(rows: int = 3000, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], size=rows, p=[0.5, 0.4, 0.1])
    region = rng.choice(["north", "south"], size=rows)
    x1 = rng.normal(size=rows) + (group == "b") * 0.5
    x2 = rng.normal(size=rows)
    income = rng.lognormal(mean=10, sigma=0.5, size=rows)
    logit = 1.5 * x1 - x2 + 0.3 * (np.log(income) - 10)
    y = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "yes", "no")
    target = 3 * x1 - 2 * x2 + rng.normal(scale=0.5, size=rows) + 10
    return pl.DataFrame({"x1": x1, "x2": x2, "income": income, "group": group, "region": region, "y": y,
                         "target": target})


def write_examples(folder: Path, frames: dict[str, pl.DataFrame], parts: int = 2) -> sw.Examples:
    """An Examples artifact folder: ``Split-{name}/part-*.parquet``, each split in ``parts`` files."""
    for split, frame in frames.items():
        target = folder / f"Split-{split}"
        target.mkdir(parents=True, exist_ok=True)
        size = -(-frame.height // parts)
        for index in range(parts):
            frame.slice(index * size, size).write_parquet(target / f"part-{index:05d}.parquet", row_group_size=700)
    return sw.Examples(str(folder), {"split_names": sorted(frames)})


def write_model(folder: Path, estimator: object, frame: pl.DataFrame, *, label: str,
                features: list[str] = FEATURES) -> sw.Model:
    """Fit ``estimator`` on ``features`` of ``frame`` and save it as a real Model bundle."""
    X = frame.select(features).to_numpy()
    estimator.fit(X, frame.get_column(label).to_numpy())  # type: ignore[attr-defined]
    classes = getattr(estimator, "classes_", None)
    write_bundle(
        folder, flavor_name="sklearn", model=estimator, example=X[:2], features=features, label=label,
        transform_graph=None, serving_inputs=[{"name": f, "type": "float"} for f in features],
        options={"classes": None if classes is None else classes.tolist()}, onnx=False, metrics={},
        metric_history={}, hyperparameters={},
    )
    return sw.Model(str(folder))

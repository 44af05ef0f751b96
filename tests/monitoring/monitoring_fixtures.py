"""Helpers of the monitoring tests: a synthetic classification dataset large enough that the drift noise
bounds are small (12,000 training rows), a model trained on it by the standard pipeline, traffic drawn from
the training distribution or a shifted one, and request-log files written in the server's documented layout
(for the window tests, which need requests at chosen times)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

import sluiceway as sw
import sluiceway.transform as T
from sluiceway.components import CsvExampleGen, SchemaGen, StatisticsGen, Trainer, Transform

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))
import serving_fixtures as sf  # noqa: E402

COLORS = ["red", "green", "blue"]
TRAINING_ROWS = 12_000


def draw(
    n: int, seed: int, *, shift: float = 0.0, colors: tuple[float, float, float] = (0.5, 0.3, 0.2)
) -> dict[str, Any]:
    """``n`` rows: x (normal, mean ``shift``), amount (lognormal, scaled by ``1 + shift``), color, label."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    amount = rng.lognormal(3.0, 0.8, n) * (1.0 + shift)
    color = rng.choice(COLORS, size=n, p=list(colors))
    score = 1.5 * x + 0.02 * amount + (color == "red") - 1.0
    label = np.where(score + rng.logistic(0, 1, n) > 0, "yes", "no")
    return {"x": np.round(x, 6), "amount": np.round(amount, 4), "color": color, "label": label}


def rows(columns: dict[str, Any], *, with_label: bool = False) -> list[dict[str, Any]]:
    names = [c for c in columns if with_label or c != "label"]
    return [
        {name: (columns[name][i].item() if hasattr(columns[name][i], "item") else columns[name][i]) for name in names}
        for i in range(len(columns["x"]))
    ]


def write_csv(path: Path, columns: dict[str, Any]) -> Path:
    import polars as pl

    pl.DataFrame({k: list(v) for k, v in columns.items()}).write_csv(path)
    return path


def preprocessing_fn(inputs):  # noqa: ANN001, ANN201 - the Transform contract
    return {
        "x_z": T.scale_to_z_score(inputs["x"]),
        "amount_z": T.scale_to_z_score(inputs["amount"]),
        "color_id": T.compute_and_apply_vocabulary(inputs["color"], num_oov_buckets=1),
        "label_id": T.compute_and_apply_vocabulary(inputs["label"]),
    }


def run_fn(ctx):  # noqa: ANN001, ANN201 - the Trainer contract
    from sklearn.linear_model import LogisticRegression

    X, y = ctx.train.numpy()
    ctx.save_model(LogisticRegression(max_iter=500).fit(X, y))


def train(root: Path) -> dict[str, Path]:
    """One pipeline run on the synthetic data; the Model folder, the store URL, statistics and schema files."""
    csv = write_csv(root / "train.csv", draw(TRAINING_ROWS, seed=1))
    gen = CsvExampleGen(input_pattern=str(csv))
    stats = StatisticsGen(examples=gen.examples)
    schema = SchemaGen(statistics=stats.statistics, label="label")
    transform = Transform(examples=gen.examples, schema=schema.schema, preprocessing_fn=preprocessing_fn)
    trainer = Trainer(
        examples=transform.transformed_examples,
        transform_graph=transform.transform_graph,
        schema=schema.schema,
        run_fn=run_fn,
    )
    store = f"sqlite:///{root / 'md.db'}"
    runner = sw.LocalRunner(store=store, artifact_root=root / "artifacts", parallelism=2)
    run = runner.run(sw.Pipeline("monitored", [gen, stats, schema, transform, trainer]))
    assert run.succeeded, {k: v.error for k, v in run.executions.items() if v.error}
    return {
        "model": Path(run.output("Trainer", "model").uri),
        "statistics": Path(run.output("StatisticsGen", "statistics").uri),
        "schema": Path(run.output("SchemaGen", "schema").file),
        "store": Path(store.removeprefix("sqlite:///")),
    }


def write_log(
    log_dir: Path, model: str, when: datetime, columns: dict[str, Any], *, version: int = 1, seq: int = 1
) -> Path:
    """One request-log file as the server writes it (layout and columns of sluiceway.serving.request_log)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(columns["x"])
    table = pa.table(
        {
            "time": pa.array([int(when.timestamp() * 1_000_000)] * n, pa.timestamp("us", tz="UTC")),
            "request_id": pa.array([f"1-{seq}-{i // 10}" for i in range(n)], pa.string()),
            "model_version": pa.array([version] * n, pa.int64()),
            "x": pa.array(columns["x"], pa.float64()),
            "amount": pa.array(columns["amount"], pa.float64()),
            "color": pa.array(columns["color"], pa.string()),
            "prediction": pa.array(["yes"] * n, pa.string()),
            "probabilities": pa.array([[0.5, 0.5]] * n, pa.list_(pa.float64())),
        }
    )
    folder = log_dir / model / when.strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"requests-{when.strftime('%H%M%S')}-1-{seq:06d}.parquet"
    pq.write_table(table, path)
    return path


__all__ = ["draw", "rows", "sf", "train", "write_log"]

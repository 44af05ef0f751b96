"""A small trained pipeline for the Pusher and BulkInferrer tests, in-process and through the CLI.

Synthetic rows (``id``, two numeric features, a string feature, label ``y`` in {"a", "b", "c"}); a
scikit-learn logistic regression; a test blessing component writing the contracts.md layout. Steered by
environment variables read when the pipeline is built: ``PUSH_TEST_SERVING`` (the serving base directory),
``PUSH_TEST_BLESSED`` / ``PUSH_TEST_INFRA_BLESSED`` ("0": not blessed), ``PUSH_TEST_C`` (the model's C),
``PUSH_TEST_MLFLOW`` (an MLflow tracking URI: also push to that registry).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

import sluiceway as sw
from sluiceway.components import BulkInferrer, DataFrameExampleGen, Pusher, Trainer


def frame(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    y = np.where(x1 + 0.5 * x2 > 0.5, "a", np.where(x1 - x2 < -0.5, "b", "c"))
    return pd.DataFrame({"id": np.arange(rows), "x1": x1, "x2": x2, "color": rng.choice(["r", "g"], rows), "y": y})


def fit(ctx) -> None:  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    X, y = ctx.train.numpy()
    ctx.save_model(LogisticRegression(C=float(ctx.train_args.get("C", 1.0)), max_iter=500).fit(X, y))


@sw.component
def bless(
    blessing: sw.Output[sw.ModelBlessing], *, blessed: bool = True, reason: str = "accuracy 0.41 < lower bound 0.90"
) -> None:
    marker = sw.ModelBlessing.BLESSED_MARKER if blessed else sw.ModelBlessing.NOT_BLESSED_MARKER
    (blessing.path / marker).touch()
    blessing.write_json(sw.ModelBlessing.FILENAME, {"blessed": blessed, "reasons": [] if blessed else [reason]})
    blessing.properties["blessed"] = blessed


@sw.component
def infra_bless(blessing: sw.Output[sw.InfraBlessing], *, blessed: bool = True) -> None:
    marker = sw.InfraBlessing.BLESSED_MARKER if blessed else sw.InfraBlessing.NOT_BLESSED_MARKER
    (blessing.path / marker).touch()
    reasons = [] if blessed else ["p99 latency 812 ms > 200 ms"]
    blessing.write_json(sw.InfraBlessing.FILENAME, {"blessed": blessed, "reasons": reasons})
    blessing.properties["blessed"] = blessed


def trained(rows: int = 300) -> tuple[DataFrameExampleGen, Trainer]:
    gen = DataFrameExampleGen(frame=frame(rows))
    features = ["x1", "x2"]
    trainer = Trainer(
        examples=gen.examples,
        run_fn=fit,
        label="y",
        features=features,
        train_args={"C": float(os.environ.get("PUSH_TEST_C", "1.0"))},
    )
    return gen, trainer


def create_pipeline() -> sw.Pipeline:
    gen, trainer = trained()
    model_ok = bless(blessed=os.environ.get("PUSH_TEST_BLESSED", "1") == "1")
    infra_ok = infra_bless(blessed=os.environ.get("PUSH_TEST_INFRA_BLESSED", "1") == "1")
    pusher = Pusher(
        model=trainer.model,
        model_blessing=model_ok.blessing,
        infra_blessing=infra_ok.blessing,
        base_directory=os.environ["PUSH_TEST_SERVING"],
        mlflow_tracking_uri=os.environ.get("PUSH_TEST_MLFLOW"),
    )
    return sw.Pipeline("pushing", [gen, trainer, model_ok, infra_ok, pusher])


def create_inference_pipeline() -> sw.Pipeline:
    gen, trainer = trained()
    inferrer = BulkInferrer(model=trainer.model, examples=gen.examples, key_columns=["id"])
    return sw.Pipeline("inferring", [gen, trainer, inferrer])

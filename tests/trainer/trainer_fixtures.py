"""Helpers of the Trainer tests: the penguin pipeline up to Transform, and one run_fn per model library.

Each run_fn predicts on the eval split inside training (on the transformed data it was given) and writes
those predictions to ``train_args["probe"]``, so a test can compare them with ``load_model(...).predict``
on the raw rows."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import numpy as np

import sluiceway as sw
import sluiceway.transform as T
from sluiceway.components import CsvExampleGen, SchemaGen, StatisticsGen, Transform

PENGUINS_CSV = Path(find_spec("palmerpenguins").submodule_search_locations[0]) / "data" / "penguins.csv"
NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def preprocessing_fn(inputs):
    outputs = {f"{name}_z": T.scale_to_z_score(T.fill_missing(inputs[name], T.mean(inputs[name]))) for name in NUMERIC}
    outputs["island_id"] = T.compute_and_apply_vocabulary(inputs["island"], num_oov_buckets=1)
    outputs["sex_id"] = T.compute_and_apply_vocabulary(T.fill_missing(inputs["sex"], "unknown"), num_oov_buckets=1)
    outputs["species_id"] = T.compute_and_apply_vocabulary(inputs["species"])  # the label: 0, 1, 2
    return outputs


def upstream() -> tuple[list[sw.Component], Transform, SchemaGen, CsvExampleGen]:
    gen = CsvExampleGen(input_pattern=str(PENGUINS_CSV))
    stats = StatisticsGen(examples=gen.examples)
    schema = SchemaGen(statistics=stats.statistics, label="species")
    transform = Transform(examples=gen.examples, schema=schema.schema, preprocessing_fn=preprocessing_fn)
    return [gen, stats, schema, transform], transform, schema, gen


def _probe(ctx, model_predict, model_proba) -> None:
    X, _ = ctx.eval.numpy()
    np.save(ctx.train_args["probe"] + ".predict.npy", np.asarray(model_predict(X)))
    np.save(ctx.train_args["probe"] + ".proba.npy", np.asarray(model_proba(X)))


def sklearn_run_fn(ctx):
    from sklearn.linear_model import LogisticRegression

    X, y = ctx.train.numpy()
    model = LogisticRegression(C=ctx.hyperparameters.get("C", 1.0), max_iter=500).fit(X, y)
    X_eval, y_eval = ctx.eval.numpy()
    ctx.log_metric("eval_accuracy", model.score(X_eval, y_eval))
    _probe(ctx, model.predict, model.predict_proba)
    ctx.save_model(model)


def lightgbm_run_fn(ctx):
    import lightgbm as lgb

    X, y = ctx.train.numpy()
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=7, min_child_samples=5, random_state=0, verbose=-1)
    model.fit(X, y)
    _probe(ctx, model.predict, model.predict_proba)
    ctx.save_model(model)


def xgboost_run_fn(ctx):
    import xgboost as xgb

    X, y = ctx.train.numpy()
    X_eval, y_eval = ctx.eval.numpy()
    model = xgb.XGBClassifier(n_estimators=20, max_depth=3, random_state=0, n_jobs=1)
    model.fit(X, y, eval_set=[(X_eval, y_eval)], verbose=False)
    for step, value in enumerate(model.evals_result()["validation_0"]["mlogloss"]):
        ctx.log_metric("eval_mlogloss", value, step=step)
    _probe(ctx, model.predict, model.predict_proba)
    ctx.save_model(model, format=ctx.train_args.get("format", "json"))


def torch_run_fn(ctx):
    import torch

    torch.manual_seed(0)
    X, y = ctx.train.numpy()
    features, labels = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.long)
    network = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    optimizer = torch.optim.Adam(network.parameters(), lr=0.05)
    for epoch in range(30):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(network(features), labels)
        loss.backward()
        optimizer.step()
        ctx.log_metric("loss", loss.item(), step=epoch)
    network.eval()

    def scores(X):
        with torch.no_grad():
            return network(torch.tensor(X, dtype=torch.float32)).numpy()

    def proba(X):
        return torch.softmax(torch.tensor(scores(X)), dim=1).numpy()

    _probe(ctx, lambda X: np.argmax(scores(X), axis=1), proba)
    ctx.save_model(network, classes=[0, 1, 2])

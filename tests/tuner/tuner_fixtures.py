"""Helpers of the Tuner tests (a module with a unique name: conftest modules of other folders would shadow it)."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

import sluiceway as sw
import sluiceway.transform as T
from sluiceway.components import CsvExampleGen, SchemaGen, StatisticsGen, Transform, Tuner

PENGUINS_CSV = Path(find_spec("palmerpenguins").submodule_search_locations[0]) / "data" / "penguins.csv"


def preprocessing_fn(inputs):
    return {
        "bill_length": T.scale_to_z_score(T.fill_missing(inputs["bill_length_mm"], 44.0)),
        "bill_depth": T.scale_to_z_score(T.fill_missing(inputs["bill_depth_mm"], 17.0)),
        "flipper_length": T.scale_to_z_score(T.fill_missing(inputs["flipper_length_mm"], 200.0)),
        "body_mass": T.scale_to_z_score(T.fill_missing(inputs["body_mass_g"], 4200.0)),
        "species": inputs["species"],
    }


def penguin_tuning(tuner_fn, name: str = "penguin-tuner", **options) -> sw.Pipeline:
    """CsvExampleGen → StatisticsGen → SchemaGen(label=species) → Transform → Tuner on Palmer penguins."""
    gen = CsvExampleGen(input_pattern=str(PENGUINS_CSV))
    stats = StatisticsGen(examples=gen.examples)
    schema = SchemaGen(statistics=stats.statistics, label="species")
    transform = Transform(examples=gen.examples, schema=schema.schema, preprocessing_fn=preprocessing_fn)
    tuner = Tuner(
        examples=transform.transformed_examples,
        transform_graph=transform.transform_graph,
        tuner_fn=tuner_fn,
        **options,
    )
    return sw.Pipeline(name, [gen, stats, schema, transform, tuner])


def logistic_log_loss(trial, ctx):
    """Eval log loss of a logistic regression; C is the searched hyperparameter (default 1.0)."""
    c = trial.suggest_float("C", 1e-3, 1e3, log=True)
    model = LogisticRegression(C=c, max_iter=2000).fit(ctx.train.X, ctx.train.y)
    return log_loss(ctx.eval.y, model.predict_proba(ctx.eval.X), labels=model.classes_)

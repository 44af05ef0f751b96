"""The Trainer component: build-time checks of run_fn, what ctx gives run_fn, hyperparameters, warm start."""

from __future__ import annotations

import functools
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import trainer_fixtures as fx

import sluiceway as sw
from sluiceway.components import Trainer


def _never_saves(ctx):
    ctx.log_metric("rows", ctx.train.num_rows)


def _two_args(ctx, extra):
    return None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("model.run_fn", r"'run_fn' parameter of .* must be a function or a 'module:function' string"),
        ("no_such_module_xyz:fn", r"names the module 'no_such_module_xyz', which cannot be imported"),
        ("json:no_such_function", r"names 'no_such_function' in module 'json', which has no such attribute"),
        (functools.partial(fx.sklearn_run_fn), r"must be a function \(def ...\) taking the trainer context"),
        (_two_args, r"_two_args must take exactly one argument, the trainer context: def run_fn\(ctx\)"),
    ],
)
def test_run_fn_is_checked_when_the_pipeline_is_built(value: object, message: str) -> None:
    _, transform, _, _ = fx.upstream()
    with pytest.raises(sw.DefinitionError, match=message):
        Trainer(examples=transform.transformed_examples, run_fn=value)


def test_splits_must_be_a_non_empty_list() -> None:
    _, transform, _, _ = fx.upstream()
    with pytest.raises(sw.DefinitionError, match=r"'splits' entry of the 'train_args' parameter .* Got \[\]"):
        Trainer(examples=transform.transformed_examples, run_fn=fx.sklearn_run_fn, train_args={"splits": []})


def test_a_run_fn_that_saves_no_model_fails_the_execution(runner: sw.LocalRunner) -> None:
    components, transform, _, _ = fx.upstream()
    trainer = Trainer(examples=transform.transformed_examples, run_fn=_never_saves)
    run = runner.run(sw.Pipeline("no-save", [*components, trainer]))
    assert not run.succeeded
    assert "returned without saving a model. Call ctx.save_model(model)" in run.executions["Trainer"].error


def _inspect_ctx(ctx):
    """Records what ctx offers, then saves a regressor trained on the streamed batches."""
    from sklearn.linear_model import SGDRegressor

    full_X, full_y = ctx.train.numpy()
    streamed = list(ctx.train.batches(50))
    pandas_X, pandas_y = ctx.train.xy("pandas")
    polars_X, _ = ctx.train.xy("polars")
    seen = {
        "label": ctx.label,
        "features": ctx.features,
        "hyperparameters": ctx.hyperparameters,
        "base_model": None if ctx.base_model is None else ctx.base_model.flavor,
        "batch_sizes": [len(X) for X, _ in streamed],
        "batches_equal_full": bool(
            np.array_equal(np.vstack([X for X, _ in streamed]), full_X, equal_nan=True)
            and np.array_equal(np.concatenate([y for _, y in streamed]), full_y)
        ),
        "pandas_columns": list(pandas_X.columns),
        "pandas_label": pandas_y.name,
        "polars_columns": polars_X.columns,
        "arrow_rows": ctx.train.arrow().num_rows,
        "schema_features": None if ctx.schema is None else len(ctx.schema.features),
        "train_args": ctx.train_args,
    }
    Path(ctx.train_args["probe"]).write_text(json.dumps(seen))
    model = SGDRegressor(random_state=0)
    for X, y in ctx.train.batches(50):
        model.partial_fit(np.nan_to_num(X), y)
    ctx.save_model(model)


@sw.component
def fixed_hyperparameters(hyperparameters: sw.Output[sw.HyperParameters], *, alpha: float = 0.5) -> None:
    """Writes the Tuner's documented layout, standing in for the Tuner."""
    hyperparameters.write_json(
        "hyperparameters.json",
        {
            "format": "sluiceway.hyperparameters",
            "version": 1,
            "values": {"alpha": alpha},
            "best_value": None,
            "objective": None,
            "trials": [],
        },
    )


def test_ctx_gives_the_data_in_every_form_hyperparameters_and_the_base_model(
    runner: sw.LocalRunner, tmp_path: Path
) -> None:
    components, transform, schema, gen = fx.upstream()
    first = Trainer(
        id="First",
        examples=transform.transformed_examples,
        transform_graph=transform.transform_graph,
        run_fn=fx.sklearn_run_fn,
        train_args={"probe": str(tmp_path / "first")},
    )
    tuned = fixed_hyperparameters(alpha=0.25)
    # raw examples behind the graph, a regression label chosen by name, warm start from the first model
    second = Trainer(
        id="Second",
        examples=gen.examples,
        transform_graph=transform.transform_graph,
        schema=schema.schema,
        hyperparameters=tuned.hyperparameters,
        base_model=first.model,
        run_fn=_inspect_ctx,
        label="body_mass_g_z",
        features=["bill_length_mm_z", "flipper_length_mm_z", "island_id"],
        train_args={"probe": str(tmp_path / "seen.json")},
    )
    run = runner.run(sw.Pipeline("ctx", [*components, first, tuned, second]))
    assert run.succeeded, {k: v.error for k, v in run.executions.items() if v.error}
    seen = json.loads((tmp_path / "seen.json").read_text())
    train_rows = run.output("CsvExampleGen", "examples").properties["row_counts"]["train"]
    assert seen["label"] == "body_mass_g_z" and seen["features"] == [
        "bill_length_mm_z",
        "flipper_length_mm_z",
        "island_id",
    ]
    assert seen["hyperparameters"] == {"alpha": 0.25} and seen["base_model"] == "sklearn"
    assert sum(seen["batch_sizes"]) == train_rows == seen["arrow_rows"] and max(seen["batch_sizes"]) <= 50
    assert seen["batches_equal_full"] is True
    assert (
        seen["pandas_columns"] == seen["polars_columns"] == seen["features"] and seen["pandas_label"] == "body_mass_g_z"
    )
    assert seen["schema_features"] == 8 and seen["train_args"]["probe"].endswith("seen.json")
    model = sw.load_model(run.output("Second", "model"))
    assert model.manifest["task"] == "regression" and model.classes is None
    row = {
        "bill_length_mm": 39.1,
        "bill_depth_mm": 18.7,
        "flipper_length_mm": 181,
        "body_mass_g": 3750,
        "island": "Torgersen",
        "sex": "male",
    }
    assert np.isfinite(model.predict(row)).all() and model.predict([row, row]).shape == (2,)
    with pytest.raises(sw.DataError, match="is a regressor: it has no class probabilities"):
        model.predict_proba(row)
    with pytest.raises(sw.DataError, match=r"lack column\(s\) the transform needs: 'island'"):
        model.predict({k: v for k, v in row.items() if k != "island"})


def test_the_cache_follows_the_code_of_a_run_fn_named_by_string(
    runner: sw.LocalRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    module = folder / "penguin_model_for_cache_test.py"
    source = textwrap.dedent(
        """
        def run_fn(ctx):
            from sklearn.tree import DecisionTreeClassifier

            X, y = ctx.train.numpy()
            ctx.save_model(DecisionTreeClassifier(max_depth=DEPTH, random_state=0).fit(X, y))
        """
    )
    module.write_text("DEPTH = 2\n" + source)
    monkeypatch.syspath_prepend(str(folder))

    def run_once() -> sw.Run:
        components, transform, _, _ = fx.upstream()
        trainer = Trainer(
            examples=transform.transformed_examples, label="species_id", run_fn="penguin_model_for_cache_test:run_fn"
        )
        return runner.run(sw.Pipeline("cache", [*components, trainer]))

    first = run_once()
    assert first.succeeded, {k: v.error for k, v in first.executions.items() if v.error}
    second = run_once()
    assert first.executions["Trainer"].state == "COMPLETE" and second.executions["Trainer"].state == "CACHED"
    module.write_text("DEPTH = 3\n" + source)
    sys.modules.pop("penguin_model_for_cache_test", None)
    third = run_once()
    assert third.executions["Trainer"].state == "COMPLETE"
    assert sw.load_model(third.output("Trainer", "model")).native.max_depth == 3


def _forest_on_pandas(ctx):
    from sklearn.ensemble import RandomForestClassifier

    X, y = ctx.train.xy("pandas")
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    X_eval, _ = ctx.eval.xy("pandas")
    np.save(ctx.train_args["probe"], model.predict_proba(X_eval))
    ctx.save_model(model)


def test_a_model_fitted_on_pandas_round_trips_with_its_column_names_and_onnx(
    runner: sw.LocalRunner, tmp_path: Path
) -> None:
    components, transform, _, gen = fx.upstream()
    trainer = Trainer(
        examples=transform.transformed_examples,
        transform_graph=transform.transform_graph,
        run_fn=_forest_on_pandas,
        features=["island_id", "bill_length_mm_z", "flipper_length_mm_z"],  # not the file order
        train_args={"probe": str(tmp_path / "proba.npy")},
        onnx=True,
    )
    run = runner.run(sw.Pipeline("pandas-forest", [*components, trainer]))
    assert run.succeeded, {k: v.error for k, v in run.executions.items() if v.error}
    artifact = run.output("Trainer", "model")
    raw_eval = run.output("CsvExampleGen", "examples").read("eval").to_pandas()
    # the forest's trees are scikit-learn types skops does not trust by default: trusted as scikit-learn's own
    native = sw.load_model(artifact)
    assert native.features == ["island_id", "bill_length_mm_z", "flipper_length_mm_z"]
    np.testing.assert_allclose(native.predict_proba(raw_eval), np.load(tmp_path / "proba.npy"), rtol=1e-12)
    onnx = sw.load_model(artifact, runtime="onnx")
    np.testing.assert_array_equal(onnx.predict(raw_eval), native.predict(raw_eval))
    np.testing.assert_allclose(onnx.predict_proba(raw_eval), native.predict_proba(raw_eval), atol=1e-5)

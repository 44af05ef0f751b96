"""Bad Tuner parameters are refused when the pipeline is built; bad results when it runs."""

from __future__ import annotations

import pytest
from tuner_fixtures import penguin_tuning

import sluiceway as sw
from sluiceway.errors import DataError, DefinitionError
from sluiceway.tuner import load_hyperparameters


def good_fn(trial, ctx):
    return trial.suggest_float("x", 0.0, 1.0)


def one_argument(trial):
    return 0.0


def returns_text(trial, ctx):
    trial.suggest_int("depth", 1, 3)
    return "good"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tuner_fn": "no_colon_here"}, "'tuner_fn' parameter of component 'Tuner' (Tuner) must be a function or a"),
        ({"tuner_fn": "no_such_module_xyz:fn"}, "names the module 'no_such_module_xyz', which cannot be imported"),
        ({"tuner_fn": "json:no_such_function"}, "names 'no_such_function' in module 'json', which has no such"),
        ({"tuner_fn": 42}, "'tuner_fn' parameter of component 'Tuner' (Tuner) must be of type"),
        ({"tuner_fn": one_argument}, "must take exactly 2 arguments, the Optuna trial and the tuning context"),
        ({"tuner_fn": len}, "must be a function (def ...) taking the Optuna trial and the tuning context"),
        ({"tuner_fn": good_fn, "num_trials": 0}, "num_trials"),
        ({"tuner_fn": good_fn, "parallel_trials": 0}, "parallel_trials"),
        ({"tuner_fn": good_fn, "timeout": -1.0}, "timeout"),
        ({"tuner_fn": good_fn, "direction": "up"}, "direction"),
        (
            {"tuner_fn": lambda trial, ctx: 0.0, "parallel_trials": 2},
            "is <lambda>, a lambda or a nested function; with parallel_trials=2 the worker processes must import it",
        ),
    ],
)
def test_bad_parameters_are_definition_errors_at_build(options: dict, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        penguin_tuning(**options)
    assert message in str(caught.value)


def test_a_non_numeric_objective_fails_the_execution_naming_the_trial(runner: sw.LocalRunner) -> None:
    run = runner.run(penguin_tuning(returns_text, num_trials=2))
    assert run["Tuner"].state == "FAILED"
    assert "must return the objective as a number; trial 0 returned str 'good'" in run["Tuner"].error


def test_an_unknown_label_is_a_data_error_that_lists_the_columns(runner: sw.LocalRunner) -> None:
    run = runner.run(penguin_tuning(good_fn, num_trials=1, label="sex"))
    assert run["Tuner"].state == "FAILED"
    assert "DataError" in run["Tuner"].error and "the label column 'sex' is not in split 'train'" in run["Tuner"].error


def test_load_hyperparameters_refuses_foreign_files(tmp_path) -> None:
    with pytest.raises(DataError, match="No hyperparameters file"):
        load_hyperparameters(tmp_path)
    (tmp_path / "hyperparameters.json").write_text('{"format": "something.else", "values": {}}')
    with pytest.raises(DataError, match="is not a Sluiceway hyperparameters document"):
        load_hyperparameters(tmp_path)
    (tmp_path / "hyperparameters.json").write_text('{"format": "sluiceway.hyperparameters", "version": 9}')
    with pytest.raises(DataError, match="format version 9"):
        load_hyperparameters(tmp_path / "hyperparameters.json")
    (tmp_path / "hyperparameters.json").write_text("not json")
    with pytest.raises(DataError, match="cannot be read as JSON"):
        load_hyperparameters(tmp_path)


def checks_the_data_views(trial, ctx):
    """Raises unless X, y, frame and pandas() agree; returns the number of rows seen."""
    trial.suggest_int("k", 1, 2)
    x_frame, y_series = ctx.train.pandas()
    assert list(x_frame.columns) == ctx.feature_names == [c for c in ctx.train.frame.columns if c != "species"]
    assert ctx.train.X.shape == (len(ctx.train), len(ctx.feature_names))
    assert list(ctx.train.y) == list(y_series) == ctx.train.frame["species"].to_list()
    assert ctx.label == "species" and ctx.eval.feature_names == ctx.train.feature_names
    return float(len(ctx.train) + len(ctx.eval))


def test_without_a_transform_the_label_comes_from_the_schemas_serving_environment(runner: sw.LocalRunner) -> None:
    from tuner_fixtures import PENGUINS_CSV

    from sluiceway.components import CsvExampleGen, SchemaGen, StatisticsGen, Tuner

    gen = CsvExampleGen(input_pattern=str(PENGUINS_CSV))
    stats = StatisticsGen(examples=gen.examples)
    schema = SchemaGen(statistics=stats.statistics, label="species")
    tuner = Tuner(examples=gen.examples, schema=schema.schema, tuner_fn=checks_the_data_views, num_trials=2)
    run = runner.run(sw.Pipeline("raw-tuning", [gen, stats, schema, tuner]))
    assert run.succeeded, {k: v.error for k, v in run.executions.items()}
    document = load_hyperparameters(run.output("Tuner", "hyperparameters"), full=True)
    assert document["best_value"] == 344.0  # every penguin, in train or eval
    assert "label 'species'" in open(run["Tuner"].log_uri).read()


def test_without_label_transform_or_schema_the_error_says_to_pass_label(runner: sw.LocalRunner) -> None:
    from tuner_fixtures import PENGUINS_CSV

    from sluiceway.components import CsvExampleGen, Tuner

    gen = CsvExampleGen(input_pattern=str(PENGUINS_CSV))
    run = runner.run(sw.Pipeline("no-label", [gen, Tuner(examples=gen.examples, tuner_fn=good_fn, num_trials=1)]))
    assert run["Tuner"].state == "FAILED"
    assert "DataError" in run["Tuner"].error and "cannot tell which column is the label" in run["Tuner"].error
    assert "Pass label='<column>' to the Tuner" in run["Tuner"].error


def test_check_component_runs_the_tuner_on_folders_with_an_in_memory_study(tmp_path) -> None:
    import polars as pl
    from tuner_fixtures import PENGUINS_CSV, logistic_log_loss

    from sluiceway.components import Tuner
    from sluiceway.testing import check_component

    frame = pl.read_csv(PENGUINS_CSV, null_values="NA").select(
        "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "species"
    )
    frame = frame.drop_nulls()
    for split, part in (("train", frame[::2]), ("eval", frame[1::2])):
        (tmp_path / "examples" / f"Split-{split}").mkdir(parents=True)
        part.write_parquet(tmp_path / "examples" / f"Split-{split}" / "part-0.parquet")
    parameters = {"tuner_fn": logistic_log_loss, "num_trials": 3, "direction": "minimize", "label": "species"}
    # duration_s differs between runs, so the bytes do; the trials themselves are the same (next lines)
    runs = [
        check_component(
            Tuner, inputs={"examples": tmp_path / "examples"}, parameters=parameters, check_determinism=False
        )
        for _ in range(2)
    ]
    documents = [load_hyperparameters(run["hyperparameters"], full=True) for run in runs]
    assert [len(d["trials"]) for d in documents] == [3, 3]
    assert [[t["params"] for t in d["trials"]] for d in documents][0] == [t["params"] for t in documents[1]["trials"]]
    assert documents[0]["values"] == documents[1]["values"]
    assert not list(tmp_path.glob("**/*.optuna.db"))  # outside a runner nothing is written beside any store

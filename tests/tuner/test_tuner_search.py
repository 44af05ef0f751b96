"""The Tuner in a real penguin pipeline: a real Optuna search on a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from tuner_fixtures import logistic_log_loss, penguin_tuning

import sluiceway as sw
from sluiceway.artifacts import HyperParameters
from sluiceway.tuner import load_hyperparameters
from sluiceway.tuner.storage import storage_url


def test_a_small_search_finds_a_better_than_default_setting(runner: sw.LocalRunner) -> None:
    run = runner.run(penguin_tuning(logistic_log_loss, num_trials=12, direction="minimize", seed=7))
    assert run.succeeded, {k: v.error for k, v in run.executions.items()}
    artifact = run.output("Tuner", "hyperparameters")
    assert isinstance(artifact, HyperParameters)
    document = json.loads(artifact.file.read_text())
    assert document["format"] == "sluiceway.hyperparameters" and document["version"] == 1
    assert document["objective"] == "minimize"
    assert set(document["values"]) == {"C"}
    assert len(document["trials"]) == 12
    assert [t["number"] for t in document["trials"]] == list(range(12))
    assert {t["state"] for t in document["trials"]} == {"COMPLETE"}
    assert all(set(t) == {"number", "state", "value", "params", "duration_s", "error"} for t in document["trials"])
    assert document["best_value"] == min(t["value"] for t in document["trials"])
    assert load_hyperparameters(artifact) == document["values"]
    assert load_hyperparameters(artifact.uri) == document["values"]

    # the same objective at scikit-learn's default C=1.0, on the same transformed splits
    transformed = run.output("Transform", "transformed_examples")
    from sluiceway.tuner.context import load_split

    train = load_split(transformed, "train", "species")
    evaluation = load_split(transformed, "eval", "species")
    default = LogisticRegression(max_iter=2000).fit(train.X, train.y)
    default_loss = log_loss(evaluation.y, default.predict_proba(evaluation.X), labels=default.classes_)
    assert document["best_value"] < default_loss
    assert artifact.properties["best_value"] == pytest.approx(document["best_value"])
    assert artifact.properties["num_trials"] == 12

    # each trial is in the execution's log
    log = run["Tuner"].log_uri
    text = open(log).read()
    for number in range(12):
        assert f"Trial {number} finished" in text


def test_the_study_lives_beside_the_store_and_the_same_inputs_give_the_same_trials(tmp_path) -> None:
    first_store = tmp_path / "one" / "metadata.db"
    first = sw.LocalRunner(store=f"sqlite:///{first_store}", artifact_root=tmp_path / "one" / "artifacts")
    second = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'two' / 'metadata.db'}", artifact_root=tmp_path / "two" / "a")
    pipeline = penguin_tuning(logistic_log_loss, num_trials=4, direction="minimize", seed=3)
    runs = [first.run(pipeline), second.run(pipeline)]
    assert all(run.succeeded for run in runs), [{k: v.error for k, v in r.executions.items()} for r in runs]
    documents = [load_hyperparameters(run.output("Tuner", "hyperparameters"), full=True) for run in runs]
    params = [[t["params"] for t in d["trials"]] for d in documents]
    assert params[0] == params[1]  # seeded TPE: the same trial sequence
    assert (tmp_path / "one" / "metadata.optuna.db").is_file()
    summaries = optuna.get_all_study_summaries(storage_url(f"sqlite:///{first_store}"))
    assert len(summaries) == 1 and summaries[0].study_name.startswith("penguin-tuner.Tuner.")
    assert summaries[0].n_trials == 4


def test_parallel_trials_run_the_requested_number(runner: sw.LocalRunner) -> None:
    run = runner.run(penguin_tuning(logistic_log_loss, num_trials=6, parallel_trials=3, direction="minimize"))
    assert run.succeeded, {k: v.error for k, v in run.executions.items()}
    document = load_hyperparameters(run.output("Tuner", "hyperparameters"), full=True)
    assert len(document["trials"]) == 6
    assert {t["state"] for t in document["trials"]} == {"COMPLETE"}
    text = open(run["Tuner"].log_uri).read()
    assert text.count(" finished in ") == 6  # trials in worker threads are logged to the execution's log too


def climbs_to_x(trial, ctx):
    """Reports x * step for steps 1..5: a trial with a small x falls below the running median and is pruned."""
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(1, 6):
        ctx.report(x * step, step)
    return x * 5


def test_reported_values_let_the_median_pruner_stop_bad_trials(runner: sw.LocalRunner) -> None:
    run = runner.run(penguin_tuning(climbs_to_x, num_trials=16, seed=2))
    assert run.succeeded, {k: v.error for k, v in run.executions.items()}
    document = load_hyperparameters(run.output("Tuner", "hyperparameters"), full=True)
    states = [t["state"] for t in document["trials"]]
    assert len(states) == 16 and set(states) == {"COMPLETE", "PRUNED"}  # pruned trials count as finished
    assert states[:5] == ["COMPLETE"] * 5  # MedianPruner's startup trials are never pruned
    pruned = [t for t in document["trials"] if t["state"] == "PRUNED"]
    assert all(t["value"] < document["best_value"] for t in pruned)  # Optuna keeps the last reported value
    assert max(t["params"]["x"] for t in pruned) < document["values"]["x"]
    assert Path(run["Tuner"].log_uri).read_text().count(" pruned after ") == len(pruned)


def test_no_trial_starts_after_the_timeout(runner: sw.LocalRunner) -> None:
    run = runner.run(penguin_tuning(climbs_to_x, num_trials=5, timeout=1e-9))
    assert run["Tuner"].state == "FAILED"
    assert "no trial of study" in run["Tuner"].error and "raise num_trials / timeout" in run["Tuner"].error
    assert "The tuning timeout has passed" in Path(run["Tuner"].log_uri).read_text()

"""Sliced metrics, fairness and importance equal what scikit-learn and Fairlearn compute on the same predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from eval_fixtures import make_frame, write_examples, write_model
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression

import sluiceway as sw
from sluiceway.data.engine import InProcessEngine
from sluiceway.evaluation import CustomMetric, EvalConfig, Fairness
from sluiceway.evaluation.compute import evaluate_model


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("evaluation")
    train, evaluation = make_frame(3000, seed=0), make_frame(3000, seed=1)
    examples = write_examples(folder / "examples", {"train": train, "eval": evaluation})
    classifier = write_model(folder / "classifier", LogisticRegression(), train, label="y")
    regressor = write_model(folder / "regressor", LinearRegression(), train, label="target")
    return {"examples": examples, "classifier": classifier, "regressor": regressor, "eval": evaluation}


def _by_name(result: dict) -> dict[str, dict]:
    return {s["name"]: s for s in result["candidate"]["slices"]}


def test_classification_metrics_per_slice_equal_scikit_learn(data: dict) -> None:
    config = EvalConfig(label="y", slices=[(), ("group",), ("group", "region")], feature_importance=False)
    result = evaluate_model(data["classifier"].uri, data["examples"], config)
    frame = data["eval"].to_pandas()
    model = sw.load_model(data["classifier"])
    frame["proba"] = model.predict_proba(data["eval"])[:, 1]
    frame["predicted"] = model.predict(data["eval"])
    slices = _by_name(result)
    expected_names = {"Overall"} | {f"group={g}" for g in "abc"} | {
        f"group={g}, region={r}" for g in "abc" for r in ("north", "south")
    }
    assert set(slices) == expected_names
    groups = [("Overall", frame)]
    groups += [(f"group={g}", part) for g, part in frame.groupby("group")]
    groups += [(f"group={g}, region={r}", part) for (g, r), part in frame.groupby(["group", "region"])]
    for name, part in groups:
        found = slices[name]
        assert found["count"] == len(part)
        y = (part["y"] == "yes").to_numpy()
        got = found["metrics"]
        assert got["accuracy"] == pytest.approx(skm.accuracy_score(part["y"], part["predicted"]), abs=1e-12)
        assert got["precision"] == pytest.approx(skm.precision_score(y, part["predicted"] == "yes"), abs=1e-12)
        assert got["recall"] == pytest.approx(skm.recall_score(y, part["predicted"] == "yes"), abs=1e-12)
        assert got["f1"] == pytest.approx(skm.f1_score(y, part["predicted"] == "yes"), abs=1e-12)
        assert got["log_loss"] == pytest.approx(skm.log_loss(y, part["proba"]), rel=1e-9)
        assert got["brier_score"] == pytest.approx(skm.brier_score_loss(y, part["proba"]), rel=1e-9)
        exact_auc = skm.roc_auc_score(y, part["proba"])
        assert abs(got["auc"] - exact_auc) <= found["auc_error_bound"] + 1e-12
        assert found["auc_error_bound"] < 0.01  # 1000 bins: a small bound at these sizes
        assert got["auc_pr"] == pytest.approx(skm.average_precision_score(y, part["proba"]), abs=0.01)
        assert np.array_equal(np.asarray(found["confusion_matrix"]),
                              skm.confusion_matrix(part["y"], part["predicted"], labels=["no", "yes"]))


def test_regression_metrics_per_slice_equal_scikit_learn(data: dict) -> None:
    config = EvalConfig(label="target", slices=[(), ("region",)], feature_importance=False)
    result = evaluate_model(data["regressor"].uri, data["examples"], config)
    frame = data["eval"].to_pandas()
    frame["predicted"] = sw.load_model(data["regressor"]).predict(data["eval"])
    slices = _by_name(result)
    for name, part in [("Overall", frame), *((f"region={r}", p) for r, p in frame.groupby("region"))]:
        got = slices[name]["metrics"]
        y, p = part["target"], part["predicted"]
        assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, p), rel=1e-9)
        assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-9)
        assert got["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, p), rel=1e-9)
        assert got["r2"] == pytest.approx(skm.r2_score(y, p), rel=1e-9)


def test_fairness_gaps_equal_fairlearns_on_the_same_predictions(data: dict) -> None:
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
    )

    metrics = ["demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
               "equalized_odds_ratio"]
    config = EvalConfig(label="y", fairness=Fairness(sensitive=["group", "region"], metrics=metrics),
                        feature_importance=False, min_slice_size=1)
    result = evaluate_model(data["classifier"].uri, data["examples"], config)
    frame = data["eval"].to_pandas()
    y_true = (frame["y"] == "yes").astype(int)
    y_pred = (sw.load_model(data["classifier"]).predict(data["eval"]) == "yes").astype(int)
    assert [entry["feature"] for entry in result["fairness"]] == ["group", "region"]
    for entry in result["fairness"]:
        sensitive = frame[entry["feature"]]
        functions = {
            "demographic_parity_difference": demographic_parity_difference,
            "demographic_parity_ratio": demographic_parity_ratio,
            "equalized_odds_difference": equalized_odds_difference,
            "equalized_odds_ratio": equalized_odds_ratio,
        }
        expected = {name: f(y_true, y_pred, sensitive_features=sensitive) for name, f in functions.items()}
        for name, value in expected.items():
            assert entry["gaps"][name] == pytest.approx(value, abs=1e-12), (entry["feature"], name)
    assert result["fairness"][0]["gaps"]["demographic_parity_difference"] > 0.15  # group "b" is favoured by design


def test_small_groups_are_reported_but_left_out_of_the_gated_gap(data: dict) -> None:
    config = EvalConfig(label="y", fairness=Fairness(sensitive=["group"]), min_slice_size=500,
                        feature_importance=False)
    result = evaluate_model(data["classifier"].uri, data["examples"], config)
    (entry,) = result["fairness"]
    sizes = {g["group"]: (g["count"], g["gated"]) for g in entry["groups"]}
    assert sizes["c"][1] is False and sizes["a"][1] and sizes["b"][1]  # "c" is ~10% of 3000 rows
    rates = {g["group"]: g["selection_rate"] for g in entry["groups"]}
    assert entry["gated_gaps"]["demographic_parity_difference"] == pytest.approx(abs(rates["a"] - rates["b"]))
    assert not _by_name(result)["group=c"]["gated"]


def test_numeric_slice_features_are_bucketed_by_quantiles_and_small_integers_stay_values(data: dict,
                                                                                         tmp_path: Path) -> None:
    frame = data["eval"].with_columns(pl.Series("year", np.arange(3000) % 3 + 2020))
    examples = write_examples(tmp_path / "examples", {"eval": frame})
    config = EvalConfig(label="y", slices=[("income",), ("year",), ("x1",)], bucket_boundaries={"x1": [0.0]},
                        feature_importance=False)
    result = evaluate_model(data["classifier"].uri, examples, config)
    names = [s["name"] for s in result["candidate"]["slices"]]
    income = [s for s in result["candidate"]["slices"] if s["spec"] == ["income"]]
    assert len(income) == 4 and all(abs(s["count"] - 750) <= 15 for s in income)
    assert income[0]["name"].startswith("income=< ") and income[-1]["name"].startswith("income=>= ")
    assert [n for n in names if n.startswith("year=")] == ["year=2020", "year=2021", "year=2022"]
    assert [n for n in names if n.startswith("x1=")] == ["x1=< 0", "x1=>= 0"]
    assert (frame["x1"] < 0).sum() == next(s["count"] for s in result["candidate"]["slices"] if s["name"] == "x1=< 0")
    assert set(result["buckets"]) == {"income", "x1"}


def positives_and_rows(labels: np.ndarray, predictions: np.ndarray, probabilities: np.ndarray | None) -> np.ndarray:
    return np.array([float(np.sum(predictions == "yes")), float(len(labels))])


def share(sums: np.ndarray) -> float:
    return float(sums[0] / sums[1])


def test_custom_metrics_bootstrap_and_engines_give_the_same_bytes(data: dict) -> None:
    custom = CustomMetric(name="share_yes", update=positives_and_rows, result=share, size=2)
    config = EvalConfig(label="y", slices=[(), ("group",)], custom_metrics=[custom], bootstrap=20, seed=7,
                        importance_rows=300)
    one = evaluate_model(data["classifier"].uri, data["examples"], config, engine=InProcessEngine(max_workers=1))
    two = evaluate_model(data["classifier"].uri, data["examples"], config, engine=InProcessEngine(max_workers=2))
    assert one == two  # merged in fragment order: the thread count changes nothing
    overall = _by_name(one)["Overall"]
    predicted = sw.load_model(data["classifier"]).predict(data["eval"])
    assert overall["metrics"]["share_yes"] == pytest.approx(np.mean(predicted == "yes"))
    interval = overall["intervals"]["accuracy"]
    assert interval["low"] < overall["metrics"]["accuracy"] < interval["high"]
    assert 0 < interval["high"] - interval["low"] < 0.1 and interval["replicates"] == 20
    assert "share_yes" in overall["intervals"]
    importance = one["feature_importance"]
    assert [f["feature"] for f in importance["features"]][:2] == ["x1", "x2"]  # what the label was made of
    assert importance["features"][0]["importance"] > 0.05


def test_a_label_the_model_never_saw_is_a_clear_data_error(data: dict, tmp_path: Path) -> None:
    frame = data["eval"].with_columns(pl.when(pl.col("x1") > 2).then(pl.lit("maybe")).otherwise(pl.col("y")).alias("y"))
    examples = write_examples(tmp_path / "examples", {"eval": frame})
    with pytest.raises(sw.DataError, match=r"value\(s\) \['maybe'\] that are not among the model's classes"):
        evaluate_model(data["classifier"].uri, examples, EvalConfig(label="y", feature_importance=False))
    with pytest.raises(sw.DataError, match="slice feature 'colour' is not a column"):
        evaluate_model(data["classifier"].uri, examples, EvalConfig(label="y", slices=[("colour",)]))
    with pytest.raises(sw.ConfigError, match="applies to classifiers"):
        config = EvalConfig(label="target", fairness=Fairness(sensitive=["group"]))
        evaluate_model(data["regressor"].uri, examples, config)


def test_the_engine_work_pickles_for_remote_workers(data: dict) -> None:
    import functools
    import pickle

    from sluiceway.evaluation import accumulate
    from sluiceway.evaluation.accumulate import EvalPlan, SliceSums

    custom = CustomMetric(name="share_yes", update=positives_and_rows, result=share, size=2)
    plan = EvalPlan(model_uri=data["classifier"].uri, task="classification", label="y", classes=("no", "yes"),
                    specs=((), ("group",)), custom=(custom,), custom_sizes=(2,), bootstrap=3)
    mapper = pickle.loads(pickle.dumps(functools.partial(accumulate.map_fragment, plan)))
    merger = pickle.loads(pickle.dumps(accumulate.merge))
    files = data["examples"].split_files("eval")
    from sluiceway.data.engine import plan_fragments

    fragments = plan_fragments([str(f) for f in files], parallelism=1)
    results = [pickle.loads(pickle.dumps(mapper(f, f.iter_batches(batch_format="polars")))) for f in fragments]
    merged = functools.reduce(merger, results, SliceSums())
    assert merged.rows == 3000 and merged.sums[((), ())][0] == 3000  # the count leads the vector
    assert merged.replicates[((), ())].shape[0] == 3


def test_importing_sluiceway_loads_no_evaluation_code_until_used() -> None:
    import subprocess
    import sys

    code = (
        "import sys, sluiceway as sw\n"
        "print(sorted(m for m in sys.modules if m.startswith(('sluiceway.resolve', 'sluiceway.evaluation'))))\n"
        "print(sw.resolve.latest_blessed_model(evaluator='Evaluator'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "<latest blessed Model of this pipeline, blessed by 'Evaluator'>"]


def test_labels_are_matched_to_the_classes_in_the_label_columns_own_type() -> None:
    from sluiceway.evaluation.accumulate import label_positions

    assert label_positions(pl.Series("y", [True, False]), (False, True), "E").tolist() == [1, 0]
    assert label_positions(pl.Series("y", [1.0, 0.0]), (0, 1), "E").tolist() == [1, 0]  # a float label, int classes
    assert label_positions(pl.Series("y", ["1", "0"]), (0, 1), "E").tolist() == [1, 0]
    with pytest.raises(sw.DataError, match=r"holds value\(s\) \['5'\] that are not among the model's classes \[0, 1\]"):
        label_positions(pl.Series("y", [0, 1, 5]), (0, 1), "E")

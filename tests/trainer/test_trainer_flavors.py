"""Every flavor through a real pipeline: train behind Transform, round-trip the Model bundle, and
``load_model(...).predict(raw rows)`` equals what the model predicted on the transformed data in run_fn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trainer_fixtures as fx

import sluiceway as sw
from sluiceway.components import Trainer

FLAVORS = ["sklearn", "lightgbm", "xgboost", "torch"]
RUN_FNS = {
    "sklearn": fx.sklearn_run_fn,
    "lightgbm": fx.lightgbm_run_fn,
    "xgboost": fx.xgboost_run_fn,
    "torch": fx.torch_run_fn,
}
LIBRARIES = {"sklearn": "scikit-learn", "lightgbm": "lightgbm", "xgboost": "xgboost", "torch": "torch"}
ONNX_EXPORTS = ["sklearn", "lightgbm", "xgboost"]  # through skl2onnx, onnxmltools, onnxmltools
MODEL_FILES = {"sklearn": "model.skops", "lightgbm": "model.txt", "xgboost": "model.json", "torch": "model.onnx"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[sw.Run, Path]:
    """One run: the penguin upstream and one Trainer per flavor (all but torch with an ONNX export)."""
    root = tmp_path_factory.mktemp("trainer-flavors")
    components, transform, schema, _ = fx.upstream()
    trainers = [
        Trainer(
            id=f"Trainer-{name}",
            examples=transform.transformed_examples,
            transform_graph=transform.transform_graph,
            schema=schema.schema,
            run_fn=RUN_FNS[name],
            train_args={"probe": str(root / name)},
            onnx=name in ONNX_EXPORTS,
        )
        for name in FLAVORS
    ]
    runner = sw.LocalRunner(store=f"sqlite:///{root / 'md.db'}", artifact_root=root / "artifacts", parallelism=2)
    run = runner.run(sw.Pipeline("penguin-trainers", [*components, *trainers]))
    assert run.succeeded, {k: v.error for k, v in run.executions.items() if v.error}
    return run, root


@pytest.mark.parametrize("flavor", FLAVORS)
def test_load_model_predicts_on_raw_rows_what_run_fn_predicted(trained: tuple[sw.Run, Path], flavor: str) -> None:
    run, root = trained
    artifact = run.output(f"Trainer-{flavor}", "model")
    raw_eval = run.output("CsvExampleGen", "examples").read("eval")  # raw rows, as Arrow
    model = sw.load_model(artifact)
    assert model.flavor == flavor and model.classes == [0, 1, 2]
    expected = np.load(f"{root / flavor}.predict.npy")
    np.testing.assert_array_equal(model.predict(raw_eval), expected)
    np.testing.assert_allclose(
        model.predict_proba(raw_eval), np.load(f"{root / flavor}.proba.npy"), rtol=1e-6, atol=1e-9
    )
    # one raw row as a dict (what a server receives): the label column may be left out
    row = {k: v for k, v in raw_eval.slice(0, 1).to_pylist()[0].items() if k != "species"}
    assert model.predict(row).tolist() == expected[:1].tolist()


@pytest.mark.parametrize("flavor", FLAVORS)
def test_the_bundle_has_its_documented_layout(trained: tuple[sw.Run, Path], flavor: str) -> None:
    run, _ = trained
    artifact = run.output(f"Trainer-{flavor}", "model")
    manifest = json.loads(artifact.file.read_text())
    folder = Path(artifact.uri)
    assert (folder / "model" / MODEL_FILES[flavor]).is_file()
    assert (folder / "transform" / "transform_graph.json").is_file()
    assert manifest["format"] == "sluiceway.model" and manifest["format_version"] == 1
    assert manifest["flavor"] == flavor and manifest["task"] == "classification"
    assert manifest["label"] == "species_id"
    assert manifest["features"] == [f"{n}_z" for n in fx.NUMERIC] + ["island_id", "sex_id"]
    assert set(manifest["files"]) >= {f"model/{MODEL_FILES[flavor]}", "transform/transform_graph.json"}
    # the signature: the raw features a request sends, typed by the schema's SERVING environment
    inputs = {spec["name"]: spec["type"] for spec in manifest["signature"]["inputs"]}
    assert inputs == {
        "bill_length_mm": "float",
        "bill_depth_mm": "float",
        "flipper_length_mm": "int",
        "body_mass_g": "int",
        "island": "string",
        "sex": "string",
    }  # no "species": the label is absent in SERVING
    outputs = {spec["name"]: spec for spec in manifest["signature"]["outputs"]}
    assert outputs["label"]["type"] == "int" and outputs["probabilities"]["classes"] == [0, 1, 2]
    assert manifest["libraries"][LIBRARIES[flavor]] and manifest["libraries"]["numpy"] == np.__version__
    assert artifact.properties["flavor"] == flavor and artifact.properties["task"] == "classification"


def test_metrics_reach_the_model_and_the_execution_log(trained: tuple[sw.Run, Path]) -> None:
    run, _ = trained
    sklearn_model = run.output("Trainer-sklearn", "model")
    accuracy = sklearn_model.properties["metrics"]["eval_accuracy"]
    assert 0.9 <= accuracy <= 1.0
    assert sw.load_model(sklearn_model).metrics == {"eval_accuracy": accuracy}
    torch_manifest = json.loads(run.output("Trainer-torch", "model").file.read_text())
    losses = torch_manifest["metric_history"]["loss"]
    assert [step for step, _ in losses] == list(range(30)) and losses[-1][1] < losses[0][1]
    log = Path(run.executions["Trainer-torch"].log_uri).read_text()
    assert "metric loss = " in log and "(step 29)" in log


@pytest.mark.parametrize("flavor", ONNX_EXPORTS)
def test_onnx_predicts_what_the_native_model_predicts(trained: tuple[sw.Run, Path], flavor: str) -> None:
    run, _ = trained
    artifact = run.output(f"Trainer-{flavor}", "model")
    raw_eval = run.output("CsvExampleGen", "examples").read("eval")
    native, onnx = sw.load_model(artifact), sw.load_model(artifact, runtime="onnx")
    assert artifact.properties["onnx"] is True and (Path(artifact.uri) / "model" / "model.onnx").is_file()
    np.testing.assert_array_equal(onnx.predict(raw_eval), native.predict(raw_eval))
    np.testing.assert_allclose(onnx.predict_proba(raw_eval), native.predict_proba(raw_eval), atol=1e-5)
    rows = [{k: v for k, v in row.items() if k != "species"} for row in raw_eval.to_pylist()]
    for model in (native, onnx):  # dict rows (the server's small-input path) give what the table gives
        assert model.predict(rows[0]).tolist() == model.predict(raw_eval.slice(0, 1)).tolist()
        np.testing.assert_array_equal(model.predict_proba(rows[:5]), model.predict_proba(raw_eval.slice(0, 5)))
        np.testing.assert_array_equal(model.predict(rows), model.predict(raw_eval))


def test_a_model_without_an_onnx_export_says_how_to_get_one(trained: tuple[sw.Run, Path]) -> None:
    run, _ = trained
    with pytest.raises(sw.ConfigError, match=r"has no ONNX export. Train it with Trainer\(..., onnx=True\)"):
        sw.load_model(run.output("Trainer-torch", "model"), runtime="onnx")

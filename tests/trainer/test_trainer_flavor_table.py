"""The flavor plugin table on its own: detection, each library's file round trip (regressors here; the
classifiers go through the pipeline in test_trainer_flavors), and loud failures for what is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import sluiceway as sw
from sluiceway.trainer.flavors import FLAVORS, detect_flavor, get_flavor


def _regression_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    return X, X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(scale=0.1, size=200)


def _regressors() -> dict[str, object]:
    import lightgbm as lgb
    import torch
    import xgboost as xgb
    from sklearn.linear_model import Ridge

    X, y = _regression_data()
    torch.manual_seed(0)
    return {
        "sklearn": Ridge().fit(X, y),
        "lightgbm": lgb.LGBMRegressor(n_estimators=10, verbose=-1, random_state=0).fit(X, y),
        "xgboost": xgb.XGBRegressor(n_estimators=10, n_jobs=1, random_state=0).fit(X, y),
        "torch": torch.nn.Sequential(torch.nn.Linear(4, 1)),
    }


def test_the_flavor_is_detected_from_the_library_of_the_model() -> None:
    import lightgbm as lgb

    assert {name: detect_flavor(model) for name, model in _regressors().items()} == {
        "sklearn": "sklearn",
        "lightgbm": "lightgbm",  # not sklearn, although LGBMRegressor derives from BaseEstimator
        "xgboost": "xgboost",
        "torch": "torch",
    }
    X, y = _regression_data()
    assert detect_flavor(lgb.train({"verbose": -1}, lgb.Dataset(X, y), num_boost_round=2)) == "lightgbm"
    with pytest.raises(sw.DefinitionError, match=r"cannot tell the flavor of a builtins.dict object. Pass flavor="):
        detect_flavor({"weights": [1, 2]})
    with pytest.raises(sw.DefinitionError, match=r"Unknown model flavor 'keras'. Known flavors: \["):
        get_flavor("keras")
    assert set(FLAVORS) == {"sklearn", "lightgbm", "xgboost", "torch", "onnx"}


@pytest.mark.parametrize("flavor", ["sklearn", "lightgbm", "xgboost", "torch"])
def test_each_flavor_round_trips_a_regressor(flavor: str, tmp_path: Path) -> None:
    model = _regressors()[flavor]
    X, _ = _regression_data()
    implementation = get_flavor(flavor)
    spec = implementation.save(model, tmp_path, example=X, options={"format": "ubj"} if flavor == "xgboost" else {})
    assert spec["classes"] is None and (tmp_path / spec["file"]).is_file()
    loaded = implementation.load(tmp_path, spec, trusted=[])
    if flavor == "torch":
        import torch

        with torch.no_grad():
            expected = model(torch.tensor(X, dtype=torch.float32)).numpy()[:, 0]
    else:
        expected = model.predict(X)
    np.testing.assert_allclose(implementation.predict(loaded, X, spec), expected, rtol=1e-6, atol=1e-6)
    if flavor == "xgboost":
        assert spec["file"] == "model.ubj"


def test_an_unknown_xgboost_format_is_refused(tmp_path: Path) -> None:
    X, _ = _regression_data()
    with pytest.raises(sw.DefinitionError, match=r"XGBoost model format must be one of \('json', 'ubj'\). Got 'bin'"):
        get_flavor("xgboost").save(_regressors()["xgboost"], tmp_path, example=X, options={"format": "bin"})


def test_a_missing_library_fails_with_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # what an environment without the extra looks like
    with pytest.raises(sw.MissingExtraError, match=r"pip install 'sluiceway\[lightgbm\]'"):
        get_flavor("lightgbm").load(tmp_path, {"file": "model.txt"}, trusted=[])


def test_onnx_export_is_refused_for_a_flavor_without_an_exporter(tmp_path: Path) -> None:
    from sluiceway.trainer.flavors import onnx

    X, _ = _regression_data()
    with pytest.raises(sw.ConfigError, match=r"ONNX export is supported for the \['lightgbm', 'sklearn', 'xgboost'\]"):
        onnx.export("onnx", object(), X, tmp_path)
    with pytest.raises(sw.ConfigError, match=r"PyTorch models are saved as ONNX .* already"):
        onnx.export("torch", _regressors()["torch"], X, tmp_path)
    assert not (tmp_path / "model.onnx").exists()


def _boosters() -> dict[str, object]:
    """The native Booster objects (lgb.train / xgb.train), which have no scikit-learn wrapper around them."""
    import lightgbm as lgb
    import xgboost as xgb

    X, y = _regression_data()
    return {
        "lightgbm": lgb.train({"verbose": -1, "seed": 0}, lgb.Dataset(X, y), num_boost_round=10),
        "xgboost": xgb.train({"nthread": 1, "seed": 0}, xgb.DMatrix(X, y), num_boost_round=10),
    }


@pytest.mark.parametrize("kind", ["wrapper", "booster"])
@pytest.mark.parametrize("flavor", ["lightgbm", "xgboost"])
def test_a_lightgbm_or_xgboost_regressor_exported_to_onnx_predicts_what_the_native_model_does(
    flavor: str, kind: str, tmp_path: Path
) -> None:
    from sluiceway.trainer.flavors import onnx

    model = (_regressors() if kind == "wrapper" else _boosters())[flavor]
    X, _ = _regression_data()
    X = np.vstack([X, [[np.nan, 0.5, np.nan, -1.0]]])  # a missing value takes each tree's default branch in both
    native_flavor = get_flavor(flavor)
    native_spec = native_flavor.save(model, tmp_path, example=X, options={})
    spec = {**onnx.export(flavor, model, X, tmp_path), "classes": None}
    assert spec["file"] == "model.onnx" and spec["libraries"]["onnxmltools"]
    session = get_flavor("onnx").load(tmp_path, spec, trusted=[])
    expected = native_flavor.predict(native_flavor.load(tmp_path, native_spec, trusted=[]), X, native_spec)
    np.testing.assert_allclose(get_flavor("onnx").predict(session, X, spec), expected, rtol=1e-5, atol=1e-5)


def test_an_export_that_does_not_predict_what_the_model_does_is_refused_at_training_time(tmp_path: Path) -> None:
    import xgboost as xgb

    from sluiceway.trainer.bundle import write_bundle

    X, y = _regression_data()
    # onnxmltools converts a ranking objective without complaint, but its export predicts NaN
    ranker = xgb.train(
        {"objective": "rank:pairwise", "nthread": 1},
        xgb.DMatrix(X, (y > 0).astype(int), group=[100, 100]),
        num_boost_round=2,
    )
    with pytest.raises(sw.ConfigError, match=r"ONNX export of this xgboost model does not predict what the model does"):
        write_bundle(
            tmp_path,
            flavor_name="xgboost",
            model=ranker,
            example=X,
            features=["a", "b", "c", "d"],
            label=None,
            transform_graph=None,
            serving_inputs=[],
            options={},
            onnx=True,
            metrics={},
            metric_history={},
            hyperparameters={},
        )
    assert not (tmp_path / "model" / "model.onnx").exists()
    assert not (tmp_path / "bundle.json").exists()


def test_onnx_export_without_onnxmltools_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sluiceway.trainer.flavors import onnx

    X, _ = _regression_data()
    monkeypatch.setitem(sys.modules, "onnxmltools", None)  # what an environment without the extra looks like
    with pytest.raises(sw.MissingExtraError, match=r"pip install 'sluiceway\[onnx\]'"):
        onnx.export("lightgbm", _regressors()["lightgbm"], X, tmp_path)
    assert not (tmp_path / "model.onnx").exists()


class DoubleIt:
    """A user's own estimator type: skops does not trust it, and neither does Sluiceway by default."""

    def fit(self, X, y=None):  # noqa: ANN001, ANN201
        return self

    def predict(self, X):  # noqa: ANN001, ANN201
        return np.asarray(X)[:, 0] * 2


def test_a_users_own_type_is_saved_and_loaded_only_when_trusted_by_name(tmp_path: Path) -> None:
    X, _ = _regression_data()
    flavor = get_flavor("sklearn")
    name = f"{DoubleIt.__module__}.DoubleIt"
    with pytest.raises(sw.ComponentError, match=rf"types from outside scikit-learn: \['{name}'\]"):
        flavor.save(DoubleIt(), tmp_path, example=X, options={})
    assert not (tmp_path / "model.skops").exists()
    spec = flavor.save(DoubleIt(), tmp_path, example=X, options={"trusted": [name]})
    with pytest.raises(sw.DataError, match=rf"contains types that are not trusted: \['{name}'\]"):
        flavor.load(tmp_path, spec, trusted=[])
    loaded = flavor.load(tmp_path, spec, trusted=[name])
    np.testing.assert_array_equal(flavor.predict(loaded, X, spec), X[:, 0] * 2)


def test_the_small_input_matrix_equals_the_column_wise_one_and_refuses_the_same_input() -> None:
    import polars as pl

    from sluiceway.trainer.bundle import feature_matrix, matrix_of_records

    records = [{"a": 1, "b": None, "c": True, "extra": "x"}, {"a": 2.5, "b": float("nan"), "c": False, "extra": "y"}]
    frame = pl.DataFrame({"a": [1.0, 2.5], "b": [None, float("nan")], "c": [True, False], "extra": ["x", "y"]})
    by_rows = matrix_of_records(records, ["c", "a", "b"], where="Model m")
    np.testing.assert_array_equal(by_rows, feature_matrix(frame, ["c", "a", "b"], where="Model m"))
    assert by_rows.dtype == np.float64 and by_rows.tolist()[0][:2] == [1.0, 1.0] and np.isnan(by_rows[:, 2]).all()
    with pytest.raises(sw.DataError, match=r"Model m: feature column 'extra' holds str values such as 'x'"):
        matrix_of_records(records, ["a", "extra"], where="Model m")
    with pytest.raises(sw.DataError, match=r"Model m: feature column 'extra' holds String values"):
        feature_matrix(frame, ["a", "extra"], where="Model m")
    with pytest.raises(sw.DataError, match=r"Model m: the data lacks the model's feature column\(s\) \['d'\]"):
        matrix_of_records(records, ["a", "d"], where="Model m")

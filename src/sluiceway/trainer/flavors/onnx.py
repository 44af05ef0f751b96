"""ONNX exports (``model.onnx``) run with onnxruntime, for fast serving.

``export(flavor, model, X)`` converts a model of another flavor where its library supports it:
scikit-learn through skl2onnx (``zipmap=False``, so probabilities come as one float tensor), LightGBM
(``LGBMClassifier``/``LGBMRegressor`` or a ``Booster``) and XGBoost (the scikit-learn wrappers or a
``Booster``) through onnxmltools. The bundle keeps the native model as well; ``sw.load_model(uri,
runtime="onnx")`` predicts with the export.

What the export predicts: ONNX tree and linear operators compute in float32, the native libraries in
float64, so probabilities and regression values agree within about 1e-6 (the tests hold them to 1e-5),
and a label differs only where two classes' probabilities are equal to float32 precision (or a feature
value lies between a float64 split threshold and its float32 rounding). Labels: a scikit-learn export
gives the estimator's own ``predict`` (its ``label`` output); a LightGBM or XGBoost export gives the class
of the highest probability, as the native flavor does (``spec["labels"] == "argmax"``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sluiceway.errors import ConfigError, DataError, require
from sluiceway.trainer.flavors import binary_as_two_columns, pick_by_argmax

FILE = "model.onnx"
INPUT_NAME = "X"


def _export_sklearn(model: Any, example: np.ndarray) -> tuple[Any, dict[str, str], str]:
    skl2onnx = require("skl2onnx", feature="ONNX export of scikit-learn models", extra="onnx")
    # zipmap=False: a classifier's probabilities as one float tensor, not a list of dicts (regressors have none)
    options = {"zipmap": False} if hasattr(model, "classes_") else None
    onnx_model = skl2onnx.to_onnx(model, np.asarray(example[:1], dtype=np.float32), options=options)
    return onnx_model, {"skl2onnx": skl2onnx.__version__}, "output"


def _float_input(example: np.ndarray) -> list[tuple[str, Any]]:
    from onnxmltools.convert.common.data_types import FloatTensorType

    return [(INPUT_NAME, FloatTensorType([None, int(example.shape[1])]))]


def _export_lightgbm(model: Any, example: np.ndarray) -> tuple[Any, dict[str, str], str]:
    onnxmltools = require("onnxmltools", feature="ONNX export of LightGBM models", extra="onnx")
    onnx_model = onnxmltools.convert_lightgbm(model, initial_types=_float_input(example), zipmap=False)
    return onnx_model, {"onnxmltools": onnxmltools.__version__}, "argmax"


def _export_xgboost(model: Any, example: np.ndarray) -> tuple[Any, dict[str, str], str]:
    onnxmltools = require("onnxmltools", feature="ONNX export of XGBoost models", extra="onnx")
    onnx_model = onnxmltools.convert_xgboost(model, initial_types=_float_input(example))
    return onnx_model, {"onnxmltools": onnxmltools.__version__}, "argmax"


# flavor -> its exporter: (model, example rows) -> (ONNX ModelProto, library versions, how labels are read)
EXPORTERS: dict[str, Callable[[Any, np.ndarray], tuple[Any, dict[str, str], str]]] = {
    "sklearn": _export_sklearn,
    "lightgbm": _export_lightgbm,
    "xgboost": _export_xgboost,
}


def export(flavor: str, model: Any, example: np.ndarray, folder: Path) -> dict[str, Any]:
    """Write ``folder/model.onnx`` converted from ``model`` of ``flavor``; its manifest entry."""
    if flavor == "torch":
        raise ConfigError(
            "PyTorch models are saved as ONNX and served by onnxruntime already; save them with onnx=False."
        )
    exporter = EXPORTERS.get(flavor)
    if exporter is None:
        raise ConfigError(
            f"ONNX export is supported for the {sorted(EXPORTERS)} flavor(s); the model is a {flavor!r} model. Save "
            "it with onnx=False (the native model serves as well)."
        )
    onnxruntime = require("onnxruntime", feature=f"ONNX export of {flavor} models", extra="onnx")
    try:
        onnx_model, libraries, labels = exporter(model, example)
    except (RuntimeError, NameError, TypeError, ValueError, AttributeError, KeyError, NotImplementedError) as exc:
        # the converters' "no converter for this estimator / objective" and friends
        raise ConfigError(
            f"Cannot export this {type(model).__name__} ({flavor}) to ONNX ({type(exc).__name__}: {exc}). Train with "
            "onnx=False (the native model serves as well), or use a model the converter supports."
        ) from exc
    (folder / FILE).write_bytes(onnx_model.SerializeToString())
    return {"file": FILE, "labels": labels, "libraries": {**libraries, "onnxruntime": onnxruntime.__version__}}


# How far an export may stray from the native model on the training rows it is checked on (float32 inside)
CHECK_TOLERANCE = 1e-4


def check_export(folder: Path, onnx_spec: dict[str, Any], native: Any, native_spec: dict[str, Any], X: Any) -> None:
    """Refuse an export that does not predict what the native model predicts on ``X`` (training rows).

    Converters accept some models they translate wrongly (an XGBoost ranking objective comes out as NaN):
    comparing on real rows at training time turns that into a clear error instead of a wrong served model.
    ``native`` is the model as ``load_model`` reads it back; ``X`` its input (a DataFrame for ``"pandas"``)."""
    from sluiceway.trainer.flavors import get_flavor

    native_flavor, onnx_flavor = get_flavor(native_spec["flavor"]), get_flavor("onnx")
    spec = {**onnx_spec, "classes": native_spec.get("classes")}
    session = onnx_flavor.load(folder, spec, trusted=[])
    if spec["classes"] is not None:
        what = "class probabilities"
        expected = native_flavor.predict_proba(native, X, native_spec)
        got = onnx_flavor.predict_proba(session, np.asarray(X), spec)
    else:
        what = "predictions"
        expected = native_flavor.predict(native, X, native_spec)
        got = onnx_flavor.predict(session, np.asarray(X), spec)
    expected, got = np.asarray(expected, dtype=np.float64), np.asarray(got, dtype=np.float64)
    scale = max(1.0, float(np.nanmax(np.abs(expected)))) if expected.size else 1.0
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=0, atol=CHECK_TOLERANCE * scale):
        difference = float(np.nanmax(np.abs(got - expected))) if got.shape == expected.shape else float("nan")
        (folder / onnx_spec["file"]).unlink()
        raise ConfigError(
            f"The ONNX export of this {native_spec['flavor']} model does not predict what the model does: its {what} "
            f"on {len(expected)} training row(s) differ by up to {difference:.3g} (shape {got.shape} against "
            f"{expected.shape}; allowed {CHECK_TOLERANCE * scale:.3g}). The converter does not support this model "
            "correctly; train with onnx=False (the native model serves as well)."
        )


class OnnxFlavor:
    name = "onnx"
    extra = "onnx"

    def save(self, model: Any, folder: Path, *, example: np.ndarray, options: dict[str, Any]) -> dict[str, Any]:
        onnx = require("onnx", feature="The ONNX model flavor", extra="onnx")
        (folder / FILE).write_bytes(model.SerializeToString())
        classes = options.get("classes")
        return {
            "file": FILE,
            "libraries": {"onnx": onnx.__version__},
            "classes": list(classes) if classes is not None else None,
            "input": "numpy",
        }

    def load(self, folder: Path, spec: dict[str, Any], *, trusted: list[str]) -> Any:
        ort = require("onnxruntime", feature="The ONNX model flavor", extra="onnx")
        path = folder / spec.get("file", FILE)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # small requests: threads cost more than they give
        # errors only: onnxmltools declares a LightGBM label output of shape [1], which onnxruntime warns about
        # on every batch (the values are right; only the declared shape is narrow)
        options.log_severity_level = 3
        try:
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped failures for bad files
            raise DataError(f"{path} is not a readable ONNX model ({type(exc).__name__}: {exc}).") from exc

    def _run(self, session: Any, X: Any) -> list[Any]:
        feed = {session.get_inputs()[0].name: np.asarray(X, dtype=np.float32)}
        result: list[Any] = session.run(None, feed)
        return result

    def predict(self, model: Any, X: Any, spec: dict[str, Any]) -> np.ndarray:
        if spec.get("labels") == "argmax" and spec.get("classes") is not None:
            return pick_by_argmax(self.predict_proba(model, X, spec), spec["classes"])
        return np.asarray(self._run(model, X)[0]).reshape(-1)

    def predict_proba(self, model: Any, X: Any, spec: dict[str, Any]) -> np.ndarray:
        outputs = self._run(model, X)
        if len(outputs) < 2:
            raise DataError("This ONNX model has no probabilities output (it is not a classifier export).")
        return binary_as_two_columns(np.asarray(outputs[1], dtype=np.float64))


FLAVOR = OnnxFlavor()

"""ONNX exports (``model.onnx``) run with onnxruntime, for fast serving.

``export(flavor, model, X)`` converts a model of another flavor where its library supports it
(scikit-learn through skl2onnx, with ``zipmap=False`` so probabilities come as one float tensor); the
bundle keeps the native model as well. ``sw.load_model(uri, runtime="onnx")`` predicts with the export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sluiceway.errors import ConfigError, DataError, require

FILE = "model.onnx"
EXPORTERS = {"sklearn"}


def export(flavor: str, model: Any, example: np.ndarray, folder: Path) -> dict[str, Any]:
    """Write ``folder/model.onnx`` converted from ``model`` of ``flavor``; its manifest entry."""
    if flavor == "torch":
        raise ConfigError(
            "PyTorch models are saved as ONNX and served by onnxruntime already; save them with onnx=False."
        )
    if flavor not in EXPORTERS:
        raise ConfigError(
            f"ONNX export is supported for the {sorted(EXPORTERS)} flavor(s); the model is a {flavor!r} model. Save "
            "it with onnx=False (the native model serves as well)."
        )
    skl2onnx = require("skl2onnx", feature="ONNX export of scikit-learn models", extra="onnx")
    onnxruntime = require("onnxruntime", feature="ONNX export of scikit-learn models", extra="onnx")
    # zipmap=False: a classifier's probabilities as one float tensor, not a list of dicts (regressors have none)
    options = {"zipmap": False} if hasattr(model, "classes_") else None
    try:
        onnx_model = skl2onnx.to_onnx(model, np.asarray(example[:1], dtype=np.float32), options=options)
    except (RuntimeError, NameError, TypeError, ValueError) as exc:  # skl2onnx's "no converter" and friends
        raise ConfigError(
            f"skl2onnx cannot export this {type(model).__name__} to ONNX ({type(exc).__name__}: {exc}). Train with "
            "onnx=False (the native model serves as well), or use estimators skl2onnx supports."
        ) from exc
    (folder / FILE).write_bytes(onnx_model.SerializeToString())
    return {
        "file": FILE,
        "libraries": {"skl2onnx": skl2onnx.__version__, "onnxruntime": onnxruntime.__version__},
    }


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
        try:
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped failures for bad files
            raise DataError(f"{path} is not a readable ONNX model ({type(exc).__name__}: {exc}).") from exc

    def _run(self, session: Any, X: Any) -> list[Any]:
        feed = {session.get_inputs()[0].name: np.asarray(X, dtype=np.float32)}
        result: list[Any] = session.run(None, feed)
        return result

    def predict(self, model: Any, X: Any, spec: dict[str, Any]) -> np.ndarray:
        return np.asarray(self._run(model, X)[0]).reshape(-1)

    def predict_proba(self, model: Any, X: Any, spec: dict[str, Any]) -> np.ndarray:
        outputs = self._run(model, X)
        if len(outputs) < 2:
            raise DataError("This ONNX model has no probabilities output (it is not a classifier export).")
        return np.asarray(outputs[1], dtype=np.float64)


FLAVOR = OnnxFlavor()

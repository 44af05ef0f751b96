"""XGBoost models in XGBoost's native JSON (``model.json``, the default) or UBJSON (``model.ubj``,
``save_model(model, format="ubj")``): a ``Booster`` or a scikit-learn wrapper (``XGBClassifier``...)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sluiceway.errors import DataError, DefinitionError, require
from sluiceway.trainer.flavors import binary_as_two_columns, classes_of, pick_by_argmax

FORMATS = ("json", "ubj")


def _xgboost() -> Any:
    return require("xgboost", feature="The XGBoost model flavor", extra="xgboost")


class XGBoostFlavor:
    name = "xgboost"
    extra = "xgboost"

    def save(self, model: Any, folder: Path, *, example: np.ndarray, options: dict[str, Any]) -> dict[str, Any]:
        xgb = _xgboost()
        file_format = options.get("format", "json")
        if file_format not in FORMATS:
            raise DefinitionError(f"The XGBoost model format must be one of {FORMATS}. Got {file_format!r} instead.")
        booster = model if isinstance(model, xgb.Booster) else model.get_booster()
        file = f"model.{file_format}"
        booster.save_model(str(folder / file))
        classes = classes_of(model)
        if classes is None and options.get("classes") is not None:
            classes = list(options["classes"])
        return {"file": file, "libraries": {"xgboost": xgb.__version__}, "classes": classes, "input": "numpy"}

    def load(self, folder: Path, spec: dict[str, Any], *, trusted: list[str]) -> Any:
        xgb = _xgboost()
        path = folder / spec["file"]
        try:
            return xgb.Booster(model_file=str(path))
        except (xgb.core.XGBoostError, OSError, ValueError) as exc:
            raise DataError(f"{path} is not a readable XGBoost model ({exc}).") from exc

    def predict(self, model: Any, X: Any, spec: dict[str, Any]) -> np.ndarray:
        if spec.get("classes") is not None:
            return pick_by_argmax(self.predict_proba(model, X, spec), spec["classes"])
        return np.asarray(model.inplace_predict(X))

    def predict_proba(self, model: Any, X: Any, spec: dict[str, Any]) -> np.ndarray:
        return binary_as_two_columns(np.asarray(model.inplace_predict(X)))


FLAVOR = XGBoostFlavor()

"""LightGBM models as LightGBM's native text model (``model.txt``): a ``Booster`` or a scikit-learn wrapper
(``LGBMClassifier``/``LGBMRegressor``, whose booster and class labels are saved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sluiceway.errors import DataError, require
from sluiceway.trainer.flavors import binary_as_two_columns, classes_of, pick_by_argmax

FILE = "model.txt"


def _lightgbm() -> Any:
    return require("lightgbm", feature="The LightGBM model flavor", extra="lightgbm")


class LightGBMFlavor:
    name = "lightgbm"
    extra = "lightgbm"

    def save(self, model: Any, folder: Path, *, example: np.ndarray, options: dict[str, Any]) -> dict[str, Any]:
        lgb = _lightgbm()
        booster = model if isinstance(model, lgb.Booster) else model.booster_
        booster.save_model(str(folder / FILE))
        classes = classes_of(model)
        if classes is None and options.get("classes") is not None:
            classes = list(options["classes"])
        return {"file": FILE, "libraries": {"lightgbm": lgb.__version__}, "classes": classes, "input": "numpy"}

    def load(self, folder: Path, spec: dict[str, Any], *, trusted: list[str]) -> Any:
        lgb = _lightgbm()
        path = folder / FILE
        try:
            return lgb.Booster(model_file=str(path))
        except (lgb.basic.LightGBMError, OSError, ValueError) as exc:
            raise DataError(f"{path} is not a readable LightGBM text model ({exc}).") from exc

    def predict(self, model: Any, X: Any, spec: dict[str, Any]) -> np.ndarray:
        if spec.get("classes") is not None:
            return pick_by_argmax(self.predict_proba(model, X, spec), spec["classes"])
        return np.asarray(model.predict(X))

    def predict_proba(self, model: Any, X: Any, spec: dict[str, Any]) -> np.ndarray:
        return binary_as_two_columns(np.asarray(model.predict(X)))


FLAVOR = LightGBMFlavor()

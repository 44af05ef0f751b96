"""Model flavors: how one model library's models are saved, loaded safely and asked for predictions.

A flavor is one module under ``sluiceway.trainer.flavors`` with a ``FLAVOR`` object (the ``Flavor``
protocol below), registered by name in ``FLAVORS``; adding a library is one module and one line here.
Modules load lazily, so a missing optional library fails only when its flavor is used, with the install
command (``sluiceway.errors.require``).

Every flavor reads and writes the model library's own documented format, never pickle:

| flavor | file | format |
|---|---|---|
| ``sklearn`` | ``model.skops`` | skops (``skops.io``): only scikit-learn and NumPy types load |
| ``lightgbm`` | ``model.txt`` | LightGBM's native text model |
| ``xgboost`` | ``model.json`` / ``model.ubj`` | XGBoost's native JSON (default) or UBJSON |
| ``torch`` | ``model.onnx`` | ONNX exported from the module, run by onnxruntime (+ ``state_dict.pt`` weights) |
| ``onnx`` | ``model.onnx`` | ONNX, run with onnxruntime (an export of another flavor, for fast serving) |
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sluiceway.errors import DefinitionError

FLAVORS: dict[str, str] = {
    "sklearn": "sluiceway.trainer.flavors.sklearn",
    "lightgbm": "sluiceway.trainer.flavors.lightgbm",
    "xgboost": "sluiceway.trainer.flavors.xgboost",
    "torch": "sluiceway.trainer.flavors.torch",
    "onnx": "sluiceway.trainer.flavors.onnx",
}

# The top-level module of a model's class (or one of its bases) -> its flavor. Wrappers first: LightGBM's
# and XGBoost's scikit-learn estimators also derive from scikit-learn's BaseEstimator.
_DETECTION_ORDER = (("lightgbm", "lightgbm"), ("xgboost", "xgboost"), ("torch", "torch"), ("sklearn", "sklearn"))


class Flavor(Protocol):
    """What a flavor module's ``FLAVOR`` provides. ``X`` is always a 2-D float NumPy array of the model's
    features in the bundle's order (``features``); ``folder`` is the bundle's ``model/`` folder."""

    name: str
    extra: str  # the pip extra that installs the library

    def save(self, model: Any, folder: Path, *, example: np.ndarray, options: dict[str, Any]) -> dict[str, Any]:
        """Write the model's file(s) into ``folder``; return ``{"file": name, "libraries": {name: version},
        "classes": [...] or None, "input": "numpy" | "pandas", ...}`` (recorded in the bundle's manifest)."""
        ...

    def load(self, folder: Path, spec: dict[str, Any], *, trusted: list[str]) -> Any:
        """Read the model back from ``folder`` (``spec`` is what ``save`` returned), refusing foreign content."""
        ...

    def predict(self, model: Any, X: Any, spec: dict[str, Any]) -> np.ndarray:
        """Predictions: class labels for a classifier, values for a regressor."""
        ...

    def predict_proba(self, model: Any, X: Any, spec: dict[str, Any]) -> np.ndarray:
        """Class probabilities, one column per class in ``spec["classes"]`` order (classifiers only)."""
        ...


def get_flavor(name: str) -> Flavor:
    """The flavor registered as ``name``; ``DefinitionError`` listing the known ones if there is none."""
    module = FLAVORS.get(name)
    if module is None:
        raise DefinitionError(f"Unknown model flavor {name!r}. Known flavors: {sorted(FLAVORS)}.")
    flavor: Flavor = importlib.import_module(module).FLAVOR
    return flavor


def detect_flavor(model: Any) -> str:
    """The flavor of a model object, from the library its class (or a base class) comes from."""
    libraries = {klass.__module__.split(".")[0] for klass in type(model).__mro__}
    for library, flavor in _DETECTION_ORDER:
        if library in libraries:
            return flavor
    raise DefinitionError(
        f"save_model() cannot tell the flavor of a {type(model).__module__}.{type(model).__qualname__} object. "
        f"Pass flavor= one of {sorted(set(FLAVORS) - {'onnx'})}, or save a scikit-learn, LightGBM, XGBoost or "
        "PyTorch model."
    )


def classes_of(model: Any) -> list[Any] | None:
    """A classifier's class labels (``classes_``) as plain Python values; None for anything else."""
    classes = getattr(model, "classes_", None)
    if classes is None:
        return None
    return [value.item() if isinstance(value, np.generic) else value for value in np.asarray(classes).tolist()]


def pick_by_argmax(probabilities: np.ndarray, classes: list[Any]) -> np.ndarray:
    """Class labels from per-class scores (the highest wins; the first on a tie, like scikit-learn)."""
    return np.asarray(classes)[np.argmax(probabilities, axis=1)]


def binary_as_two_columns(probabilities: np.ndarray) -> np.ndarray:
    """A binary model's P(class 1) as the two columns [P(0), P(1)]; other shapes unchanged."""
    if probabilities.ndim == 1:
        return np.column_stack([1.0 - probabilities, probabilities])
    return probabilities


__all__ = ["FLAVORS", "Flavor", "classes_of", "detect_flavor", "get_flavor"]

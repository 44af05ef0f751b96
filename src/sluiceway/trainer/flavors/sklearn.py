"""scikit-learn models as skops files (``model.skops``), never pickle.

skops rebuilds objects from an audited tree of types: a file that names any type outside scikit-learn
and skops' defaults (or the ``trusted`` list given to ``load_model``) is refused before anything is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sluiceway.errors import ComponentError, DataError, require
from sluiceway.trainer.flavors import classes_of

FILE = "model.skops"
# Types skops does not trust by default that we do: scikit-learn's own (its low-level tree arrays and
# histogram predictors) and NumPy's dtype objects. Any other NumPy name (a function could be one) must be
# trusted by the caller.
TRUSTED_PREFIXES = ("sklearn.",)
TRUSTED_NAMES = frozenset({"numpy.dtype"})


def _skops() -> Any:
    require("sklearn", feature="The scikit-learn model flavor", extra="sklearn")
    return require("skops.io", feature="The scikit-learn model flavor", extra="sklearn")


def _refused(types: list[str], trusted: list[str]) -> list[str]:
    return [t for t in types if not t.startswith(TRUSTED_PREFIXES) and t not in TRUSTED_NAMES and t not in trusted]


class SklearnFlavor:
    name = "sklearn"
    extra = "sklearn"

    def save(self, model: Any, folder: Path, *, example: np.ndarray, options: dict[str, Any]) -> dict[str, Any]:
        import sklearn

        sio = _skops()
        data = sio.dumps(model)
        refused = _refused(sio.get_untrusted_types(data=data), list(options.get("trusted", [])))
        if refused:
            # Saving it would write a model that load_model refuses: say so now, at training time.
            raise ComponentError(
                f"The scikit-learn model holds types from outside scikit-learn: {refused}. A skops file with them "
                "loads only when they are trusted by name. Build the model from scikit-learn's own estimators, or "
                "save it with ctx.save_model(model, trusted=[...]) and load it with sw.load_model(uri, trusted=[...])."
            )
        (folder / FILE).write_bytes(data)
        names = getattr(model, "feature_names_in_", None)
        return {
            "file": FILE,
            "libraries": {"scikit-learn": sklearn.__version__, "skops": _version("skops")},
            "classes": classes_of(model),
            # fitted on a DataFrame: predict on one, with the same column names (no feature-name warning)
            "input": "pandas" if names is not None else "numpy",
        }

    def load(self, folder: Path, spec: dict[str, Any], *, trusted: list[str]) -> Any:
        sio = _skops()
        path = folder / FILE
        try:
            data = path.read_bytes()
            found = sio.get_untrusted_types(data=data)
        except Exception as exc:  # noqa: BLE001 - any failure to parse means: not a skops file
            raise DataError(
                f"{path} is not a readable skops model file ({type(exc).__name__}: {exc}). Retrain the model; "
                "Sluiceway never loads pickles."
            ) from exc
        refused = _refused(found, trusted)
        if refused:
            raise DataError(
                f"{path} contains types that are not trusted: {refused}. Loading them could run their code. If you "
                "wrote this model and reviewed those types, pass sw.load_model(uri, trusted=[...])."
            )
        try:
            return sio.loads(data, trusted=found)  # each one is scikit-learn's, NumPy's or trusted by the caller
        except Exception as exc:  # noqa: BLE001 - skops raises many types for a damaged file
            raise DataError(f"{path} could not be loaded by skops ({type(exc).__name__}: {exc}).") from exc

    def predict(self, model: Any, X: Any, spec: dict[str, Any]) -> np.ndarray:
        return np.asarray(model.predict(X))

    def predict_proba(self, model: Any, X: Any, spec: dict[str, Any]) -> np.ndarray:
        return np.asarray(model.predict_proba(X))


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


FLAVOR = SklearnFlavor()

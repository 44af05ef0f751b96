"""``:explain``: per-feature contributions of tree models (LightGBM's ``pred_contrib``, XGBoost's
``pred_contribs``, both TreeSHAP), for each row of a request.

Contributions are in the model's raw score space (log-odds for classifiers), one per feature of the model's
input (the transform's outputs, the names in the bundle's ``features``), towards the predicted class; with
``base_value`` they sum to that class's raw score. Other flavors (and the ONNX runtime) answer 400.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sluiceway.serving.inputs import RequestError
from sluiceway.serving.repository import ServedModel

EXPLAINABLE = ("lightgbm", "xgboost")


def explain(served: ServedModel, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from sluiceway.errors import ConfigError, DataError

    model = served.model
    if model.flavor not in EXPLAINABLE or model.runtime != "native":
        raise RequestError(
            400,
            f"Model {served.name!r} ({model.flavor}, {model.runtime} runtime) cannot explain its predictions: "
            f":explain gives per-feature contributions of tree models ({', '.join(EXPLAINABLE)}) on the native "
            "runtime. Use :predict.",
        )
    try:
        X = np.asarray(model.features_of(rows), dtype=np.float64)
    except (DataError, ConfigError) as exc:
        raise RequestError(400, str(exc)) from exc
    features = list(model.features)
    width = len(features) + 1  # the contributions, then the bias
    if model.flavor == "lightgbm":
        raw = np.asarray(model.native.predict(X, pred_contrib=True))
        per_class = raw.reshape(len(rows), -1, width)  # (rows, classes or 1, features + 1)
    else:
        import xgboost

        raw = np.asarray(model.native.predict(xgboost.DMatrix(X, missing=np.nan), pred_contribs=True))
        per_class = raw.reshape(len(rows), -1, width)
    explanations = []
    if served.classes is not None and per_class.shape[1] > 1:
        chosen = np.argmax(per_class.sum(axis=2), axis=1)  # the class of the highest raw score
    else:
        chosen = np.zeros(len(rows), dtype=int)
    for index in range(len(rows)):
        values = per_class[index, chosen[index]]
        explanation: dict[str, Any] = {
            "base_value": float(values[-1]),
            "contributions": {name: float(v) for name, v in zip(features, values[:-1], strict=True)},
        }
        if served.classes is not None:
            if per_class.shape[1] > 1:
                explanation["label"] = served.classes[int(chosen[index])]
            else:  # binary: one raw score, for the positive class
                explanation["label"] = served.classes[-1]
        explanations.append(explanation)
    return explanations

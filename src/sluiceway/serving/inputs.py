"""Request rows: checked against the model's signature (the schema's SERVING environment), then predicted.

Every protocol turns its body into a list of row dicts and calls ``checked_rows``; a problem is a
``RequestError`` (HTTP 400) naming the instance, the feature and why, so a client never gets a 500 for bad
input. Keys that are not features of the signature (the label, an id) are ignored; a feature may be null
(``None``: a missing value, as in training), never absent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sluiceway.serving.repository import ServedModel

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# What a JSON value of each signature type may be. bool is an int in Python: it is checked first.
TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "string": "a string",
    "bytes": "a string",
    "datetime": "a string",
    "bool": "true or false",
}


class RequestError(Exception):
    """A request the server refuses: its HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _describe(value: Any) -> str:
    text = repr(value)
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )
    return f"{kind} {text[:60] + '...' if len(text) > 60 else text}"


def checked_value(value: Any, kind: str, feature: str, where: str) -> Any:
    """``value`` if it fits the feature's type (an integral float for an int becomes an int), else a 400."""
    if value is None:
        return None
    cls = type(value)
    if kind == "float":
        if cls is float or (cls is int and INT64_MIN <= value <= INT64_MAX):
            if cls is float and not math.isfinite(value):
                return None if math.isnan(value) else _bad(value, kind, feature, where, "it must be finite")
            return value
    elif kind == "int":
        if cls is int and INT64_MIN <= value <= INT64_MAX:
            return value
        if cls is float and value.is_integer() and INT64_MIN <= value <= INT64_MAX:
            return int(value)
    elif kind == "bool":
        if cls is bool:
            return value
    elif cls is str:  # string, bytes, datetime: sent as strings
        return value
    return _bad(value, kind, feature, where)


def _bad(value: Any, kind: str, feature: str, where: str, why: str | None = None) -> Any:
    expected = TYPE_WORDS.get(kind, kind)
    reason = why or f"it must be {expected} or null ({kind} in the model's signature)"
    raise RequestError(400, f"{where}: feature {feature!r} got {_describe(value)}; {reason}.")


def check_batch_size(count: int, max_batch: int) -> None:
    if count == 0:
        raise RequestError(400, "The request holds no instances; send at least one.")
    if count > max_batch:
        raise RequestError(
            400,
            f"The request holds {count} instances; this server takes at most {max_batch} per request "
            "(--max-batch). Split it into smaller requests.",
        )


def checked_rows(served: ServedModel, instances: Any, max_batch: int) -> list[dict[str, Any]]:
    """Row-format instances (a list of JSON objects) as clean rows holding exactly the signature's features."""
    if not isinstance(instances, list):
        raise RequestError(400, f"'instances' must be a list of objects, one per row; got {_describe(instances)}.")
    check_batch_size(len(instances), max_batch)
    rows = []
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise RequestError(
                400,
                f"Instance {index} is {_describe(instance)}; each instance must be an object of "
                f"feature: value ({_feature_list(served)}).",
            )
        row = {}
        for feature, kind in served.inputs:
            if feature not in instance:
                raise RequestError(
                    400,
                    f"Instance {index} lacks the feature {feature!r} ({kind}). Send every feature of the "
                    f"model's signature ({_feature_list(served)}); a missing value is null.",
                )
            row[feature] = checked_value(instance[feature], kind, feature, f"Instance {index}")
        rows.append(row)
    return rows


def checked_columns(served: ServedModel, columns: Any, max_batch: int) -> list[dict[str, Any]]:
    """Columnar inputs (``{"feature": [v0, v1, ...], ...}``, TF Serving's ``inputs``) as clean rows."""
    if not isinstance(columns, dict):
        raise RequestError(400, f"'inputs' must be an object of feature: list of values; got {_describe(columns)}.")
    lengths: dict[str, int] = {}
    values: dict[str, Sequence[Any]] = {}
    for feature, kind in served.inputs:
        if feature not in columns:
            raise RequestError(
                400,
                f"'inputs' lacks the feature {feature!r} ({kind}). Send every feature of the model's "
                f"signature ({_feature_list(served)}).",
            )
        column = columns[feature]
        values[feature] = column if isinstance(column, list) else [column]
        lengths[feature] = len(values[feature])
    if len(set(lengths.values())) > 1:
        raise RequestError(400, f"The columns of 'inputs' differ in length: {lengths}. Send one value per row in each.")
    count = next(iter(lengths.values()), 0)
    check_batch_size(count, max_batch)
    return [
        {feature: checked_value(values[feature][i], kind, feature, f"Row {i}") for feature, kind in served.inputs}
        for i in range(count)
    ]


def _feature_list(served: ServedModel) -> str:
    return ", ".join(f"{name}: {kind}" for name, kind in served.inputs)


def predict(served: ServedModel, rows: list[dict[str, Any]], outputs: Sequence[str]) -> dict[str, list[Any]]:
    """Run the model on checked rows; ``outputs`` names what to return (``label``/``probabilities`` for a
    classifier, ``prediction`` for a regressor). A classifier asked for both gets one ``predict_proba``
    call and the most probable class as its label (the first on a tie, as scikit-learn's ``predict``)."""
    from sluiceway.errors import ConfigError, DataError

    model = served.model
    result: dict[str, list[Any]] = {}
    try:
        if served.classes is None:
            result["prediction"] = np.asarray(model.predict(rows), dtype=np.float64).reshape(-1).tolist()
        elif "probabilities" in outputs:
            probabilities = np.asarray(model.predict_proba(rows), dtype=np.float64)
            result["probabilities"] = probabilities.tolist()
            if "label" in outputs:
                result["label"] = [served.classes[i] for i in np.argmax(probabilities, axis=1).tolist()]
        else:
            result["label"] = _plain(model.predict(rows))
    except (DataError, ConfigError) as exc:
        raise RequestError(400, str(exc)) from exc
    except ValueError as exc:
        # The model library's own input check (e.g. scikit-learn refusing NaN): the rows are the cause.
        nulls = sorted({name for row in rows for name, value in row.items() if value is None})
        hint = f" The rows have nulls in {nulls}: this model may not take missing values there." if nulls else ""
        raise RequestError(
            400,
            f"Model {served.name!r} version {served.version} cannot predict these rows: "
            f"{str(exc).splitlines()[0]}.{hint}",
        ) from exc
    return result


def _plain(values: Any) -> list[Any]:
    return np.asarray(values).reshape(-1).tolist()


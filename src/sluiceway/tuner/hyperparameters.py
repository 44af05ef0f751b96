"""The ``HyperParameters`` document: the chosen values and the trial history, plain JSON.

``{uri}/hyperparameters.json``::

    {"format": "sluiceway.hyperparameters", "version": 1,
     "values": {name: value}, "best_value": float | null, "objective": str | null,
     "trials": [{"number", "state", "value", "params", "duration_s", "error"}, ...]}

``values`` is what the Trainer passes to ``run_fn`` as ``ctx.hyperparameters``; ``objective`` is
``"maximize"`` or ``"minimize"`` (null for hand-written values). A trial's ``error`` says why it failed
(null unless its state is FAIL and the reason is known): the user's exception, or "interrupted by the user
in trial N". ``load_hyperparameters`` reads it back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sluiceway.artifacts import HyperParameters
from sluiceway.errors import DataError
from sluiceway.tuner.storage import FAIL_REASON_ATTR

if TYPE_CHECKING:
    import optuna

FORMAT = "sluiceway.hyperparameters"
VERSION = 1


def _number(value: float | None) -> float | None:
    """JSON has no NaN/inf: a trial that returned one is recorded with a null value."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def trial_record(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    duration = trial.duration.total_seconds() if trial.duration is not None else None
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": _number(trial.value) if trial.values is not None and len(trial.values) == 1 else None,
        "params": dict(trial.params),
        "duration_s": round(duration, 3) if duration is not None else None,
        "error": trial.system_attrs.get(FAIL_REASON_ATTR) if trial.state.name == "FAIL" else None,
    }


def document(
    values: Mapping[str, Any],
    *,
    best_value: float | None,
    objective: str | None,
    trials: Sequence[optuna.trial.FrozenTrial] = (),
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "values": dict(values),
        "best_value": _number(best_value),
        "objective": objective,
        "trials": [trial_record(t) for t in sorted(trials, key=lambda t: t.number)],
    }


def write_hyperparameters(path: str | Path, doc: Mapping[str, Any]) -> Path:
    """Write the document (sorted keys, no NaN: the same study gives the same bytes)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, sort_keys=True, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return target


def _file_of(source: Any) -> Path:
    if isinstance(source, HyperParameters):
        return source.file
    path = Path(source)
    return path / HyperParameters.FILENAME if path.is_dir() else path


def load_hyperparameters(source: HyperParameters | str | Path, *, full: bool = False) -> dict[str, Any]:
    """The chosen ``values`` of a HyperParameters artifact, its folder or its JSON file.

    With ``full=True``, the whole document (values, best value, objective, trial history).
    ``DataError`` if the file is missing or is not a Sluiceway hyperparameters document.
    """
    file = _file_of(source)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"No hyperparameters file at {file}. Pass a HyperParameters artifact (a Tuner's output), its folder or "
            f"its {HyperParameters.FILENAME}."
        ) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"The hyperparameters file {file} cannot be read as JSON: {exc}.") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise DataError(
            f"{file} is not a Sluiceway hyperparameters document (its 'format' is {found!r}, not {FORMAT!r})."
        )
    if data.get("version") != VERSION:
        raise DataError(
            f"{file} has hyperparameters format version {data.get('version')!r}; this Sluiceway reads version "
            f"{VERSION}. Rerun the Tuner with this version."
        )
    if not isinstance(data.get("values"), dict):
        raise DataError(f"{file} has no 'values' mapping of hyperparameter names to values.")
    return data if full else dict(data["values"])

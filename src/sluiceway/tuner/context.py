"""What a ``tuner_fn(trial, ctx)`` gets besides the Optuna trial: the data and a way to report progress.

``ctx.train`` and ``ctx.eval`` are ``TuningData``: ``.X`` (NumPy, the feature columns), ``.y`` (NumPy, the
label), ``.frame`` (the whole split as a Polars DataFrame), ``.pandas()`` (X as a pandas DataFrame, y as a
Series). Feature columns are every column but the label, in the examples' order; ``ctx.feature_names``
lists them. ``ctx.report(value, step)`` records an intermediate objective value and raises
``optuna.TrialPruned`` when the pruner (MedianPruner by default) stops the trial.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sluiceway.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import optuna
    import pandas as pd
    import polars as pl

    from sluiceway.artifacts import Examples


@dataclass(frozen=True)
class TuningData:
    """One split: the frame, and X/y views of it (computed once, shared by every trial)."""

    frame: pl.DataFrame
    label: str
    feature_names: tuple[str, ...]

    @functools.cached_property
    def X(self) -> np.ndarray:  # noqa: N802 - the name every model library uses
        return self.frame.select(self.feature_names).to_numpy()

    @functools.cached_property
    def y(self) -> np.ndarray:
        return self.frame.get_column(self.label).to_numpy()

    def pandas(self) -> tuple[pd.DataFrame, pd.Series]:
        """(X, y) as pandas objects, for libraries that want column names."""
        frame = self.frame.to_pandas()
        return frame[list(self.feature_names)], frame[self.label]

    def __len__(self) -> int:
        return self.frame.height


@dataclass(frozen=True)
class TuningContext:
    """The second argument of ``tuner_fn``; one per trial, sharing the data."""

    train: TuningData
    eval: TuningData
    label: str
    trial: optuna.Trial

    @property
    def feature_names(self) -> list[str]:
        return list(self.train.feature_names)

    def report(self, value: float, step: int) -> None:
        """Report an intermediate objective ``value`` at ``step``; raises ``optuna.TrialPruned`` to stop."""
        import optuna

        self.trial.report(float(value), step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step} (intermediate value {value})")


def load_split(examples: Examples, split: str, label: str, features: Sequence[str] | None = None) -> TuningData:
    """Read one split of ``examples`` into ``TuningData``; ``DataError`` if the label or a split is missing."""
    import polars as pl

    frame = pl.from_arrow(examples.read(split))
    assert isinstance(frame, pl.DataFrame)  # a Table converts to a DataFrame
    if label not in frame.columns:
        raise DataError(
            f"Tuner: the label column {label!r} is not in split {split!r} of the examples at {examples.uri}, "
            f"which has the columns {frame.columns}. Pass label=<one of those> (for transformed examples, the "
            "name preprocessing_fn gave it)."
        )
    names = tuple(features) if features is not None else tuple(c for c in frame.columns if c != label)
    return TuningData(frame=frame, label=label, feature_names=names)

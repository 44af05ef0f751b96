"""What a ``run_fn`` gets: ``TrainerContext`` (data, schema, hyperparameters, base model, metrics, saving).

    def run_fn(ctx):
        X, y = ctx.train.numpy()                 # or .pandas() / .polars() / .arrow(), .xy("pandas")
        model = LogisticRegression(C=ctx.hyperparameters.get("C", 1.0)).fit(X, y)
        ctx.log_metric("eval_accuracy", model.score(*ctx.eval.numpy()))
        ctx.save_model(model)                    # flavor detected from the object

``ctx.train`` / ``ctx.eval`` are ``SplitData``: the whole split in memory in the form a library wants,
or ``batches(size)`` streaming through the Parquet files for data larger than memory. Features are the
columns of the (transformed) examples except the label, in file order, unless the Trainer's ``features``
says otherwise; the label is the Trainer's ``label``, else the one output of the transform (or the one
schema feature) absent in the SERVING environment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from sluiceway.errors import ComponentError, DataError
from sluiceway.trainer.bundle import LoadedModel, feature_matrix

logger = logging.getLogger(__name__)

FORMS = ("numpy", "pandas", "polars")


class SplitData:
    """One or more splits of examples as the model sees them (transformed, when a raw split was given)."""

    def __init__(self, name: str, files: list[str], *, transform: Any, features: list[str], label: str | None):
        self.name = name
        self.files = files
        self.features = features
        self.label = label
        self._transform = transform  # applied batch by batch when the examples are raw

    def __repr__(self) -> str:
        return f"<SplitData {self.name}: {len(self.files)} file(s), features={self.features}, label={self.label!r}>"

    def _frames(self, batch_size: int | None) -> Iterator[pl.DataFrame]:
        for file in self.files:
            parquet = pq.ParquetFile(file)
            batches = parquet.iter_batches(batch_size=batch_size) if batch_size else [parquet.read()]
            for batch in batches:
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                if self._transform is not None:
                    frame = self._transform.transform_frame(frame)
                yield frame

    def polars(self) -> pl.DataFrame:
        """All columns of the split (features, label and any other column) as one Polars DataFrame."""
        frames = list(self._frames(None))
        return pl.concat(frames) if frames else pl.DataFrame()

    def pandas(self) -> Any:
        return self.polars().to_pandas()

    def arrow(self) -> pa.Table:
        return self.polars().to_arrow()

    @property
    def num_rows(self) -> int:
        if self._transform is None:
            return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)
        return self.polars().height

    def xy(self, form: str = "numpy") -> tuple[Any, Any]:
        """``(X, y)``: X the features (float64; null → NaN), y the label (None without a label)."""
        return self._split(self.polars(), form)

    def numpy(self) -> tuple[np.ndarray, np.ndarray | None]:
        X, y = self.xy("numpy")
        return X, y

    def batches(self, size: int = 1024, form: str = "numpy") -> Iterator[tuple[Any, Any]]:
        """``(X, y)`` batches of at most ``size`` rows, read file by file (streaming, bounded memory)."""
        if size < 1:
            raise DataError(f"The batch size must be at least 1. Got {size} instead.")
        for frame in self._frames(size):
            yield self._split(frame, form)

    def _split(self, frame: pl.DataFrame, form: str) -> tuple[Any, Any]:
        if form not in FORMS:
            raise DataError(f"The data form must be one of {FORMS}. Got {form!r} instead.")
        where = f"the {self.name} split"
        if self.label is not None and self.label not in frame.columns:
            raise DataError(f"{where} has no label column {self.label!r}; it has {frame.columns}.")
        y = frame.get_column(self.label) if self.label is not None else None
        if form == "polars":
            feature_matrix(frame, self.features, where=where)  # the same checks as the other forms
            return frame.select(self.features), y
        X = feature_matrix(frame, self.features, where=where)
        if form == "pandas":
            import pandas as pd

            return pd.DataFrame(X, columns=self.features), None if y is None else y.to_pandas()
        return X, None if y is None else y.to_numpy()


class TrainerContext:
    """The ``run_fn``'s view of the Trainer execution (see the module docstring)."""

    def __init__(
        self,
        *,
        train: SplitData,
        eval: SplitData,  # noqa: A002 - the split's name
        schema: Any,
        transform: Any,
        hyperparameters: dict[str, Any],
        base_model: LoadedModel | None,
        train_args: dict[str, Any],
        eval_args: dict[str, Any],
        model_dir: Path,
        saver: Any,
    ) -> None:
        self.train = train
        self.eval = eval
        self.schema = schema
        self.transform = transform
        self.hyperparameters = hyperparameters
        self.base_model = base_model
        self.train_args = train_args
        self.eval_args = eval_args
        self.model_dir = model_dir
        self.metrics: dict[str, float] = {}
        self.metric_history: dict[str, list[list[float]]] = {}
        self._saver = saver
        self.saved = False

    @property
    def features(self) -> list[str]:
        return self.train.features

    @property
    def label(self) -> str | None:
        return self.train.label

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Record a training metric: logged to the execution's log, kept (last value and history) in the Model."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise DataError(f"log_metric({name!r}, ...) takes a number. Got {value!r} instead.") from None
        self.metrics[name] = number
        self.metric_history.setdefault(name, []).append(
            [len(self.metric_history[name]) if step is None else step, number]
        )
        if step is None:
            logger.info("metric %s = %.6g", name, number)
        else:
            logger.info("metric %s = %.6g (step %d)", name, number, step)

    def save_model(
        self,
        model: Any,
        flavor: str | None = None,
        *,
        classes: list[Any] | None = None,
        features: list[str] | None = None,
        onnx: bool | None = None,
        **options: Any,
    ) -> None:
        """Save ``model`` as the Trainer's Model bundle (once). ``flavor`` is detected from the object when not
        given; ``classes`` names the classes of a model that does not carry them (a PyTorch classifier's
        output columns); ``features`` the columns it was fitted on when not ``ctx.features``; ``onnx``
        overrides the Trainer's ``onnx`` parameter; other options go to the flavor (XGBoost ``format="ubj"``)."""
        if self.saved:
            raise ComponentError("run_fn called ctx.save_model() twice; a Trainer produces one model.")
        self._saver(model, flavor, classes=classes, model_features=features, onnx=onnx, options=options)
        self.saved = True


__all__ = ["SplitData", "TrainerContext"]

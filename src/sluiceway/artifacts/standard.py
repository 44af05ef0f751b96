"""The standard artifact types and their on-disk layouts.

Layouts are a contract between producers and consumers: a component reading ``Examples`` relies only on
what is documented here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sluiceway.artifacts.base import Artifact

if TYPE_CHECKING:
    import pyarrow as pa


class Examples(Artifact):
    """Tabular examples split into named splits.

    Layout: ``{uri}/Split-{name}/part-*.parquet`` (one or more Parquet files a split).
    Properties: ``split_names`` (list of split names), ``span`` (int), ``version`` (int or None),
    ``row_counts`` ({split: rows}), ``column_types`` ({column: Arrow type string}).
    """

    PROPERTIES = {"split_names": list, "span": int, "version": int, "row_counts": dict, "column_types": dict}

    @property
    def split_names(self) -> list[str]:
        names = self.properties.get("split_names")
        if names:
            return list(names)
        return sorted(p.name[len("Split-") :] for p in self.path.glob("Split-*") if p.is_dir())

    def split_uri(self, split: str) -> str:
        return str(self.path / f"Split-{split}")

    def split_files(self, split: str) -> list[Path]:
        """The Parquet files of one split, in name order."""
        folder = Path(self.split_uri(split))
        if not folder.is_dir():
            from sluiceway.errors import DataError

            raise DataError(
                f"Examples at {self.uri} has no split {split!r}; it has {self.split_names}. "
                "Pick one of those split names."
            )
        return sorted(folder.glob("*.parquet"))

    def read(self, split: str, columns: list[str] | None = None) -> pa.Table:
        """Read one split into a pyarrow Table (small data, tests and notebooks; engines stream instead)."""
        import pyarrow.parquet as pq

        files = self.split_files(split)
        return pq.ParquetDataset([str(f) for f in files]).read(columns=columns)


class ExampleStatistics(Artifact):
    """Per-split, per-feature statistics.

    Layout: ``{uri}/statistics.json`` (the documented JSON form, see ``sluiceway.data.statistics``),
    ``{uri}/report.html`` (a static report), optionally ``{uri}/statistics.pb`` (TFDV's
    ``DatasetFeatureStatisticsList``). Properties: ``split_names``.
    """

    PROPERTIES = {"split_names": list}
    FILENAME = "statistics.json"
    REPORT_FILENAME = "report.html"
    TFDV_FILENAME = "statistics.pb"


class Schema(Artifact):
    """A curated data schema. Layout: ``{uri}/schema.yaml`` (human-editable, see ``sluiceway.data.schema``)."""

    FILENAME = "schema.yaml"


class ExampleAnomalies(Artifact):
    """Anomalies found by validating statistics against a schema (and a baseline).

    Layout: ``{uri}/anomalies.json``, ``{uri}/report.html``. Properties: ``anomaly_count`` (int),
    ``split_names`` (list).
    """

    PROPERTIES = {"anomaly_count": int, "split_names": list}
    FILENAME = "anomalies.json"
    REPORT_FILENAME = "report.html"


class TransformGraph(Artifact):
    """A fitted feature transform, self-contained so serving can reuse it without the user's code.

    Layout: ``{uri}/transform/transform_graph.json``: a versioned JSON document with the input columns and
    their types, each output's expression and the fitted analyzer constants (see ``sluiceway.transform.graph``).
    Load it with ``sw.load_transform(artifact)``. Properties: ``analyze_splits`` (list), ``output_schema``
    ({output: kind}).
    """

    PROPERTIES = {"analyze_splits": list, "output_schema": dict}
    FOLDER = "transform"
    FILENAME = "transform_graph.json"

    @property
    def folder(self) -> Path:
        return self.path / self.FOLDER

    @property
    def file(self) -> Path:
        return self.folder / self.FILENAME


class HyperParameters(Artifact):
    """Chosen hyperparameters and the search that chose them.

    Layout: ``{uri}/hyperparameters.json``: ``{"format": "sluiceway.hyperparameters", "version": 1,
    "values": {name: value}, "best_value": float | null, "objective": "maximize" | "minimize" | null,
    "trials": [{"number", "state", "value", "params", "duration_s"}, ...]}`` (see
    ``sluiceway.tuner.hyperparameters``). Read ``values`` with ``sluiceway.tuner.load_hyperparameters``.
    Properties: ``best_value`` (float), ``num_trials`` (int, trials recorded).
    """

    PROPERTIES = {"best_value": float, "num_trials": int}
    FILENAME = "hyperparameters.json"


class Model(Artifact):
    """A trained model bundle, loaded with ``sw.load_model(artifact)``.

    Layout (format version 1, see ``sluiceway.trainer.bundle``): ``{uri}/bundle.json`` (the manifest:
    flavor, signature, features and label, library versions, training metrics, SHA-256 of every file),
    ``{uri}/model/`` (the native model file in its flavor's format, and ``model.onnx`` when exported),
    ``{uri}/transform/transform_graph.json`` (a copy of the TransformGraph, when trained behind one).
    Properties: ``flavor`` (str), ``task`` ("classification" or "regression"), ``metrics`` ({name: value}),
    ``format_version`` (int), ``onnx`` (bool).
    """

    PROPERTIES = {"flavor": str, "task": str, "metrics": dict, "format_version": int, "onnx": bool}
    FILENAME = "bundle.json"
    FOLDER = "model"

    @property
    def folder(self) -> Path:
        return self.path / self.FOLDER


class ModelEvaluation(Artifact):
    """Evaluation metrics, overall and per slice, against the baseline model when there was one.

    Layout: ``{uri}/evaluation.json`` (format ``sluiceway.evaluation``, see ``sluiceway.evaluation.compute``:
    per slice its metrics, confusion matrix and calibration; fairness per sensitive feature; feature
    importance; every threshold check), ``{uri}/report.html`` (a static report). Properties: ``blessed``
    (bool), ``metrics`` ({name: value} of the overall slice), ``has_baseline`` (bool).
    """

    PROPERTIES = {"blessed": bool, "metrics": dict, "has_baseline": bool}
    FILENAME = "evaluation.json"
    REPORT_FILENAME = "report.html"


class ModelBlessing(Artifact):
    """Whether a model passed evaluation.

    Layout: a marker file ``{uri}/BLESSED`` or ``{uri}/NOT_BLESSED``, and ``{uri}/blessing.json``:
    ``{"blessed": bool, "reasons": [str, ...], "model_uri", "baseline_uri", "failed": [check, ...]}`` (every
    failed threshold with its values). Properties: ``blessed`` (bool), ``model_uri`` (str).
    """

    PROPERTIES = {"blessed": bool, "model_uri": str}
    FILENAME = "blessing.json"
    BLESSED_MARKER = "BLESSED"
    NOT_BLESSED_MARKER = "NOT_BLESSED"


class InfraBlessing(Artifact):
    """Whether a model passed infrastructure validation (InfraValidator). Property ``blessed``.

    Layout: ``{uri}/BLESSED`` or ``{uri}/NOT_BLESSED``, and ``{uri}/blessing.json`` (``blessed``, ``reasons``,
    and the measured figures: requests, failures, latency, load time)."""

    PROPERTIES = {"blessed": bool}
    FILENAME = "blessing.json"
    BLESSED_MARKER = "BLESSED"
    NOT_BLESSED_MARKER = "NOT_BLESSED"


class PushedModel(Artifact):
    """A model pushed to serving. Properties ``pushed`` (bool), ``destination`` (str), ``version`` (int)."""

    PROPERTIES = {"pushed": bool, "destination": str, "version": int}


class InferenceResult(Artifact):
    """Batch predictions. Layout: ``{uri}/Split-{name}/part-*.parquet``."""


STANDARD_TYPES: dict[str, type[Artifact]] = {
    cls.TYPE_NAME: cls
    for cls in (
        Examples,
        ExampleStatistics,
        Schema,
        ExampleAnomalies,
        TransformGraph,
        HyperParameters,
        Model,
        ModelEvaluation,
        ModelBlessing,
        InfraBlessing,
        PushedModel,
        InferenceResult,
    )
}

__all__ = [*STANDARD_TYPES, "STANDARD_TYPES"]



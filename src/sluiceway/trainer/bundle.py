"""The Model bundle: writing it (the Trainer) and loading it (``sw.load_model``) — one predict path.

Layout of a ``Model`` artifact (format version 1)::

    {uri}/bundle.json                        the manifest (below)
    {uri}/model/<file>                       the native model, in its flavor's format (see flavors)
    {uri}/model/model.onnx                   optional ONNX export (Trainer onnx=True / save_model(onnx=True))
    {uri}/transform/transform_graph.json     a copy of the TransformGraph the model was trained behind

``bundle.json``: ``format`` ("sluiceway.model"), ``format_version``, ``sluiceway_version``, ``flavor``,
``model`` (the flavor's entry: ``file``, ``classes``, ``input``), ``onnx`` (entry or null), ``task``
("classification" or "regression"), ``features`` (the model's input columns, in order: outputs of the
transform), ``label``, ``signature`` (``inputs``: the raw features a request sends, with their types from
the schema's SERVING environment; ``outputs``: predicted label or value, class probabilities), ``libraries``
(versions), ``metrics`` (last value of each ``ctx.log_metric``) and ``metric_history``, ``hyperparameters``,
and ``files``: the SHA-256 of every file, checked on load so a modified or swapped file is refused.

``load_model(uri).predict(rows)`` applies the transform to raw rows (a dict, a list of dicts, pandas,
Polars or Arrow) and then the model; the Evaluator, the server and the benchmark call exactly this.
A few dict rows (a server's request) take a path without DataFrames on the model side (``features_of``).
``load_model(uri, runtime="onnx")`` predicts with the bundle's ONNX export instead: float32 inside, so
probabilities and values agree with the native model within 1e-5 (see ``flavors.onnx``).
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sluiceway.artifacts.standard import Model, TransformGraph
from sluiceway.errors import ConfigError, DataError
from sluiceway.trainer.flavors import get_flavor

FORMAT = "sluiceway.model"
FORMAT_VERSION = 1
RUNTIMES = ("native", "onnx")
# Up to this many dict rows, predict builds the model's input row by row (no DataFrame); see features_of
SMALL_INPUT_ROWS = 32


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def feature_matrix(frame: pl.DataFrame, features: list[str], *, where: str) -> np.ndarray:
    """The model's input: ``features`` of ``frame`` as a 2-D float64 array (a null becomes NaN)."""
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise DataError(f"{where}: the data lacks the model's feature column(s) {missing}; it has {frame.columns}.")
    numeric = []
    for name in features:
        dtype = frame.schema[name]
        if not (dtype.is_numeric() or dtype == pl.Boolean):
            raise DataError(
                f"{where}: feature column {name!r} holds {dtype} values; models take numbers. Encode it in the "
                "preprocessing_fn (e.g. T.compute_and_apply_vocabulary) or leave it out of the features."
            )
        numeric.append(pl.col(name).cast(pl.Float64).fill_null(float("nan")))
    return frame.select(numeric).to_numpy().reshape(frame.height, len(features))


def matrix_of_records(records: list[Mapping[str, Any]], features: list[str], *, where: str) -> np.ndarray:
    """``feature_matrix`` for dict rows (the transform's output for a few rows), built in NumPy directly:
    the same float64 values (a null becomes NaN, a bool 0.0 or 1.0) without a DataFrame's fixed cost."""
    matrix = np.empty((len(records), len(features)), dtype=np.float64)
    for i, record in enumerate(records):
        for j, name in enumerate(features):
            try:
                value = record[name]
            except KeyError:
                missing = [f for f in features if f not in record]
                raise DataError(
                    f"{where}: the data lacks the model's feature column(s) {missing}; it has {list(record)}."
                ) from None
            if value is None:
                matrix[i, j] = np.nan
            elif isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
                matrix[i, j] = value
            else:
                raise DataError(
                    f"{where}: feature column {name!r} holds {type(value).__name__} values such as {value!r}; models "
                    "take numbers. Encode it in the preprocessing_fn (e.g. T.compute_and_apply_vocabulary) or leave it "
                    "out of the features."
                )
    return matrix


def write_bundle(
    folder: Path,
    *,
    flavor_name: str,
    model: Any,
    example: np.ndarray,
    features: list[str],
    label: str | None,
    transform_graph: TransformGraph | None,
    serving_inputs: list[dict[str, str]],
    options: dict[str, Any],
    onnx: bool,
    metrics: dict[str, float],
    metric_history: dict[str, list[list[float]]],
    hyperparameters: dict[str, Any],
) -> dict[str, Any]:
    """Write a complete bundle into ``folder`` (the Model artifact's staging folder); return its manifest."""
    import sluiceway

    flavor = get_flavor(flavor_name)
    model_folder = folder / Model.FOLDER
    model_folder.mkdir(parents=True, exist_ok=True)
    spec = flavor.save(model, model_folder, example=example, options=options)
    libraries = {"python": platform.python_version(), "numpy": np.__version__, **spec.pop("libraries")}
    onnx_spec = None
    if onnx:
        from sluiceway.trainer.flavors import onnx as onnx_flavor

        onnx_spec = onnx_flavor.export(flavor_name, model, example, model_folder)
        libraries.update(onnx_spec.pop("libraries"))
        native = flavor.load(model_folder, spec, trusted=list(options.get("trusted", [])))
        X = example if spec.get("input") != "pandas" else _pandas(example, features)
        onnx_flavor.check_export(model_folder, onnx_spec, native, {**spec, "flavor": flavor_name}, X)
    if transform_graph is not None:
        shutil.copytree(transform_graph.folder, folder / TransformGraph.FOLDER)
    classes = spec.get("classes")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sluiceway_version": sluiceway.__version__,
        "flavor": flavor_name,
        "model": spec,
        "onnx": onnx_spec,
        "task": "classification" if classes is not None else "regression",
        "features": features,
        "label": label,
        "signature": {"inputs": serving_inputs, "outputs": _signature_outputs(classes)},
        "libraries": libraries,
        "metrics": metrics,
        "metric_history": metric_history,
        "hyperparameters": hyperparameters,
        "files": {
            str(path.relative_to(folder).as_posix()): file_digest(path)
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        },
    }
    (folder / Model.FILENAME).write_text(
        json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False, default=_json_value) + "\n", encoding="utf-8"
    )
    return manifest


def _pandas(matrix: np.ndarray, features: list[str]) -> Any:
    import pandas as pd

    return pd.DataFrame(matrix, columns=features)


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _signature_outputs(classes: list[Any] | None) -> list[dict[str, Any]]:
    if classes is None:
        return [{"name": "prediction", "type": "float"}]
    label_type = "string" if any(isinstance(c, str) for c in classes) else "int"
    return [
        {"name": "label", "type": label_type},
        {"name": "probabilities", "type": "float", "shape": [len(classes)], "classes": classes},
    ]


class LoadedModel:
    """A Model bundle ready to predict (what ``sw.load_model`` returns).

    ``predict(rows)`` → NumPy array of labels (classifier) or values (regressor); ``predict_proba(rows)`` →
    one column per class of ``classes``. ``native`` is the library's own model object (e.g. for a warm
    start), ``transform`` the fitted transform (or None), ``signature``, ``metrics`` and ``manifest``."""

    def __init__(self, uri: str, manifest: dict[str, Any], native: Any, transform: Any, runtime: str) -> None:
        self.uri = uri
        self.manifest = manifest
        self.native = native
        self.transform = transform
        self.runtime = runtime
        self.flavor = manifest["flavor"]
        self.features: list[str] = list(manifest["features"])
        self.classes: list[Any] | None = manifest["model"].get("classes")
        self.signature: dict[str, Any] = manifest["signature"]
        self.metrics: dict[str, float] = manifest.get("metrics", {})
        self._spec = manifest["onnx"] if runtime == "onnx" else manifest["model"]
        self._spec = {**self._spec, "classes": self.classes}
        self._flavor = get_flavor("onnx" if runtime == "onnx" else self.flavor)
        self._where = f"Model {uri}"

    def __repr__(self) -> str:
        return f"<LoadedModel {self.flavor} ({self.runtime}) {self.manifest['task']} from {self.uri}>"

    def features_of(self, rows: Any) -> Any:
        """Raw rows → the model's input (transformed, in the model's feature order).

        A few dict rows (one dict, or a list of at most ``SMALL_INPUT_ROWS``: what a server receives) go through
        ``transform.transform``, whose small-input path avoids building a DataFrame, and become the matrix in
        NumPy directly; more rows, frames and Arrow tables go through Polars column-wise, which wins from a few
        dozen rows on. Both give the same float64 matrix."""
        from sluiceway.transform.graph import _to_polars

        if isinstance(rows, (list, tuple)) and not rows:
            raise DataError("predict() got no rows; send at least one row.")
        small = isinstance(rows, Mapping) or (
            isinstance(rows, (list, tuple))
            and len(rows) <= SMALL_INPUT_ROWS
            and all(isinstance(r, Mapping) for r in rows)
        )
        if small:
            records = [rows] if isinstance(rows, Mapping) else list(rows)
            if self.transform is not None:
                records = self.transform.transform(records)
            matrix = matrix_of_records(records, self.features, where=self._where)
        else:
            frame, _ = _to_polars(rows)
            if self.transform is not None:
                frame = self.transform.transform_frame(frame, serving=True)
            matrix = feature_matrix(frame, self.features, where=self._where)
        return _pandas(matrix, self.features) if self._spec.get("input") == "pandas" else matrix

    def predict(self, rows: Any) -> np.ndarray:
        return self._flavor.predict(self.native, self.features_of(rows), self._spec)

    def predict_features(self, X: Any) -> np.ndarray:
        """Predict on the model's input itself (``features_of(rows)``: transformed, in ``features`` order)."""
        return self._flavor.predict(self.native, X, self._spec)

    def predict_proba(self, rows: Any) -> np.ndarray:
        if self.classes is None:
            raise DataError(f"The model at {self.uri} is a regressor: it has no class probabilities; use predict().")
        return self._flavor.predict_proba(self.native, self.features_of(rows), self._spec)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The bundle's manifest, checked: format, version, and the digest of every file it lists."""
    import sluiceway

    path = folder / Model.FILENAME
    if not path.is_file():
        raise DataError(
            f"No model bundle at {folder} (no {Model.FILENAME}). Give the URI of a Model artifact, e.g. "
            "run.output('Trainer', 'model').uri."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"Cannot read the model manifest {path}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{path} is not a Sluiceway model manifest (its 'format' is not {FORMAT!r}).")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise DataError(
            f"The model {folder} has format version {version!r} (written by Sluiceway "
            f"{manifest.get('sluiceway_version')}); this Sluiceway ({sluiceway.__version__}) reads versions up to "
            f"{FORMAT_VERSION}. Upgrade sluiceway to load it."
        )
    files = manifest.get("files")
    if not isinstance(files, Mapping) or not files:
        raise DataError(f"{path} lists no files; the bundle is incomplete. Retrain the model.")
    for name, digest in sorted(files.items()):
        target = (folder / name).resolve()
        if folder.resolve() not in target.parents:
            raise DataError(f"{path} lists the file {name!r}, outside the bundle; the manifest is not trustworthy.")
        if not target.is_file():
            raise DataError(f"The model bundle {folder} is missing {name}; retrain or restore the artifact.")
        if file_digest(target) != digest:
            raise DataError(
                f"{folder / name} was modified after the model was saved (its SHA-256 differs from the one in "
                f"{Model.FILENAME}). Refusing to load it: restore the artifact or retrain."
            )
    return manifest


def load_model(uri: Any, *, runtime: str = "native", trusted: list[str] | None = None) -> LoadedModel:
    """Load a Model bundle: a ``Model`` artifact or its folder.

    ``runtime="onnx"`` predicts with the bundle's ONNX export (onnxruntime) instead of the native model.
    ``trusted`` names extra types a scikit-learn (skops) file may contain, after you reviewed them."""
    from sluiceway.transform.graph import load_transform

    if runtime not in RUNTIMES:
        raise ConfigError(f"The 'runtime' of load_model must be one of {RUNTIMES}. Got {runtime!r} instead.")
    folder = Path(getattr(uri, "uri", uri))
    manifest = read_manifest(folder)
    try:
        flavor_name = str(manifest["flavor"])
        spec = manifest["onnx"] if runtime == "onnx" else manifest["model"]
        if spec is None:
            raise ConfigError(
                f"The model at {folder} has no ONNX export. Train it with Trainer(..., onnx=True), or load it with "
                "runtime='native'."
            )
        listed = f"{Model.FOLDER}/{spec['file']}"
        if listed not in manifest["files"]:
            raise DataError(
                f"The model manifest {folder / Model.FILENAME} names the model file {spec['file']!r}, which is not "
                "among its checked files; the manifest is not trustworthy. Retrain or restore the artifact."
            )
        flavor = get_flavor("onnx" if runtime == "onnx" else flavor_name)
        native = flavor.load(folder / Model.FOLDER, spec, trusted=list(trusted or []))
    except (KeyError, TypeError) as exc:
        raise DataError(f"The model manifest {folder / Model.FILENAME} is malformed ({exc!r}); retrain.") from exc
    has_transform = (folder / TransformGraph.FOLDER).is_dir()
    transform = load_transform(folder) if has_transform else None
    return LoadedModel(str(folder), manifest, native, transform, runtime)


__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "LoadedModel",
    "feature_matrix",
    "load_model",
    "matrix_of_records",
    "read_manifest",
]

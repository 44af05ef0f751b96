"""Trainer: the user's ``run_fn`` trains a model of any library; the output is a ``Model`` bundle.

    Trainer(examples=transform.transformed_examples, transform_graph=transform.transform_graph,
            schema=schema.schema, run_fn="model:run_fn")

``run_fn`` is a function or a ``"module:function"`` string, resolved and checked when the pipeline is
built; the cache follows its code. It is called with a ``TrainerContext`` (``sluiceway.trainer.context``):
the train and eval data, schema, hyperparameters (``values`` of an optional ``HyperParameters`` input),
the base model for a warm start, ``log_metric`` and ``save_model``. ``examples`` are usually Transform's
``transformed_examples``; raw examples with a ``transform_graph`` are transformed batch by batch.
``train_args``/``eval_args`` reach ``run_fn`` as ``ctx.train_args``/``ctx.eval_args``; their ``splits`` key
picks the splits (default ``["train"]`` / ``["eval"]``). ``onnx=True`` adds an ONNX export to the bundle.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Union

from sluiceway.artifacts import Examples, HyperParameters, Model, Schema, TransformGraph
from sluiceway.dsl.component import Component, Input, Output
from sluiceway.dsl.functions import function_cache_key, resolve_function
from sluiceway.errors import ComponentError, DataError, DefinitionError

logger = logging.getLogger(__name__)

# Training rows handed to the flavor as an example (input shape, tracing) and that an ONNX export is checked on
EXAMPLE_ROWS = 256

RunFn = Union[Callable[..., Any], str]  # noqa: UP007 - pydantic validates this form at build time


def resolve_run_fn(value: Any, owner: str = "Trainer") -> Callable[..., Any]:
    """The function a ``run_fn`` parameter names; ``DefinitionError`` saying how to fix it if not."""
    return resolve_function(
        value, parameter="run_fn", owner=owner, takes="the trainer context", usage="def run_fn(ctx): ..."
    )


class Trainer(Component):
    """Examples (+ TransformGraph, Schema, HyperParameters, base Model) → Model, with the user's run_fn."""

    def check_parameters(self, owner: str, parameters: dict[str, Any]) -> None:
        resolve_run_fn(parameters["run_fn"], owner)
        for name in ("train_args", "eval_args"):
            splits = (parameters[name] or {}).get("splits", ["x"])
            if not isinstance(splits, list) or not splits or not all(isinstance(s, str) for s in splits):
                raise DefinitionError(
                    f"The 'splits' entry of the {name!r} parameter of {owner} must be a non-empty list of split "
                    f"names. Got {splits!r} instead."
                )

    def cache_key(self) -> dict[str, Any]:
        return function_cache_key(self.parameters["run_fn"], "run_fn_code", resolve_run_fn)

    def execute(  # type: ignore[override]
        self,
        examples: Input[Examples],
        model: Output[Model],
        transform_graph: Input[TransformGraph] | None = None,
        schema: Input[Schema] | None = None,
        hyperparameters: Input[HyperParameters] | None = None,
        base_model: Input[Model] | None = None,
        *,
        run_fn: RunFn,
        train_args: dict[str, Any] | None = None,
        eval_args: dict[str, Any] | None = None,
        label: str | None = None,
        features: list[str] | None = None,
        onnx: bool = False,
    ) -> None:
        from sluiceway.data.schema import SERVING, load_schema
        from sluiceway.trainer.bundle import load_model, write_bundle
        from sluiceway.trainer.context import SplitData, TrainerContext
        from sluiceway.transform.graph import load_transform

        function = resolve_run_fn(run_fn)
        train_args, eval_args = dict(train_args or {}), dict(eval_args or {})
        curated = load_schema(schema.file) if schema is not None else None
        transform = load_transform(transform_graph) if transform_graph is not None else None
        train_files = _files(examples, train_args.get("splits", ["train"]))
        eval_files = _files(examples, eval_args.get("splits", ["eval"]))
        columns = _columns(train_files[0])
        # raw examples behind a graph (not Transform's output): transformed batch by batch while reading
        apply = transform if transform is not None and not set(transform.outputs) <= set(columns) else None
        model_columns = list(apply.outputs) if apply is not None else columns
        label = label or _label_of(transform, curated, model_columns)
        if label is not None and label not in model_columns:
            raise DataError(f"Trainer: the label {label!r} is not a column of the examples; they have {model_columns}.")
        chosen = features if features is not None else [c for c in model_columns if c != label]
        serving_inputs = _serving_inputs(transform, curated, chosen, SERVING)

        def save(
            native: Any, flavor: str | None, *, classes: Any, model_features: Any, onnx: Any, options: Any
        ) -> None:
            from sluiceway.trainer.flavors import detect_flavor

            name = flavor or detect_flavor(native)
            fitted_names = getattr(native, "feature_names_in_", None)  # fitted on a DataFrame: its columns
            if model_features is None:
                model_features = chosen if fitted_names is None else [str(n) for n in fitted_names]
            example = next(ctx.train.batches(EXAMPLE_ROWS))[0]  # also what an ONNX export is checked on
            manifest = write_bundle(
                model.path,
                flavor_name=name,
                model=native,
                example=example,
                features=list(model_features),
                label=label,
                transform_graph=transform_graph,
                serving_inputs=serving_inputs,
                options={**options, "classes": classes},
                onnx=self.parameters["onnx"] if onnx is None else onnx,
                metrics=ctx.metrics,
                metric_history=ctx.metric_history,
                hyperparameters=ctx.hyperparameters,
            )
            model.properties.update(
                flavor=name,
                task=manifest["task"],
                metrics=dict(ctx.metrics),
                format_version=manifest["format_version"],
                onnx=manifest["onnx"] is not None,
            )
            logger.info("Saved a %s %s model (%d features).", name, manifest["task"], len(manifest["features"]))

        ctx = TrainerContext(
            train=SplitData("train", train_files, transform=apply, features=chosen, label=label),
            eval=SplitData("eval", eval_files, transform=apply, features=chosen, label=label),
            schema=curated,
            transform=transform,
            hyperparameters=_hyperparameter_values(hyperparameters),
            base_model=load_model(base_model) if base_model is not None else None,
            train_args=train_args,
            eval_args=eval_args,
            model_dir=model.path,
            saver=save,
        )
        try:
            function(ctx)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(_interrupted(self.__dict__.get("id", type(self).__name__), function, ctx)) from None
        if not ctx.saved:
            raise ComponentError(
                f"run_fn {function.__module__}:{function.__qualname__} returned without saving a model. Call "
                "ctx.save_model(model) at its end."
            )
        # metrics logged after save_model still belong to the model
        model.properties["metrics"] = dict(ctx.metrics)
        _rewrite_metrics(model, ctx.metrics, ctx.metric_history)


def _interrupted(own_id: str, function: Callable[..., Any], ctx: Any) -> str:
    """The message of a Ctrl-C inside run_fn (a bare KeyboardInterrupt says nothing), with how far it got."""
    progress = "before it logged any metric"
    if ctx.metric_history:
        name, history = max(ctx.metric_history.items(), key=lambda item: len(item[1]))
        step, value = history[-1]
        progress = f"after {len(history)} value(s) of metric {name!r} (last: step {step}, {value:.6g})"
    return (
        f"component {own_id!r} (Trainer): interrupted by the user in run_fn {function.__module__}:"
        f"{function.__qualname__}, {progress}. No model was saved; run the pipeline again (or --resume the run)."
    )


def _files(examples: Examples, splits: list[str]) -> list[str]:
    files = [str(f) for split in splits for f in examples.split_files(split)]
    if not files:
        raise DataError(f"Trainer: the split(s) {splits} of {examples.uri} hold no Parquet files.")
    return files


def _columns(file: str) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(file).names)


def _label_of(transform: Any, schema: Any, columns: list[str]) -> str | None:
    """The one column absent at serving time: a transform output built only from training-only inputs, else
    a schema feature not in SERVING. None when there is not exactly one (pass label= then)."""
    from sluiceway.data.schema import SERVING

    candidates: list[str] = []
    if transform is not None:
        candidates = [
            name
            for name, expr in transform.outputs.items()
            if name in columns and expr.columns() and not any(transform.inputs[c]["serving"] for c in expr.columns())
        ]
    elif schema is not None:
        serving = {f.name for f in schema.features_in(SERVING)}
        candidates = [f.name for f in schema.features if f.name not in serving and f.name in columns]
    if len(candidates) > 1:
        raise DataError(
            f"Trainer: several columns are absent at serving time and could be the label: {candidates}. Pass label=."
        )
    return candidates[0] if candidates else None


def _serving_inputs(transform: Any, schema: Any, features: list[str], serving: str) -> list[dict[str, str]]:
    """The raw features a prediction request sends, with their types (the schema's, else the transform's)."""
    types = {f.name: f.type for f in schema.features_in(serving)} if schema is not None else {}
    if transform is not None:
        names = [name for name, spec in transform.inputs.items() if spec.get("serving", True)]
        return [{"name": n, "type": types.get(n, transform.inputs[n]["type"])} for n in names]
    return [{"name": n, "type": types.get(n, "float")} for n in features]


def _hyperparameter_values(artifact: HyperParameters | None) -> dict[str, Any]:
    if artifact is None:
        return {}
    # One reader of the Tuner's layout; it imports no Optuna.
    from sluiceway.tuner.hyperparameters import load_hyperparameters

    return load_hyperparameters(artifact)


def _rewrite_metrics(model: Model, metrics: dict[str, float], history: dict[str, list[list[float]]]) -> None:
    """Metrics logged after ``save_model`` into the manifest (its digests cover the other files only)."""
    manifest = json.loads(model.file.read_text(encoding="utf-8"))
    if manifest["metrics"] == metrics:
        return
    manifest["metrics"], manifest["metric_history"] = metrics, history
    model.file.write_text(json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")

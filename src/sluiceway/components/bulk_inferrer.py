"""BulkInferrer: batch predictions of a Model over Examples splits, streamed, on the data engine.

    BulkInferrer(model=trainer.model, examples=gen.examples, splits=["eval"], key_columns=["id"])

Output ``InferenceResult``, laid out like ``Examples``: ``{uri}/Split-{name}/part-{n:05d}.parquet``, one part
per Parquet row group read (in input order, so the rows keep the order of the examples), each row holding
the ``key_columns`` of its input row (default: every input column), then ``prediction`` (the label or the
value) and, for a classifier, ``probability_{class}`` per class (``output_columns`` picks which of
"prediction" and "probabilities" are written). Predictions come from ``sw.load_model(model).predict`` and
``predict_proba`` on the raw rows, exactly what the server answers.

The work is a map over row-group fragments on the ``Engine`` interface (``sluiceway.data.engine``): each
map call loads the model once per process, reads its fragment as record batches (the engine's), predicts
them ``batch_rows`` rows at a time and writes each to its part file as it goes, so memory depends on the
batch sizes and the number of workers, not on the number of rows. The map function is a module-level
``functools.partial``, so a Ray engine runs it unchanged. Same input, same bytes out.

Properties: ``split_names``, ``row_counts`` ({split: rows}), ``columns`` (the output columns).
"""

from __future__ import annotations

import functools
import logging
import operator
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import pydantic

from sluiceway.artifacts import Examples, InferenceResult, Model
from sluiceway.dsl.component import Component, Input, Output
from sluiceway.errors import DataError, DefinitionError

logger = logging.getLogger(__name__)

OUTPUTS = ("prediction", "probabilities")
PREDICTION = "prediction"
PROBABILITY_PREFIX = "probability_"
DEFAULT_BATCH_ROWS = 64 * 1024


class BulkInferrer(Component):
    """Model + Examples → InferenceResult: the model's predictions for every row of the chosen splits."""

    def check_parameters(self, owner: str, parameters: dict[str, Any]) -> None:
        for name in ("splits", "key_columns"):
            value = parameters[name]
            if value is not None and (not value or len(set(value)) != len(value)):
                raise DefinitionError(
                    f"The {name!r} parameter of {owner} must be None or a non-empty list of distinct names. "
                    f"Got {value!r} instead."
                )
        outputs = parameters["output_columns"]
        if not outputs or not set(outputs) <= set(OUTPUTS) or len(set(outputs)) != len(outputs):
            raise DefinitionError(
                f"The 'output_columns' parameter of {owner} must be a non-empty list of distinct values among "
                f"{list(OUTPUTS)}. Got {outputs!r} instead."
            )

    def execute(  # type: ignore[override]
        self,
        model: Input[Model],
        examples: Input[Examples],
        inference_result: Output[InferenceResult],
        *,
        splits: list[str] | None = None,
        key_columns: list[str] | None = None,
        output_columns: tuple[str, ...] = OUTPUTS,
        batch_rows: Annotated[int, pydantic.Field(ge=1)] = DEFAULT_BATCH_ROWS,
    ) -> None:
        infer_examples(
            model, examples, inference_result, splits=splits, key_columns=key_columns,
            output_columns=output_columns, batch_rows=batch_rows,
        )


def infer_examples(
    model: Model,
    examples: Examples,
    inference_result: InferenceResult,
    *,
    splits: list[str] | None = None,
    key_columns: list[str] | None = None,
    output_columns: tuple[str, ...] | list[str] = OUTPUTS,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    engine: Any = None,
) -> None:
    """BulkInferrer's work on artifacts (see the module docstring); ``engine`` defaults to the run's engine."""
    from sluiceway.data.engine import default_engine
    from sluiceway.trainer.bundle import load_model

    chosen = list(splits) if splits is not None else examples.split_names
    loaded = load_model(model)  # loads once here: a broken bundle fails before any work is planned
    probabilities = "probabilities" in output_columns and loaded.classes is not None
    engine = engine if engine is not None else default_engine()
    row_counts: dict[str, int] = {}
    columns: list[str] = []
    for split in chosen:
        files = [str(f) for f in examples.split_files(split)]
        keys = _key_columns(files, key_columns, split)
        columns = [*keys, *(([PREDICTION]) if PREDICTION in output_columns else [])]
        columns += [f"{PROBABILITY_PREFIX}{c}" for c in loaded.classes or []] if probabilities else []
        clash = sorted(set(keys) & set(columns[len(keys) :]))
        if clash:
            raise DataError(
                f"BulkInferrer: the input column(s) {clash} of split {split!r} would clash with the prediction "
                "columns. Leave them out of key_columns or rename them upstream."
            )
        output_dir = inference_result.path / f"Split-{split}"
        output_dir.mkdir(parents=True, exist_ok=True)
        fragments = [
            replace(fragment, tag=str(index)) for index, fragment in enumerate(_row_group_fragments(files))
        ]
        mapper = functools.partial(
            infer_fragment,
            model_uri=str(model.path),
            output_dir=str(output_dir),
            keys=tuple(keys),
            prediction=PREDICTION in output_columns,
            probabilities=probabilities,
            batch_rows=batch_rows,
        )
        row_counts[split] = engine.map_reduce(fragments, mapper, operator.add, initial=0) or 0
        logger.info("Predicted %d rows of split %s.", row_counts[split], split)
    inference_result.properties.update(split_names=chosen, row_counts=row_counts, columns=columns)


def _row_group_fragments(files: list[str]) -> list[Any]:
    from sluiceway.data.engine import plan_fragments

    # parallelism=1: one fragment per row group with every column (a prediction needs the whole row)
    return plan_fragments(files, parallelism=1)


def _key_columns(files: list[str], wanted: list[str] | None, split: str) -> list[str]:
    import pyarrow.parquet as pq

    if not files:
        return list(wanted or [])
    available = pq.ParquetFile(files[0]).schema_arrow.names
    if wanted is None:
        return available
    missing = [c for c in wanted if c not in available]
    if missing:
        raise DataError(
            f"BulkInferrer: key column(s) {missing} are not in split {split!r}; its columns are {available}. "
            "Fix key_columns."
        )
    return list(wanted)


@functools.lru_cache(maxsize=4)
def _model(uri: str) -> Any:
    """One loaded model per process and bundle, shared by the map calls (threads) of that process."""
    from sluiceway.trainer.bundle import load_model

    return load_model(uri)


def infer_fragment(
    fragment: Any,
    batches: Iterator[Any],
    *,
    model_uri: str,
    output_dir: str,
    keys: tuple[str, ...],
    prediction: bool,
    probabilities: bool,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> int:
    """Predict one fragment batch by batch into ``{output_dir}/part-{tag}.parquet``; return its row count.

    A fragment without rows writes no part. The part is written under a temporary name and renamed when
    complete, so a failed map call leaves no part that looks whole.
    """
    import os

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    model = _model(model_uri)
    final = Path(output_dir) / f"part-{int(fragment.tag):05d}.parquet"
    partial = final.with_name(final.name + ".partial")
    writer: pq.ParquetWriter | None = None
    rows = 0
    try:
        for piece in batches:
            for start in range(0, piece.num_rows, batch_rows):  # the engine's batches, cut to batch_rows
                table = pa.Table.from_batches([piece.slice(start, batch_rows)])
                arrays: dict[str, Any] = {key: table.column(key) for key in keys}
                if prediction:
                    arrays[PREDICTION] = pa.array(np.asarray(model.predict(table)).tolist())
                if probabilities:
                    proba = np.asarray(model.predict_proba(table), dtype=np.float64)
                    for index, label in enumerate(model.classes):
                        arrays[f"{PROBABILITY_PREFIX}{label}"] = pa.array(proba[:, index], type=pa.float64())
                out = pa.table(arrays)
                if writer is None:
                    writer = pq.ParquetWriter(partial, out.schema, compression="zstd")
                writer.write_table(out)
                rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    if writer is not None:
        os.replace(partial, final)
    return rows


__all__ = ["BulkInferrer", "infer_examples", "infer_fragment"]

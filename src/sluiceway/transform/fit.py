"""Fitting a ``preprocessing_fn``: trace it, compute its analyzers in one pass, apply it split by split.

1. **Trace** (``tracing.py``): ``preprocessing_fn`` runs once on column placeholders (typed from the Parquet
   schema) and returns expression trees; unknown columns, type mistakes and unrecordable Python fail here,
   as a ``DefinitionError`` that names the function, the output and the column it was reading.
2. **Analyze**: every analyzer is computed by one ``Engine.map_reduce`` pass over the analyze splits
   (analyzers over the same input share one accumulator; fragments are planned per set of input columns
   so one worker sees every column an analyzer's input needs; with an ``AnalyzerCache`` only the
   (file, input) pairs not seen before are read). Analyzers whose input uses another analyzer
   (``T.mean(T.scale_to_z_score(x))``) need one more pass per level of nesting.
3. **Apply**: ``FittedTransform.transform_frame`` (the serving code path) on every row group of every
   split, in parallel on the engine, each written as its own Parquet part, in input order.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

from sluiceway.data.engine import Engine, Fragment, default_engine, plan_fragments
from sluiceway.errors import DataError, DefinitionError
from sluiceway.transform.analyzers import ACCUMULATOR_OF, new_accumulator
from sluiceway.transform.cache import AnalyzerCache
from sluiceway.transform.expressions import Expr
from sluiceway.transform.graph import KIND_DTYPES, FittedTransform, evaluate
from sluiceway.transform.tracing import column_kinds, trace

logger = logging.getLogger(__name__)


def _unfitted_analyzers(node: Expr, fitted: Mapping[str, str]) -> Iterator[Expr]:
    for child in node.walk():
        if child.op == "analyzer" and child.key() not in fitted:
            yield child


def _substitute(node: Expr, fitted: Mapping[str, str]) -> Expr:
    """``node`` with every fitted analyzer replaced by its constant."""
    if node.op == "analyzer" and node.key() in fitted:
        return Expr("constant", (), {"id": fitted[node.key()]}, node.kind)
    if not node.args:
        return node
    return Expr(node.op, tuple(_substitute(a, fitted) for a in node.args), node.params, node.kind)


def fit(
    outputs: Mapping[str, Expr],
    files: Sequence[str],
    *,
    engine: Engine | str | None = None,
    serving: Mapping[str, bool] | None = None,
    metadata: Mapping[str, Any] | None = None,
    cache: AnalyzerCache | None = None,
) -> FittedTransform:
    """Compute every analyzer over ``files`` (the analyze splits) and return the fitted transform.

    ``serving``: column -> whether it is expected at serving time (default: yes). ``cache``: reuse and
    store per-file accumulators (see ``cache.py``); the result is the same with or without it."""
    runner = default_engine(engine)
    kinds = column_kinds(files)
    fitted: dict[str, str] = {}  # analyzer key -> constant id
    users: dict[str, list[str]] = {}  # analyzer key -> the outputs using it (named by fit errors)
    for name, expr in outputs.items():
        for node in expr.walk():
            if node.op == "analyzer" and name not in users.setdefault(node.key(), []):
                users[node.key()].append(name)
    constants: dict[str, dict[str, Any]] = {}
    while True:
        ready: dict[str, Expr] = {}
        for expr in outputs.values():
            for node in _unfitted_analyzers(expr, fitted):
                if node.key() not in ready and not any(True for _ in _unfitted_analyzers(node.args[0], fitted)):
                    ready[node.key()] = node
        if not ready:
            break
        _analyze(ready, files, runner, fitted, constants, cache, users)
    final = {name: _substitute(expr, fitted) for name, expr in outputs.items()}
    used = {c for expr in final.values() for c in expr.columns()}
    inputs = {c: {"type": kinds[c], "serving": bool((serving or {}).get(c, True))} for c in sorted(used)}
    return FittedTransform(inputs=inputs, outputs=final, constants=constants, metadata=metadata)


@dataclass(frozen=True)
class _AnalyzePlan:
    """What a worker needs to fold one fragment into accumulators (picklable, for a Ray engine)."""

    groups: tuple[tuple[str, ...], ...]  # the accumulator ids of each fragment tag (its column group)
    inputs: Mapping[str, tuple[str, Expr]]  # accumulator id -> (accumulator kind, input expression)
    constants: Mapping[str, Any]  # the analyzers fitted by earlier passes (nested analyzers)
    outputs: Mapping[str, tuple[str, ...]]  # accumulator id -> the outputs using it (named by errors)


def _analyze_fragment(plan: _AnalyzePlan, fragment: Fragment, batches: Iterator[pl.DataFrame]) -> dict[Any, Any]:
    """map: one fragment -> {(accumulator id, file): accumulator}."""
    ids = plan.groups[int(fragment.tag)]
    accumulators = {i: new_accumulator(plan.inputs[i][0]) for i in ids}
    try:
        for batch in batches:
            for i, accumulator in accumulators.items():
                value = evaluate(plan.inputs[i][1], batch, plan.constants)
                accumulator.update(value if isinstance(value, pl.Series) else pl.Series([value] * batch.height))
    except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:  # a file unlike the first one, mostly
        names = sorted({name for i in ids for name in plan.outputs.get(i, ())})
        inputs = ", ".join(sorted({plan.inputs[i][1].describe() for i in ids}))
        raise DataError(
            f"Output(s) {names}: the analyzers of {inputs} failed on {fragment.path}: {exc}. Every file of the "
            "analyze splits must have the columns and types of the first one."
        ) from exc
    return {(i, fragment.path): accumulator for i, accumulator in accumulators.items()}


def _merge_accumulators(left: dict[Any, Any], right: dict[Any, Any]) -> dict[Any, Any]:
    """merge: per (accumulator id, file), in the engine's fragment order."""
    for key, accumulator in right.items():
        left[key] = left[key].merge(accumulator) if key in left else accumulator
    return left


def _analyze(
    ready: Mapping[str, Expr],
    files: Sequence[str],
    runner: Engine,
    fitted: dict[str, str],
    constants: dict[str, dict[str, Any]],
    cache: AnalyzerCache | None,
    users: Mapping[str, list[str]],
) -> None:
    """One pass over ``files`` computing the analyzers in ``ready`` (their inputs are fully fitted).

    Accumulators are kept per (accumulator, file) and merged file by file in the order of ``files``, with or
    without a cache: the quantile sketch depends on merge order, so one order for both keeps the graph's bytes.
    """
    accumulator_inputs: dict[str, tuple[str, Expr]] = {}  # accumulator id -> (kind, input expression)
    for node in ready.values():
        source = _substitute(node.args[0], fitted)
        if not source.columns():
            raise DefinitionError(f"The analyzer {node.describe()} reads no input column; give it a column of inputs.")
        kind = ACCUMULATOR_OF[node.params["analyzer"]]
        accumulator_inputs.setdefault(f"{kind}:{source.key()}", (kind, source))
    groups: dict[tuple[str, ...], list[str]] = {}
    for accumulator_id, (_, source) in accumulator_inputs.items():
        groups.setdefault(tuple(sorted(source.columns())), []).append(accumulator_id)
    group_list = list(groups.items())
    per_file: dict[tuple[str, str], Any] = {}  # (accumulator id, file) -> accumulator
    fragments: list[Fragment] = []
    for index, (columns, ids) in enumerate(group_list):
        for path in files:
            if cache is not None:
                loaded = {i: cache.load(cache.key(i, path)) for i in ids}
                if all(a is not None for a in loaded.values()):
                    per_file.update({(i, path): a for i, a in loaded.items()})
                    continue
            fragments.extend(plan_fragments([path], columns=list(columns), parallelism=1, tag=str(index)))
    outputs_of: dict[str, tuple[str, ...]] = {}
    for key, node in ready.items():
        accumulator_id = f"{ACCUMULATOR_OF[node.params['analyzer']]}:{_substitute(node.args[0], fitted).key()}"
        outputs_of[accumulator_id] = tuple(dict.fromkeys([*outputs_of.get(accumulator_id, ()), *users.get(key, [])]))
    plan = _AnalyzePlan(tuple(tuple(ids) for _, ids in group_list), accumulator_inputs, dict(constants), outputs_of)
    computed = runner.map_reduce(
        fragments, partial(_analyze_fragment, plan), _merge_accumulators, initial=None, batch_format="polars"
    )
    if cache is not None:
        for (i, path), accumulator in (computed or {}).items():
            cache.save(cache.key(i, path), accumulator)
    per_file.update(computed or {})
    merged: dict[str, Any] = {}
    for path in files:
        for i in accumulator_inputs:
            accumulator = per_file.get((i, path))
            if accumulator is not None:
                merged[i] = merged[i].merge(accumulator) if i in merged else accumulator
    for key, node in ready.items():
        source = _substitute(node.args[0], fitted)
        analyzer = node.params["analyzer"]
        accumulator = merged.get(f"{ACCUMULATOR_OF[analyzer]}:{source.key()}") or new_accumulator(
            ACCUMULATOR_OF[analyzer]
        )
        params = {k: v for k, v in node.params.items() if k != "analyzer"}
        value = accumulator.result(analyzer, params)
        if value is None:
            named = " and ".join(repr(n) for n in users.get(key, []))
            raise DataError(
                f"Output {named}: the analyzer {analyzer}({source.describe()}) saw no values in the analyze split(s): "
                "every value is null or NaN, or there are no rows. Analyze splits with data, or fill_missing the "
                "column first."
            )
        constant_id = f"c{len(constants)}"
        constants[constant_id] = {"analyzer": analyzer, "input": source.to_json(), "params": params, "value": value}
        if hasattr(accumulator, "accuracy"):
            constants[constant_id]["accuracy"] = accumulator.accuracy()
        fitted[key] = constant_id


@dataclass(frozen=True)
class _ApplyJob:
    """What a worker needs to transform and write one fragment (picklable, for a Ray engine)."""

    transform: FittedTransform
    out_folder: str
    file_index: Mapping[str, int]


def _apply_fragment(job: _ApplyJob, fragment: Fragment, batches: Iterator[pl.DataFrame]) -> int:
    """map: transform one fragment's batches and write them as one Parquet part; returns its rows."""
    parts = [job.transform.transform_frame(batch) for batch in batches]
    frame = pl.concat(parts) if parts else _empty_output(job.transform)
    row_group = fragment.row_groups[0] if fragment.row_groups else 0
    _write(frame, Path(job.out_folder) / f"part-{job.file_index[fragment.path]:05d}-{row_group:05d}.parquet")
    return frame.height


def apply_to_files(
    transform: FittedTransform, files: Sequence[str], out_folder: str | Path, *, engine: Engine | str | None = None
) -> int:
    """Apply the transform to every row group of ``files``, writing ``part-{file}-{row group}.parquet``
    into ``out_folder``, in input order. Returns the number of rows written."""
    runner = default_engine(engine)
    out = Path(out_folder)
    out.mkdir(parents=True, exist_ok=True)
    needed = sorted({c for expr in transform.outputs.values() for c in expr.columns()})
    fragments = plan_fragments(files, columns=needed or None, parallelism=1) if files else []
    job = _ApplyJob(transform, str(out), {str(f): i for i, f in enumerate(files)})
    apply = partial(_apply_fragment, job)
    rows = runner.map_reduce(fragments, apply, operator.add, initial=None, batch_format="polars")
    if not fragments:
        _write(_empty_output(transform), out / "part-00000-00000.parquet")
    return int(rows or 0)


def _write(frame: pl.DataFrame, path: Path) -> None:
    # zstd level 1, as ExampleGen writes Examples: at higher levels compression dominates the apply pass
    frame.write_parquet(path, compression="zstd", compression_level=1)


def _empty_output(transform: FittedTransform) -> pl.DataFrame:
    return pl.DataFrame(schema={name: KIND_DTYPES[expr.kind] for name, expr in transform.outputs.items()})


__all__ = ["apply_to_files", "column_kinds", "fit", "trace"]  # column_kinds and trace: from tracing.py

"""The fitted transform: a versioned JSON document, and the one code path that applies it.

``FittedTransform.transform(rows)`` is what the Transform component runs on every batch of every split
and what serving runs on requests (dicts, pandas, Polars, Arrow), so training and serving cannot drift
apart. The document holds everything needed to re-create the transform without the user's code: the
input columns and their types, each output's expression tree (column refs, arithmetic, analyzer-backed
ops) and the fitted constants (with the analyzer and input that produced each, for people reading it).

At serving time (see ``transform``): a column the schema marks as absent in SERVING (a label) may be
missing, and the outputs that need it are left out; any other missing column, or a value of the wrong
type, raises ``DataError``; an unknown category goes to the OOV buckets or ``default_value`` as the
vocabulary op says; a null stays null. Small inputs (a dict, a few dicts, a small Polars frame) take the
row path of ``rows.py``, which gives the same values and falls back here for anything else.

(Slightly over 500 lines: the format, the frame evaluators and the input checks are one contract with
serving, read together.)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sluiceway.artifacts.standard import TransformGraph
from sluiceway.errors import DataError
from sluiceway.transform.analyzers import tokens
from sluiceway.transform.expressions import Expr
from sluiceway.transform.rows import SMALL_ROWS, Fallback, RowProgram, compile_rows

FORMAT = "sluiceway-transform-graph"
# Format versions this Sluiceway reads (a graph records the one it was written with):
#   1  the first version: quantile boundaries from a bottom-k sample of distinct values
#   2  quantile boundaries from the statistics' exact-then-KLL sketch; each quantiles constant records its
#      ``accuracy`` ({"exact": bool, "rank_error": float}). Applying a graph is the same in both.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
GRAPH_FILENAME = TransformGraph.FILENAME  # the artifact type owns its file names

KIND_DTYPES: dict[str, pl.DataType] = {
    "int": pl.Int64(),
    "float": pl.Float64(),
    "string": pl.String(),
    "bool": pl.Boolean(),
    "list<float>": pl.List(pl.Float64()),
}


def kind_of_dtype(dtype: pl.DataType) -> str | None:
    """The value kind of a Polars type (None: a type Transform does not take as input)."""
    if dtype.is_integer():
        return "int"
    if dtype.is_float() or dtype.is_decimal():
        return "float"
    if dtype in (pl.String, pl.Categorical, pl.Enum) or isinstance(dtype, (pl.Categorical, pl.Enum)):
        return "string"
    if dtype == pl.Boolean:
        return "bool"
    return None


def stable_hash_buckets(series: pl.Series, buckets: int) -> pl.Series:
    """``blake2b(str(value)) mod buckets`` per value: the same in every process, platform and version.
    Hashed once per distinct value, then mapped."""
    unique = series.drop_nulls().unique().to_list()
    codes = [stable_hash_code(v, buckets) for v in unique]
    return series.replace_strict(unique, codes, default=None, return_dtype=pl.Int64)


def stable_hash_code(value: Any, buckets: int) -> int:
    """The bucket of one value (see ``stable_hash_buckets``)."""
    return int.from_bytes(hashlib.blake2b(str(value).encode(), digest_size=8).digest(), "little") % buckets


# ---- evaluation: one function per op ----------------------------------------------------------------

Value = Any  # a pl.Series, or a Python scalar/list for literals and constants


def _numeric(value: Value) -> Value:
    return value if isinstance(value, pl.Series) else np.float64(value)


def _binary(op: str) -> Callable[[list[Value], Mapping[str, Any]], Value]:
    def run(args: list[Value], params: Mapping[str, Any]) -> Value:
        left, right = args
        if not isinstance(left, pl.Series) and not isinstance(right, pl.Series):
            left = np.float64(left)  # numpy semantics for constants too: 1/0 is inf, not ZeroDivisionError
        if op == "add":
            return left + right
        if op == "sub":
            return left - right
        if op == "mul":
            return left * right
        if op == "div":
            if isinstance(left, pl.Series) and isinstance(right, pl.Series):
                return left.cast(pl.Float64) / right.cast(pl.Float64)
            return left / right
        if isinstance(left, pl.Series):
            left = left.cast(pl.Float64)  # int ** negative int has no int result
        return left**right

    return run


def _unary(op: str) -> Callable[[list[Value], Mapping[str, Any]], Value]:
    numpy_fn = {"neg": np.negative, "abs": np.abs, "sqrt": np.sqrt, "log1p": np.log1p, "exp": np.exp}[op]

    def run(args: list[Value], params: Mapping[str, Any]) -> Value:
        (value,) = args
        if not isinstance(value, pl.Series):
            return numpy_fn(np.float64(value))
        if op == "neg":
            return -value
        if op == "abs":
            return value.abs()
        return getattr(value.cast(pl.Float64), op)()

    return run


def _fill_missing(args: list[Value], params: Mapping[str, Any]) -> Value:
    value, filler = args
    if not isinstance(value, pl.Series):
        return filler if value is None else value
    if value.dtype.is_float():
        value = value.fill_nan(None)
    return value.fill_null(filler)


def _z_score(args: list[Value], params: Mapping[str, Any]) -> Value:
    value, mean, variance = args
    centered = _numeric(value) - mean
    std = math.sqrt(variance)
    return centered / std if std > 0 else centered


def _min_max(args: list[Value], params: Mapping[str, Any]) -> Value:
    value, low, high = args
    out_min, out_max = params["output_min"], params["output_max"]
    if high > low:
        return (_numeric(value) - low) / (high - low) * (out_max - out_min) + out_min
    middle = (out_min + out_max) / 2  # a constant column: the middle of the output range
    return _numeric(value) * 0.0 + middle  # keeps nulls null


def _apply_vocabulary(args: list[Value], params: Mapping[str, Any]) -> Value:
    value, vocab = args
    if vocab:
        ids = value.replace_strict(vocab, list(range(len(vocab))), default=None, return_dtype=pl.Int64)
    else:  # every value was below frequency_threshold when fitting: all of them are out of vocabulary
        ids = pl.Series([None] * value.len(), dtype=pl.Int64)
    unknown = ids.is_null() & value.is_not_null()
    if not unknown.any():
        return ids
    oov = params["num_oov_buckets"]
    if oov:
        fallback = stable_hash_buckets(value, oov) + len(vocab)
    else:
        fallback = pl.Series([params["default_value"]] * value.len(), dtype=pl.Int64)
    return pl.select(pl.when(pl.lit(unknown)).then(pl.lit(fallback)).otherwise(pl.lit(ids))).to_series()


def _apply_buckets(args: list[Value], params: Mapping[str, Any]) -> Value:
    value, boundaries = args
    if value.dtype.is_float():
        value = value.fill_nan(None)  # NaN has no bucket: null, like a missing value
    if not boundaries:  # one bucket (no values were seen when fitting): 0 for every present value
        return pl.select(pl.when(pl.lit(value.is_null())).then(None).otherwise(pl.lit(0, dtype=pl.Int64))).to_series()
    missing = value.is_null()
    numbers = value.cast(pl.Float64).fill_null(0.0).to_numpy()
    buckets = pl.Series(
        np.searchsorted(np.asarray(boundaries, dtype=np.float64), numbers, side="right"), dtype=pl.Int64
    )
    return buckets.scatter(missing.arg_true(), None) if missing.any() else buckets


def _hash_strings(args: list[Value], params: Mapping[str, Any]) -> Value:
    return stable_hash_buckets(args[0], int(params["hash_buckets"]))


_TFIDF_CHUNK_ROWS = 16_384  # the dense rows x terms weights of one chunk: 16k x 100 terms = 13 MB


def _tfidf(args: list[Value], params: Mapping[str, Any]) -> Value:
    text, stats = args
    if text.len() > _TFIDF_CHUNK_ROWS:
        chunks = [
            _tfidf([text.slice(start, _TFIDF_CHUNK_ROWS), stats], params)
            for start in range(0, text.len(), _TFIDF_CHUNK_ROWS)
        ]
        return pl.concat(chunks)
    terms, idf = stats["terms"], np.asarray(stats["idf"], dtype=np.float64)
    rows = text.len()
    weights = np.zeros((rows, len(terms)), dtype=np.float64)
    split = tokens(text)
    lengths = split.list.len().fill_null(0).to_numpy()
    frame = pl.DataFrame({"row": np.arange(rows), "token": split}).explode("token").drop_nulls("token")
    term_ids = frame["token"].replace_strict(terms, list(range(len(terms))), default=None, return_dtype=pl.Int64)
    hits = frame.with_columns(term=term_ids).drop_nulls("term").group_by(["row", "term"]).len()
    if hits.height:
        row_ids, term_index = hits["row"].to_numpy(), hits["term"].to_numpy()
        weights[row_ids, term_index] = hits["len"].to_numpy() / lengths[row_ids]
    weights *= idf
    result = pl.Series(weights, dtype=pl.Array(pl.Float64, len(terms))).cast(pl.List(pl.Float64))
    if not text.null_count():
        return result
    # a null row gives null (Series.scatter does not take list columns)
    return pl.select(pl.when(pl.lit(text.is_null())).then(None).otherwise(pl.lit(result))).to_series()


EVALUATORS: dict[str, Callable[[list[Value], Mapping[str, Any]], Value]] = {
    **{op: _binary(op) for op in ("add", "sub", "mul", "div", "pow")},
    **{op: _unary(op) for op in ("neg", "abs", "sqrt", "log1p", "exp")},
    "fill_missing": _fill_missing,
    "z_score": _z_score,
    "min_max": _min_max,
    "apply_vocabulary": _apply_vocabulary,
    "apply_buckets": _apply_buckets,
    "hash_strings": _hash_strings,
    "tfidf": _tfidf,
}
KNOWN_OPS = frozenset({"column", "literal", "constant", *EVALUATORS})


def evaluate(node: Expr, frame: pl.DataFrame | None, constants: Mapping[str, Any]) -> Value:
    """The value of ``node`` on ``frame``: a Series, or a scalar for a constant sub-expression (``frame`` may
    be None for those)."""
    if node.op == "column":
        if frame is None:
            raise DataError(f"{node.describe()} needs rows to be evaluated.")
        return frame.get_column(node.params["name"])
    if node.op == "literal":
        return node.params["value"]
    if node.op == "constant":
        return constants[node.params["id"]]["value"]
    if node.op == "analyzer":
        raise DataError(f"{node.describe()} has not been fitted; fit the transform before applying it.")
    return EVALUATORS[node.op]([evaluate(arg, frame, constants) for arg in node.args], node.params)


def as_column(value: Value, kind: str, rows: int, name: str) -> pl.Series:
    """An output as a Series of its declared type (a constant output is repeated on every row)."""
    dtype = KIND_DTYPES[kind]
    if not isinstance(value, pl.Series):
        scalar = None if value is None else (value.item() if isinstance(value, np.generic) else value)
        return pl.Series(name, [scalar] * rows).cast(dtype)  # cast: 5.0 from constant arithmetic for an int
    if value.dtype != dtype:
        value = value.cast(dtype)
    return value.alias(name)


class FittedTransform:
    """A fitted, self-contained transform (what ``sw.load_transform`` returns).

    ``transform(rows)`` applies it; ``outputs`` maps output names to their fitted expressions;
    ``constants`` holds the fitted analyzer values; ``inputs`` the input columns with their type and whether
    they are expected at serving time.
    """

    def __init__(
        self,
        *,
        inputs: Mapping[str, Mapping[str, Any]],
        outputs: Mapping[str, Expr],
        constants: Mapping[str, Mapping[str, Any]],
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.inputs = dict(inputs)
        self.outputs = dict(outputs)
        self.constants = dict(constants)
        self.metadata = dict(metadata or {})
        self._compiled_rows: tuple[RowProgram | None] | None = None

    def __repr__(self) -> str:
        outputs = ", ".join(f"{name}: {kind}" for name, kind in self.output_schema.items())
        return f"<FittedTransform {len(self.inputs)} input column(s) -> {{{outputs}}}>"

    # ---- what it is -----------------------------------------------------------------------------------
    @property
    def output_schema(self) -> dict[str, str]:
        """Output name -> value kind (int, float, string, bool, list<float>)."""
        return {name: expr.kind for name, expr in self.outputs.items()}

    def to_json(self) -> dict[str, Any]:
        from sluiceway import __version__

        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "sluiceway_version": __version__,
            "inputs": self.inputs,
            # a list: the order of preprocessing_fn's outputs is the column order, and keys get sorted
            "outputs": [
                {"name": name, "kind": expr.kind, "columns": expr.columns(), "expression": expr.to_json()}
                for name, expr in self.outputs.items()
            ],
            "constants": self.constants,
            **self.metadata,
        }

    def save(self, folder: str | Path) -> Path:
        """Write ``{folder}/transform_graph.json`` (sorted keys: the same fit gives the same bytes)."""
        path = Path(folder) / GRAPH_FILENAME
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), sort_keys=True, indent=1, allow_nan=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> FittedTransform:
        from sluiceway import __version__

        if data.get("format") != FORMAT:
            raise DataError(f"{source} is not a Sluiceway transform graph (its 'format' is {data.get('format')!r}).")
        version = data.get("format_version")
        if version not in READABLE_VERSIONS or isinstance(version, bool):
            writer = data.get("sluiceway_version", "a newer version")
            newer = isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION
            raise DataError(
                f"The transform graph {source} has format version {version!r} (written by Sluiceway {writer}); this "
                f"Sluiceway ({__version__}) reads format versions {', '.join(map(str, READABLE_VERSIONS))}. "
                + (f"Install sluiceway>={writer} to load it, or refit" if newer else "Refit")
                + " the transform with this version."
            )
        try:
            outputs = {str(spec["name"]): Expr.from_json(spec["expression"]) for spec in data["outputs"]}
            inputs, constants = data["inputs"], data["constants"]
        except (KeyError, TypeError, AttributeError) as exc:
            raise DataError(
                f"The transform graph {source} is incomplete or malformed ({exc!r}); refit the transform."
            ) from exc
        for name, expr in outputs.items():
            for node in expr.walk():
                if node.op not in KNOWN_OPS:
                    raise DataError(
                        f"The transform graph {source} uses the op {node.op!r} (output {name!r}), which this Sluiceway "
                        f"({__version__}) does not know. Install sluiceway>={data.get('sluiceway_version')} to load it."
                    )
                if node.op == "constant" and node.params.get("id") not in constants:
                    raise DataError(
                        f"The transform graph {source} refers to a missing constant {node.params.get('id')!r}."
                    )
        metadata = {
            k: v
            for k, v in data.items()
            if k not in ("inputs", "outputs", "constants", "format", "format_version", "sluiceway_version")
        }
        return cls(inputs=inputs, outputs=outputs, constants=constants, metadata=metadata)

    # ---- applying it ----------------------------------------------------------------------------------
    def transform(self, rows: Any) -> Any:
        """Apply the transform to raw rows and return the outputs in the same form.

        ``rows``: one row as a dict (→ a dict), a list of dicts (→ a list of dicts), a Polars or pandas
        DataFrame, or a pyarrow Table/RecordBatch (→ the same type). Outputs that need only columns the
        schema marks as absent at serving time (a label) are left out when those columns are missing."""
        if isinstance(rows, (list, tuple)) and not rows:
            return []  # no rows, no columns to check
        if isinstance(rows, Mapping) or (isinstance(rows, (list, tuple)) and len(rows) <= SMALL_ROWS):
            program = self._row_program()
            if program is not None:
                try:
                    out = program.run([rows] if isinstance(rows, Mapping) else rows)
                except (Fallback, ArithmeticError, TypeError, ValueError):
                    pass  # the frame path computes these rows, or raises its own typed error
                else:
                    return out[0] if isinstance(rows, Mapping) else out
        if isinstance(rows, pl.DataFrame) and 0 < rows.height <= SMALL_ROWS:
            program = self._row_program()
            if program is not None:
                try:
                    return program.run_frame(rows)
                except (Fallback, ArithmeticError, TypeError, ValueError):
                    pass  # as above
        return self._transform_as_frame(rows)

    def _transform_as_frame(self, rows: Any) -> Any:
        """``transform`` through a Polars DataFrame, whatever the number of rows (the reference path)."""
        frame, convert_back = _to_polars(rows)
        return convert_back(self.transform_frame(frame, serving=True))

    def transform_frame(self, frame: pl.DataFrame, *, serving: bool = False) -> pl.DataFrame:
        """Apply to a Polars DataFrame. ``serving=False`` (training data) requires every input column."""
        selected = self.select_outputs(set(frame.columns), serving)
        frame = self._checked_inputs(frame, {c for name in selected for c in self.outputs[name].columns()})
        columns = []
        for name in selected:
            expr = self.outputs[name]
            try:
                value = evaluate(expr, frame, self.constants)
                columns.append(as_column(value, expr.kind, frame.height, name))
            except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
                raise DataError(
                    f"Transform output {name!r} (from column(s) {expr.columns()}) could not be computed: {exc}"
                ) from exc
        return pl.DataFrame(columns, height=frame.height) if columns else pl.DataFrame(height=frame.height)

    def _row_program(self) -> RowProgram | None:
        """The small-input path (``rows.py``), compiled on first use; None when an output needs the frame path."""
        compiled = getattr(self, "_compiled_rows", None)  # absent on an object unpickled from an older version
        if compiled is None:
            compiled = self._compiled_rows = (compile_rows(self),)
        return compiled[0]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_compiled_rows"] = None  # closures do not pickle; recompiled on first use
        return state

    def select_outputs(self, present: set[str], serving: bool) -> list[str]:
        """The outputs computable from the columns ``present`` (all of them, but at serving time the ones that
        need only a column absent in SERVING); ``DataError`` naming any other missing column."""
        selected: list[str] = []
        missing_needed: dict[str, list[str]] = {}
        for name, expr in self.outputs.items():
            missing = [c for c in expr.columns() if c not in present]
            if not missing:
                selected.append(name)
            elif serving and all(not self.inputs.get(c, {}).get("serving", True) for c in missing):
                continue  # e.g. the label: absent in the SERVING environment, its outputs are left out
            else:
                for column_name in missing:
                    missing_needed.setdefault(column_name, []).append(name)
        if missing_needed:
            details = "; ".join(f"{c!r} (needed by {outs})" for c, outs in sorted(missing_needed.items()))
            raise DataError(
                f"The rows lack column(s) the transform needs: {details}. They have {sorted(present)}. "
                "Send every feature the model was trained with (a missing value may be null)."
            )
        return selected

    def _checked_inputs(self, frame: pl.DataFrame, needed: set[str]) -> pl.DataFrame:
        fixes = []
        for name in sorted(needed):
            expected = self.inputs[name]["type"]
            series = frame.get_column(name)
            actual = kind_of_dtype(series.dtype)
            if actual == expected:
                continue
            if series.dtype == pl.Null or (expected == "float" and actual == "int"):
                fixes.append(pl.col(name).cast(KIND_DTYPES[expected]))
                continue
            if expected == "int" and actual == "float":
                exact = series.drop_nulls()
                # whole numbers an Int64 holds (NaN and inf compare equal to their rounding in Polars)
                whole = exact.is_finite() & (exact == exact.round(0)) & (exact >= -(2.0**63)) & (exact < 2.0**63)
                if exact.len() == 0 or bool(whole.all()):
                    fixes.append(pl.col(name).cast(pl.Int64))
                    continue
            example = series.drop_nulls().head(1).to_list()
            raise DataError(
                f"Column {name!r} must hold {expected} values (its type when the transform was fitted); got "
                f"{series.dtype}{f' such as {example[0]!r}' if example else ''}. Send {expected} values, or null for a "
                "missing value."
            )
        return frame.with_columns(fixes) if fixes else frame


def _to_polars(rows: Any) -> tuple[pl.DataFrame, Callable[[pl.DataFrame], Any]]:
    if isinstance(rows, pl.DataFrame):
        return rows, lambda out: out
    module = type(rows).__module__.split(".")[0]
    try:
        if module == "pyarrow":
            import pyarrow as pa

            if isinstance(rows, pa.RecordBatch):
                rows = pa.Table.from_batches([rows])
            return pl.from_arrow(rows), lambda out: out.to_arrow()  # type: ignore[return-value]
        if module == "pandas":
            return pl.from_pandas(rows), lambda out: out.to_pandas()
        if isinstance(rows, Mapping):
            return _rows_to_frame([rows]), lambda out: out.to_dicts()[0]
        if isinstance(rows, (list, tuple)) and all(isinstance(r, Mapping) for r in rows):
            return _rows_to_frame(rows), lambda out: out.to_dicts()
    except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
        raise DataError(f"Cannot read the rows as a table ({exc}); each column must hold values of one type.") from exc
    raise DataError(
        f"transform() takes a dict (one row), a list of dicts, a Polars or pandas DataFrame or a pyarrow Table. "
        f"Got {type(rows).__name__} instead."
    )


def _rows_to_frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """Dict rows as a frame, column by column, refusing mixed types (Polars' own inference would quietly
    turn ``1`` and ``"x"`` into strings, or ``True`` into ``1.0``). A key missing from a row is a null."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns = []
    for name in names:
        values = [row.get(name) for row in rows]
        types = {type(v) for v in values if v is not None}
        if types == {int, float}:
            values = [None if v is None else float(v) for v in values]
        elif len(types) > 1:
            found = sorted(t.__name__ for t in types)
            raise DataError(f"Column {name!r} mixes values of types {found} across rows; send one type per column.")
        columns.append(pl.Series(str(name), values, strict=True))
    return pl.DataFrame(columns, height=len(rows))


def load_transform(uri: Any) -> FittedTransform:
    """Load a fitted transform: a ``TransformGraph`` artifact, its folder, or the ``transform_graph.json`` file."""
    path = Path(getattr(uri, "uri", uri))
    candidates = (
        [path] if path.suffix == ".json" else [path / TransformGraph.FOLDER / GRAPH_FILENAME, path / GRAPH_FILENAME]
    )
    for candidate in candidates:
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise DataError(f"Cannot read the transform graph {candidate}: {exc}") from exc
            if not isinstance(data, dict):
                raise DataError(f"{candidate} is not a Sluiceway transform graph (a JSON object was expected).")
            return FittedTransform.from_json(data, source=str(candidate))
    raise DataError(
        f"No transform graph at {path} (looked for {', '.join(str(c) for c in candidates)}). Give the URI of a "
        "TransformGraph artifact (e.g. run.output('Transform', 'transform_graph').uri) or its transform_graph.json."
    )


__all__ = ["FORMAT_VERSION", "GRAPH_FILENAME", "FittedTransform", "evaluate", "kind_of_dtype", "load_transform"]

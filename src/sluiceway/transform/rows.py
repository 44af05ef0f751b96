"""The small-input path of ``FittedTransform.transform``: the graph evaluated on Python scalars, row by row.

A model server transforms one request at a time. Building a Polars DataFrame for one dict and reading it
back costs about a millisecond, a hundred times the arithmetic itself, so dicts and short lists of dicts
(``SMALL_ROWS`` or fewer) take this path instead: each output's expression is compiled once into nested
Python closures over one row's values, constant sub-expressions are computed once by the frame path's
own evaluators, and each op reproduces what Polars computes for it, value for value:

- ``+ - *`` follow Polars' types (Int64 stays Int64, anything with a float is Float64); ``/`` divides as
  float64 (``x / 0`` is ``±inf`` or NaN, as in Polars); ``**`` casts its base to float;
- ``sqrt``/``log1p``/``exp`` use ``math``: the same libm calls as Polars (numpy's SIMD versions differ
  in the last bit), with Polars' NaN/inf where ``math`` would raise;
- buckets use ``bisect_right`` (``np.searchsorted(side="right")``), vocabularies a dict, hashes the same
  ``blake2b(str(value))``, TF-IDF ``str.split`` (the same whitespace as Polars' ``\\S+`` except the four
  ASCII separators U+001C..U+001F, which are sent to the frame path).

The row path never decides an error and never guesses: whenever an input or an intermediate value is
outside what it reproduces exactly (a value type other than None/bool/int/float/str, mixed types, a type
that needs a check, an int beyond Int64, an arithmetic exception, an op it does not compile), it raises
``Fallback`` and ``transform`` hands the same rows to the frame path, which computes them or raises its
usual error. Missing columns go through the frame path's own selection function, so they raise the same
``DataError``. ``tests/transform/test_transform_rows.py`` checks both paths for equality on every op.

(Over 500 lines on purpose: one scalar compiler per op of ``graph.EVALUATORS`` plus the input checks they
rely on; split apart, the reason for each bit-level choice would sit away from the check that needs it.)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from sluiceway.transform.expressions import Expr

SMALL_ROWS = 64  # above this the frame path is as fast per row (measured: ~10 µs per row here)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_VALUE_KINDS: dict[type, str] = {int: "int", float: "float", str: "string", bool: "bool"}
_NAN, _INF = math.nan, math.inf
# characters Python's str.split() treats as whitespace but Polars' regex \S does not (see the docstring)
_SPLIT_DIFFERS = frozenset("\x1c\x1d\x1e\x1f")

RowFn = Callable[[Mapping[str, Any]], Any]


class Fallback(Exception):  # noqa: N818 - a signal, not an error a user sees
    """The row path cannot vouch for this input: the frame path computes it (or raises its own error)."""


class Unsupported(Exception):  # noqa: N818
    """An expression the row path does not compile: this transform always uses the frame path."""


class Const:
    """A constant sub-expression, computed once (by the frame path's evaluators)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


Compiled = Callable[[Mapping[str, Any]], Any] | Const


def _python(value: Any) -> Any:
    """numpy scalars as the Python values Polars would see."""
    return value.item() if isinstance(value, np.generic) else value


def _int64(value: Any) -> Any:
    if type(value) is int and not _INT64_MIN <= value <= _INT64_MAX:
        raise Fallback  # Polars would wrap or fail: let it decide
    return value


# ---- scalar versions of the ops (None is null; a float-typed value is always a Python float) ---------


def _div(a: Any, b: Any) -> float:
    a, b = float(a), float(b)
    if b == 0.0:
        if a != a or a == 0.0:
            return _NAN
        return math.copysign(_INF, a) * math.copysign(1.0, b)
    return a / b


def _sqrt(a: Any) -> float:
    a = float(a)
    return _NAN if a < 0 else math.sqrt(a)


def _log1p(a: Any) -> float:
    a = float(a)
    if a <= -1.0:
        return -_INF if a == -1.0 else _NAN
    return math.log1p(a)


def _exp(a: Any) -> float:
    a = float(a)
    try:
        return math.exp(a)
    except OverflowError:  # Polars (libm) saturates to inf
        return _INF


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: _int64(a + b),
    "sub": lambda a, b: _int64(a - b),
    "mul": lambda a, b: _int64(a * b),
    "div": _div,
}
_UNARY: dict[str, Callable[[Any], Any]] = {
    "neg": lambda a: _int64(-a),
    "abs": lambda a: _int64(abs(a)),
    "sqrt": _sqrt,
    "log1p": _log1p,
    "exp": _exp,
}


def _stable_hash(value: Any, buckets: int) -> int:
    from sluiceway.transform.graph import stable_hash_code

    return stable_hash_code(value, buckets)


# ---- compiling an expression into closures ------------------------------------------------------------


def compile_expr(node: Expr, constants: Mapping[str, Any]) -> Compiled:
    """``node`` as a function of one row's checked values, or a ``Const``; ``Unsupported`` if it cannot be."""
    from sluiceway.transform.graph import evaluate

    if node.op == "column":
        name = node.params["name"]
        return lambda row: row[name]
    if node.op in ("literal", "constant"):
        return Const(_python(evaluate(node, None, constants)))
    args = [compile_expr(arg, constants) for arg in node.args]
    if all(isinstance(a, Const) for a in args):
        try:  # the frame path computes constant sub-expressions on scalars: reuse its exact code
            return Const(_python(evaluate(node, None, constants)))
        except Exception as exc:  # any failure here: let the frame path run (and report) it every time
            raise Unsupported(node.op) from exc
    compile_op = _COMPILERS.get(node.op)
    if compile_op is None:
        raise Unsupported(node.op)
    return compile_op(node, args)


def _row_fn(compiled: Compiled) -> RowFn:
    if isinstance(compiled, Const):
        value = compiled.value
        return lambda row: value
    return compiled


def _compile_binary(node: Expr, args: list[Compiled]) -> Compiled:
    left, right = args
    if node.op == "pow":
        return _compile_pow(left, right)
    op = _BINARY[node.op]
    if node.op == "div" and isinstance(right, Const):
        # Polars divides a column by a scalar as a product with the scalar's reciprocal (not the same bits)
        reciprocal = _div(1.0, right.value)
        op = lambda a, b: float(a) * reciprocal  # noqa: E731
    left_fn, right_fn = _row_fn(left), _row_fn(right)

    def run(row: Mapping[str, Any]) -> Any:
        a = left_fn(row)
        if a is None:
            return None
        b = right_fn(row)
        return None if b is None else op(a, b)

    return run


def _power(exponent: Any) -> Callable[[float], float]:
    """Polars' ``x ** exponent`` for a scalar exponent (measured on Polars 2.1, guarded by the tests): a
    product of ``x`` for the integers 2..9, ``sqrt`` for 0.5, libm's ``pow`` otherwise."""
    e = float(exponent)
    if e.is_integer() and 2 <= e <= 9:
        times = int(e) - 1

        def product(x: float) -> float:
            result = x
            for _ in range(times):
                result = result * x
            return result

        return product
    if e == 0.5:
        return _sqrt

    def power(x: float) -> float:
        try:
            result = x**e
        except (ZeroDivisionError, OverflowError) as exc:  # libm gives ±inf here: let Polars compute it
            raise Fallback from exc
        return result if type(result) is float else _NAN  # complex: a negative base, a fractional exponent

    return power


def _compile_pow(left: Compiled, right: Compiled) -> Compiled:
    if not isinstance(right, Const) or isinstance(left, Const):
        raise Unsupported("a power whose exponent varies by row")
    power, base_fn = _power(right.value), left

    def run(row: Mapping[str, Any]) -> Any:
        a = base_fn(row)
        return None if a is None else power(float(a))

    return run


def _compile_unary(node: Expr, args: list[Compiled]) -> Compiled:
    op, value_fn = _UNARY[node.op], _row_fn(args[0])

    def run(row: Mapping[str, Any]) -> Any:
        a = value_fn(row)
        return None if a is None else op(a)

    return run


def _compile_fill_missing(node: Expr, args: list[Compiled]) -> Compiled:
    value_fn, filler_fn = _row_fn(args[0]), _row_fn(args[1])
    to_float = node.kind == "float"  # Polars' supertype of (int, float) is float, for every row

    def run(row: Mapping[str, Any]) -> Any:
        value = value_fn(row)
        if value is None or value != value:  # null, or NaN (only a float can be NaN)
            value = filler_fn(row)
        return float(value) if to_float and value is not None and type(value) is not float else value

    return run


def _constant_args(node: Expr, args: list[Compiled]) -> list[Any]:
    if not all(isinstance(a, Const) for a in args[1:]):
        raise Unsupported(f"{node.op} with fitted values computed per row")
    return [a.value for a in args[1:]]  # type: ignore[union-attr]


def _compile_z_score(node: Expr, args: list[Compiled]) -> Compiled:
    mean, variance = _constant_args(node, args)
    std = math.sqrt(variance)
    reciprocal = 1.0 / std if std > 0 else 0.0  # column / scalar in Polars: a product with the reciprocal
    value_fn = _row_fn(args[0])

    def run(row: Mapping[str, Any]) -> Any:
        value = value_fn(row)
        if value is None:
            return None
        centered = value - mean
        return centered * reciprocal if std > 0 else centered

    return run


def _compile_min_max(node: Expr, args: list[Compiled]) -> Compiled:
    low, high = _constant_args(node, args)
    out_min, out_max = node.params["output_min"], node.params["output_max"]
    value_fn = _row_fn(args[0])
    if high > low:
        reciprocal, out_span = 1.0 / (high - low), out_max - out_min

        def run(row: Mapping[str, Any]) -> Any:
            value = value_fn(row)
            return None if value is None else (value - low) * reciprocal * out_span + out_min

        return run
    middle = (out_min + out_max) / 2

    def run_constant(row: Mapping[str, Any]) -> Any:
        value = value_fn(row)
        return None if value is None else value * 0.0 + middle

    return run_constant


def _compile_apply_vocabulary(node: Expr, args: list[Compiled]) -> Compiled:
    (vocab,) = _constant_args(node, args)
    wanted = str if node.args[0].kind == "string" else int
    if not all(type(v) is wanted for v in vocab):
        raise Unsupported("a vocabulary whose values are not of the column's type")
    ids = {v: i for i, v in enumerate(vocab)}
    oov, default, size = int(node.params["num_oov_buckets"]), node.params["default_value"], len(vocab)
    value_fn = _row_fn(args[0])

    def run(row: Mapping[str, Any]) -> Any:
        value = value_fn(row)
        if value is None:
            return None
        if type(value) is not wanted:
            raise Fallback  # a value Polars would compare across types: let it decide
        found = ids.get(value)
        if found is not None:
            return found
        return _stable_hash(value, oov) + size if oov else default

    return run


def _compile_apply_buckets(node: Expr, args: list[Compiled]) -> Compiled:
    (boundaries,) = _constant_args(node, args)
    edges = [float(b) for b in boundaries]
    value_fn = _row_fn(args[0])

    def run(row: Mapping[str, Any]) -> Any:
        value = value_fn(row)
        if value is None or value != value:  # NaN has no bucket
            return None
        return bisect.bisect_right(edges, float(value)) if edges else 0

    return run


def _compile_hash_strings(node: Expr, args: list[Compiled]) -> Compiled:
    buckets, value_fn = int(node.params["hash_buckets"]), _row_fn(args[0])

    def run(row: Mapping[str, Any]) -> Any:
        value = value_fn(row)
        return None if value is None else _stable_hash(value, buckets)

    return run


def _compile_tfidf(node: Expr, args: list[Compiled]) -> Compiled:
    (stats,) = _constant_args(node, args)
    terms: list[str] = list(stats["terms"])
    idf = [float(v) for v in stats["idf"]]
    position = {term: i for i, term in enumerate(terms)}
    text_fn = _row_fn(args[0])

    def run(row: Mapping[str, Any]) -> Any:
        text = text_fn(row)
        if text is None:
            return None
        if not _SPLIT_DIFFERS.isdisjoint(text):
            raise Fallback
        words = text.split()
        counts = [0] * len(terms)
        for word in words:
            index = position.get(word)
            if index is not None:
                counts[index] += 1
        length = len(words)
        return [(c / length) * w if c else 0.0 for c, w in zip(counts, idf, strict=True)]

    return run


_COMPILERS: dict[str, Callable[[Expr, list[Compiled]], Compiled]] = {
    **{op: _compile_binary for op in (*_BINARY, "pow")},
    **{op: _compile_unary for op in _UNARY},
    "fill_missing": _compile_fill_missing,
    "z_score": _compile_z_score,
    "min_max": _compile_min_max,
    "apply_vocabulary": _compile_apply_vocabulary,
    "apply_buckets": _compile_apply_buckets,
    "hash_strings": _compile_hash_strings,
    "tfidf": _compile_tfidf,
}


# ---- outputs ------------------------------------------------------------------------------------------


def _to_int(value: Any) -> Any:
    if type(value) is float:
        if not (math.isfinite(value) and _INT64_MIN <= value < 2.0**63):
            raise Fallback  # a strict cast Polars refuses: its error, not ours
        return int(value)  # truncation, as Polars' cast
    return value


def _output_converter(kind: str) -> Callable[[Any], Any] | None:
    if kind == "float":
        return lambda v: v if v is None or type(v) is float else float(v)
    if kind == "int":
        return lambda v: v if v is None else _to_int(v)
    return None


class RowProgram:
    """The compiled outputs of one ``FittedTransform``; ``run`` returns dicts or raises ``Fallback``."""

    def __init__(self, transform: Any) -> None:
        self.transform = transform
        self.functions: dict[str, tuple[RowFn, Callable[[Any], Any] | None]] = {}
        for name, expr in transform.outputs.items():
            self.functions[name] = (_row_fn(compile_expr(expr, transform.constants)), _output_converter(expr.kind))

    def run(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Dict rows -> dict rows (what ``transform`` returns for a dict or a list of dicts)."""
        columns = _column_types(rows)
        selected, needed = self._select(set(columns))
        converters = {}
        for name in needed:
            converter = _input_converter(self.transform.inputs[name]["type"], columns[name])
            if converter is not None:
                converters[name] = converter
        return self._evaluate(rows, selected, needed, converters, complete=len(columns))

    def run_frame(self, frame: Any) -> Any:
        """A small Polars DataFrame -> the output DataFrame (the same schema as the frame path's)."""
        import polars as pl

        from sluiceway.transform.graph import KIND_DTYPES

        selected, needed = self._select(set(frame.columns))
        converters: dict[str, Callable[[Any], Any]] = {}
        for name in needed:
            dtype, expected = frame.schema[name], self.transform.inputs[name]["type"]
            if dtype == pl.Int64 and expected == "float":
                converters[name] = _as_float
            elif dtype != KIND_DTYPES[expected] and dtype != pl.Null:
                raise Fallback  # Int32, Float32, Categorical...: Polars' own arithmetic and checks decide
        names = sorted(needed)
        columns = [frame[n].to_list() for n in names]
        rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
        out = self._evaluate(rows, selected, needed, converters, complete=len(names))
        schema = {name: KIND_DTYPES[self.transform.outputs[name].kind] for name in selected}
        return pl.from_dicts(out, schema=schema)

    def _select(self, present: set[str]) -> tuple[list[str], set[str]]:
        selected = self.transform.select_outputs(present, serving=True)  # raises the frame path's error
        if not selected:
            raise Fallback
        return selected, {c for name in selected for c in self.transform.outputs[name].columns()}

    def _evaluate(
        self,
        rows: Sequence[Mapping[str, Any]],
        selected: list[str],
        needed: set[str],
        converters: Mapping[str, Callable[[Any], Any]],
        complete: int,
    ) -> list[dict[str, Any]]:
        functions = [(name, *self.functions[name]) for name in selected]
        results = []
        for row in rows:
            values = row
            if converters or len(row) < complete:  # a row lacking a key another row has: a null
                values = {name: row.get(name) for name in needed}
                for name, converter in converters.items():
                    values[name] = converter(values[name])
            out = {}
            for name, function, convert in functions:
                value = function(values)
                out[name] = value if convert is None or value is None else convert(value)
            results.append(out)
        return results


def _column_types(rows: Sequence[Mapping[str, Any]]) -> dict[str, frozenset[type]]:
    """Each column's value types (None excluded), refusing what only the frame path may judge."""
    found: dict[str, set[type]] = {}
    for row in rows:
        if not isinstance(row, Mapping):
            raise Fallback  # the frame path's "takes a dict, a list of dicts, ..." error
        for name, value in row.items():
            kind = type(value)
            if type(name) is not str or (value is not None and kind not in _VALUE_KINDS):
                raise Fallback
            if kind is int and not _INT64_MIN <= value <= _INT64_MAX:
                raise Fallback
            types = found.get(name)
            if types is None:
                found[name] = types = set()
            if value is not None:
                types.add(kind)
    for types in found.values():
        if len(types) > 1 and types != {int, float}:
            raise Fallback  # the frame path's "mixes values of types" error
    return {name: frozenset(types) for name, types in found.items()}


def _integral(value: Any) -> Any:
    if value is None or type(value) is int:
        return value
    if not (math.isfinite(value) and value.is_integer() and _INT64_MIN <= value < 2.0**63):
        raise Fallback  # the frame path decides (its type error, or Polars' cast)
    return int(value)


def _as_float(value: Any) -> Any:
    return value if value is None or type(value) is float else float(value)


def _input_converter(expected: str, types: frozenset[type]) -> Callable[[Any], Any] | None:
    """How a column's values become values of the fitted type (None: already are); ``Fallback`` when the
    frame path would refuse them (its error message names the column, the type and an example)."""
    if not types:
        return None  # only nulls: a null column is cast to any type
    if types == {int, float}:
        actual = "float"
    else:
        (kind,) = types
        actual = _VALUE_KINDS[kind]
    if actual == expected:
        return _as_float if types == {int, float} else None
    if expected == "float" and actual == "int":
        return _as_float
    if expected == "int" and actual == "float":
        return _integral
    raise Fallback


def compile_rows(transform: Any) -> RowProgram | None:
    """The row program of ``transform``, or None when one of its outputs is not supported."""
    try:
        return RowProgram(transform)
    except Unsupported:
        return None


__all__ = ["SMALL_ROWS", "Fallback", "RowProgram", "compile_rows"]

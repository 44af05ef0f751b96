"""Tracing a ``preprocessing_fn``: run it once on typed column placeholders and check what it returns.

Every error names the output it concerns, because "which of my twenty features is wrong" is the first
question. Two ways, for two kinds of mistakes:

- mistakes the expression builders catch (a string given to arithmetic or ``T.bucketize``, a bad parameter,
  an unknown column) become invalid nodes (``expressions.deferred``): the function runs to its end and the
  output holding the invalid node is named exactly, even when outputs are built in loops or helpers;
- exceptions that cannot wait (a Python ``if`` on a column, ``math.log``, numpy, user code failing) are
  located in the source: the failing line of ``preprocessing_fn`` is matched to the ``"name": ...`` entry of
  a dict display or the ``outputs["name"] = ...`` assignment that spans it (an f-string key is evaluated in
  the failing frame when it only reads names). Where no such entry spans the line, the message says so
  and still names the last input column read.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FrameType, TracebackType
from typing import Any

import polars as pl

from sluiceway.errors import DataError, DefinitionError
from sluiceway.transform.expressions import Expr, column, first_invalid, invalid
from sluiceway.transform.graph import kind_of_dtype

OUTPUT_KINDS = ("int", "float", "string", "bool", "list<float>")


class _Inputs(Mapping[str, Expr]):
    """What ``preprocessing_fn`` receives: ``inputs[name]`` is a typed placeholder for a column."""

    def __init__(self, kinds: Mapping[str, str | None]) -> None:
        self._kinds = dict(kinds)
        self.last_read: str | None = None

    def __getitem__(self, name: str) -> Expr:
        if name not in self._kinds:
            close = difflib.get_close_matches(str(name), list(self._kinds), n=1)
            return invalid(
                f"preprocessing_fn reads inputs[{name!r}], but the examples have no such column; they have "
                f"{sorted(self._kinds)}." + (f" Did you mean {close[0]!r}?" if close else "")
            )
        kind = self._kinds[name]
        if kind is None:
            return invalid(
                f"preprocessing_fn reads inputs[{name!r}], whose type Transform cannot take yet (it takes int, float, "
                "string and bool columns). Convert it in ExampleGen or leave it out."
            )
        self.last_read = name
        return column(name, kind)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self._kinds else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)


def column_kinds(files: Sequence[str]) -> dict[str, str | None]:
    """Column name -> value kind, from the first Parquet file's schema."""
    if not files:
        raise DataError("No Parquet files to read the column types from; the examples are empty.")
    try:
        schema = pl.read_parquet_schema(files[0])
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"Cannot read the schema of {files[0]}: {exc}") from exc
    return {name: kind_of_dtype(dtype) for name, dtype in schema.items()}


def trace(preprocessing_fn: Callable[..., Any], kinds: Mapping[str, str | None]) -> dict[str, Expr]:
    """Run ``preprocessing_fn`` on placeholders and check what it returns (see the module docstring)."""
    name = getattr(preprocessing_fn, "__qualname__", repr(preprocessing_fn))
    inputs = _Inputs(kinds)
    try:
        result = preprocessing_fn(inputs)
    except Exception as exc:
        where = f" (last input column read: {inputs.last_read!r})" if inputs.last_read else ""
        output = failing_output(preprocessing_fn, exc.__traceback__)
        what = f"output {output!r}" if output else "its outputs"
        detail = str(exc) if isinstance(exc, DefinitionError) else f"{type(exc).__name__}: {exc}"
        raise DefinitionError(f"preprocessing_fn {name} failed while building {what}{where}: {detail}") from exc
    if not isinstance(result, Mapping) or not result:
        raise DefinitionError(
            f"preprocessing_fn {name} must return a non-empty dict of output name -> expression. "
            f"Got {type(result).__name__} instead."
        )
    outputs: dict[str, Expr] = {}
    for key, value in result.items():
        if not isinstance(key, str) or not key:
            raise DefinitionError(
                f"preprocessing_fn {name} returned an output named {key!r}; output names must be non-empty strings."
            )
        if not isinstance(value, Expr):
            raise DefinitionError(
                f"preprocessing_fn {name}: output {key!r} is a {type(value).__name__}, not a transform expression. "
                "Outputs "
                "must be built from inputs[...] and sluiceway.transform functions so the fitted graph can re-create "
                "them at serving time without your code; arbitrary Python functions cannot be recorded."
            )
        bad = first_invalid(value)
        if bad is not None:
            raise DefinitionError(f"preprocessing_fn {name}: output {key!r}: {bad.params['message']}")
        if value.kind not in OUTPUT_KINDS:
            raise DefinitionError(
                f"preprocessing_fn {name}: output {key!r} is {value.describe()}, a {value.kind} and not a per-row "
                "value. "
                "Apply it to a column (T.apply_vocabulary, T.apply_buckets) instead of returning it."
            )
        outputs[key] = value
    return outputs


# ---- locating the output being built when an exception was raised ---------------------------------------


def failing_output(function: Callable[..., Any], traceback: TracebackType | None) -> str | None:
    """The output name whose expression was being built at the innermost line of ``function``'s source in
    ``traceback``, or None when that cannot be told (no source, no enclosing output entry)."""
    code = getattr(function, "__code__", None)
    if code is None:
        return None
    try:
        lines, first = inspect.getsourcelines(function)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError):  # no source (a lambda typed in a shell, a C function): no name
        return None
    last = first + len(lines) - 1
    found: tuple[int, FrameType] | None = None
    while traceback is not None:  # the innermost frame running a line of the function's source
        frame = traceback.tb_frame
        if frame.f_code.co_filename == code.co_filename and first <= traceback.tb_lineno <= last:
            found = (traceback.tb_lineno - first + 1, frame)
        traceback = traceback.tb_next
    if found is None:
        return None
    line, frame = found
    key = _enclosing_key(tree, line)
    return None if key is None else _key_text(key, frame)


def _enclosing_key(tree: ast.AST, line: int) -> ast.expr | None:
    """The key of the innermost ``{key: value}`` entry, ``{key: value for ...}`` or ``x[key] = value`` whose
    value spans ``line``."""
    best: tuple[int, ast.expr] | None = None
    for node in ast.walk(tree):
        pairs: list[tuple[ast.expr | None, ast.expr]] = []
        if isinstance(node, ast.Dict):
            pairs = list(zip(node.keys, node.values, strict=True))
        elif isinstance(node, ast.DictComp):
            pairs = [(node.key, node.value)]
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript):
            pairs = [(node.targets[0].slice, node.value)]
        for key, value in pairs:
            end = getattr(value, "end_lineno", None) or value.lineno
            if key is not None and value.lineno <= line <= end:
                span = end - value.lineno
                if best is None or span < best[0]:
                    best = (span, key)
    return None if best is None else best[1]


def _key_text(key: ast.expr, frame: FrameType) -> str | None:
    if isinstance(key, ast.Constant):
        return key.value if isinstance(key.value, str) else None
    if all(isinstance(n, (ast.JoinedStr, ast.FormattedValue, ast.Name, ast.Constant, ast.Load)) for n in ast.walk(key)):
        try:  # an f-string over names (a loop variable): its value in the failing frame
            value = eval(  # noqa: S307 - names and string constants only, checked above
                compile(ast.Expression(key), "<output name>", "eval"), frame.f_globals, frame.f_locals
            )
        except Exception:  # a name not in that frame: show the key as written instead
            return ast.unparse(key)
        return value if isinstance(value, str) else None
    return ast.unparse(key)


__all__ = ["OUTPUT_KINDS", "column_kinds", "failing_output", "trace"]

"""The declarative expression model of a transform: what ``preprocessing_fn`` builds and the graph stores.

``preprocessing_fn(inputs)`` runs once, at fit time, on placeholders: ``inputs["x"]`` is a column
reference, ``T.scale_to_z_score(...)`` an analyzer-backed node, ``a / b`` an arithmetic node. The result
is a tree of ``Expr`` nodes (an op name, child nodes, JSON-able parameters) that serialises to a small JSON
form and is evaluated column-wise on Polars, in training and at serving time alike. Python that cannot be
recorded (``if x > 0``, ``math.log(x)``, ``numpy.log(x)``, a lambda over values) is refused with a
``DefinitionError`` the moment it touches a placeholder, so a graph never silently misses a step.

Mistakes that can wait (a string given to arithmetic or to ``T.bucketize``, a bad parameter, an unknown
column) do not raise where they happen: the node becomes an ``invalid`` node carrying the message, every
node built on it stays invalid, and ``trace`` raises the message prefixed with the name of the output it
ended up in (``output 'mass_bucket': T.bucketize needs ...``), which a traceback alone cannot tell.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sluiceway.errors import DefinitionError

# The value kinds an expression can have; checked while tracing so a type mistake names its output.
NUMERIC = ("int", "float")
SCALAR_KINDS = ("int", "float", "string", "bool")
BINARY_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
UNARY_OPS = ("neg", "abs", "sqrt", "log1p", "exp")
_NOT_RECORDABLE = (
    "Sluiceway records preprocessing_fn as a declarative graph (so serving can re-create it without your code), "
    "and {what} cannot be recorded. "
)


@dataclass(frozen=True, eq=False)
class Expr:
    """One node of a transform expression. Build them with ``inputs[...]`` and the ``sluiceway.transform``
    functions, combine them with ``+ - * / **``; never construct them directly."""

    op: str
    args: tuple[Expr, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "float"  # value kind: int, float, string, bool, list<float>, or an analyzer result kind

    # ---- arithmetic (recorded, not computed) -------------------------------------------------------
    def _binary(self, op: str, other: Any, reverse: bool = False) -> Expr:
        return _binary_node(self, op, other, reverse)

    def _binary_checked(self, op: str, other: Any, reverse: bool = False) -> Expr:
        right = as_expr(other, f"the right side of {BINARY_OPS[op]}")
        left, right = (right, self) if reverse else (self, right)
        for side in (left, right):
            if side.kind not in NUMERIC:
                raise DefinitionError(
                    f"Cannot apply {BINARY_OPS[op]!r} to {side.describe()}, which is {side.kind}; arithmetic needs "
                    "int or float values. Encode strings first (T.compute_and_apply_vocabulary, T.hash_strings)."
                )
        kind = "int" if op in ("add", "sub", "mul") and left.kind == right.kind == "int" else "float"
        return Expr(op, (left, right), {}, kind)

    def __add__(self, other: Any) -> Expr:
        return self._binary("add", other)

    def __radd__(self, other: Any) -> Expr:
        return self._binary("add", other, reverse=True)

    def __sub__(self, other: Any) -> Expr:
        return self._binary("sub", other)

    def __rsub__(self, other: Any) -> Expr:
        return self._binary("sub", other, reverse=True)

    def __mul__(self, other: Any) -> Expr:
        return self._binary("mul", other)

    def __rmul__(self, other: Any) -> Expr:
        return self._binary("mul", other, reverse=True)

    def __truediv__(self, other: Any) -> Expr:
        return self._binary("div", other)

    def __rtruediv__(self, other: Any) -> Expr:
        return self._binary("div", other, reverse=True)

    def __pow__(self, other: Any) -> Expr:
        return self._binary("pow", other)

    def __rpow__(self, other: Any) -> Expr:
        return self._binary("pow", other, reverse=True)

    def __neg__(self) -> Expr:
        return unary("neg", self)

    def __abs__(self) -> Expr:
        return unary("abs", self)

    # ---- what cannot be recorded --------------------------------------------------------------------
    def __bool__(self) -> bool:
        raise DefinitionError(
            _NOT_RECORDABLE.format(what=f"a Python condition on {self.describe()} (if/and/or/not, comparisons)")
            + "Values are not known while the graph is built. Use T.fill_missing for missing values, or bucket "
            "with T.apply_buckets."
        )

    def __float__(self) -> float:
        raise DefinitionError(
            _NOT_RECORDABLE.format(what=f"converting {self.describe()} to a Python number (float(), math.*)")
            + "Use the operators + - * / ** and T.sqrt, T.log1p, T.exp, abs()."
        )

    __int__ = __float__
    __index__ = __float__

    def __iter__(self) -> Iterator[Any]:
        raise DefinitionError(
            _NOT_RECORDABLE.format(what=f"iterating over {self.describe()}")
            + "Write column-wise expressions: they are applied to every row."
        )

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        raise DefinitionError(
            _NOT_RECORDABLE.format(
                what=f"the numpy function {getattr(ufunc, '__name__', ufunc)!r} on {self.describe()}"
            )
            + "Use the operators + - * / ** and T.sqrt, T.log1p, T.exp, abs()."
        )

    def __eq__(self, other: object) -> bool:
        # Comparisons would be recorded as something else than they read; refuse them rather than guess.
        raise DefinitionError(
            _NOT_RECORDABLE.format(what=f"comparing {self.describe()} (==, !=, <, <=, >, >=)")
            + "Compare values inside the model, or bucket them with T.apply_buckets."
        )

    __ne__ = __eq__
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __hash__ = object.__hash__

    # ---- introspection -------------------------------------------------------------------------------
    def describe(self) -> str:
        """A short, readable form: ``bill_length_mm``, ``scale_to_z_score(bill_length_mm)``."""
        if self.op == "column":
            return f"column {self.params['name']!r}"
        if self.op == "literal":
            return repr(self.params["value"])
        if self.op == INVALID:
            return "an invalid expression"
        return f"{self.op}({', '.join(a.describe() for a in self.args)})"

    def columns(self) -> list[str]:
        """The input columns this expression reads when it is applied (analyzer inputs excluded once fitted)."""
        found: list[str] = []
        for node in self.walk():
            if node.op == "column" and node.params["name"] not in found:
                found.append(node.params["name"])
        return found

    def walk(self) -> Iterator[Expr]:
        yield self
        for arg in self.args:
            yield from arg.walk()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.op}
        if self.args:
            data["args"] = [a.to_json() for a in self.args]
        data.update(self.params)
        data["kind"] = self.kind
        return data

    def key(self) -> str:
        """A canonical string identity (equal trees, equal keys): used to share one analyzer between outputs."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Expr:
        params = {k: v for k, v in data.items() if k not in ("op", "args", "kind")}
        args = tuple(cls.from_json(a) for a in data.get("args", ()))
        return cls(str(data["op"]), args, params, str(data.get("kind", "float")))

    def replace(self, mapping: Mapping[int, Expr]) -> Expr:
        """A copy with nodes replaced (``mapping`` by ``id(node)``): how fitted analyzers become constants."""
        if id(self) in mapping:
            return mapping[id(self)]
        if not self.args:
            return self
        return Expr(self.op, tuple(a.replace(mapping) for a in self.args), self.params, self.kind)

    def __repr__(self) -> str:
        return f"<Expr {self.describe()} ({self.kind})>"


INVALID = "invalid"  # the op and kind of a node whose construction failed (see the module docstring)
F = TypeVar("F", bound=Callable[..., Any])


def invalid(message: str) -> Expr:
    return Expr(INVALID, (), {"message": message}, INVALID)


def deferred(build: F) -> F:
    """A node builder whose ``DefinitionError`` becomes an invalid node, and which returns the first invalid
    argument it is given unchanged (so the first mistake is the one reported)."""

    @functools.wraps(build)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            if isinstance(value, Expr) and value.kind == INVALID:
                return value
        try:
            return build(*args, **kwargs)
        except DefinitionError as exc:
            return invalid(str(exc))

    return wrapper  # type: ignore[return-value]


def first_invalid(node: Expr) -> Expr | None:
    return next((n for n in node.walk() if n.op == INVALID), None)


@deferred
def _binary_node(left: Expr, op: str, other: Any, reverse: bool) -> Expr:
    return left._binary_checked(op, other, reverse)


def as_expr(value: Any, what: str) -> Expr:
    """A Python scalar becomes a literal node; anything else that is not an ``Expr`` is refused."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool):
        return Expr("literal", (), {"value": value}, "bool")
    if isinstance(value, int):
        return Expr("literal", (), {"value": value}, "int")
    if isinstance(value, float):
        return Expr("literal", (), {"value": value}, "float")
    if isinstance(value, str):
        return Expr("literal", (), {"value": value}, "string")
    raise DefinitionError(
        _NOT_RECORDABLE.format(what=f"{what}, a {type(value).__name__} ({value!r:.80})")
        + "Use columns of `inputs`, Python numbers or strings, and the functions of sluiceway.transform."
    )


@deferred
def unary(op: str, value: Any) -> Expr:
    node = as_expr(value, f"the argument of {op}")
    if node.kind not in NUMERIC:
        raise DefinitionError(f"{op}() needs an int or float value; {node.describe()} is {node.kind}.")
    kind = node.kind if op in ("neg", "abs") else "float"
    return Expr(op, (node,), {}, kind)


def column(name: str, kind: str) -> Expr:
    return Expr("column", (), {"name": name}, kind)


__all__ = [
    "BINARY_OPS",
    "INVALID",
    "NUMERIC",
    "SCALAR_KINDS",
    "UNARY_OPS",
    "Expr",
    "as_expr",
    "column",
    "deferred",
    "first_invalid",
    "invalid",
    "unary",
]

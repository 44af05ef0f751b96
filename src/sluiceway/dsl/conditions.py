"""Conditional execution: run a component only when a predicate on upstream artifacts holds.

A predicate reads properties of upstream output artifacts, written as Python expressions on the output
channels, and is evaluated when the run reaches the component::

    ev.blessing.blessed                              # a declared property: true when it is truthy
    ~ev.blessing.blessed                             # not
    (ev.blessing.blessed) & (stats.anomalies.anomaly_count == 0)
    ev.evaluation.property("accuracy") >= 0.9        # a property the type does not declare

It gates a component in one of two equivalent ways (TFX's ``Cond`` and Kubeflow's ``dsl.If`` are the
block form; Airflow's ``ShortCircuitOperator`` the per-task one)::

    Pusher(model=trainer.model, ..., when=ev.blessing.blessed)     # one component

    with sw.when(ev.blessing.blessed):                             # every component built in the block
        pusher = Pusher(...)
        report = notify(...)

When a predicate is false the component is SKIPPED, not failed: the runner records a SKIPPED execution
with the reason (``sluiceway runs show`` prints ``skipped: <reason>``), every component downstream of it
is skipped too, and the run still completes. The channels a predicate reads become upstream
dependencies of the component. Python's ``and``/``or``/``not`` cannot be overloaded, so a predicate
refuses to be used as a bool and says to write ``&``, ``|`` and ``~``.
"""

from __future__ import annotations

import contextvars
import json
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sluiceway.errors import DefinitionError, RunError

if TYPE_CHECKING:
    from sluiceway.artifacts.base import Artifact
    from sluiceway.dsl.component import OutputChannel

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ACTIVE: contextvars.ContextVar[tuple[Predicate, ...]] = contextvars.ContextVar("sluiceway_when", default=())


class _Logic:
    """``&``, ``|``, ``~`` and the refusal of ``bool()``, shared by predicates and property references."""

    def __and__(self, other: Any) -> Predicate:
        return Predicate("and", (as_predicate(self), as_predicate(other, "the right side of '&'")))

    def __or__(self, other: Any) -> Predicate:
        return Predicate("or", (as_predicate(self), as_predicate(other, "the right side of '|'")))

    def __invert__(self) -> Predicate:
        return Predicate("not", (as_predicate(self),))

    def __bool__(self) -> bool:
        raise DefinitionError(
            f"The condition {self} has no value while the pipeline is built; it is evaluated when the run "
            "reaches the component. Pass it as when=..., or use it in `with sw.when(...)`, and combine conditions "
            "with '&', '|' and '~' (Python's and/or/not cannot be deferred), with parentheses around comparisons."
        )


class PropertyRef(_Logic):
    """A property of the artifact an output channel will hold: ``ev.blessing.blessed``.

    Compare it (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``) to get a predicate; on its own it is true when
    the property's value is truthy.
    """

    __slots__ = ("channel", "name")
    __hash__ = object.__hash__  # __eq__ builds a predicate; identity stays the hash

    def __init__(self, channel: OutputChannel, name: str) -> None:
        self.channel = channel
        self.name = name

    def _compare(self, symbol: str, value: Any) -> Predicate:
        if isinstance(value, (PropertyRef, Predicate)):
            raise DefinitionError(
                f"The condition {self} {symbol} {value} compares two deferred values; compare a property to a "
                "constant (a number, string, bool or None)."
            )
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise DefinitionError(
                f"The condition {self} {symbol} {value!r}: the constant must be a number, string, bool, None or a "
                f"list of those (it is recorded with the run). Got {type(value).__name__}."
            ) from None
        return Predicate("compare", (self,), symbol=symbol, value=value)

    def __eq__(self, value: Any) -> Predicate:  # type: ignore[override]
        return self._compare("==", value)

    def __ne__(self, value: Any) -> Predicate:  # type: ignore[override]
        return self._compare("!=", value)

    def __lt__(self, value: Any) -> Predicate:
        return self._compare("<", value)

    def __le__(self, value: Any) -> Predicate:
        return self._compare("<=", value)

    def __gt__(self, value: Any) -> Predicate:
        return self._compare(">", value)

    def __ge__(self, value: Any) -> Predicate:
        return self._compare(">=", value)

    def __str__(self) -> str:
        return f"{self.channel.producer.id}.{self.channel.name}.{self.name}"

    __repr__ = __str__


class Predicate(_Logic):
    """A deferred condition on upstream artifacts' properties; see the module docstring.

    Also a context manager: ``with sw.when(p):`` gates every component built inside the block on ``p``.
    """

    __slots__ = ("kind", "operands", "symbol", "value", "_tokens")

    def __init__(self, kind: str, operands: tuple[Any, ...], *, symbol: str = "", value: Any = None) -> None:
        self.kind = kind  # "truthy", "compare", "and", "or", "not"
        self.operands = operands
        self.symbol = symbol
        self.value = value
        self._tokens: list[contextvars.Token[tuple[Predicate, ...]]] = []

    def references(self) -> list[PropertyRef]:
        """Every property this predicate reads, in order."""
        if self.kind in ("truthy", "compare"):
            return [self.operands[0]]
        return [ref for operand in self.operands for ref in operand.references()]

    def evaluate(self, artifacts: dict[int, Artifact], explain: list[str]) -> bool:
        """The predicate's value given the artifact each channel holds (keyed by ``id(channel)``).

        Appends to ``explain`` what each property read was, for the skip reason.
        """
        if self.kind == "and":
            return all(operand.evaluate(artifacts, explain) for operand in self.operands)
        if self.kind == "or":
            return any(operand.evaluate(artifacts, explain) for operand in self.operands)
        if self.kind == "not":
            return not self.operands[0].evaluate(artifacts, explain)
        ref: PropertyRef = self.operands[0]
        artifact = artifacts[id(ref.channel)]
        if ref.name not in artifact.properties:
            raise RunError(
                f"The condition {self} reads the property {ref.name!r} of {artifact.TYPE_NAME} #{artifact.id} "
                f"({ref.channel.producer.id}.{ref.channel.name}), which its producer did not set; it has "
                f"{sorted(artifact.properties)}. Set it in the producer or change the condition."
            )
        value = artifact.properties[ref.name]
        explain.append(f"{ref} = {value!r} ({artifact.TYPE_NAME} #{artifact.id})")
        if self.kind == "truthy":
            return bool(value)
        try:
            return bool(_COMPARISONS[self.symbol](value, self.value))
        except TypeError as exc:
            raise RunError(
                f"The condition {self} cannot compare {ref}'s value {value!r} ({type(value).__name__}) with "
                f"{self.value!r}: {exc}. Compare it with a value of the same kind."
            ) from None

    def __str__(self) -> str:
        if self.kind == "truthy":
            return str(self.operands[0])
        if self.kind == "compare":
            return f"{self.operands[0]} {self.symbol} {self.value!r}"
        if self.kind == "not":
            return f"~{_wrapped(self.operands[0])}"
        symbol = " & " if self.kind == "and" else " | "
        return symbol.join(_wrapped(operand) for operand in self.operands)

    __repr__ = __str__

    def __enter__(self) -> Predicate:
        self._tokens.append(_ACTIVE.set((*_ACTIVE.get(), self)))
        return self

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.reset(self._tokens.pop())


def _wrapped(predicate: Predicate) -> str:
    text = str(predicate)
    return f"({text})" if predicate.kind in ("and", "or", "compare") else text


def as_predicate(value: Any, where: str = "the condition") -> Predicate:
    """A ``Predicate`` from what a user may write: a predicate or a property reference."""
    if isinstance(value, Predicate):
        return value
    if isinstance(value, PropertyRef):
        return Predicate("truthy", (value,))
    from sluiceway.dsl.component import Channel, Component

    if isinstance(value, Channel):
        declared = sorted(value.artifact_type.PROPERTIES)
        raise DefinitionError(
            f"{where} must read a property of an output, not the output itself ({value!r}), e.g. "
            f"ev.blessing.blessed. Properties {value.artifact_type.TYPE_NAME} declares: {declared or 'none'}; "
            "read others with .property('name')."
        )
    if isinstance(value, Component):
        raise DefinitionError(
            f"{where} must read a property of an output of {value.id!r}, not the component itself, "
            "e.g. ev.blessing.blessed."
        )
    raise DefinitionError(
        f"{where} must be a condition on an upstream output's property, e.g. ev.blessing.blessed or "
        f"(ev.evaluation.property('accuracy') >= 0.9). Got {type(value).__name__} {value!r} instead."
    )


def stated_reasons(artifact: Artifact) -> list[str]:
    """The ``reasons`` an artifact's main JSON file states (a blessing's failed checks), or []."""
    from pathlib import Path

    name = type(artifact).FILENAME
    if name is None or not name.endswith(".json"):
        return []
    try:
        reasons = json.loads((Path(artifact.uri) / name).read_text(encoding="utf-8")).get("reasons")
    except (OSError, ValueError, AttributeError):  # no such file, or not a JSON object: nothing stated
        return []
    return [str(reason) for reason in reasons] if isinstance(reasons, list) else []


def when(condition: Any) -> Predicate:
    """Gate components on a condition evaluated at run time: ``when=`` setting or ``with sw.when(...):``."""
    return as_predicate(condition, "sw.when(...)")


def active_conditions() -> tuple[Predicate, ...]:
    """The conditions of the ``with sw.when(...)`` blocks around the code building a component."""
    return _ACTIVE.get()


def combined(conditions: list[Predicate]) -> Predicate | None:
    """One predicate for several (all must hold), or None for none."""
    if not conditions:
        return None
    result = conditions[0]
    for other in conditions[1:]:
        result = Predicate("and", (result, other))
    return result


__all__ = ["Predicate", "PropertyRef", "active_conditions", "as_predicate", "combined", "stated_reasons", "when"]

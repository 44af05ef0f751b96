"""Component parameters: checked against their annotations when a component is built, and made canonical.

``check_parameter`` validates one value the way pydantic would (with a fast path for plain scalars), so a
wrong value fails when the pipeline is built, not when it runs. ``canonical_parameters`` is the JSON form
that is fingerprinted for the cache and recorded in the store.
"""

from __future__ import annotations

import functools
import json
import typing
from typing import TYPE_CHECKING, Any

from sluiceway.errors import DefinitionError

if TYPE_CHECKING:
    from sluiceway.dsl.component import ParameterSpec


@functools.lru_cache(maxsize=512)
def _type_adapter(annotation: Any) -> Any:
    from pydantic import ConfigDict, TypeAdapter

    return TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True))


def check_parameter(owner: str, spec: ParameterSpec, value: Any) -> Any:
    if spec.annotation is Any:
        return value
    # Fast path for the common scalar types: no pydantic import, which costs ~0.1 s of start-up.
    kind = spec.annotation
    if kind in (str, bool) and type(value) is kind:
        return value
    if kind is int and type(value) is int:
        return value
    if kind is float and type(value) in (int, float):
        return float(value)
    from pydantic import PydanticUserError, ValidationError

    try:
        adapter = _type_adapter(spec.annotation)
    except (PydanticUserError, TypeError):
        # An annotation pydantic cannot model (an arbitrary class, an unhashable Annotated extra): the value
        # is passed as given and the executor, which owns that type, checks it.
        return value

    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        problem = exc.errors()[0].get("msg", str(exc))
        raise DefinitionError(
            f"The {spec.name!r} parameter of {owner} must be {describe_type(spec.annotation)}. "
            f"Got {value!r} instead ({problem})."
        ) from None


def describe_type(annotation: Any) -> str:
    """``an int``, ``an int >= 1`` (bounds from ``Annotated[int, Field(ge=1)]``), ``of type list[str]``."""
    bounds = ""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *extras = typing.get_args(annotation)
        bounds = " and".join(f" {sign} {bound}" for sign, bound in _bounds(extras))
    if isinstance(annotation, type):
        article = "an" if annotation.__name__[:1].lower() in "aeiou" else "a"
        return f"{article} {annotation.__name__}{bounds}"
    return f"of type {annotation}{bounds}".replace("typing.", "")


def _bounds(extras: list[Any]) -> list[tuple[str, Any]]:
    # pydantic's Field(ge=...) keeps annotated_types constraints in .metadata; bare Ge(...) extras work too.
    signs = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    found = []
    for extra in extras:
        for constraint in [*getattr(extra, "metadata", ()), extra]:
            for attribute, sign in signs.items():
                value = getattr(constraint, attribute, None)
                if value is not None and not callable(value):
                    found.append((sign, value))
    return found


def canonical_parameters(parameters: dict[str, Any]) -> str:
    """Parameters as canonical JSON: the form that is fingerprinted and recorded in the store."""
    return json.dumps(parameters, sort_keys=True, default=_json_default, separators=(",", ":"))


def _json_default(value: Any) -> Any:
    import dataclasses
    import pathlib

    if callable(value) and hasattr(value, "__code__"):
        # A function passed as a parameter (a preprocessing_fn): its code and what it uses, like a component's.
        from sluiceway.dsl.fingerprint import callable_fingerprint

        return {"callable": f"{value.__module__}.{value.__qualname__}", "code": callable_fingerprint(value)}
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return repr(value)

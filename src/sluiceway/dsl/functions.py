"""User functions passed as component parameters (a ``preprocessing_fn``, a ``run_fn``).

One rule for all of them: a function, or a ``"module:function"`` string resolved when the pipeline is
built, with a ``DefinitionError`` that says how to fix it; the cache follows the function's code in both
forms (``function_cache_key``).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from sluiceway.errors import DefinitionError


def resolve_function(
    value: Any, *, parameter: str, owner: str, takes: str, usage: str, arity: int = 1
) -> Callable[..., Any]:
    """The function ``value`` is or names, taking exactly ``arity`` positional arguments.

    ``parameter`` and ``owner`` name it in messages; ``takes`` says what its arguments are (e.g. "the
    inputs dict") and ``usage`` shows its definition (e.g. "def preprocessing_fn(inputs): ...")."""
    if isinstance(value, str):
        module_name, _, attribute = value.partition(":")
        if not module_name or not attribute:
            raise DefinitionError(
                f"The {parameter!r} parameter of {owner} must be a function or a 'module:function' string. "
                f"Got {value!r} instead, e.g. write 'features:{parameter}'."
            )
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise DefinitionError(
                f"The {parameter!r} parameter of {owner} names the module {module_name!r}, which cannot be "
                f"imported ({exc}). Put it on the Python path (next to the pipeline file) or pass the function itself."
            ) from exc
        try:
            value = getattr(module, attribute)
        except AttributeError:
            raise DefinitionError(
                f"The {parameter!r} parameter of {owner} names {attribute!r} in module {module_name!r}, which has "
                "no such attribute. Check the spelling after the ':'."
            ) from None
    if not inspect.isfunction(value):
        raise DefinitionError(
            f"The {parameter!r} parameter of {owner} must be a function (def ...) taking {takes}. Got {value!r} "
            "instead; a function's code is what the cache follows."
        )
    try:
        inspect.signature(value).bind(*([None] * arity))
    except TypeError:
        count = "one argument" if arity == 1 else f"{arity} arguments"
        raise DefinitionError(
            f"The {parameter!r} parameter of {owner}: {value.__qualname__} must take exactly {count}, "
            f"{takes}: {usage}"
        ) from None
    return value


def function_cache_key(value: Any, key: str, resolve: Callable[[Any], Callable[..., Any]]) -> dict[str, Any]:
    """The cache key part of a function parameter: a function is fingerprinted with its code already (as a
    parameter value); a ``"module:function"`` string adds the code of the function it names."""
    if not isinstance(value, str):
        return {}
    from sluiceway.dsl.fingerprint import callable_fingerprint

    return {key: callable_fingerprint(resolve(value))}

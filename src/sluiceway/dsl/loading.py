"""Load a pipeline from ``path/to/file.py``, ``file.py:attr``, ``package.module`` or ``package.module:attr``.

The attribute may be a ``Pipeline`` or a function returning one. Without an attribute, the module's one
``Pipeline`` object is used, else its ``create_pipeline()`` function.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from sluiceway.dsl.pipeline import Pipeline
from sluiceway.errors import DefinitionError


def _import_file(path: Path) -> ModuleType:
    folder = str(path.parent.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)  # so the pipeline file can import its sibling modules
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__file__", None) and Path(existing.__file__).resolve() == path.resolve():
        return existing
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DefinitionError(f"Cannot import {path}: it is not a Python file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # registered first, so components defined in it can be pickled by reference
    try:
        spec.loader.exec_module(module)
    except DefinitionError:
        raise
    except Exception as exc:
        sys.modules.pop(name, None)
        raise DefinitionError(f"Importing the pipeline file {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def load_pipeline(target: str) -> Pipeline:
    """Resolve a pipeline target (see the module docstring) to a Pipeline."""
    location, _, attribute = target.partition(":")
    if location.endswith(".py") or "/" in location or Path(location).is_file():
        path = Path(location)
        if not path.is_file():
            raise DefinitionError(
                f"Pipeline file {location!r} does not exist (looked in {Path.cwd()}). "
                "Pass a path to a .py file or a module:attribute."
            )
        module = _import_file(path)
    else:
        try:
            module = importlib.import_module(location)
        except ImportError as exc:
            raise DefinitionError(
                f"Cannot import pipeline module {location!r}: {exc}. Pass a .py file path or an importable module."
            ) from exc
    if attribute:
        if not hasattr(module, attribute):
            raise DefinitionError(f"{location} has no attribute {attribute!r}.")
        value = getattr(module, attribute)
    else:
        found = [v for v in vars(module).values() if isinstance(v, Pipeline)]
        if len(found) == 1:
            value = found[0]
        elif callable(getattr(module, "create_pipeline", None)):
            value = module.create_pipeline
        elif not found:
            raise DefinitionError(
                f"{location} defines no Pipeline object and no create_pipeline() function. "
                f"Define one, or name it: {location}:my_pipeline."
            )
        else:
            names = [k for k, v in vars(module).items() if isinstance(v, Pipeline)]
            raise DefinitionError(f"{location} defines several pipelines ({', '.join(names)}); pick one: {location}:{names[0]}.")
    if callable(value) and not isinstance(value, Pipeline):
        value = value()
    if not isinstance(value, Pipeline):
        raise DefinitionError(f"{target} is a {type(value).__name__}, not a Pipeline (or a function returning one).")
    return value

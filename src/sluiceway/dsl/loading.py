"""Load a pipeline from ``path/to/file.py``, ``file.py:attr``, ``package.module`` or ``package.module:attr``.

The attribute may be a ``Pipeline`` or a function returning one. Without an attribute, the module's one
``Pipeline`` object is used, else its ``create_pipeline()`` function.

A file is imported under a private module name (``_sluiceway_pipeline_<stem>``), never its bare stem, and
an error while importing it (or calling ``create_pipeline``) becomes a ``DefinitionError`` that names the
file and line, with the original exception chained.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from sluiceway.dsl.fingerprint import register_project_root
from sluiceway.dsl.pipeline import Pipeline
from sluiceway.errors import DefinitionError

PRIVATE_PREFIX = "_sluiceway_pipeline_"


def _module_name(path: Path) -> str:
    """A private ``sys.modules`` name for a pipeline file, the same in every process that loads it.

    Never the bare stem: a ``code.py`` or ``statistics.py`` pipeline would shadow the standard library.
    Deterministic, because the component type names recorded with every execution (and the cache key)
    include it, and ``sluiceway exec`` loads the file again in other processes.
    """
    stem = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in path.stem)
    name = PRIVATE_PREFIX + stem
    existing = sys.modules.get(name)
    if existing is None or _same_file(existing, path):
        return name
    # Another file with the same stem is loaded in this process: tell them apart by their folder.
    return f"{name}_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]}"


def _same_file(module: ModuleType, path: Path) -> bool:
    file = getattr(module, "__file__", None)
    return file is not None and Path(file).resolve() == path.resolve()


def _import_file(path: Path) -> ModuleType:
    folder = path.parent.resolve()
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))  # so the pipeline file can import its sibling modules
    register_project_root(folder)
    name = _module_name(path)
    existing = sys.modules.get(name)
    if existing is not None:
        return existing  # this very file, already loaded in this process
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DefinitionError(f"Cannot import {path}: it is not a Python file.")
    module = importlib.util.module_from_spec(spec)
    module.__dict__["__sluiceway_display_name__"] = path.stem
    sys.modules[name] = module  # registered first: dataclasses and typing.get_type_hints look classes up there
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        if not isinstance(exc, Exception):
            raise  # KeyboardInterrupt, SystemExit: not an error in the file
        raise DefinitionError(_describe_import_error(f"the pipeline file {path}", path, exc)) from exc
    return module


def _describe_import_error(what: str, path: Path | None, exc: Exception) -> str:
    """Say which file and line raised while loading a pipeline (the user's file first, else the last frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    resolved = path.resolve() if path is not None else None
    in_file = [f for f in frames if resolved is not None and f.filename and Path(f.filename).resolve() == resolved]
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        where = f"{exc.filename}, line {exc.lineno}"
    elif in_file:
        where = f"{in_file[-1].filename}, line {in_file[-1].lineno}"
        if frames[-1] is not in_file[-1] and not isinstance(exc, DefinitionError):
            where += f" (raised in {frames[-1].filename}, line {frames[-1].lineno})"
    elif frames:
        where = f"{frames[-1].filename}, line {frames[-1].lineno}"
    else:
        where = str(path) if path is not None else "an unknown place"
    if isinstance(exc, DefinitionError):
        return f"{where}: {exc}"
    return f"Loading {what} failed at {where}: {type(exc).__name__}: {exc}. Fix the error there and run again."


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
        except Exception as exc:  # an error inside the module: located and wrapped, like a file's
            raise DefinitionError(_describe_import_error(f"the pipeline module {location}", None, exc)) from exc
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
            raise DefinitionError(
                f"{location} defines several pipelines ({', '.join(names)}); pick one: {location}:{names[0]}."
            )
    if callable(value) and not isinstance(value, Pipeline):
        source = getattr(getattr(value, "__code__", None), "co_filename", None)
        try:
            value = value()
        except Exception as exc:  # the user's function failed: located and wrapped, like an import error
            raise DefinitionError(
                _describe_import_error(f"the pipeline from {target}", Path(source) if source else None, exc)
            ) from exc
    if not isinstance(value, Pipeline):
        raise DefinitionError(f"{target} is a {type(value).__name__}, not a Pipeline (or a function returning one).")
    return value

"""The code fingerprint of a component: a hash of everything its behaviour depends on.

The cache reuses an execution only when this fingerprint is unchanged, so it must change whenever the
code a component runs changes. The rule:

- **The component's own code**: the ``@component`` function, or every class of a class component up to
  ``Component`` (an inherited ``execute`` counts).
- **What it uses from its own module**: the module-level functions, classes, constants and imports the
  component refers to, followed from name to name (a helper that calls another helper). Other statements
  of that module (typically the pipeline's wiring, or other components) do not count, so changing one
  component's parameters does not rerun its neighbours.
- **The user modules it imports, transitively**: every module that is neither the standard library nor
  an installed distribution (or that lives in the project: the current directory, the pipeline file's
  folder or the component's folder, which covers ``pip install -e .``) contributes its whole source.
- **Installed packages by name and version**: a module from an installed distribution contributes
  ``name==version`` of that distribution (``scikit-learn==1.5.2``), Sluiceway itself ``sluiceway==...``.

Source is compared as its syntax tree, so comments, blank lines and moved code do not invalidate the
cache; any other edit does. Not seen: modules imported by a computed name (``importlib.import_module``)
and data read from outside the inputs; components declare those with ``cache=False`` or ``cache_key()``.
Whether a module is the user's or an installed package's can depend on the current directory (an
editable install inside it counts as source), so run orchestrated tasks from the same project folder.
Results are cached per process and revalidated against the files' sizes and modification times, so a
module reloaded in a notebook is seen.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import inspect
import os
import sys
import textwrap
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

FRAMEWORK = "sluiceway"
_SITE_FOLDERS = frozenset({"site-packages", "dist-packages"})
_lock = threading.Lock()
_project_roots: list[Path] = []


def register_project_root(folder: str | Path) -> None:
    """Count modules under ``folder`` as the user's code (the pipeline loader registers the file's folder)."""
    resolved = Path(folder).resolve()
    with _lock:
        if resolved not in _project_roots:
            _project_roots.append(resolved)


@dataclass
class _Material:
    """What one fingerprint is made of, and the files whose change would alter it."""

    parts: list[str] = field(default_factory=list)
    files: dict[str, tuple[int, int]] = field(default_factory=dict)
    seen_modules: set[str] = field(default_factory=set)


# --- syntax trees of source files, cached by (path, mtime, size) --------------------------------------


@dataclass(frozen=True)
class _ParsedModule:
    digest: str  # of the whole module's syntax tree (comments and layout ignored)
    statements: tuple[ast.stmt, ...]
    bindings: dict[str, tuple[int, ...]]  # top-level name -> indexes of the statements that bind it
    star_imports: tuple[int, ...]


_parsed: dict[tuple[str, int, int], _ParsedModule | None] = {}


def _stat(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:  # a module whose file vanished: nothing to hash, the caller records its name instead
        return None
    return (info.st_mtime_ns, info.st_size)


def _parse(path: str) -> _ParsedModule | None:
    stamp = _stat(path)
    if stamp is None:
        return None
    key = (path, *stamp)
    if key in _parsed:
        return _parsed[key]
    result: _ParsedModule | None
    try:
        data = Path(path).read_bytes()
    except OSError:  # unreadable: treated like a vanished file (the name is still part of the hash)
        result = None
    else:
        try:
            tree = ast.parse(data, filename=path)
        except (SyntaxError, ValueError):  # not Python source (e.g. a compiled extension): hash its bytes
            result = _ParsedModule(hashlib.sha256(data).hexdigest(), (), {}, ())
        else:
            bindings: dict[str, list[int]] = {}
            stars: list[int] = []
            for index, statement in enumerate(tree.body):
                for name in _bound_names(statement):
                    bindings.setdefault(name, []).append(index)
                if isinstance(statement, ast.ImportFrom) and any(a.name == "*" for a in statement.names):
                    stars.append(index)
            digest = hashlib.sha256(ast.dump(tree).encode()).hexdigest()
            result = _ParsedModule(digest, tuple(tree.body), {k: tuple(v) for k, v in bindings.items()}, tuple(stars))
    _parsed[key] = result
    return result


def _bound_names(statement: ast.stmt) -> set[str]:
    """Names a top-level statement binds (over-approximated for compound statements such as ``if``/``try``)."""
    names: set[str] = set()
    for node in ast.walk(statement):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
    return names


def _referenced_names(tree: ast.AST) -> set[str]:
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _imported_modules(tree: ast.AST, package: str) -> list[str]:
    """Absolute names of the modules an ``import`` anywhere in ``tree`` may load (lazy imports count)."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, *([node.module] if node.module else [])])
            if not base:
                continue
            found.append(base)
            # `from package import name` loads the submodule `name` when there is one
            found.extend(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


# --- classifying modules ---------------------------------------------------------------------------


def _module_file(name: str) -> str | None:
    """The file of module ``name`` without importing anything (None: a builtin, a namespace, or no module)."""
    module = sys.modules.get(name)
    if module is not None:
        file = getattr(module, "__file__", None)
        return str(Path(file).resolve()) if file else None
    parent, _, last = name.rpartition(".")
    if parent:
        # `from package import name`: a submodule only if the package's folder has it (never imported here,
        # so the answer is the same in every process whatever it imported before).
        parent_file = _module_file(parent)
        if parent_file is None or Path(parent_file).name != "__init__.py":
            return None
        folder = Path(parent_file).parent
        for candidate in (folder / f"{last}.py", folder / last / "__init__.py"):
            if candidate.is_file():
                return str(candidate.resolve())
        return None
    try:
        spec = importlib.util.find_spec(name)  # a top-level name: finds it without importing anything
    except (ImportError, ValueError):  # not importable here; it would fail the same way when run
        return None
    origin = spec.origin if spec is not None and spec.has_location else None
    return str(Path(origin).resolve()) if origin else None


def _is_stdlib(name: str, file: str | None) -> bool:
    """By the file when there is one: a project module named ``statistics.py`` is the user's, not stdlib."""
    if file is None:
        top = name.split(".")[0]
        return top in sys.stdlib_module_names or top in sys.builtin_module_names
    return file.startswith(_stdlib_paths()) and not _SITE_FOLDERS.intersection(Path(file).parts)


@functools.lru_cache(maxsize=1)
def _stdlib_paths() -> tuple[str, ...]:
    import sysconfig  # here, not at import: `import sluiceway` stays fast

    paths = sysconfig.get_paths()
    return tuple(str(Path(p).resolve()) for p in {paths["stdlib"], paths["platstdlib"]} if p)


def _in_project(file: str, extra_root: Path | None) -> bool:
    path = Path(file)
    if _SITE_FOLDERS.intersection(path.parts):
        return False
    roots = [Path.cwd().resolve(), *_project_roots, *([extra_root] if extra_root else [])]
    return any(path.is_relative_to(root) for root in roots)


_distributions_by_module: Mapping[str, list[str]] | None = None
_versions: dict[str, str | None] = {}


def _distribution_versions(top: str) -> list[str]:
    """``name==version`` of the installed distributions that provide the top-level module ``top``."""
    global _distributions_by_module
    import importlib.metadata  # here, not at import: `import sluiceway` stays fast

    if top in _versions:
        cached = _versions[top]
        return [cached] if cached else []
    found: list[str] = []
    try:
        # Fast path: most distributions are named like their module (numpy, polars, pandas).
        dist = importlib.metadata.distribution(top)
        found = [f"{dist.metadata['Name']}=={dist.version}"]
    except importlib.metadata.PackageNotFoundError:
        # Slow path (~0.1 s, once per process): the index of every installed distribution's modules.
        if _distributions_by_module is None:
            _distributions_by_module = importlib.metadata.packages_distributions()
        for dist_name in sorted(set(_distributions_by_module.get(top) or [])):
            try:
                found.append(f"{dist_name}=={importlib.metadata.version(dist_name)}")
            except importlib.metadata.PackageNotFoundError:  # listed but gone since: the name alone
                found.append(dist_name)
    joined = ";".join(found)
    _versions[top] = joined or None
    return [joined] if joined else []


# --- the fingerprint -------------------------------------------------------------------------------


def _add_file(material: _Material, file: str) -> None:
    stamp = _stat(file)
    if stamp is not None:
        material.files[file] = stamp


def _add_module(material: _Material, name: str, extra_root: Path | None) -> None:
    """Add an imported module: its source (user code, transitively) or its distribution's version."""
    if name in material.seen_modules:
        return
    material.seen_modules.add(name)
    top = name.split(".")[0]
    if top == FRAMEWORK:
        return  # Sluiceway's version is part of every fingerprint
    file = _module_file(name)
    if _is_stdlib(name, file):
        return
    if file is not None and not _in_project(file, extra_root):
        versions = _distribution_versions(top)
        if versions:
            material.parts.append(f"package {top}: {versions[0]}")
            return
    if file is None:
        if "." not in name:  # a dotted name without a file is an attribute imported from a package: nothing
            material.parts.append(f"module {name}: not found")
        return
    parsed = _parse(file)
    _add_file(material, file)
    material.parts.append(f"module {name}: {parsed.digest if parsed else 'unreadable'}")
    if parsed is None or not parsed.statements:
        return
    package = name if Path(file).name == "__init__.py" else name.rpartition(".")[0]
    for imported in _imported_modules(ast.Module(body=list(parsed.statements), type_ignores=[]), package):
        _add_module(material, imported, extra_root)


def _add_code(material: _Material, obj: Any) -> None:
    """Add one function's or class's code and what it uses from its module, followed name by name."""
    module_name = getattr(obj, "__module__", None) or ""
    if module_name.split(".")[0] == FRAMEWORK:
        material.parts.append(_source_digest(obj))
        return
    try:
        tree: ast.AST = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    except (OSError, TypeError, SyntaxError):
        # No source (defined with exec, or in an interactive session): its compiled code stands in for it.
        material.parts.append(_source_digest(obj))
        return
    material.parts.append(ast.dump(tree))
    module: ModuleType | None = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if not file:
        return
    file = str(Path(file).resolve())
    own_folder = Path(file).parent
    parsed = _parse(file)
    _add_file(material, file)
    package = module_name if Path(file).name == "__init__.py" else module_name.rpartition(".")[0]
    for imported in _imported_modules(tree, package):
        _add_module(material, imported, own_folder)
    if parsed is None:
        return
    # Follow names from the component to the module-level statements that bind them, and on from there.
    included: set[int] = set(parsed.star_imports)
    pending = list(_referenced_names(tree))
    for index in parsed.star_imports:
        pending.extend(_referenced_names(parsed.statements[index]))
    while pending:
        name = pending.pop()
        for index in parsed.bindings.get(name, ()):
            if index not in included:
                included.add(index)
                pending.extend(_referenced_names(parsed.statements[index]))
    for index in sorted(included):
        statement = parsed.statements[index]
        material.parts.append(ast.dump(statement))
        for imported in _imported_modules(statement, package):
            _add_module(material, imported, own_folder)


def _source_digest(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):  # no source file: the compiled code identifies it
        code = getattr(obj, "__code__", None) or getattr(getattr(obj, "__dict__", {}).get("execute"), "__code__", None)
        return repr((code.co_code, code.co_consts)) if code else obj.__qualname__


_fingerprints: weakref.WeakKeyDictionary[Any, tuple[str, dict[str, tuple[int, int]]]] = weakref.WeakKeyDictionary()


def code_fingerprint(cls: type) -> str:
    """The hash of what a component class's behaviour depends on (see the module docstring)."""
    from sluiceway.dsl.component import Component

    if cls._EXECUTE_IS_STATIC:  # type: ignore[attr-defined]
        return _fingerprint(cls, [cls.__dict__["execute"].__func__])
    classes = []
    for klass in cls.__mro__:
        if klass is Component or not issubclass(klass, Component):
            break
        classes.append(klass)
    return _fingerprint(cls, classes)


def callable_fingerprint(fn: Any) -> str:
    """The same rule for a function passed as a parameter (a ``preprocessing_fn``, a ``run_fn``)."""
    return _fingerprint(fn, [fn])


def _fingerprint(key: Any, objects: list[Any]) -> str:
    with _lock:
        cached = _fingerprints.get(key)
        if cached is not None and all(_stat(path) == stamp for path, stamp in cached[1].items()):
            return cached[0]
        material = _Material()
        for obj in objects:
            _add_code(material, obj)
        from sluiceway import __version__

        material.parts.append(f"{FRAMEWORK}=={__version__}")
        fingerprint = hashlib.sha256("\n".join(material.parts).encode()).hexdigest()
        try:
            _fingerprints[key] = (fingerprint, material.files)
        except TypeError:  # an object that takes no weak reference (a builtin): not cached, recomputed next time
            pass
        return fingerprint

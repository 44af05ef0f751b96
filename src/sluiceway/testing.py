"""Test a custom component in isolation, the way scikit-learn's estimator checks test an estimator.

``check_component(MyComponent, inputs={"examples": examples_artifact}, parameters={"z": 3.0})`` runs the
executor on the given input artifacts (or folders), without a pipeline or metadata store, and checks the
contract every component must keep:

- the parameters are valid for the component (the same checks as when a pipeline is built);
- the executor writes each output only inside its own folder and sets only JSON-storable properties;
- the executor does not modify its inputs (artifacts are immutable);
- with ``check_determinism=True`` (the default), a second run gives byte-identical outputs, so caching and
  reruns behave.

It returns the output artifacts for further assertions (in ``workdir`` if given, else in a temporary folder
that is removed with the returned object). A broken rule raises ``AssertionError`` saying which; a bad
argument (unknown parameter, missing input folder) raises ``DefinitionError``.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

from sluiceway.artifacts.base import Artifact
from sluiceway.dsl.component import Component
from sluiceway.dsl.parameters import check_parameter
from sluiceway.errors import ComponentError, DefinitionError
from sluiceway.runners.publish import check_properties, content_fingerprint

__all__ = ["CheckedOutputs", "check_component"]


class CheckedOutputs(dict[str, Artifact]):
    """The output artifacts of a ``check_component`` run, by output name.

    Without a ``workdir`` they live in a temporary folder that is removed once neither this object nor any
    artifact taken from it is referenced any more (or at exit).
    """

    folder: _TemporaryFolder | None = None


def check_component(
    component: type[Component] | Component,
    *,
    inputs: dict[str, Artifact | str | Path] | None = None,
    parameters: dict[str, Any] | None = None,
    workdir: str | Path | None = None,
    check_determinism: bool = True,
) -> CheckedOutputs:
    """Run a component's executor on ``inputs`` and check its contract (see the module docstring).

    ``inputs`` maps input names to artifacts or to existing folders; ``parameters`` are checked like in a
    pipeline. Outputs are written under ``workdir`` (kept), or under a temporary folder that is removed on
    failure and, on success, once the returned outputs are garbage collected.
    """
    cls = component if isinstance(component, type) else type(component)
    if not (isinstance(cls, type) and issubclass(cls, Component)):
        raise DefinitionError(f"check_component takes a component class or instance. Got {component!r} instead.")
    owner = f"component {cls.__name__}"
    instance = component if isinstance(component, Component) else cls.__new__(cls)
    resolved_parameters = _resolve_parameters(instance, cls, owner, parameters)
    resolved_inputs = _resolve_inputs(cls, owner, inputs)

    temporary = workdir is None
    root = Path(tempfile.mkdtemp(prefix="sluiceway-check-")) if temporary else Path(workdir)  # type: ignore[arg-type]
    try:
        before = {name: content_fingerprint(a.path, {}) for name, a in resolved_inputs.items()}
        first = _run_once(instance, cls, resolved_inputs, resolved_parameters, root / "run-1")
        for name, artifact in resolved_inputs.items():
            if content_fingerprint(artifact.path, {}) != before[name]:
                raise AssertionError(
                    f"{owner} modified its input {name!r} at {artifact.uri}; inputs are immutable, "
                    "write to an output instead."
                )
        if check_determinism:
            second = _run_once(instance, cls, resolved_inputs, resolved_parameters, root / "run-2")
            for name in first:
                if first[name].fingerprint != second[name].fingerprint:
                    raise AssertionError(
                        f"{owner} output {name!r} differs between two runs on the same inputs; make the executor "
                        "deterministic (seed random generators, sort outputs) or pass check_determinism=False."
                    )
            if temporary:
                shutil.rmtree(root / "run-2", ignore_errors=True)  # the copy only served the comparison
    except BaseException:
        if temporary:
            shutil.rmtree(root, ignore_errors=True)  # nothing of a failed check is left in the temp folder
        raise
    result = CheckedOutputs(first)
    if temporary:
        # The folder lives while the result or any artifact taken from it does: `check_component(...)["x"]`
        # must stay readable. Removed after the last of them goes (or at exit).
        folder = _TemporaryFolder(root)
        result.folder = folder
        for artifact in first.values():
            artifact._check_folder = folder  # type: ignore[attr-defined]
    return result


class _TemporaryFolder:
    """Owns a temporary folder and removes it when garbage collected (or at interpreter exit)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        weakref.finalize(self, shutil.rmtree, str(path), ignore_errors=True)


def _resolve_parameters(
    instance: Component, cls: type[Component], owner: str, parameters: dict[str, Any] | None
) -> dict[str, Any]:
    """Parameters checked the way building a pipeline checks them, defaults filled in."""
    spec = cls.SPEC
    given = dict(instance.parameters) if isinstance(instance.__dict__.get("parameters"), dict) else {}
    given.update(parameters or {})
    resolved: dict[str, Any] = {}
    for name, value in given.items():
        if name not in spec.parameters:
            raise DefinitionError(f"{owner} has no parameter {name!r}; its parameters are {sorted(spec.parameters)}.")
        resolved[name] = check_parameter(owner, spec.parameters[name], value)
    for name, parameter in spec.parameters.items():
        if name not in resolved:
            if parameter.required:
                raise DefinitionError(f"{owner} needs parameter {name!r}; pass it in parameters=.")
            resolved[name] = parameter.default
    instance.check_parameters(owner, resolved)
    return resolved


def _resolve_inputs(
    cls: type[Component], owner: str, inputs: dict[str, Artifact | str | Path] | None
) -> dict[str, Artifact]:
    """Input artifacts (folders become artifacts of the declared type); every folder must exist."""
    spec = cls.SPEC
    resolved: dict[str, Artifact] = {}
    for name, value in (inputs or {}).items():
        if name not in spec.inputs:
            raise DefinitionError(f"{owner} has no input {name!r}; its inputs are {sorted(spec.inputs)}.")
        expected = spec.inputs[name].artifact_type
        if isinstance(value, Artifact):
            if not isinstance(value, expected):
                raise DefinitionError(f"{owner} input {name!r} expects {expected.TYPE_NAME}, got {value.TYPE_NAME}.")
            artifact = value
        elif isinstance(value, (str, Path)):
            artifact = expected(str(value))
        else:
            raise DefinitionError(
                f"{owner} input {name!r} must be an artifact or the path of its folder. Got {value!r} instead."
            )
        if not artifact.path.is_dir():
            raise DefinitionError(
                f"{owner} input {name!r}: the folder {artifact.uri!r} does not exist"
                + (" (it is a file; pass the artifact's folder)" if artifact.path.exists() else "")
                + f". Pass the folder of an existing {expected.TYPE_NAME} artifact."
            )
        resolved[name] = artifact
    for name, input_spec in spec.inputs.items():
        if name not in resolved and not input_spec.optional:
            raise DefinitionError(
                f"{owner} needs input {name!r} ({input_spec.artifact_type.TYPE_NAME}); pass it in inputs=."
            )
    return resolved


def _run_once(
    instance: Component, cls: type[Component], inputs: dict[str, Artifact], parameters: dict[str, Any], folder: Path
) -> dict[str, Artifact]:
    outputs = {name: out.artifact_type(str(folder / name)) for name, out in cls.SPEC.outputs.items()}
    for artifact in outputs.values():
        artifact.path.mkdir(parents=True, exist_ok=True)
    before = set(folder.iterdir())
    instance.call_execute({**inputs, **outputs, **parameters})
    stray = set(folder.iterdir()) - before
    if stray:
        raise AssertionError(f"component {cls.__name__} wrote outside its output folders: {sorted(map(str, stray))}")
    for name, artifact in outputs.items():
        try:
            check_properties(cls.__name__, name, artifact)
        except ComponentError as exc:  # the contract's failure, reported the way every check here reports
            raise AssertionError(str(exc)) from None
        artifact.fingerprint = content_fingerprint(artifact.path, artifact.properties)
    return outputs

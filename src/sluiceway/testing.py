"""Test a custom component in isolation, the way scikit-learn's estimator checks test an estimator.

``check_component(MyComponent, inputs={"examples": examples_artifact}, parameters={"z": 3.0})`` runs the
executor on the given input artifacts (or folders), without a pipeline or metadata store, and checks the
contract every component must keep:

- the parameters are valid for the component (the same checks as when a pipeline is built);
- the executor writes each output only inside its own folder and sets only JSON-storable properties;
- the executor does not modify its inputs (artifacts are immutable);
- with ``check_determinism=True`` (the default), a second run gives byte-identical outputs, so caching and
  reruns behave.

It returns the output artifacts (in ``workdir``) for further assertions. Failures raise ``AssertionError``
with a message saying which rule was broken.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sluiceway.artifacts.base import Artifact
from sluiceway.dsl.component import Component, _check_parameter
from sluiceway.errors import DefinitionError
from sluiceway.runners.publish import check_properties, content_fingerprint

__all__ = ["check_component"]


def check_component(
    component: type[Component] | Component,
    *,
    inputs: dict[str, Artifact | str | Path] | None = None,
    parameters: dict[str, Any] | None = None,
    workdir: str | Path | None = None,
    check_determinism: bool = True,
) -> dict[str, Artifact]:
    cls = component if isinstance(component, type) else type(component)
    if not (isinstance(cls, type) and issubclass(cls, Component)):
        raise TypeError(f"check_component takes a component class or instance, got {component!r}")
    spec = cls.SPEC
    owner = f"component {cls.__name__}"
    given_parameters = dict(component.parameters) if isinstance(component, Component) else {}
    given_parameters.update(parameters or {})
    resolved_parameters: dict[str, Any] = {}
    for name, value in given_parameters.items():
        if name not in spec.parameters:
            raise DefinitionError(f"{owner} has no parameter {name!r}; its parameters are {sorted(spec.parameters)}.")
        resolved_parameters[name] = _check_parameter(owner, spec.parameters[name], value)
    for name, parameter in spec.parameters.items():
        if name not in resolved_parameters:
            if parameter.required:
                raise DefinitionError(f"{owner} needs parameter {name!r}; pass it in parameters=.")
            resolved_parameters[name] = parameter.default

    resolved_inputs: dict[str, Artifact] = {}
    for name, value in (inputs or {}).items():
        if name not in spec.inputs:
            raise DefinitionError(f"{owner} has no input {name!r}; its inputs are {sorted(spec.inputs)}.")
        expected = spec.inputs[name].artifact_type
        if isinstance(value, Artifact):
            if not isinstance(value, expected):
                raise DefinitionError(f"{owner} input {name!r} expects {expected.TYPE_NAME}, got {value.TYPE_NAME}.")
            resolved_inputs[name] = value
        else:
            resolved_inputs[name] = expected(str(value))
    for name, input_spec in spec.inputs.items():
        if name not in resolved_inputs and not input_spec.optional:
            raise DefinitionError(f"{owner} needs input {name!r} ({input_spec.artifact_type.TYPE_NAME}); pass it in inputs=.")

    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="sluiceway-check-"))
    before = {name: content_fingerprint(a.path, {}) for name, a in resolved_inputs.items() if a.path.exists()}
    instance = component if isinstance(component, Component) else cls.__new__(cls)
    first = _run_once(instance, cls, resolved_inputs, resolved_parameters, root / "run-1")
    for name, artifact in resolved_inputs.items():
        if name in before and content_fingerprint(artifact.path, {}) != before[name]:
            raise AssertionError(f"{owner} modified its input {name!r} at {artifact.uri}; inputs are immutable, write to an output instead.")
    if check_determinism:
        second = _run_once(instance, cls, resolved_inputs, resolved_parameters, root / "run-2")
        for name in first:
            if first[name].fingerprint != second[name].fingerprint:
                raise AssertionError(
                    f"{owner} output {name!r} differs between two runs on the same inputs; make the executor "
                    "deterministic (seed random generators, sort outputs) or pass check_determinism=False."
                )
    return first


def _run_once(instance: Component, cls: type[Component], inputs: dict[str, Artifact], parameters: dict[str, Any], folder: Path) -> dict[str, Artifact]:
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
        except Exception as exc:
            raise AssertionError(str(exc)) from None
        artifact.fingerprint = content_fingerprint(artifact.path, artifact.properties)
    return outputs

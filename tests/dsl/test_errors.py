"""One error contract: malformed definitions raise DefinitionError (never a built-in exception)."""

from __future__ import annotations

import pickle
from typing import Annotated

import pydantic
import pytest

import sluiceway as sw


@sw.component
def make(out: sw.Output[sw.Examples]) -> None: ...


@sw.component
def bounded(
    examples: sw.Input[sw.Examples], out: sw.Output[sw.Model], *, rows: Annotated[int, pydantic.Field(ge=1)] = 1
) -> None: ...


def _define(annotation: str) -> None:
    exec(f"@sw.component\ndef f(x: {annotation}, out: sw.Output[sw.Model]) -> None: ...\n", {"sw": sw})


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (
            "sw.Input[int]",
            "Input[...] takes one artifact type (a subclass of sluiceway.Artifact, e.g. Input[Examples]). "
            "Got Input[int]",
        ),
        ("sw.Output[3]", "Output[...] takes one artifact type"),
        ("sw.Input[sw.Examples, sw.Model]", "Got Input[Examples, Model] instead"),
        ("'sw.Input['", "the type annotations of its executor are malformed"),
        ("'NotDefinedAnywhere'", "cannot resolve the type annotations"),
        ("int", "expected Input[ArtifactType] or Output[ArtifactType] before the '*'"),
    ],
)
def test_malformed_annotations_raise_definition_errors(annotation: str, expected: str) -> None:
    with pytest.raises(sw.DefinitionError) as info:
        _define(annotation)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: bounded(make().out), "takes its inputs and parameters by keyword; got 1 positional argument"),
        (
            lambda: make(after=make(id="other")),
            "The 'after' setting of component 'make' (make) must be a list of components",
        ),
        (lambda: make(after=["gen"]), "'after' takes components, got 'gen'"),
        (
            lambda: bounded(examples=make().out, rows=0),
            "The 'rows' parameter of component 'bounded' (bounded) must be an int >= 1. Got 0",
        ),
        (lambda: sw.Pipeline("p", make()), "the components must be a list of component instances"),
        (lambda: sw.Pipeline("p", None), "Got None instead"),
        (lambda: sw.Pipeline("p", [make()], description=3), "description must be a string"),
    ],
)
def test_wrong_arguments_raise_definition_errors(build, expected: str) -> None:
    with pytest.raises(sw.DefinitionError) as info:
        build()
    assert expected in str(info.value)


def test_annotated_bounds_are_checked_at_build_time() -> None:
    with pytest.raises(sw.DefinitionError, match="greater than or equal to 1"):
        bounded(examples=make().out, rows=0)
    assert bounded(examples=make().out, rows=5).parameters == {"rows": 5}


def test_component_error_carries_where_it_happened_and_survives_pickling() -> None:
    error = sw.ComponentError("train failed", component_id="train", run_name="r1", log_path="logs/r1/train.log")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.component_id, copy.run_name, copy.log_path, str(copy)) == (
        "train",
        "r1",
        "logs/r1/train.log",
        "train failed",
    )
    assert sw.ComponentError("plain").component_id is None  # the attributes are optional


def test_every_public_error_is_a_sluiceway_error() -> None:
    names = [n for n in sw.__all__ if n.endswith("Error") or n == "GateClosed"]
    assert names and all(issubclass(getattr(sw, n), sw.SluicewayError) for n in names)


def test_an_artifact_type_name_cannot_be_taken_twice() -> None:
    with pytest.raises(
        sw.DefinitionError, match="the type name 'Model' is already used by sluiceway.artifacts.standard.Model"
    ):

        class Model(sw.Artifact):  # a user's class named like a standard type
            pass

    class Report(sw.Artifact):
        TYPE_NAME = "test_errors.Report"

    from sluiceway.artifacts import artifact_class

    assert artifact_class("test_errors.Report") is Report
    with pytest.raises(sw.DefinitionError, match="TYPE_NAME must be a non-empty string"):

        class Nameless(sw.Artifact):
            TYPE_NAME = ""


@pytest.mark.parametrize(
    "source",
    [
        "async def f(out: sw.Output[sw.Model]) -> None: ...",
        "def f(out: sw.Output[sw.Model]):\n    yield 1",
    ],
)
def test_an_executor_that_would_never_run_its_body_is_refused(source: str) -> None:
    namespace: dict = {"sw": sw}
    exec(source, namespace)
    with pytest.raises(sw.DefinitionError, match="must be a plain function"):
        sw.component(namespace["f"])


def test_an_async_execute_method_is_refused() -> None:
    with pytest.raises(sw.DefinitionError, match="Component Later: the executor must be a plain function"):

        class Later(sw.Component):
            async def execute(self, out: sw.Output[sw.Model]) -> None: ...

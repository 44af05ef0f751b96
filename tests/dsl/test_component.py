"""Defining components: the decorator and classes, wiring by attribute, and definition-time errors."""

from __future__ import annotations

import pytest

import sluiceway as sw
from sluiceway.dsl.component import code_fingerprint


@sw.component
def make(examples: sw.Output[sw.Examples], *, rows: int = 5) -> None:
    """Make examples."""


@sw.component
def train(
    examples: sw.Input[sw.Examples], model: sw.Output[sw.Model], *, learning_rate: float = 0.1, layers: list[int] = [8]  # noqa: B006
) -> None:
    """Train."""


@sw.component
def evaluate(
    model: sw.Input[sw.Model],
    examples: sw.Input[sw.Examples] | None = None,
    evaluation: sw.Output[sw.ModelEvaluation] = None,
) -> None:  # type: ignore[assignment]
    """Optional input."""


class Summarize(sw.Component):
    """A class-based component."""

    def execute(
        self, examples: sw.Input[sw.Examples], statistics: sw.Output[sw.ExampleStatistics], *, top_k: int = 10
    ) -> None:
        statistics.properties["top_k"] = top_k


def test_decorator_builds_a_component_class_with_its_contract() -> None:
    spec = train.SPEC
    assert list(spec.inputs) == ["examples"] and spec.inputs["examples"].artifact_type is sw.Examples
    assert list(spec.outputs) == ["model"] and spec.outputs["model"].artifact_type is sw.Model
    assert set(spec.parameters) == {"learning_rate", "layers"}
    assert issubclass(train, sw.Component) and train.__doc__ == "Train."


def test_outputs_are_attributes_and_wire_inputs() -> None:
    gen = make(rows=3)
    trainer = train(examples=gen.examples, learning_rate=1)
    assert trainer.inputs["examples"] is gen.examples
    assert trainer.parameters == {"learning_rate": 1.0, "layers": [8]}
    assert trainer.upstream == [gen]
    assert gen.id == "make" and trainer.model.producer is trainer


def test_class_component_and_optional_input() -> None:
    gen = make()
    summary = Summarize(examples=gen.examples, top_k=3, id="summary")
    assert summary.id == "summary" and summary.parameters == {"top_k": 3}
    assert evaluate.SPEC.inputs["examples"].optional
    ev = evaluate(model=train(examples=gen.examples).model)
    assert "examples" not in ev.inputs


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (
            lambda g: train(examples=g.examples, learning_rate="fast"),
            "The 'learning_rate' parameter of component 'train' (train) must be a float. Got 'fast'",
        ),
        (lambda g: train(examples=g.examples, learning_rat=0.1), "unknown argument 'learning_rat'"),
        (lambda g: train(), "missing its required input 'examples' (Examples)"),
        (lambda g: train(examples=g), "got the component 'make' itself. Did you mean make.examples?"),
        (
            lambda g: evaluate(model=g.examples),
            "input 'model' expects Model, but <Examples output make.examples> produces Examples",
        ),
        (lambda g: train(examples=g.examples, model=None), "'model' is an output, not an input or parameter"),
        (
            lambda g: train(examples=g.examples, retries=-1),
            "'retries' setting of component 'train' (train) must be an integer >= 0",
        ),
        (lambda g: train(examples=g.examples, id="bad id!"), "The id of train must start with a letter, digit or '_'"),
    ],
)
def test_wiring_and_parameter_errors_say_what_where_and_how(build, expected: str) -> None:
    with pytest.raises(sw.DefinitionError) as info:
        build(make())
    assert expected in str(info.value)


def test_unknown_output_attribute_suggests_the_right_name() -> None:
    with pytest.raises(AttributeError, match="Did you mean 'examples'"):
        make().exampels  # noqa: B018


def test_bad_executor_signatures_are_rejected_at_definition() -> None:
    with pytest.raises(sw.DefinitionError, match="parameters need a type annotation"):

        @sw.component
        def untyped(examples: sw.Output[sw.Examples], *, z=1) -> None: ...

    with pytest.raises(sw.DefinitionError, match="Parameters must be keyword-only"):

        @sw.component
        def positional(examples: sw.Output[sw.Examples], z: float = 1.0) -> None: ...

    with pytest.raises(sw.DefinitionError, match="reserved"):

        @sw.component
        def reserved(examples: sw.Output[sw.Examples], *, retries: int = 1) -> None: ...


def test_code_fingerprint_changes_with_the_code() -> None:
    namespace: dict = {"sw": sw}
    exec("@sw.component\ndef f(out: sw.Output[sw.Model], *, a: int = 1) -> None:\n    pass\n", namespace)
    first = code_fingerprint(namespace["f"])
    exec("@sw.component\ndef f(out: sw.Output[sw.Model], *, a: int = 1) -> None:\n    print('changed')\n", namespace)
    assert code_fingerprint(namespace["f"]) != first

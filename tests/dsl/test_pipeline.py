"""Pipelines check their graph when they are built."""

from __future__ import annotations

import pytest

import sluiceway as sw


@sw.component
def source(examples: sw.Output[sw.Examples]) -> None: ...


@sw.component
def step(examples: sw.Input[sw.Examples], out: sw.Output[sw.Examples]) -> None: ...


def test_topological_order_is_stable_whatever_the_list_order() -> None:
    a = source()
    b = step(examples=a.examples, id="b")
    c = step(examples=b.out, id="c")
    d = step(examples=a.examples, id="d")
    pipeline = sw.Pipeline("p", [c, d, b, a])
    order = pipeline.component_ids
    assert order.index("a" if False else "source") < order.index("b") < order.index("c")
    assert order.index("source") < order.index("d")
    assert pipeline.downstream_ids("b") == {"c"}
    assert pipeline.describe()["components"][0]["id"] == "source"


def test_duplicate_ids_name_both_components_and_the_fix() -> None:
    a = source()
    with pytest.raises(sw.DefinitionError, match=r"two components have the id 'x' \(step and step\).*unique id"):
        sw.Pipeline("p", [a, step(examples=a.examples, id="x"), step(examples=a.examples, id="x")])


def test_missing_upstream_component_is_reported() -> None:
    a = source()
    b = step(examples=a.examples)
    with pytest.raises(sw.DefinitionError, match="input 'examples' comes from 'source', which is not in the pipeline"):
        sw.Pipeline("p", [b])


def test_cycles_are_reported_with_their_path() -> None:
    a = source()
    b = step(examples=a.examples, id="b")
    c = step(examples=b.out, id="c")
    b.add_upstream(c)
    with pytest.raises(sw.DefinitionError, match=r"has a cycle: .*b.*c.*b|has a cycle: .*c.*b.*c"):
        sw.Pipeline("p", [a, b, c])


@pytest.mark.parametrize("name", ["", "has space", "-dash", None, "..", ".hidden", "a/b", "a\\b", "x" * 201, "line\n"])
def test_bad_pipeline_names(name) -> None:
    with pytest.raises(sw.DefinitionError, match="Pipeline name"):
        sw.Pipeline(name, [source()])


def test_non_components_in_the_list() -> None:
    with pytest.raises(sw.DefinitionError, match="Did you forget to call it"):
        sw.Pipeline("p", [source])

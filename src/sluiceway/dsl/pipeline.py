"""Pipeline: a named DAG of component instances, checked when it is built."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sluiceway.dsl.component import Component
from sluiceway.errors import DefinitionError

MAX_NAME_LENGTH = 200  # run names add a timestamp to it; the store keeps names of up to 255 characters
_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_NAME_LENGTH - 1}}}", re.ASCII)


class Pipeline:
    """A named DAG of components: ``Pipeline("penguin", [gen, stats, train])``.

    The list may be in any order; ``components`` is the stable topological order (ties keep list order).
    Raises ``DefinitionError`` for a bad name, duplicate component ids, a component wired to one that is
    not in the list, and cycles.

    ``engine``: where the components' data work runs unless a component says otherwise
    (``Component(engine=...)``) or the run does (``sluiceway run --engine``): ``"local"`` (threads in the
    component's process, the default), ``"ray"`` (Ray tasks on the cluster at ``RAY_ADDRESS``) or an
    ``Engine`` such as ``RayEngine(address=...)``.
    """

    def __init__(
        self, name: str, components: Iterable[Component], *, description: str = "", engine: Any = None
    ) -> None:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise DefinitionError(
                f"Pipeline name must start with a letter or digit and contain only letters, digits, "
                f"'_', '-' or '.' (at most {MAX_NAME_LENGTH} characters). Got {name!r} instead."
            )
        if not isinstance(description, str):
            raise DefinitionError(f"Pipeline {name!r}: description must be a string. Got {description!r} instead.")
        from sluiceway.data.engine import check_engine_spec

        check_engine_spec(engine, f"The 'engine' setting of pipeline {name!r}")
        self.name = name
        self.description = description
        self.engine = engine
        if isinstance(components, Component) or not isinstance(components, Iterable):
            raise DefinitionError(
                f"Pipeline {name!r}: the components must be a list of component instances, e.g. "
                f"Pipeline({name!r}, [gen, stats]). Got {components!r} instead."
            )
        given = list(components)
        for index, item in enumerate(given):
            if not isinstance(item, Component):
                raise DefinitionError(
                    f"Pipeline {name!r}: item {index} of the component list is {item!r}, not a component "
                    "instance. Did you forget to call it, e.g. StatisticsGen(examples=gen.examples)?"
                )
        by_id: dict[str, Component] = {}
        for item in given:
            if item.id in by_id:
                if by_id[item.id] is item:
                    raise DefinitionError(f"Pipeline {name!r}: component {item.id!r} is listed twice; list it once.")
                raise DefinitionError(
                    f"Pipeline {name!r}: two components have the id {item.id!r} "
                    f"({type(by_id[item.id]).__name__} and {type(item).__name__}). Give one a unique id, "
                    f"e.g. {type(item).__name__}(..., id='{item.id}_2')."
                )
            by_id[item.id] = item
        members = {id(c) for c in given}
        for item in given:
            for input_name, channel in item.inputs.items():
                producer = getattr(channel, "producer", None)
                if producer is not None and id(producer) not in members:
                    raise DefinitionError(
                        f"Pipeline {name!r}: component {item.id!r} input {input_name!r} comes from "
                        f"{producer.id!r}, which is not in the pipeline. Add {producer.id!r} to the component list."
                    )
            for other in item.upstream_components:
                if id(other) not in members:
                    raise DefinitionError(
                        f"Pipeline {name!r}: component {item.id!r} runs after {other.id!r}, which is not in "
                        f"the pipeline. Add {other.id!r} to the component list."
                    )
        self.components: list[Component] = _topological_order(name, given)
        self._by_id = {c.id: c for c in self.components}

    def component(self, component_id: str) -> Component:
        try:
            return self._by_id[component_id]
        except KeyError:
            raise DefinitionError(
                f"Pipeline {self.name!r} has no component {component_id!r}. "
                f"Its components are: {', '.join(self._by_id)}."
            ) from None

    def engine_for(self, component: Component, run_engine: Any = None) -> Any:
        """The engine ``component`` runs its data work on: its own setting, else the run's (``--engine``),
        else this pipeline's, else None (the in-process engine)."""
        for choice in (component.engine, run_engine, self.engine):
            if choice is not None:
                return choice
        return None

    @property
    def component_ids(self) -> list[str]:
        return list(self._by_id)

    def upstream_ids(self, component_id: str) -> list[str]:
        return [c.id for c in self.component(component_id).upstream]

    def downstream_ids(self, component_id: str) -> set[str]:
        """Every component that depends, directly or not, on ``component_id``."""
        result: set[str] = set()
        frontier = [component_id]
        while frontier:
            current = frontier.pop()
            for candidate in self.components:
                if candidate.id not in result and current in (u.id for u in candidate.upstream):
                    result.add(candidate.id)
                    frontier.append(candidate.id)
        return result

    def describe(self) -> dict:
        """The DAG as plain data (recorded with each run so `runs show` works without the pipeline file)."""
        return {
            "name": self.name,
            "components": [
                {
                    "id": c.id,
                    "type": c.type_name,
                    "upstream": [u.id for u in c.upstream],
                    **({"when": str(c.condition)} if c.condition is not None else {}),
                }
                for c in self.components
            ],
        }

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, {len(self.components)} components)"


def _topological_order(pipeline_name: str, components: list[Component]) -> list[Component]:
    position = {id(c): i for i, c in enumerate(components)}
    state: dict[int, int] = {}  # 1 = visiting, 2 = done
    order: list[Component] = []

    def visit(node: Component, path: list[Component]) -> None:
        mark = state.get(id(node))
        if mark == 2:
            return
        if mark == 1:
            cycle = path[path.index(node) :] + [node]
            raise DefinitionError(
                f"Pipeline {pipeline_name!r} has a cycle: {' -> '.join(c.id for c in cycle)}. "
                "A component cannot depend on its own output, directly or through others; remove one of these links."
            )
        state[id(node)] = 1
        for upstream in sorted(node.upstream, key=lambda c: position[id(c)]):
            visit(upstream, [*path, node])
        state[id(node)] = 2
        order.append(node)

    for item in components:
        visit(item, [])
    return order

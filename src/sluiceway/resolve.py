"""Resolvers: inputs found in the metadata store when a component runs, not produced in the same run.

    evaluator = Evaluator(model=trainer.model, examples=gen.examples,
                          baseline_model=sw.resolve.latest_blessed_model())

``latest_blessed_model()`` is a channel (like ``trainer.model``) that the runner resolves just before the
component runs: the Model of the newest positive ``ModelBlessing`` recorded for the pipeline, or nothing
on a first run — the input is then left out (an optional input gets ``None``; a required one fails the
execution with a message saying so). The resolved model is an input like any other: it is recorded with
the execution (lineage shows which baseline was used) and is part of the cache key. The same query is
available directly as ``find_latest_blessed_model(store, pipeline)``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from sluiceway.artifacts.standard import Model, ModelBlessing
from sluiceway.dsl.component import Channel
from sluiceway.errors import DefinitionError

if TYPE_CHECKING:
    from sluiceway.artifacts.base import Artifact
    from sluiceway.metadata.store import MetadataStore, RunRecord

__all__ = ["Resolver", "find_latest_blessed_model", "latest_blessed_model"]

# How many of the pipeline's most recent runs are searched for a blessing.
MAX_RUNS_SEARCHED = 1000


class Resolver(Channel):
    """A channel the runner fills from the metadata store at run time (see the module docstring).

    Subclasses set ``artifact_type`` and implement ``resolve``; the runner calls it with the store, the
    name of the pipeline being run, the current run and the component's inputs that come from upstream
    components (already resolved), and wires what it returns (None: nothing found).
    """

    producer = None  # no upstream component: the pipeline's DAG checks and scheduling skip it

    def resolve(
        self, store: MetadataStore, *, pipeline: str, run: RunRecord, inputs: Mapping[str, Artifact]
    ) -> Any:  # pragma: no cover
        raise NotImplementedError


class LatestBlessedModel(Resolver):
    """The Model of the newest positive ModelBlessing of a pipeline (what ``latest_blessed_model()`` returns)."""

    artifact_type = Model

    def __init__(self, pipeline: str | None = None, *, evaluator: str | None = None) -> None:
        for name, value in (("pipeline", pipeline), ("evaluator", evaluator)):
            if value is not None and (not isinstance(value, str) or not value):
                raise DefinitionError(
                    f"The {name!r} argument of sw.resolve.latest_blessed_model must be a non-empty string or None. "
                    f"Got {value!r} instead."
                )
        self.pipeline = pipeline
        self.evaluator = evaluator

    def resolve(
        self, store: MetadataStore, *, pipeline: str, run: RunRecord, inputs: Mapping[str, Artifact]
    ) -> Model | None:
        candidates = {a.id for a in inputs.values() if a.TYPE_NAME == Model.TYPE_NAME and a.id is not None}
        return find_latest_blessed_model(store, self.pipeline or pipeline, evaluator=self.evaluator, exclude=candidates)

    def __repr__(self) -> str:
        where = f"pipeline {self.pipeline!r}" if self.pipeline else "this pipeline"
        by = f", blessed by {self.evaluator!r}" if self.evaluator else ""
        return f"<latest blessed Model of {where}{by}>"


def latest_blessed_model(pipeline: str | None = None, *, evaluator: str | None = None) -> LatestBlessedModel:
    """A channel resolving to the last blessed Model of ``pipeline`` (default: the pipeline it is used in).

    ``evaluator`` restricts it to blessings written by the component with that id. Pass it as an input,
    typically ``Evaluator(baseline_model=sw.resolve.latest_blessed_model())``; on the first run there is no
    blessed model and the Evaluator checks value bounds only.
    """
    return LatestBlessedModel(pipeline, evaluator=evaluator)


def find_latest_blessed_model(
    store: MetadataStore, pipeline: str, *, evaluator: str | None = None, exclude: Collection[int] = ()
) -> Model | None:
    """The Model of the newest positive ModelBlessing recorded in ``pipeline``'s runs, or None.

    "Newest" is the latest execution that produced (or reused from the cache) a blessing with
    ``blessed=True``; the model must still be LIVE and, for a local artifact, on disk (``sluiceway gc``
    may have removed it). Models whose artifact id is in ``exclude`` (the candidate) are passed over.
    """
    for run in store.list_runs(pipeline=pipeline, limit=MAX_RUNS_SEARCHED):  # newest first
        for execution in reversed(store.executions(run.id)):
            if evaluator is not None and execution.component_id != evaluator:
                continue
            if execution.state not in ("COMPLETE", "CACHED"):
                continue
            blessed = any(
                a.TYPE_NAME == ModelBlessing.TYPE_NAME and a.properties.get("blessed") is True
                for a in execution.outputs.values()
            )
            model = _blessed_input(execution.inputs) if blessed else None
            if model is not None and model.id not in exclude and _usable(model):
                return model
    return None


def _blessed_input(inputs: dict[str, Any]) -> Model | None:
    """The model an evaluation blessed: its input ``model``, else its only Model input other than a baseline."""
    found = inputs.get("model")
    if found is None:
        others = [a for name, a in inputs.items() if a.TYPE_NAME == Model.TYPE_NAME and name != "baseline_model"]
        found = others[0] if len(others) == 1 else None
    return found if found is not None and found.TYPE_NAME == Model.TYPE_NAME else None


def _usable(model: Any) -> bool:
    if model.state is not None and model.state != "LIVE":
        return False
    return "://" in model.uri or model.path.is_dir()

"""Pipelines the RayRunner tests run on the session's cluster (its workers import this folder).

Each component records where it ran (process id, Ray task id) in its output's properties. The two
``side`` components of ``resources_pipeline`` wait for each other (files in ``SLUICEWAY_TEST_MEET``) so
they can only complete if Ray runs them at the same time; ``whole`` asks for both of the cluster's CPUs.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import sluiceway as sw
from sluiceway.components import CsvExampleGen, ExampleValidator, SchemaGen, StatisticsGen

MEET_TIMEOUT_SECONDS = 60.0


def _where(properties: dict) -> None:
    import ray

    properties["pid"] = os.getpid()
    properties["ray_task_id"] = ray.get_runtime_context().get_task_id()


@sw.component
def produce(examples: sw.Output[sw.Examples]) -> None:
    split = examples.path / "Split-train"
    split.mkdir(parents=True)
    (split / "rows.txt").write_text("1\n2\n3\n")
    examples.properties["split_names"] = ["train"]
    examples.properties["row_counts"] = {"train": 3}
    _where(examples.properties)


@sw.component
def side(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model], *, peer: str = "") -> None:
    """Holds until ``peer`` has started too: completes only when both run side by side."""
    meet = Path(os.environ["SLUICEWAY_TEST_MEET"])
    (meet / model.producer).write_text(str(os.getpid()))
    arrived = threading.Event()
    deadline = time.monotonic() + MEET_TIMEOUT_SECONDS
    while not (meet / peer).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{peer} did not start while {model.producer} ran: they were not run side by side")
        arrived.wait(0.05)  # polling the peer's file, bounded by the deadline above
    (model.path / "model.txt").write_text("side")
    _where(model.properties)


@sw.component
def whole(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
    (model.path / "model.txt").write_text("whole")
    _where(model.properties)


@sw.component
def broken(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
    raise ValueError("broken on purpose")


@sw.component
def lose_worker(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # the Ray worker process dies mid-component


def resources_pipeline() -> sw.Pipeline:
    gen = produce()
    left = side(examples=gen.examples, id="left", peer="right", resources={"num_cpus": 1})
    right = side(examples=gen.examples, id="right", peer="left", resources={"num_cpus": 1})
    both = whole(examples=gen.examples, id="both", resources={"num_cpus": 2})
    return sw.Pipeline("ray-resources", [gen, left, right, both])


def failing_pipeline() -> sw.Pipeline:
    gen = produce()
    bad = broken(examples=gen.examples)
    after = whole(examples=bad.model, id="after")
    return sw.Pipeline("ray-failing", [gen, bad, after])


def lost_worker_pipeline() -> sw.Pipeline:
    gen = produce()
    return sw.Pipeline("ray-lost", [gen, lose_worker(examples=gen.examples)])


def gpu_pipeline() -> sw.Pipeline:
    gen = produce()
    return sw.Pipeline("ray-gpu", [gen, whole(examples=gen.examples, id="train", resources={"num_gpus": 1})])


def _penguin_csv() -> str:
    from importlib.util import find_spec

    spec = find_spec("palmerpenguins")
    assert spec is not None and spec.submodule_search_locations
    return str(Path(spec.submodule_search_locations[0]) / "data" / "penguins.csv")


def data_pipeline() -> sw.Pipeline:
    gen = CsvExampleGen(input_pattern=_penguin_csv())
    stats = StatisticsGen(examples=gen.examples)
    schema = SchemaGen(statistics=stats.statistics)
    validator = ExampleValidator(statistics=stats.statistics, schema=schema.schema)
    return sw.Pipeline("ray-data", [gen, stats, schema, validator])

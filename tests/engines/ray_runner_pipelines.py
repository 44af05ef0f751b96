"""Pipelines the RayRunner tests run on the session's cluster (its workers import this folder).

Each component records where it ran (process id, Ray task id) in its output's properties. The two
``side`` components of ``resources_pipeline`` wait for each other (a file each in the folder ``meet``) so
they can only complete if Ray runs them at the same time; ``both`` asks for both of the cluster's CPUs.
Tests pass per-test values by writing a small pipeline file that calls these functions.
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
    context = ray.get_runtime_context()
    properties["ray_task_id"] = context.get_task_id()
    properties["ray_resources"] = context.get_assigned_resources()  # what the task reserved


@sw.component
def produce(examples: sw.Output[sw.Examples]) -> None:
    split = examples.path / "Split-train"
    split.mkdir(parents=True)
    (split / "rows.txt").write_text("1\n2\n3\n")
    examples.properties["split_names"] = ["train"]
    examples.properties["row_counts"] = {"train": 3}
    _where(examples.properties)


@sw.component
def side(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model], *, meet: str, peer: str) -> None:
    """Holds until ``peer`` has started too (its file in ``meet``): completes only when both run side by side."""
    folder = Path(meet)
    (folder / model.producer).write_text(str(os.getpid()))
    arrived = threading.Event()
    deadline = time.monotonic() + MEET_TIMEOUT_SECONDS
    while not (folder / peer).exists():
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


@sw.component
def hold(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model], *, marker: str) -> None:
    """The first time: writes ``marker`` and holds (until Ctrl-C cancels its task); afterwards completes."""
    if not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        never = threading.Event()
        deadline = time.monotonic() + MEET_TIMEOUT_SECONDS
        while time.monotonic() < deadline:  # Python-level steps, where the task's cancellation lands
            never.wait(0.05)
        (model.path / "late.txt").write_text("held to the end: the task was not canceled")
    (model.path / "model.txt").write_text("held")


def resources_pipeline(meet: str) -> sw.Pipeline:
    gen = produce()
    left = side(examples=gen.examples, id="left", meet=meet, peer="right", resources={"num_cpus": 1})
    right = side(examples=gen.examples, id="right", meet=meet, peer="left", resources={"num_cpus": 1})
    # After the pair: a 2-CPU and a 1-CPU component side by side in the DAG, which Ray must run one at a time.
    # (Not beside the pair: Ray may hold a 1-CPU task back while a 2-CPU one waits, and the pair would never meet.)
    both = whole(examples=gen.examples, id="both", after=[left, right], resources={"num_cpus": 2})
    lone = whole(examples=gen.examples, id="lone", after=[left, right], resources={"num_cpus": 1})
    return sw.Pipeline("ray-resources", [gen, left, right, both, lone])


def failing_pipeline() -> sw.Pipeline:
    gen = produce()
    bad = broken(examples=gen.examples)
    after = whole(examples=gen.examples, id="after", after=[bad])
    return sw.Pipeline("ray-failing", [gen, bad, after])


def lost_worker_pipeline() -> sw.Pipeline:
    gen = produce()
    return sw.Pipeline("ray-lost", [gen, lose_worker(examples=gen.examples)])


def hold_pipeline(marker: str) -> sw.Pipeline:
    gen = produce()
    return sw.Pipeline("ray-hold", [gen, hold(examples=gen.examples, marker=marker)])


def tiny_pipeline() -> sw.Pipeline:
    gen = produce()
    return sw.Pipeline("ray-tiny", [gen, whole(examples=gen.examples, id="train", resources={"num_cpus": 0.5})])


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

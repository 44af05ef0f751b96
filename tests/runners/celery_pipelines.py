"""Pipelines for the Celery tests that kill a worker mid-task and that interrupt a run.

``create_pipeline``: ``hold`` runs twice: the first time it records that it started
(``SLUICEWAY_TEST_HOLD_MARKER``), tells the test its process id through the named pipe
``SLUICEWAY_TEST_HOLD_FIFO`` and then blocks until its worker is killed; the second time (the redelivered
task, on the other worker) it completes at once. With ``SLUICEWAY_TEST_HOLD_STUBBORN`` set it also
ignores Celery's soft time limit, so that only the hard limit ends it.

``create_cancel_pipeline``: three independent ``slot`` components and ``gather`` downstream of them. With two
workers of one process each, two slots start and the third waits in the broker's queue, whichever order the
runner sent them in: the first two to start claim the files ``held-0`` and ``held-1`` in
``SLUICEWAY_TEST_CANCEL_DIR`` (the claim is atomic) and wait there until the test creates ``release``; a slot
that finds both claimed completes at once. Every start appends the slot's name to ``started.log``.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import sluiceway as sw


@sw.component
def hold(examples: sw.Output[sw.Examples]) -> None:
    split = examples.path / "Split-train"
    split.mkdir(parents=True)
    (split / "rows.txt").write_text("1\n2\n3\n")
    examples.properties["split_names"] = ["train"]
    examples.properties["row_counts"] = {"train": 3}
    marker = Path(os.environ["SLUICEWAY_TEST_HOLD_MARKER"])
    if marker.exists():
        return
    marker.write_text(str(os.getpid()))
    with open(os.environ["SLUICEWAY_TEST_HOLD_FIFO"], "w") as fifo:  # blocks until the test reads
        fifo.write(str(os.getpid()))
    while True:
        try:
            threading.Event().wait()  # held here until the test kills this worker
        except BaseException:  # Celery's soft time limit, caught where SLUICEWAY_TEST_HOLD_STUBBORN says so
            if not os.environ.get("SLUICEWAY_TEST_HOLD_STUBBORN"):
                raise


@sw.component
def count(examples: sw.Input[sw.Examples], report: sw.Output[sw.ModelEvaluation]) -> None:
    rows = (examples.path / "Split-train" / "rows.txt").read_text().split()
    report.write_json("report.json", {"rows": len(rows)})


def create_pipeline() -> sw.Pipeline:
    held = hold()
    return sw.Pipeline("celery-hold", [held, count(examples=held.examples)])


HELD_SLOTS = 2
RELEASE_DEADLINE_S = 300.0  # a held slot that is never released fails instead of holding its worker forever


@sw.component
def slot(examples: sw.Output[sw.Examples], *, name: str) -> None:
    folder = Path(os.environ["SLUICEWAY_TEST_CANCEL_DIR"])
    with open(folder / "started.log", "a") as log:
        log.write(name + "\n")
    claim = folder / f"claim-{name}-{os.getpid()}"
    claim.write_text(name)
    for index in range(HELD_SLOTS):
        try:
            os.link(claim, folder / f"held-{index}")  # atomic: exactly one slot wins each file, with its name in it
        except FileExistsError:
            continue
        deadline = time.monotonic() + RELEASE_DEADLINE_S
        while not (folder / "release").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"slot {name}: the test never created {folder / 'release'}")
            time.sleep(0.05)
        break
    claim.unlink()
    split = examples.path / "Split-train"
    split.mkdir(parents=True)
    (split / "rows.txt").write_text(f"{name}\n")
    examples.properties["split_names"] = ["train"]
    examples.properties["row_counts"] = {"train": 1}


@sw.component
def gather(
    a: sw.Input[sw.Examples], b: sw.Input[sw.Examples], c: sw.Input[sw.Examples], report: sw.Output[sw.ModelEvaluation]
) -> None:
    names = [(x.path / "Split-train" / "rows.txt").read_text().strip() for x in (a, b, c)]
    report.write_json("report.json", {"slots": names})


def create_cancel_pipeline() -> sw.Pipeline:
    slots = [slot(name=name, id=f"slot_{name}") for name in "abc"]
    return sw.Pipeline(
        "celery-cancel", [*slots, gather(a=slots[0].examples, b=slots[1].examples, c=slots[2].examples)]
    )

"""A pipeline for the Celery test that kills a worker mid-task.

``hold`` runs twice: the first time it records that it started (``SLUICEWAY_TEST_HOLD_MARKER``), tells the
test its process id through the named pipe ``SLUICEWAY_TEST_HOLD_FIFO`` and then blocks until its worker is
killed; the second time (the redelivered task, on the other worker) it completes at once.
"""

from __future__ import annotations

import os
import threading
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
    threading.Event().wait()  # held here until the test kills this worker


@sw.component
def count(examples: sw.Input[sw.Examples], report: sw.Output[sw.ModelEvaluation]) -> None:
    rows = (examples.path / "Split-train" / "rows.txt").read_text().split()
    report.write_json("report.json", {"rows": len(rows)})


def create_pipeline() -> sw.Pipeline:
    held = hold()
    return sw.Pipeline("celery-hold", [held, count(examples=held.examples)])

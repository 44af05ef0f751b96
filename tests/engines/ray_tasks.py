"""Map functions of the Ray tests: module-level, so Ray workers import them (this folder is on their path)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sluiceway.data.engine import Fragment
from sluiceway.errors import DataError


def where_and_rows(fragment: Fragment, batches: Iterator[Any]) -> list[tuple[str, int, int, int]]:
    """(file name, row group, rows, worker pid) of one fragment."""
    rows = sum(batch.num_rows for batch in batches)
    group = fragment.row_groups[0] if fragment.row_groups else -1
    return [(Path(fragment.path).name, group, rows, os.getpid())]


def timed(fragment: Fragment, batches: Iterator[Any]) -> list[tuple[float, float]]:
    """When the task started and ended (wall clock, comparable across processes of one machine)."""
    started = time.time()
    sum(batch.num_rows for batch in batches)
    time.sleep(0.2)  # a task long enough that overlapping tasks would show
    return [(started, time.time())]


def concatenate(left: list[Any], right: list[Any]) -> list[Any]:
    return left + right


def fails_on_second_row_group(fragment: Fragment, batches: Iterator[Any]) -> int:
    if fragment.row_groups == (1,):
        raise ValueError("bad value in this row group")
    return sum(batch.num_rows for batch in batches)


def refuses_data(fragment: Fragment, batches: Iterator[Any]) -> int:
    raise DataError("the column 'dep_delay' has a negative count")


def add(left: int, right: int) -> int:
    return left + right


class WaitForRelease:
    """Writes ``started-N``, then waits for the file ``release``; a cancelled task writes ``cancelled-N``."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def __call__(self, fragment: Fragment, batches: Iterator[Any]) -> int:
        group = fragment.row_groups[0] if fragment.row_groups else 0
        (self.folder / f"started-{group}").touch()
        try:
            while not (self.folder / "release").exists():
                time.sleep(0.05)  # waiting for the test's signal file, the only way to reach it from a worker
        except KeyboardInterrupt:  # what ray.cancel raises inside a running task
            (self.folder / f"cancelled-{group}").touch()
            raise
        return sum(batch.num_rows for batch in batches)

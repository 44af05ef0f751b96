"""Shared by the fault probes under tests/faults/: their size, their seed and the table they report into.

`make test` runs each probe's fast subset. `make test-faults` sets ``SLUICEWAY_FAULTS_FULL=1`` for the full
counts the reliability report promises, ``SLUICEWAY_FAULTS_SEED`` to repeat a run, and
``SLUICEWAY_FAULTS_REPORT`` to a JSON-lines file that every probe appends one row to; ``report.py`` prints
that file as the table recorded in RELIABILITY.md.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

FULL = os.environ.get("SLUICEWAY_FAULTS_FULL") == "1"
SEED = int(os.environ.get("SLUICEWAY_FAULTS_SEED", "20261130"))

# The columns of the table, in order; every one but `trials`, `resumed` and `located` must be 0.
COUNTS = ("trials", "resumed", "located", "partial", "duplicate", "orphan", "running", "tracebacks", "unexpected")
BAD_COUNTS = ("partial", "duplicate", "orphan", "running", "tracebacks", "unexpected")


def trials(fast: int, full: int) -> int:
    """How many trials a probe runs: a fast subset in `make test`, the full count in `make test-faults`."""
    return full if FULL else fast


def rng(probe: str) -> random.Random:
    """A random generator for one probe, seeded from the run's seed and the probe's name (repeatable)."""
    return random.Random(f"{SEED}:{probe}")


def record(probe: str, **counts: int) -> dict[str, int | str]:
    """Append one row (a probe and its counts) to the report file when one is set; return the row."""
    unknown = set(counts) - set(COUNTS)
    if unknown:
        raise ValueError(f"record({probe!r}): unknown counts {sorted(unknown)}; the table has {COUNTS}")
    row: dict[str, int | str] = {"probe": probe, **{name: int(counts.get(name, 0)) for name in COUNTS}}
    target = os.environ.get("SLUICEWAY_FAULTS_REPORT")
    if target:
        with Path(target).open("a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")
    return row

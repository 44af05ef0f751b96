"""Pipelines gated with ``when=``, for the conditional-execution tests (in-process and through the CLI).

``bless`` writes a ModelBlessing as contracts.md lays it out; ``WHEN_TEST_BLESSED=0`` (read when the pipeline
is built, so it is a parameter and part of the cache key) makes it not blessed.
"""

from __future__ import annotations

import os

import sluiceway as sw


@sw.component
def bless(blessing: sw.Output[sw.ModelBlessing], *, blessed: bool = True, score: float = 0.5) -> None:
    reasons = [] if blessed else ["accuracy 0.61 < lower bound 0.90"]
    (blessing.path / (sw.ModelBlessing.BLESSED_MARKER if blessed else sw.ModelBlessing.NOT_BLESSED_MARKER)).touch()
    blessing.write_json(sw.ModelBlessing.FILENAME, {"blessed": blessed, "reasons": reasons})
    blessing.properties.update(blessed=blessed, score=score)


@sw.component
def push(blessing: sw.Input[sw.ModelBlessing], pushed: sw.Output[sw.PushedModel]) -> None:
    pushed.properties.update(pushed=True, destination="nowhere", version=1)


@sw.component
def announce(pushed: sw.Input[sw.PushedModel], report: sw.Output[sw.ModelEvaluation]) -> None:
    report.write_json("report.json", {"announced": pushed.properties["version"]})


@sw.component
def independent(blessing: sw.Input[sw.ModelBlessing], report: sw.Output[sw.ModelEvaluation]) -> None:
    if os.environ.get("WHEN_TEST_FAIL") == "1":
        raise RuntimeError("told to fail")
    report.write_json("report.json", {"seen": blessing.properties["blessed"]})


def create_pipeline() -> sw.Pipeline:
    gate = bless(blessed=os.environ.get("WHEN_TEST_BLESSED", "1") == "1")
    pusher = push(blessing=gate.blessing, when=gate.blessing.blessed)
    after = announce(pushed=pusher.pushed)
    other = independent(blessing=gate.blessing)
    return sw.Pipeline("gated", [gate, pusher, after, other])

"""A small pipeline for the export tests: a component with retries, an ``after=`` link, a gate.

``flaky`` fails its first ``SLUICEWAY_TEST_FLAKY_FAILURES`` calls (default 0), counting calls in the file named
by ``SLUICEWAY_TEST_FLAKY_COUNTER``, so a test can tell how many times it was tried and by whom.
"""

from __future__ import annotations

import os
from pathlib import Path

import sluiceway as sw


@sw.component
def produce(examples: sw.Output[sw.Examples], *, rows: int = 5) -> None:
    split = examples.path / "Split-train"
    split.mkdir(parents=True)
    (split / "rows.txt").write_text("\n".join(str(i) for i in range(rows)))
    examples.properties["split_names"] = ["train"]
    examples.properties["row_counts"] = {"train": rows}


@sw.component
def check(examples: sw.Input[sw.Examples], report: sw.Output[sw.ModelEvaluation]) -> None:
    report.write_json("report.json", {"rows": len((examples.path / "Split-train" / "rows.txt").read_text().split())})


@sw.component
def flaky(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
    counter = os.environ.get("SLUICEWAY_TEST_FLAKY_COUNTER")
    calls = 1
    if counter:
        path = Path(counter)
        calls = int(path.read_text()) + 1 if path.exists() else 1
        path.write_text(str(calls))
    if calls <= int(os.environ.get("SLUICEWAY_TEST_FLAKY_FAILURES", "0")):
        raise RuntimeError(f"flaky: failing call {calls} as told")
    (model.path / "model.txt").write_text((examples.path / "Split-train" / "rows.txt").read_text())


def create_pipeline() -> sw.Pipeline:
    gen = produce()
    checked = check(examples=gen.examples, resources={"num_cpus": 0.5, "memory": 2e9, "num_gpus": 1, "tpu_slot": 1})
    model = flaky(examples=gen.examples, retries=2, retry_backoff=0.5, after=[checked])
    return sw.Pipeline("export-sample", [gen, checked, model], description="The export tests' pipeline.")

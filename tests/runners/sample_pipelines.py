"""Small pipelines the runner and CLI tests run, in-process and through `sluiceway run`.

Behaviour is steered by environment variables so a subprocess can be told to be slow or to fail.
"""

from __future__ import annotations

import os
import time

import sluiceway as sw


@sw.component
def produce(examples: sw.Output[sw.Examples], *, rows: int = 10) -> None:
    split = examples.path / "Split-train"
    split.mkdir(parents=True)
    (split / "rows.txt").write_text("\n".join(str(i) for i in range(rows)))
    examples.properties["split_names"] = ["train"]
    examples.properties["row_counts"] = {"train": rows}
    print(f"produced {rows} rows")


@sw.component
def nap(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model], *, seconds: float = 0.0) -> None:
    seconds = float(os.environ.get("SLUICEWAY_TEST_NAP", seconds))
    # Part of the output first: a kill mid-sleep would leave a half-written artifact if publishing were not atomic.
    (model.path / "partial.bin").write_bytes(b"x" * 1000)
    time.sleep(seconds)
    (model.path / "model.txt").write_text((examples.path / "Split-train" / "rows.txt").read_text())


@sw.component
def join(a: sw.Input[sw.Model], b: sw.Input[sw.Model], report: sw.Output[sw.ModelEvaluation]) -> None:
    report.write_json("report.json", {"a": (a.path / "model.txt").exists(), "b": (b.path / "model.txt").exists()})


@sw.component
def fail_if_told(model: sw.Input[sw.Model], blessing: sw.Output[sw.ModelBlessing]) -> None:
    if os.environ.get("SLUICEWAY_TEST_FAIL") == "1":
        raise RuntimeError("told to fail")
    blessing.properties["blessed"] = True


def create_pipeline() -> sw.Pipeline:
    gen = produce(rows=int(os.environ.get("SLUICEWAY_TEST_ROWS", "10")))
    first = nap(examples=gen.examples, id="nap_a")
    second = nap(examples=gen.examples, id="nap_b")
    joined = join(a=first.model, b=second.model)
    gate = fail_if_told(model=first.model)
    return sw.Pipeline("sample", [gen, first, second, joined, gate])


@sw.component
def validate(examples: sw.Input[sw.Examples], report: sw.Output[sw.ModelEvaluation]) -> None:
    report.write_json("report.json", {"ok": os.environ.get("SLUICEWAY_TEST_FAIL") != "1"})
    if os.environ.get("SLUICEWAY_TEST_FAIL") == "1":
        raise sw.GateClosed(f"the data is bad: see {report.path / 'report.json'}")


@sw.component
def train(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
    (model.path / "model.txt").write_text((examples.path / "Split-train" / "rows.txt").read_text())


def create_gated_pipeline() -> sw.Pipeline:
    """A trainer gated on a validator it takes no data from (``after=``), as orchestrator tasks run it."""
    gen = produce()
    check = validate(examples=gen.examples)
    trainer = train(examples=gen.examples, after=[check])
    return sw.Pipeline("gated", [gen, check, trainer])

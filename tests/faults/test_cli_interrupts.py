"""Fault probe: Ctrl-C at a random stage of `sluiceway run`, from the pipeline's import to its last component.

Each trial's message must match what the store holds: "no run was recorded" only when there is no such
run, "run X is CANCELED" only when it is; never a traceback; no execution left RUNNING.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from faultlog import record, rng, trials

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli  # noqa: E402

from sluiceway.metadata.store import MetadataStore  # noqa: E402

# SIGINT is sent by the pipeline itself at the stage named in SLUICEWAY_PROBE_STAGE: deterministic, no sleeps.
PIPELINE = """
import os, signal
import sluiceway as sw

STAGE = os.environ["SLUICEWAY_PROBE_STAGE"]

def interrupt_at(stage):
    if stage == STAGE:
        os.kill(os.getpid(), signal.SIGINT)

interrupt_at("import")

@sw.component
def first(out: sw.Output[sw.Examples]) -> None:
    (out.path / "x.txt").write_text("x")
    interrupt_at("first")

@sw.component
def middle(inp: sw.Input[sw.Examples], out: sw.Output[sw.Model]) -> None:
    (out.path / "m.txt").write_text("m")
    interrupt_at("middle")

@sw.component
def last(inp: sw.Input[sw.Model], out: sw.Output[sw.ModelBlessing]) -> None:
    interrupt_at("last")

a = first()
b = middle(inp=a.out)
pipeline = sw.Pipeline("probe", [a, b, last(inp=b.out)])
"""
STAGES = ("import", "first", "middle", "last")


def test_ctrl_c_at_a_random_stage_is_reported_as_it_happened(cli_env: dict[str, str], tmp_path: Path) -> None:
    generator = rng("cli_sigint_stages")
    pipeline = tmp_path / "probe_pipeline.py"
    pipeline.write_text(PIPELINE)
    count = trials(fast=4, full=24)
    tracebacks = unexpected = running = 0
    for trial in range(count):
        stage = STAGES[trial] if trial < len(STAGES) else generator.choice(STAGES)
        name = f"t{trial}"
        env = {**cli_env, "SLUICEWAY_PROBE_STAGE": stage}
        result = run_cli(["run", str(pipeline), "--run-name", name, "--no-cache"], env)  # cached ones would not run
        tracebacks += "Traceback" in result.stderr or "KeyboardInterrupt" in result.stderr
        store_file = Path(cli_env["SLUICEWAY_STORE"].removeprefix("sqlite:///"))
        runs = {}
        if store_file.exists():
            with MetadataStore(cli_env["SLUICEWAY_STORE"]) as store:
                runs = {r.name: r for r in store.list_runs(limit=1000)}
                if name in runs:
                    running += sum(e.state == "RUNNING" for e in store.executions(runs[name].id, with_artifacts=False))
        if result.returncode != 130:
            unexpected += 1
        elif "no run was recorded" in result.stderr:
            unexpected += name in runs or stage != "import"
        elif f"run {name} is CANCELED" in result.stderr:
            unexpected += name not in runs or runs[name].state != "CANCELED"
        else:
            unexpected += 1
    row = record("cli_sigint_stages", trials=count, tracebacks=tracebacks, unexpected=unexpected, running=running)
    assert (tracebacks, unexpected, running) == (0, 0, 0), row
    assert os.environ.get("SLUICEWAY_PROBE_STAGE") is None  # the probe's setting stays in the subprocesses

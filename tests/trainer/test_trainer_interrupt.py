"""Ctrl-C inside run_fn: the execution records what was interrupted and how far it got, not a bare
``KeyboardInterrupt``. Run for real: ``sluiceway exec`` runs the Trainer in its main thread (as an
orchestrator's task does), and the test sends it SIGINT while run_fn trains."""

from __future__ import annotations

import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sluiceway.metadata.store import MetadataStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli, start_run  # noqa: E402

PIPELINE = """
import os
import sys
import time

sys.path.insert(0, {folder!r})
import sluiceway as sw
from sluiceway.components import Trainer
import trainer_fixtures as fx


def run_fn(ctx):
    marker = os.environ.get("TRAINER_TEST_MARKER")
    if not marker:
        raise RuntimeError("not this time")  # the first run stops here; the exec below trains
    for epoch in range(3):
        ctx.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
    open(marker, "w").close()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(0.05)  # a long epoch, waiting to be interrupted


components, transform, schema, _ = fx.upstream()
trainer = Trainer(
    examples=transform.transformed_examples,
    transform_graph=transform.transform_graph,
    schema=schema.schema,
    run_fn=run_fn,
)
pipeline = sw.Pipeline("interrupted-training", [*components, trainer])
"""


@pytest.mark.integration
def test_ctrl_c_in_run_fn_records_a_clear_message(cli_env: dict[str, str], tmp_path: Path) -> None:
    pipeline_file = tmp_path / "training_pipeline.py"
    pipeline_file.write_text(textwrap.dedent(PIPELINE.format(folder=str(Path(__file__).parent))))
    first = run_cli(["run", str(pipeline_file), "--run-name", "train"], cli_env, timeout=300)
    assert first.returncode != 0 and "not this time" in first.stdout + first.stderr  # upstream done, Trainer failed

    marker = tmp_path / "training"
    process = start_run(
        ["exec", "--pipeline", str(pipeline_file), "--component", "Trainer", "--run", "train"],
        {**cli_env, "TRAINER_TEST_MARKER": str(marker)},
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():  # polling for run_fn to be training, not a sleep as synchronisation
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "run_fn never started training"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        process.kill()
        process.communicate()
    assert process.returncode != 0

    store = MetadataStore(cli_env["SLUICEWAY_STORE"])
    executions = [e for e in store.executions(store.get_run("train").id) if e.component_id == "Trainer"]
    interrupted = executions[-1]
    assert interrupted.state == "CANCELED"
    assert "KeyboardInterrupt: component 'Trainer' (Trainer): interrupted by the user in run_fn " in interrupted.error
    assert "after 3 value(s) of metric 'loss' (last: step 2, 0.333333). No model was saved" in interrupted.error
    assert not store.list_artifacts(type_name="Model")

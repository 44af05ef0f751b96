"""Ctrl-C: a run is CANCELED within a second, nothing half-written stays, and --resume continues it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sluiceway.metadata.store import MetadataStore

from clitools import SAMPLE, SLUICEWAY, run_cli

pytestmark = pytest.mark.integration


def wait_for(condition, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Poll a condition on real files (no sleep stands in for it); fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def staged_partials(root: Path) -> list[Path]:
    # os.walk, not Path.rglob: the runner moves staging folders away while we look, and rglob raises then
    return [Path(folder) / "partial.bin" for folder, _, files in os.walk(root / ".staging") if "partial.bin" in files]


def test_ctrl_c_cancels_within_a_second_and_discards_staging(cli_env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    process = subprocess.Popen(
        [SLUICEWAY, "run", str(SAMPLE), "--run-name", "stopme"],
        env={**cli_env, "SLUICEWAY_TEST_NAP": "60"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(staged_partials(root)) == 2, "both naps to write into staging")
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert elapsed < 1.5, f"the run took {elapsed:.2f} s to stop after Ctrl-C"
    store = MetadataStore(cli_env["SLUICEWAY_STORE"])
    run = store.get_run("stopme")
    assert run.state == "CANCELED"
    states = {e.component_id: e.state for e in store.executions(run.id)}
    assert states == {"produce": "COMPLETE", "nap_a": "CANCELED", "nap_b": "CANCELED"}
    assert staged_partials(root) == [] and not [p for p in (root / ".staging").iterdir()]
    assert store.list_artifacts(type_name="Model") == []

    # A worker thread that outlives the interrupt (the Python API in a notebook) may write into its staging
    # folder after the cancel deleted it; --resume removes CANCELED executions' staging as well.
    canceled = next(e for e in store.executions(run.id) if e.component_id == "nap_a")
    late = root / ".staging" / str(canceled.id) / "model"
    late.mkdir(parents=True)
    (late / "partial.bin").write_bytes(b"x" * 1000)
    resumed = run_cli(["run", str(SAMPLE), "--resume", "stopme"], {**cli_env, "SLUICEWAY_TEST_NAP": "0"})
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert store.get_run("stopme").state == "COMPLETE"
    assert len(store.list_artifacts(type_name="Model")) == 2
    assert not late.parent.exists(), "resume left a CANCELED execution's staging folder"


SCRIPT = """
import sys
sys.path.insert(0, {folder!r})
import sluiceway as sw
from sample_pipelines import create_pipeline
runner = sw.LocalRunner(store={store!r}, artifact_root={root!r})
try:
    runner.run(create_pipeline(), run_name="api")
except KeyboardInterrupt as exc:
    print("interrupted", type(exc).__name__, exc.run_name, exc.recorded, flush=True)
    sys.exit(3)
"""


def test_ctrl_c_in_the_python_api_raises_run_interrupted_without_waiting(tmp_path: Path) -> None:
    root = tmp_path / "a"
    store_url = f"sqlite:///{tmp_path / 'md.db'}"
    script = SCRIPT.format(folder=str(SAMPLE.parent), store=store_url, root=str(root))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SLUICEWAY_")}, "SLUICEWAY_TEST_NAP": "60"}
    process = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: len(staged_partials(root)) == 2, "both naps to write into staging")
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        process.kill()
    # The interpreter exits at once: the workers are daemon threads, nothing waits for the 60 s naps.
    assert process.returncode == 3 and elapsed < 1.5, (elapsed, out, err)
    assert "interrupted RunInterrupted api True" in out
    store = MetadataStore(store_url)
    assert store.get_run("api").state == "CANCELED"
    assert {e.state for e in store.executions(store.get_run("api").id) if e.component_id.startswith("nap")} == {
        "CANCELED"
    }
    assert staged_partials(root) == []


def test_resume_keeps_the_runs_no_cache_setting(cli_env: dict[str, str]) -> None:
    assert run_cli(["run", str(SAMPLE), "--run-name", "warm"], cli_env).returncode == 0  # fills the cache
    failed = run_cli(["run", str(SAMPLE), "--run-name", "cold", "--no-cache"], {**cli_env, "SLUICEWAY_TEST_FAIL": "1"})
    assert failed.returncode == 1, failed.stdout + failed.stderr
    resumed = run_cli(["run", str(SAMPLE), "--resume", "cold"], cli_env)  # no --no-cache this time
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    store = MetadataStore(cli_env["SLUICEWAY_STORE"])
    states = [e.state for e in store.executions(store.get_run("cold").id) if e.component_id == "fail_if_told"]
    # With the cache on, the gate would be CACHED from "warm": the run's --no-cache was kept.
    assert states == ["FAILED", "COMPLETE"]

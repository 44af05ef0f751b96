"""A runner killed with SIGKILL or interrupted with Ctrl-C leaves a store that --resume completes."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from sluiceway.metadata.store import MetadataStore

from clitools import SAMPLE, SLUICEWAY, run_cli

pytestmark = pytest.mark.integration


def _start_run(env: dict[str, str], run_name: str) -> subprocess.Popen[str]:
    env = {**env, "SLUICEWAY_TEST_NAP": "30"}
    return subprocess.Popen(
        [SLUICEWAY, "run", str(SAMPLE), "--run-name", run_name],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_running_naps(store_url: str, run_name: str, timeout: float = 30) -> MetadataStore:
    store = MetadataStore(store_url)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            run = store.get_run(run_name)
            states = {e.component_id: e.state for e in store.executions(run.id)}
            if states.get("nap_a") == "RUNNING" and states.get("nap_b") == "RUNNING":
                time.sleep(0.3)  # let both write their partial output into staging
                return store
        except Exception:  # noqa: BLE001 - the run may not exist yet
            pass
        time.sleep(0.1)
    raise AssertionError(f"the naps of {run_name} never started")


def _assert_nothing_half_written(store: MetadataStore, artifact_root: Path) -> None:
    for artifact in store.list_artifacts():
        assert artifact.state == "LIVE" and Path(artifact.uri).is_dir()
        assert ".staging" not in artifact.uri
        if artifact.TYPE_NAME == "Model":
            assert (Path(artifact.uri) / "model.txt").exists(), f"half-written Model visible: {artifact.uri}"


def test_kill_9_mid_run_then_resume_completes_without_duplicates(cli_env: dict[str, str], tmp_path: Path) -> None:
    process = _start_run(cli_env, "crashy")
    try:
        store = _wait_for_running_naps(cli_env["SLUICEWAY_STORE"], "crashy")
    finally:
        process.kill()  # SIGKILL: no cleanup code runs
        process.wait(timeout=10)
    run = store.get_run("crashy")
    assert run.state == "RUNNING"
    assert store.list_artifacts(type_name="Model") == []  # the killed naps published nothing
    staged = list((tmp_path / "artifacts" / ".staging").rglob("partial.bin"))
    assert staged, "expected the killed executions' staging folders to exist"
    _assert_nothing_half_written(store, tmp_path / "artifacts")

    resumed = run_cli(["run", str(SAMPLE), "--resume", "crashy"], {**cli_env, "SLUICEWAY_TEST_NAP": "0"})
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    run = store.get_run("crashy")
    assert run.state == "COMPLETE"
    executions = store.executions(run.id)
    by_component: dict[str, list[str]] = {}
    for execution in executions:
        by_component.setdefault(execution.component_id, []).append(execution.state)
    assert by_component["produce"] == ["COMPLETE"]  # not rerun
    assert by_component["nap_a"] == ["ABANDONED", "COMPLETE"]
    assert len(store.list_artifacts(type_name="Examples")) == 1
    assert len(store.list_artifacts(type_name="Model")) == 2
    assert not list((tmp_path / "artifacts" / ".staging").rglob("partial.bin")), "stale staging was not cleaned up"
    _assert_nothing_half_written(store, tmp_path / "artifacts")


def test_ctrl_c_cancels_the_run_and_resume_completes_it(cli_env: dict[str, str], tmp_path: Path) -> None:
    process = _start_run(cli_env, "interrupted")
    try:
        store = _wait_for_running_naps(cli_env["SLUICEWAY_STORE"], "interrupted")
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "--resume" in err
    run = store.get_run("interrupted")
    assert run.state == "CANCELED"
    states = {e.component_id: e.state for e in store.executions(run.id)}
    assert states["nap_a"] == "CANCELED" and states["produce"] == "COMPLETE"
    assert store.list_artifacts(type_name="Model") == []
    resumed = run_cli(["run", str(SAMPLE), "--resume", "interrupted"], {**cli_env, "SLUICEWAY_TEST_NAP": "0"})
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert store.get_run("interrupted").state == "COMPLETE"
    _assert_nothing_half_written(store, tmp_path / "artifacts")

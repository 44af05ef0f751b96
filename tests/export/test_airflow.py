"""`sluiceway export airflow` in a real Airflow 3: the DAG parses without Sluiceway, and `airflow dags test`
runs the pipeline into Sluiceway's store exactly as the local runner does.

Airflow lives in its own virtual environment (`.venv-airflow`, `make orchestrators`); one fresh AIRFLOW_HOME
with SQLite (`airflow db migrate`) serves the module. The tasks run the tests' own `sluiceway` (PATH).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from export_env import AIRFLOW_VENV, PENGUIN, REPO, venv_python
from export_pipelines import create_pipeline
from export_summary import run_summary

from sluiceway.metadata.store import MetadataStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SAMPLE = "tests/export/export_pipelines.py"
SLUICEWAY = str(Path(sys.executable).with_name("sluiceway"))


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh AIRFLOW_HOME (SQLite metadata database, migrated) with an empty DAGs folder."""
    venv_python(AIRFLOW_VENV, "Airflow")
    home = tmp_path_factory.mktemp("airflow")
    (home / "dags").mkdir()
    migrated = _airflow(["db", "migrate"], home, dict(os.environ))
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    return home


def _airflow(args: list[str], home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        **env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    return subprocess.run(
        [str(AIRFLOW_VENV / "bin" / "airflow"), *args], env=env, capture_output=True, text=True, timeout=800
    )


def _export(target: str, dags: Path, env: dict[str, str], *extra: str) -> None:
    exported = subprocess.run(
        [SLUICEWAY, "export", "airflow", target, "--out", str(dags), "--workdir", str(REPO), *extra],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert exported.returncode == 0, exported.stderr


def _only_run(store_url: str) -> str:
    store = MetadataStore(store_url)
    try:
        runs = store.list_runs()
    finally:
        store.close()
    assert len(runs) == 1, [r.name for r in runs]
    return runs[0].name


# Run in the Airflow venv: load the DAG file as the DAG processor does, then report what it defined and
# whether anything heavy was imported. `sluiceway` is importable there (PYTHONPATH), so importing it would show.
_INSPECT = """
import json, runpy, sys
from datetime import timedelta
namespace = runpy.run_path(sys.argv[1])
dag = namespace["dag"]
def seconds(value):
    return value.total_seconds() if isinstance(value, timedelta) else value
print(json.dumps({
    "heavy": sorted(m for m in sys.modules if m.split(".")[0] in ("sluiceway", "polars", "pyarrow", "sklearn")),
    "dag_id": dag.dag_id,
    "schedule": str(dag.schedule),
    "tasks": {
        t.task_id: {
            "upstream": sorted(t.upstream_task_ids),
            "retries": t.retries,
            "retry_delay": seconds(t.retry_delay),
            "backoff": t.retry_exponential_backoff,
            "timeout": seconds(t.execution_timeout),
            "command": t.bash_command,
        }
        for t in dag.tasks
    },
}))
"""


def test_the_dag_parses_in_airflow_without_importing_sluiceway(tmp_path: Path, task_env: dict[str, str]) -> None:
    python = venv_python(AIRFLOW_VENV, "Airflow")
    _export(SAMPLE, tmp_path, task_env, "--schedule", "0 3 * * *", "--timeout", "120")
    inspected = subprocess.run(
        [str(python), "-c", _INSPECT, str(tmp_path / "sluiceway_export_sample.py")],
        env={**task_env, "AIRFLOW_HOME": str(tmp_path / "home")}, capture_output=True, text=True, timeout=300,
    )
    assert inspected.returncode == 0, inspected.stderr[-3000:]
    dag = json.loads(inspected.stdout.strip().splitlines()[-1])
    assert dag["heavy"] == []
    assert dag["dag_id"] == "export-sample" and dag["schedule"] == "0 3 * * *"
    pipeline = create_pipeline()
    assert {tid: t["upstream"] for tid, t in dag["tasks"].items()} == {
        cid: sorted(pipeline.upstream_ids(cid)) for cid in pipeline.component_ids
    }
    flaky = dag["tasks"]["flaky"]
    assert (flaky["retries"], flaky["retry_delay"], flaky["backoff"], flaky["timeout"]) == (2, 0.5, 2.0, 120.0)
    assert flaky["command"].startswith(f"sluiceway exec --pipeline {SAMPLE} --component flaky --run ")


@pytest.mark.timeout(900)
def test_penguin_under_airflow_dags_test_records_what_a_local_run_records(
    airflow_home: Path, task_env: dict[str, str], penguin_local_run: tuple[str, str]
) -> None:
    _export(PENGUIN, airflow_home / "dags", task_env)
    tested = _airflow(["dags", "test", "penguin"], airflow_home, task_env)
    assert tested.returncode == 0, tested.stdout[-5000:] + tested.stderr[-5000:]
    store = task_env["SLUICEWAY_STORE"]
    run_name = _only_run(store)
    assert run_name.startswith("penguin-manual__")  # named after the DAG run
    orchestrated = run_summary(store, run_name)
    local = run_summary(*penguin_local_run)
    assert orchestrated["state"] == "COMPLETE"
    assert set(orchestrated["components"]) == set(create_penguin_ids())
    assert orchestrated == local


def create_penguin_ids() -> list[str]:
    return ["CsvExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "Transform", "Trainer",
            "Evaluator", "InfraValidator", "Pusher"]


@pytest.mark.timeout(900)
def test_airflow_retries_a_failed_task_and_the_store_records_each_try(
    airflow_home: Path, task_env: dict[str, str], tmp_path: Path
) -> None:
    _export(SAMPLE, airflow_home / "dags", task_env)
    env = {**task_env, "SLUICEWAY_TEST_FLAKY_FAILURES": "1", "SLUICEWAY_TEST_FLAKY_COUNTER": str(tmp_path / "calls")}
    tested = _airflow(["dags", "test", "export-sample"], airflow_home, env)
    assert tested.returncode == 0, tested.stdout[-5000:] + tested.stderr[-5000:]
    assert (tmp_path / "calls").read_text() == "2"  # Airflow's retry, not one inside `sluiceway exec`
    store = MetadataStore(task_env["SLUICEWAY_STORE"])
    try:
        run = store.get_run(_only_run(task_env["SLUICEWAY_STORE"]))
        tries = [(e.component_id, e.state, e.attempts) for e in store.executions(run.id)]
    finally:
        store.close()
    assert run.state == "COMPLETE"
    assert tries == [("produce", "COMPLETE", 1), ("check", "COMPLETE", 1), ("flaky", "FAILED", 1),
                     ("flaky", "COMPLETE", 1)]

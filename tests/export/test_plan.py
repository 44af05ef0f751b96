"""The shared task plan and the Airflow DAG text: what every exported task runs, waits for and retries.

These run without any orchestrator installed; tests/export/test_airflow.py and test_kubeflow.py run the
exported files in the real orchestrators.
"""

from __future__ import annotations

import ast
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from export_env import REPO
from export_pipelines import create_pipeline

from sluiceway.errors import ConfigError
from sluiceway.export import RUN_NAME, ExportOptions, build_plan
from sluiceway.export.airflow import bash_command, render_dag
from sluiceway.metadata.store import MetadataStore

TARGET = "tests/export/export_pipelines.py"
SLUICEWAY = str(Path(sys.executable).with_name("sluiceway"))


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SLUICEWAY, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_one_task_per_component_with_the_graph_the_command_and_the_retries() -> None:
    pipeline = create_pipeline()
    plan = build_plan(pipeline, TARGET)
    assert [task.id for task in plan.tasks] == pipeline.component_ids == ["produce", "check", "flaky"]
    for task in plan.tasks:
        assert list(task.upstream) == pipeline.upstream_ids(task.id)
        assert task.argv == (
            "sluiceway", "exec", "--pipeline", TARGET, "--component", task.id, "--run", RUN_NAME, "--retries", "0",
        )
        assert task.command("r1")[7] == "r1" and RUN_NAME not in task.command("r1")
    flaky = plan.task("flaky")
    assert flaky.upstream == ("produce", "check")  # its input and its after= link
    assert (flaky.retries, flaky.retry_backoff) == (2, 0.5)
    assert (plan.task("produce").retries, plan.task("produce").timeout_seconds) == (0, None)
    assert plan.schedule is None and plan.env == {} and plan.workdir is None
    assert plan.description == "The export tests' pipeline."


def test_stores_schedule_and_timeout_come_only_from_the_export_options() -> None:
    options = ExportOptions(
        store="sqlite:///shared/md.db", artifact_root="/mnt/artifacts", workdir="/opt/project",
        executable="/opt/venv/bin/sluiceway", schedule="@daily", timeout_seconds=90, cache=False,
    )
    plan = build_plan(create_pipeline(), TARGET, options)
    assert plan.env == {"SLUICEWAY_STORE": "sqlite:///shared/md.db", "SLUICEWAY_ARTIFACT_ROOT": "/mnt/artifacts"}
    assert (plan.schedule, plan.workdir) == ("@daily", "/opt/project")
    task = plan.task("check")
    assert task.argv[0] == "/opt/venv/bin/sluiceway" and task.argv[-1] == "--no-cache"
    assert task.timeout_seconds == 90
    data = json.loads(json.dumps(plan.to_dict()))  # the JSON form other interpreters receive
    assert data["tasks"][2]["upstream"] == ["produce", "check"] and data["run_name_placeholder"] == RUN_NAME


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (dict(store="postgresql://app:s3cret@db/md"), ["password", "SLUICEWAY_STORE"]),
        (dict(timeout_seconds=0), ["timeout", "> 0", "0"]),
        (dict(schedule=" "), ["cron", "@daily"]),
        (dict(executable=""), ["executable"]),
    ],
)
def test_bad_export_options_are_refused_with_what_to_do(options: dict, words: list[str]) -> None:
    with pytest.raises(ConfigError) as raised:
        ExportOptions(**options)
    assert all(word in str(raised.value) for word in words), str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_the_dag_file_is_deterministic_and_imports_only_airflow_and_the_standard_library() -> None:
    plan = build_plan(create_pipeline(), TARGET, ExportOptions(workdir="/opt/project", schedule="0 3 * * *"))
    text = render_dag(plan)
    assert text == render_dag(build_plan(create_pipeline(), TARGET, ExportOptions(workdir="/opt/project",
                                                                                  schedule="0 3 * * *")))
    imported = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported == {"__future__", "re", "datetime", "airflow.providers.standard.operators.bash", "airflow.sdk"}
    assert "schedule='0 3 * * *'" in text and str(REPO) not in text


def test_the_bash_command_is_the_plan_argv_quoted_and_jinja_safe() -> None:
    odd_target = "my project/{{ not jinja }}/pipe'line.py"
    plan = build_plan(create_pipeline(), odd_target)
    task = plan.task("flaky")
    command = bash_command(task)
    assert "{{ run_id | sluiceway_run_name }}" in command
    assert "{% raw %}" in command  # the target's braces stay literal for Airflow's Jinja
    as_shell = command.replace("{{ run_id | sluiceway_run_name }}", "R").replace("{% raw %}", "").replace(
        "{% endraw %}", ""
    )
    assert shlex.split(as_shell) == task.command("R")


def test_export_airflow_refuses_a_relative_pipeline_without_a_workdir(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = _cli(["export", "airflow", TARGET, "--out", str(tmp_path / "dags")], cli_env)
    assert result.returncode == 2, result.stderr
    assert "--workdir" in result.stderr and "temporary folder" in result.stderr
    assert not (tmp_path / "dags").exists() or not any((tmp_path / "dags").iterdir())


def test_export_airflow_writes_the_dag_and_bakes_in_only_what_was_passed(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    dags = tmp_path / "dags"
    plain = _cli(["export", "airflow", TARGET, "--out", str(dags), "--workdir", "/opt/project"], cli_env)
    assert plain.returncode == 0, plain.stderr
    text = (dags / "sluiceway_export_sample.py").read_text()
    assert "ENV = {}" in text and cli_env["SLUICEWAY_STORE"] not in text  # the worker's environment decides
    given = _cli(
        ["export", "airflow", TARGET, "--out", str(dags), "--workdir", "/opt/project", "--store", "sqlite:///x.db"],
        cli_env,
    )
    assert given.returncode == 0, given.stderr
    assert "ENV = {'SLUICEWAY_STORE': 'sqlite:///x.db'}" in (dags / "sluiceway_export_sample.py").read_text()
    assert sorted(p.name for p in dags.iterdir()) == ["sluiceway_export_sample.py"]  # no partial file left


def test_export_plan_prints_the_plan_as_json(cli_env: dict[str, str]) -> None:
    result = _cli(["export", "plan", TARGET, "--timeout", "30"], cli_env)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert [t["id"] for t in plan["tasks"]] == ["produce", "check", "flaky"]
    assert {t["timeout_seconds"] for t in plan["tasks"]} == {30}


def test_export_kubeflow_without_kfp_says_how_to_install_it(cli_env: dict[str, str], tmp_path: Path) -> None:
    if subprocess.run([sys.executable, "-c", "import kfp"], capture_output=True).returncode == 0:
        pytest.skip("kfp is importable here: the missing-extra message cannot show")
    result = _cli(["export", "kubeflow", TARGET, "--out", str(tmp_path / "p.yaml")], cli_env)
    assert result.returncode == 2
    assert "pip install 'sluiceway[kubeflow]'" in result.stderr
    assert not (tmp_path / "p.yaml").exists()


def test_exec_retries_option_lets_the_orchestrator_own_the_retries(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "SLUICEWAY_TEST_FLAKY_FAILURES": "1", "SLUICEWAY_TEST_FLAKY_COUNTER": str(tmp_path / "calls")}

    def exec_(component: str, run: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return _cli(["exec", "--pipeline", TARGET, "--component", component, "--run", run, *extra], env)

    for run in ("once", "own"):
        assert exec_("produce", run).returncode == 0 and exec_("check", run).returncode == 0
    assert exec_("flaky", "once", "--retries", "0").returncode == 1  # one try, as an orchestrator task
    (tmp_path / "calls").unlink()
    assert exec_("flaky", "own").returncode == 0  # the component's own retries=2: the second try passes
    store = MetadataStore(cli_env["SLUICEWAY_STORE"])
    try:
        tries = {
            run: [(e.state, e.attempts) for e in store.executions(store.get_run(run).id) if e.component_id == "flaky"]
            for run in ("once", "own")
        }
    finally:
        store.close()
    assert tries == {"once": [("FAILED", 1)], "own": [("COMPLETE", 2)]}


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ({}, {}),
        ({"num_cpus": 2}, {"requests": {"cpu": "2"}}),
        ({"num_cpus": 0.25, "memory": 1.5e9}, {"requests": {"cpu": "250m", "memory": "1500000000"}}),
        ({"num_cpus": 0.0001}, {"requests": {"cpu": "1m"}}),  # Kubernetes' finest grain, rounded up
        ({"num_gpus": 0.5}, {"limits": {"nvidia.com/gpu": "1"}}),  # whole GPUs only on Kubernetes
        ({"num_cpus": 0, "tpu_slot": 4}, {}),  # zero asks nothing; Ray custom resources have no counterpart
    ],
)
def test_resources_become_kubernetes_requests_and_limits(resources: dict[str, float], expected: dict) -> None:
    from sluiceway.export.plan import kubernetes_resources

    assert kubernetes_resources(resources) == expected

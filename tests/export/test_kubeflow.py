"""`sluiceway export kubeflow` with the real kfp 2.17 SDK, in its own virtual environment (`.venv-kfp`).

What is tested, and what is not:
- the compiled KFP v2 spec's structure: one container task per component, the dependencies, the image, the
  exact `sluiceway exec` command, the run name from the KFP job name, KFP's retry policy, the environment;
- the spec's container commands themselves, run as written (placeholders resolved as KFP's launcher would)
  in the spec's dependency order, on this machine rather than in containers: the store records the run;
- the same plan run by `kfp.local` (SubprocessRunner, use_venv=False) for the penguin pipeline, compared with
  a local run. kfp.local's SubprocessRunner runs only lightweight Python components (it refuses container
  components; its DockerRunner needs a Docker daemon, which these machines lack), so that run uses
  `sluiceway.export.kubeflow.lightweight_pipeline`: each task runs the plan's same argv with `subprocess`.
Not tested: the image (the Dockerfile is not built here) and a real KFP or Argo cluster.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from export_env import KFP_VENV, PENGUIN, REPO, venv_python
from export_pipelines import create_pipeline
from export_summary import run_summary

from sluiceway.export import RUN_NAME, build_plan
from sluiceway.export import kubeflow as kubeflow_renderer
from sluiceway.metadata.store import MetadataStore

pytestmark = [pytest.mark.integration]
SAMPLE = "tests/export/export_pipelines.py"
SLUICEWAY = str(Path(sys.executable).with_name("sluiceway"))
KFP_RUN_NAME = "{{$.inputs.parameters['run_name']}}"


def _sluiceway(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SLUICEWAY, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)


def _compile(tmp_path: Path, env: dict[str, str], *extra: str) -> dict[str, Any]:
    python = venv_python(KFP_VENV, "kfp")
    out = tmp_path / "pipeline.yaml"
    result = _sluiceway(["export", "kubeflow", SAMPLE, "--out", str(out), "--kfp-python", str(python), *extra], env)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".yaml")) == ["pipeline.yaml"]
    return yaml.safe_load(out.read_text())


def _tasks(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The root DAG's tasks by their display name (the component id), with KFP's task key kept."""
    tasks = {}
    for key, task in spec["root"]["dag"]["tasks"].items():
        component = spec["components"][task["componentRef"]["name"]]
        executor = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
        tasks[task["taskInfo"]["name"]] = {**task, "key": key, "container": executor}
    return tasks


def test_the_spec_has_one_container_task_per_component_running_sluiceway_exec(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    spec = _compile(tmp_path, cli_env, "--image", "registry.example/sluiceway:1.0", "--store", "sqlite:///shared.db")
    assert spec["pipelineInfo"]["name"] == "export-sample"
    pipeline = create_pipeline()
    plan = build_plan(pipeline, SAMPLE)
    tasks = _tasks(spec)
    assert sorted(tasks) == sorted(pipeline.component_ids)
    key_to_id = {task["key"]: cid for cid, task in tasks.items()}
    for cid, task in tasks.items():
        assert sorted(key_to_id[k] for k in task.get("dependentTasks", [])) == sorted(pipeline.upstream_ids(cid))
        container = task["container"]
        assert container["image"] == "registry.example/sluiceway:1.0"
        assert container["command"] == plan.task(cid).command(KFP_RUN_NAME)
        assert container["env"] == [{"name": "SLUICEWAY_STORE", "value": "sqlite:///shared.db"}]
        assert task["inputs"]["parameters"]["run_name"]["runtimeValue"]["constant"] == "{{$.pipeline_job_name}}"
        assert task["cachingOptions"].get("enableCache", False) is False  # Sluiceway caches, not KFP
    assert tasks["flaky"]["retryPolicy"] == {
        "maxRetryCount": 2, "backoffDuration": "1s", "backoffFactor": 2.0, "backoffMaxDuration": "3600s"
    }
    assert "retryPolicy" not in tasks["produce"]
    assert tasks["check"]["container"]["resources"] == {  # resources=, as KFP writes them
        "cpuRequest": 0.5, "memoryRequest": 2.0, "resourceCpuRequest": "500m", "resourceMemoryRequest": "2000000000",
        "accelerator": {"type": "nvidia.com/gpu", "count": "1", "resourceType": "nvidia.com/gpu", "resourceCount": "1"},
    }
    assert "resources" not in tasks["produce"]["container"]


def test_a_timeout_and_a_workdir_wrap_the_command(tmp_path: Path, cli_env: dict[str, str]) -> None:
    spec = _compile(tmp_path, cli_env, "--timeout", "90.5", "--workdir", "/app")
    command = _tasks(spec)["check"]["container"]["command"]
    plan = build_plan(create_pipeline(), SAMPLE)
    assert command == [
        "sh", "-c", 'cd "$0" && exec "$@"', "/app",
        "timeout", "-s", "INT", "--kill-after", "60s", "91s", *plan.task("check").command(KFP_RUN_NAME),
    ]
    assert "env" not in _tasks(spec)["check"]["container"]  # nothing baked in unless passed


def test_the_spec_commands_run_as_written_record_one_sluiceway_run(tmp_path: Path, task_env: dict[str, str]) -> None:
    spec = _compile(tmp_path, task_env)
    tasks = _tasks(spec)
    done: list[str] = []
    while len(done) < len(tasks):  # KFP's order: a task starts once every task it depends on succeeded
        ready = [
            cid for cid, task in tasks.items()
            if cid not in done and all(k in {tasks[d]["key"] for d in done} for k in task.get("dependentTasks", []))
        ]
        assert ready, f"no task can start after {done}"
        for cid in sorted(ready):
            command = [part.replace(KFP_RUN_NAME, "export-sample-job-1") for part in tasks[cid]["container"]["command"]]
            completed = subprocess.run(command, env=task_env, cwd=REPO, capture_output=True, text=True, timeout=300)
            assert completed.returncode == 0, completed.stderr
            done.append(cid)
    store = MetadataStore(task_env["SLUICEWAY_STORE"])
    try:
        run = store.get_run("export-sample-job-1")
        states = {e.component_id: e.state for e in store.executions(run.id)}
    finally:
        store.close()
    assert run.state == "COMPLETE"
    assert states == {"produce": "COMPLETE", "check": "COMPLETE", "flaky": "COMPLETE"}


# Run in the kfp venv: the plan through kfp.local, each task a lightweight component running the plan's argv.
_RUN_LOCAL = """
import json, runpy, sys
import kfp.local
renderer = runpy.run_path(sys.argv[1])
with open(sys.argv[2]) as handle:
    plan = json.load(handle)
kfp.local.init(runner=kfp.local.SubprocessRunner(use_venv=False), pipeline_root=sys.argv[3])
renderer["lightweight_pipeline"](plan)()
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_penguin_under_kfp_local_records_what_a_local_run_records(
    tmp_path: Path, task_env: dict[str, str], penguin_local_run: tuple[str, str]
) -> None:
    python = venv_python(KFP_VENV, "kfp")
    plan_file = tmp_path / "plan.json"
    exported = _sluiceway(["export", "plan", PENGUIN, "--workdir", str(REPO), "--out", str(plan_file)], task_env)
    assert exported.returncode == 0, exported.stderr
    plan = json.loads(plan_file.read_text())
    assert all(task["argv"][:2] == ["sluiceway", "exec"] and RUN_NAME in task["argv"] for task in plan["tasks"])
    renderer = kubeflow_renderer.__file__  # the module needs only kfp and the standard library
    ran = subprocess.run(
        [str(python), "-c", _RUN_LOCAL, renderer, str(plan_file), str(tmp_path / "kfp-root")],
        env=task_env, cwd=tmp_path, capture_output=True, text=True, timeout=800,
    )
    assert ran.returncode == 0, ran.stdout[-5000:] + ran.stderr[-5000:]
    store = MetadataStore(task_env["SLUICEWAY_STORE"])
    try:
        runs = store.list_runs()
    finally:
        store.close()
    assert [r.name.startswith("penguin-") for r in runs] == [True]  # the KFP job name
    orchestrated = run_summary(task_env["SLUICEWAY_STORE"], runs[0].name)
    assert orchestrated["state"] == "COMPLETE"
    assert len(orchestrated["components"]) == 9
    assert orchestrated == run_summary(*penguin_local_run)


def test_every_path_the_dockerfile_copies_exists() -> None:
    # The image is not built here (no Docker daemon); at least what it copies is in the repository.
    copied = [
        word
        for line in (REPO / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
        for word in line.split()[1:-1]
    ]
    assert copied and all((REPO / path).exists() for path in copied), copied
    assert "sluiceway:latest" == kubeflow_renderer.DEFAULT_IMAGE  # what `docker build -t sluiceway:latest .` makes

"""RayRunner on the session's real 2-CPU cluster: each component a Ray task with its own resources.

The pipelines are in ray_runner_pipelines.py (this folder is on the workers' path); a test that needs its
own values writes a small pipeline file calling them. Every component records the process it ran in.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

import sluiceway as sw
from sluiceway.dsl.loading import load_pipeline

sys.path.insert(0, str(Path(__file__).parents[1] / "runners"))
sys.path.insert(0, str(Path(__file__).parents[1] / "export"))  # the run summary the export tests compare by
from clitools import run_cli, start_run  # noqa: E402
from export_summary import run_summary  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.ray]

PIPELINES = Path(__file__).parent / "ray_runner_pipelines.py"


def _runner(ray_address: str, tmp_path: Path, name: str = "md", **kwargs: object) -> sw.RayRunner:
    return sw.RayRunner(
        address=ray_address, store=f"sqlite:///{tmp_path / f'{name}.db'}", artifact_root=tmp_path / name, **kwargs
    )


def _pipeline_file(tmp_path: Path, call: str) -> str:
    """A pipeline file whose pipeline is ``call`` (with this test's values) on ray_runner_pipelines."""
    path = tmp_path / "pipeline_here.py"
    path.write_text(f"from ray_runner_pipelines import *  # noqa: F403\n\npipeline = {call}\n")
    return str(path)


def test_data_components_on_ray_write_the_bytes_and_lineage_of_a_local_run(ray_address: str, tmp_path: Path) -> None:
    target = f"{PIPELINES}:data_pipeline"
    on_ray = _runner(ray_address, tmp_path, "ray").run(target, run_name="on-ray").raise_for_status()
    local_runner = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'local.db'}", artifact_root=tmp_path / "local")
    local = local_runner.run(load_pipeline(target), run_name="local").raise_for_status()
    for component, output, artifact_type in (
        ("StatisticsGen", "statistics", sw.ExampleStatistics),
        ("SchemaGen", "schema", sw.Schema),
    ):
        ray_file = Path(on_ray.output(component, output).uri) / artifact_type.FILENAME
        local_file = Path(local.output(component, output).uri) / artifact_type.FILENAME
        assert ray_file.read_bytes() == local_file.read_bytes(), component
    summary = run_summary(f"sqlite:///{tmp_path / 'ray.db'}", "on-ray")
    assert summary["state"] == "COMPLETE" and len(summary["components"]) == 4
    assert summary == run_summary(f"sqlite:///{tmp_path / 'local.db'}", "local")  # lineage, files, fingerprints
    # Each component ran in a Ray worker process, not in this driver (the store records the process).
    assert all(e.pid not in (None, os.getpid()) for e in on_ray.executions.values())
    assert all(e.pid == os.getpid() for e in local.executions.values())

    # engine="ray" under RayRunner: StatisticsGen's data work fans out from its task as further Ray tasks.
    nested = _runner(ray_address, tmp_path, "nested", engine="ray").run(target).raise_for_status()
    stats = Path(nested.output("StatisticsGen", "statistics").uri) / sw.ExampleStatistics.FILENAME
    assert stats.read_bytes() == (Path(local.output("StatisticsGen", "statistics").uri) / stats.name).read_bytes()
    assert "as Ray tasks on" in Path(nested["StatisticsGen"].log_uri or "").read_text()


def test_resources_decide_what_runs_side_by_side(ray_address: str, tmp_path: Path) -> None:
    """On 2 CPUs: two 1-CPU components run at once (each waits for the other to start); a 2-CPU one and a
    1-CPU one, both ready at the same time, run one after the other."""
    meet = tmp_path / "meet"
    meet.mkdir()
    target = _pipeline_file(tmp_path, f"resources_pipeline({str(meet)!r})")
    run = _runner(ray_address, tmp_path, parallelism=4).run(target).raise_for_status()
    assert sorted(p.name for p in meet.iterdir()) == ["left", "right"]
    spans = {cid: (e.start_time, e.end_time) for cid, e in run.executions.items()}
    assert all(start is not None and end is not None for start, end in spans.values())

    def overlap(a: str, b: str) -> bool:
        return spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]  # type: ignore[operator]

    assert overlap("left", "right")
    assert not overlap("both", "lone")  # "both" held the cluster's two CPUs
    outputs = {cid: run.output(cid, "model" if cid != "produce" else "examples") for cid in run.executions}
    for cid, artifact in outputs.items():  # in a Ray task, in a worker process (not this driver)
        assert artifact.properties["ray_task_id"], cid
        assert artifact.properties["pid"] == run[cid].pid != os.getpid(), cid
    assert outputs["left"].properties["pid"] != outputs["right"].properties["pid"]  # two workers at once
    assert outputs["both"].properties["ray_resources"] == {"CPU": 2.0}  # the component's resources=
    assert outputs["left"].properties["ray_resources"] == outputs["lone"].properties["ray_resources"] == {"CPU": 1.0}
    assert outputs["produce"].properties["ray_resources"] == {"CPU": 1.0}  # Ray's default


def test_resources_no_node_has_are_refused_before_anything_runs(ray_address: str, tmp_path: Path) -> None:
    runner = _runner(ray_address, tmp_path)
    with pytest.raises(sw.RunError, match=r"Component 'train' asks for num_gpus=1 \(resources=\), but no node") as info:
        runner.run(f"{PIPELINES}:gpu_pipeline")
    assert info.match(r": CPU 2, GPU 0\. Lower its resources=") and info.match(ray_address)
    assert runner.store.list_runs() == []  # refused before the run was recorded


def test_a_failing_component_fails_the_run_and_stops_downstream(ray_address: str, tmp_path: Path) -> None:
    run = _runner(ray_address, tmp_path).run(f"{PIPELINES}:failing_pipeline")
    assert run.state == "FAILED"
    assert run["produce"].state == "COMPLETE" and run["broken"].state == "FAILED"
    assert "ValueError: broken on purpose" in (run["broken"].error or "")
    assert "broken on purpose" in Path(run["broken"].log_uri or "").read_text()
    assert run.not_run == ["after"]
    with pytest.raises(sw.ComponentError, match="Component 'broken' failed"):
        run.raise_for_status()


def test_a_lost_worker_is_recorded_abandoned_and_named(ray_address: str, tmp_path: Path) -> None:
    runner = _runner(ray_address, tmp_path)
    run = runner.run(f"{PIPELINES}:lost_worker_pipeline")
    assert run.state == "FAILED" and run["produce"].state == "COMPLETE"
    message = run.errors["lose_worker"]
    assert "Component 'lose_worker' did not finish: its Ray worker on the Ray cluster at " + ray_address in message
    assert "recorded ABANDONED" in message and f"--resume {run.name}" in message
    lost = [e for e in runner.store.executions(run.id, with_artifacts=False) if e.component_id == "lose_worker"]
    assert [e.state for e in lost] == ["ABANDONED"]
    assert not (tmp_path / "md" / ".staging" / str(lost[0].id)).exists()
    with pytest.raises(sw.RunError, match="component 'lose_worker' could not be executed"):
        run.raise_for_status()


def test_cli_runner_ray_runs_the_pipeline_and_refuses_what_does_not_apply(
    ray_address: str, cli_env: dict[str, str]
) -> None:
    target = f"{PIPELINES}:tiny_pipeline"
    ran = run_cli(["run", target, "--runner", "ray", "--ray-address", ray_address, "--json"], cli_env, timeout=180)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    doc = json.loads(ran.stdout)
    assert doc["state"] == "COMPLETE" and sorted(doc["executions"]) == ["produce", "train"]
    store = sw.MetadataStore(cli_env["SLUICEWAY_STORE"])
    try:
        runner_pid = store.get_run(doc["run"]).properties["pid"]
        assert all(e.pid != runner_pid for e in store.executions(store.get_run(doc["run"]).id))  # in Ray workers
    finally:
        store.close()
    gpu = run_cli(["run", f"{PIPELINES}:gpu_pipeline", "--runner", "ray", "--ray-address", ray_address], cli_env)
    assert gpu.returncode == 1 and "Component 'train' asks for num_gpus=1" in gpu.stderr, gpu.stderr
    unknown = run_cli(["run", target, "--runner", "dask"], cli_env)
    assert unknown.returncode == 2 and "--runner must be 'local', 'celery' or 'ray'. Got 'dask'" in unknown.stderr
    broker = run_cli(["run", target, "--runner", "ray", "--broker", "redis://127.0.0.1:1/0"], cli_env)
    assert broker.returncode == 2 and "--broker is for --runner celery; the ray runner has no broker" in broker.stderr
    stray = run_cli(["run", target, "--ray-address", ray_address], cli_env)
    assert stray.returncode == 2 and "--ray-address is for --runner ray" in stray.stderr


def test_ctrl_c_cancels_the_ray_tasks_and_resume_finishes_the_run(
    ray_address: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    marker = tmp_path / "held"
    target = _pipeline_file(tmp_path, f"hold_pipeline({str(marker)!r})")
    python_path = os.pathsep.join(filter(None, [str(PIPELINES.parent), cli_env.get("PYTHONPATH")]))
    env = {**cli_env, "RAY_ADDRESS": ray_address, "PYTHONPATH": python_path}  # the file imports this folder's
    process = start_run(["run", target, "--runner", "ray", "--run-name", "held"], env)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():  # written by `hold` in its Ray worker
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "hold never started"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    store = sw.MetadataStore(cli_env["SLUICEWAY_STORE"])
    try:
        run = store.get_run("held")
        held = [e for e in store.executions(run.id) if e.component_id == "hold"]
        assert run.state == "CANCELED"
        assert [e.state for e in held] == ["CANCELED"] and "KeyboardInterrupt" in (held[0].error or "")  # in its task
        assert not (Path(cli_env["SLUICEWAY_ARTIFACT_ROOT"]) / ".staging" / str(held[0].id)).exists()
        resumed = run_cli(["run", target, "--runner", "ray", "--resume", "held"], env, timeout=180)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        run = store.get_run("held")
        states = [(e.component_id, e.state) for e in store.executions(run.id)]
    finally:
        store.close()
    assert run.state == "COMPLETE"
    assert states == [("produce", "COMPLETE"), ("hold", "CANCELED"), ("hold", "COMPLETE")]

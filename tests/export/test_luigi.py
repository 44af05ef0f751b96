"""`sluiceway export luigi` under Luigi's own local scheduler: the pipeline completes into the store, and
Luigi's `complete()` (the store's record) makes a second build run nothing and a build after a failure run
only what did not complete.

Luigi co-installs with Sluiceway (the `luigi` extra, in the test extra): each build runs in a fresh Python
process, as `luigi --module ...` would, with the tests' own `sluiceway` on PATH for the tasks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from export_env import PENGUIN, REPO
from export_pipelines import create_pipeline
from export_summary import run_summary

from sluiceway.export import ExportOptions, build_plan
from sluiceway.export.luigi import class_names, render_module
from sluiceway.metadata.store import MetadataStore

pytestmark = [pytest.mark.integration]
pytest.importorskip("luigi", reason="the luigi extra is part of the test extra: pip install -e '.[test]'")
SAMPLE = "tests/export/export_pipelines.py"
SLUICEWAY = str(Path(sys.executable).with_name("sluiceway"))

# One Luigi build in its own process: import the exported module, build its Pipeline task for one run name,
# report which components Luigi started, whether it succeeded, and what the import alone loaded.
_BUILD = """
import importlib, json, sys
import luigi
module = importlib.import_module(sys.argv[1])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sluiceway", "polars", "pyarrow", "sklearn"))
started = []
@luigi.Task.event_handler(luigi.Event.START)
def _started(task):
    if hasattr(task, "component_id"):  # not the Pipeline wrapper, which runs nothing
        started.append(task.component_id)
ok = luigi.build([module.Pipeline(run_name=sys.argv[2])], local_scheduler=True, log_level="WARNING")
print(json.dumps({"ok": ok, "started": started, "heavy_at_import": heavy}))
"""


def _export(target: str, out: Path, env: dict[str, str], *extra: str) -> Path:
    exported = subprocess.run(
        [SLUICEWAY, "export", "luigi", target, "--out", str(out), *extra],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    return out


def _build(module_file: Path, run_name: str, env: dict[str, str]) -> dict[str, object]:
    env = {**env, "PYTHONPATH": os.pathsep.join([str(module_file.parent), env["PYTHONPATH"]])}
    built = subprocess.run(
        [sys.executable, "-c", _BUILD, module_file.stem, run_name],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=800,
    )
    assert built.returncode == 0, built.stderr[-5000:]
    return json.loads(built.stdout.strip().splitlines()[-1])


def _executions(store_url: str, run_name: str) -> list[tuple[str, str]]:
    store = MetadataStore(store_url)
    try:
        run = store.get_run(run_name)
        return [(e.component_id, e.state) for e in store.executions(run.id, with_artifacts=False)]
    finally:
        store.close()


def test_the_module_has_one_task_per_component_with_the_graph_and_the_components_retries() -> None:
    pipeline = create_pipeline()
    plan = build_plan(pipeline, SAMPLE, ExportOptions(store="sqlite:///md.db", timeout_seconds=30))
    text = render_module(plan)
    assert text == render_module(build_plan(create_pipeline(), SAMPLE, ExportOptions(store="sqlite:///md.db",
                                                                                      timeout_seconds=30)))
    namespace: dict[str, object] = {}
    exec(compile(text, "sluiceway_export_sample.py", "exec"), namespace)  # noqa: S102 - the module under test
    tasks = namespace["TASKS"]
    assert isinstance(tasks, dict) and list(tasks) == pipeline.component_ids
    for cid, task_class in tasks.items():
        assert task_class.__name__ == class_names(plan)[cid]
        assert list(task_class.upstream) == pipeline.upstream_ids(cid)
        assert task_class.timeout_seconds == 30
        retries = task_class.command[task_class.command.index("--retries") + 1]
        assert retries == str(pipeline.component(cid).retries)  # flaky: 2; Luigi itself does not retry
    assert namespace["ENV"] == {"SLUICEWAY_STORE": "sqlite:///md.db"}


def test_a_second_build_runs_nothing_and_one_after_a_failure_runs_only_what_failed(
    tmp_path: Path, task_env: dict[str, str]
) -> None:
    module = _export(SAMPLE, tmp_path / "sluiceway_sample_flow.py", task_env)
    counter = tmp_path / "calls"
    failing = {**task_env, "SLUICEWAY_TEST_FLAKY_FAILURES": "3", "SLUICEWAY_TEST_FLAKY_COUNTER": str(counter)}
    first = _build(module, "r1", failing)
    assert first["heavy_at_import"] == []  # the module loads only Luigi; the store is read in complete()
    assert first["ok"] is False and first["started"] == ["produce", "check", "flaky"]
    assert counter.read_text() == "3"  # the component's own two retries inside `sluiceway exec`
    store = task_env["SLUICEWAY_STORE"]
    assert _executions(store, "r1") == [("produce", "COMPLETE"), ("check", "COMPLETE"), ("flaky", "FAILED")]

    second = _build(module, "r1", {**failing, "SLUICEWAY_TEST_FLAKY_FAILURES": "0"})
    assert second["ok"] is True and second["started"] == ["flaky"]
    third = _build(module, "r1", task_env)
    assert third["ok"] is True and third["started"] == []
    assert _executions(store, "r1")[-1] == ("flaky", "COMPLETE") and len(_executions(store, "r1")) == 4
    store_handle = MetadataStore(store)
    try:
        assert store_handle.get_run("r1").state == "COMPLETE"
    finally:
        store_handle.close()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_penguin_under_luigi_records_what_a_local_run_records_and_a_second_build_runs_nothing(
    tmp_path: Path, task_env: dict[str, str], penguin_local_run: tuple[str, str]
) -> None:
    module = _export(PENGUIN, tmp_path, task_env)
    assert module.joinpath("sluiceway_penguin.py").is_file()
    first = _build(module / "sluiceway_penguin.py", "penguin-luigi", task_env)
    assert first["ok"] is True
    assert sorted(first["started"]) == sorted(c.id for c in _penguin_components())
    store = task_env["SLUICEWAY_STORE"]
    orchestrated = run_summary(store, "penguin-luigi")
    assert orchestrated["state"] == "COMPLETE"
    assert orchestrated == run_summary(*penguin_local_run)
    again = _build(module / "sluiceway_penguin.py", "penguin-luigi", task_env)
    assert again["ok"] is True and again["started"] == []
    assert run_summary(store, "penguin-luigi") == orchestrated


def _penguin_components() -> list:
    from sluiceway.dsl.loading import load_pipeline

    return load_pipeline(str(REPO / PENGUIN)).components

"""`sluiceway export argo`: the Workflow / CronWorkflow validates against Argo's own JSON schema, its DAG is the
pipeline's graph, and its task commands, really run in dependency order without Argo (no cluster here),
complete the pipeline into the store exactly as the local runner does.

Argo's schema (argo_schema.json, vendored from Argo's repository: see argo_schema.NOTICE.md) leaves objects
open, so a misspelled key would pass it; the tests close every object that lists its properties
(``additionalProperties: false``), so an unknown or misspelled key fails validation too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from export_env import PENGUIN, REPO
from export_pipelines import create_pipeline
from export_summary import run_summary

from sluiceway.metadata.store import MetadataStore

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in the dev extra: pip install -e '.[dev]'")

pytestmark = [pytest.mark.integration]
SAMPLE = "tests/export/export_pipelines.py"
SLUICEWAY = str(Path(sys.executable).with_name("sluiceway"))
SCHEMA = Path(__file__).with_name("argo_schema.json")
WORKFLOW_NAME = "{{workflow.name}}"


@cache
def _validator(kind: str) -> Any:
    """Argo's schema of one resource kind (Workflow, CronWorkflow), every listed-properties object closed."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    for definition in schema["definitions"].values():
        if "properties" in definition and "additionalProperties" not in definition:
            definition["additionalProperties"] = False
    del schema["oneOf"]  # any Argo resource: validate against the document's own kind, for clear errors
    schema["$ref"] = f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}"
    return jsonschema.Draft202012Validator(schema)


def _schema_errors(document: dict[str, Any]) -> list[str]:
    assert document.get("kind") in ("Workflow", "CronWorkflow"), document.get("kind")
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
        for e in _validator(document["kind"]).iter_errors(document)
    ]


def _export(target: str, out: Path, env: dict[str, str], *extra: str) -> dict[str, Any]:
    exported = subprocess.run(
        [SLUICEWAY, "export", "argo", target, "--out", str(out), *extra],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    document = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _spec(document: dict[str, Any]) -> dict[str, Any]:
    return document["spec"]["workflowSpec"] if document["kind"] == "CronWorkflow" else document["spec"]


def _component_of(template: dict[str, Any]) -> str:
    command = template["container"]["command"]
    return command[command.index("--component") + 1]


def _graph(document: dict[str, Any]) -> dict[str, list[str]]:
    """Component id -> upstream component ids, read from the YAML's DAG template."""
    spec = _spec(document)
    templates = {t["name"]: t for t in spec["templates"]}
    dag = templates[spec["entrypoint"]]["dag"]["tasks"]
    component = {task["name"]: _component_of(templates[task["template"]]) for task in dag}
    return {component[task["name"]]: [component[d] for d in task.get("dependencies", [])] for task in dag}


def run_like_argo(document: dict[str, Any], workflow_name: str, env: dict[str, str]) -> list[str]:
    """Run the DAG's containers' commands in dependency order, as Argo would, without Argo: each task once
    its dependencies succeeded, tried up to its retryStrategy's limit + 1 times. Returns the tasks run."""
    spec = _spec(document)
    templates = {t["name"]: t for t in spec["templates"]}
    pending = list(templates[spec["entrypoint"]]["dag"]["tasks"])
    done: list[str] = []
    while pending:
        ready = next(t for t in pending if all(d in done for d in t.get("dependencies", [])))
        template = templates[ready["template"]]
        container = template["container"]
        command = [part.replace(WORKFLOW_NAME, workflow_name) for part in container["command"]]
        task_env = {**env, **{item["name"]: item["value"] for item in container.get("env", [])}}
        tries = 1 + int(template.get("retryStrategy", {}).get("limit", 0))
        for _ in range(tries):
            completed = subprocess.run(command, env=task_env, capture_output=True, text=True, timeout=800)
            if completed.returncode == 0:
                break
        assert completed.returncode == 0, (ready["name"], completed.stdout[-3000:], completed.stderr[-3000:])
        pending.remove(ready)
        done.append(ready["name"])
    return done


def test_the_workflow_is_valid_argo_and_its_dag_is_the_pipeline_graph(tmp_path: Path, cli_env: dict[str, str]) -> None:
    document = _export(SAMPLE, tmp_path / "wf.yaml", cli_env, "--image", "registry.example/sw:1", "--timeout", "90")
    assert _schema_errors(document) == []
    assert document["kind"] == "Workflow" and document["metadata"]["generateName"] == "export-sample-"
    pipeline = create_pipeline()
    assert _graph(document) == {cid: pipeline.upstream_ids(cid) for cid in pipeline.component_ids}
    templates = {t["name"]: t for t in _spec(document)["templates"]}
    flaky = templates["flaky"]
    assert flaky["container"]["image"] == "registry.example/sw:1"
    backoff = {"duration": "1s", "factor": "2"}
    assert flaky["retryStrategy"] == {"limit": "2", "retryPolicy": "Always", "backoff": backoff}
    assert flaky["container"]["command"][:6] == ["timeout", "-s", "INT", "--kill-after", "60s", "90s"]
    assert flaky["container"]["command"][6:] == [
        "sluiceway", "exec", "--pipeline", SAMPLE, "--component", "flaky", "--run", WORKFLOW_NAME, "--retries", "0"
    ]
    assert "retryStrategy" not in templates["produce"]  # no retries: Argo's default of none
    # resources= as Kubernetes quantities; the Ray custom resource has no counterpart and is left out
    assert templates["check"]["container"]["resources"] == {
        "requests": {"cpu": "500m", "memory": "2000000000"}, "limits": {"nvidia.com/gpu": "1"}
    }
    assert "resources" not in templates["produce"]["container"]

    cron = _export(SAMPLE, tmp_path / "cron.yaml", cli_env, "--cron", "0 * * * *")
    assert _schema_errors(cron) == []
    assert cron["kind"] == "CronWorkflow" and cron["spec"]["schedules"] == ["0 * * * *"]
    assert _graph(cron) == _graph(document)
    # The closed schema catches what Argo would reject or silently ignore: a misspelled key.
    _spec(cron)["templates"][1]["retryStrategy"] = {"limitt": "2"}
    assert any("limitt" in error for error in _schema_errors(cron))


def test_component_ids_become_unique_argo_names_and_the_export_is_stable() -> None:
    from sluiceway.export import build_plan
    from sluiceway.export.argo import render_workflow, template_names
    from sluiceway.export.plan import ExportPlan, TaskPlan

    base = build_plan(create_pipeline(), SAMPLE)
    odd = ExportPlan(
        pipeline_name="My_Pipeline", description="", pipeline_target=SAMPLE, schedule=None, workdir=None,
        tasks=tuple(TaskPlan(cid, "t", base.tasks[0].argv, (), 0, 1.0, None) for cid in ("Train_A", "train-a", "_x")),
    )
    assert template_names(odd) == {"Train_A": "train-a", "train-a": "train-a-2", "_x": "x"}
    document = yaml.safe_load(render_workflow(odd))
    assert _schema_errors(document) == []
    assert document["metadata"]["generateName"] == "my-pipeline-"
    assert render_workflow(base) == render_workflow(build_plan(create_pipeline(), SAMPLE))


def test_a_failed_task_is_retried_by_the_retry_strategy_and_the_store_records_each_try(
    tmp_path: Path, task_env: dict[str, str]
) -> None:
    document = _export(SAMPLE, tmp_path / "wf.yaml", task_env, "--workdir", str(REPO))
    env = {**task_env, "SLUICEWAY_TEST_FLAKY_FAILURES": "1", "SLUICEWAY_TEST_FLAKY_COUNTER": str(tmp_path / "calls")}
    assert run_like_argo(document, "export-sample-x1b2c", env) == ["produce", "check", "flaky"]
    assert (tmp_path / "calls").read_text() == "2"
    store = MetadataStore(task_env["SLUICEWAY_STORE"])
    try:
        run = store.get_run("export-sample-x1b2c")
        tries = [(e.component_id, e.state) for e in store.executions(run.id, with_artifacts=False)]
    finally:
        store.close()
    assert run.state == "COMPLETE"
    assert tries == [("produce", "COMPLETE"), ("check", "COMPLETE"), ("flaky", "FAILED"), ("flaky", "COMPLETE")]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_penguin_workflow_commands_run_in_order_record_what_a_local_run_records(
    tmp_path: Path, task_env: dict[str, str], penguin_local_run: tuple[str, str]
) -> None:
    document = _export(PENGUIN, tmp_path / "penguin.yaml", task_env, "--workdir", str(REPO))
    assert _schema_errors(document) == []
    ran = run_like_argo(document, "penguin-7fk2q", task_env)
    assert len(ran) == 9
    orchestrated = run_summary(task_env["SLUICEWAY_STORE"], "penguin-7fk2q")
    assert orchestrated["state"] == "COMPLETE"
    assert orchestrated == run_summary(*penguin_local_run)

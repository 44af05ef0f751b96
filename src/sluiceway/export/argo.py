"""Render a task plan as an Argo Workflows ``Workflow`` (or ``CronWorkflow``): a DAG of container tasks.

Plain YAML from the plan (PyYAML, a core dependency): exporting needs neither Argo nor Hera, and the tests
validate the file against Argo's own JSON schema. One template per component runs the plan's
``sluiceway exec`` argv in the image (``--image``, default ``sluiceway:latest``, the repository's
Dockerfile, as for Kubeflow); the command is the Kubeflow container's (``kubeflow.container_command``:
``workdir`` and the timeout's ``timeout -s INT`` wrapper), so both orchestrators run the same thing.

Every task of one Argo workflow joins the Sluiceway run named after it (``{{workflow.name}}``: lowercase
letters, digits and '-', a valid run name). Dependencies are the pipeline's graph (a task starts when its
upstream tasks succeeded). A component's ``resources=`` become the container's requests and limits
(``plan.kubernetes_resources``). Retries are Argo's (``retryStrategy``: ``limit`` = the component's retries,
backoff doubling from its ``retry_backoff``, ``retryPolicy: Always`` so a lost pod is retried too); the
command passes ``--retries 0``. Argo template and task names allow only letters, digits and '-': a
component id is mapped to such a name (made unique), and its id stays in the command (``--component``).
With a schedule the file is a ``CronWorkflow`` (``concurrencyPolicy: Forbid``: one run at a time).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

from sluiceway.export.kubeflow import DEFAULT_IMAGE, container_command
from sluiceway.export.plan import ExportPlan

API_VERSION = "argoproj.io/v1alpha1"
WORKFLOW_NAME = "{{workflow.name}}"
ENTRYPOINT = "pipeline"
_NOT_IN_NAME = re.compile(r"[^a-z0-9-]+")


def template_names(plan: ExportPlan) -> dict[str, str]:
    """Component id -> Argo template and task name: lowercase letters, digits and '-', unique."""
    names: dict[str, str] = {}
    taken = {ENTRYPOINT}
    for task in plan.tasks:
        base = _NOT_IN_NAME.sub("-", task.id.lower()).strip("-")[:60] or "component"
        name, suffix = base, 2
        while name in taken:
            name, suffix = f"{base}-{suffix}", suffix + 1
        taken.add(name)
        names[task.id] = name
    return names


def workflow(plan: ExportPlan, image: str = DEFAULT_IMAGE) -> dict[str, Any]:
    """The Workflow (or, when the plan has a schedule, the CronWorkflow) as plain data."""
    names = template_names(plan)
    plan_data = plan.to_dict()
    env = [{"name": key, "value": value} for key, value in sorted(plan.env.items())]
    dag_tasks = []
    templates: list[dict[str, Any]] = []
    for task, task_data in zip(plan.tasks, plan_data["tasks"], strict=True):
        dag_task: dict[str, Any] = {"name": names[task.id], "template": names[task.id]}
        if task.upstream:
            dag_task["dependencies"] = [names[upstream] for upstream in task.upstream]
        dag_tasks.append(dag_task)
        container: dict[str, Any] = {"image": image, "command": container_command(task_data, plan_data, WORKFLOW_NAME)}
        if env:
            container["env"] = env
        if task_data["kubernetes_resources"]:
            container["resources"] = task_data["kubernetes_resources"]
        template: dict[str, Any] = {
            "name": names[task.id],
            "metadata": {"annotations": {"sluiceway.dev/component": task.id}},
            "container": container,
        }
        if task.retries:
            template["retryStrategy"] = {
                # Kubernetes int-or-string fields: Argo's schema types them as strings.
                "limit": str(task.retries),
                "retryPolicy": "Always",
                "backoff": {"duration": f"{math.ceil(task.retry_backoff)}s", "factor": "2"},
            }
        templates.append(template)
    spec: dict[str, Any] = {
        "entrypoint": ENTRYPOINT,
        "templates": [{"name": ENTRYPOINT, "dag": {"tasks": dag_tasks}}, *templates],
    }
    name = _resource_name(plan.pipeline_name)
    labels = {"sluiceway.dev/pipeline": name}
    if plan.schedule is None:
        return {
            "apiVersion": API_VERSION,
            "kind": "Workflow",
            "metadata": {"generateName": f"{name}-", "labels": labels},
            "spec": spec,
        }
    return {
        "apiVersion": API_VERSION,
        "kind": "CronWorkflow",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "schedules": [plan.schedule],
            "concurrencyPolicy": "Forbid",
            "workflowMetadata": {"labels": labels},
            "workflowSpec": spec,
        },
    }


def render_workflow(plan: ExportPlan, image: str = DEFAULT_IMAGE) -> str:
    """The YAML text (same plan, same bytes)."""
    header = (
        f"# Argo {'CronWorkflow' if plan.schedule else 'Workflow'} of the Sluiceway pipeline {plan.pipeline_name!r}, "
        "written by `sluiceway export argo`.\n"
        "# Each task runs one component with `sluiceway exec`; export again rather than edit.\n"
        f"# Pipeline: {plan.pipeline_target}\n"
    )
    return header + yaml.safe_dump(workflow(plan, image), sort_keys=False, width=1000)


def write_workflow(plan: ExportPlan, out: Path, image: str = DEFAULT_IMAGE) -> Path:
    """Write the YAML to ``out`` (through a temporary name, renamed once complete); returns ``out``."""
    text = render_workflow(plan, image)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(out)
    return out


def _resource_name(name: str) -> str:
    # Kubernetes resource names: lowercase letters, digits and '-'; room left for Argo's generated suffix.
    return _NOT_IN_NAME.sub("-", name.lower()).strip("-")[:50].strip("-") or "sluiceway"

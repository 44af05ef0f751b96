"""The orchestrator-neutral task plan: one task per component, each running ``sluiceway exec``.

Every exporter (Airflow, Kubeflow Pipelines, and later Argo, Celery, Luigi) renders the same plan, so what
a task runs, what it waits for and how it is retried are decided once, here:

- ``argv``: the exact ``sluiceway exec`` command of the component. The run's name is the placeholder
  ``RUN_NAME`` that each renderer replaces with its orchestrator's run id (Airflow's ``run_id``, the KFP
  job name), so every task of one orchestrator run joins one Sluiceway run.
- ``upstream``: the components it depends on (inputs and ``after=``), from the pipeline's graph.
- ``retries`` and ``retry_backoff``: the component's own. The orchestrator owns the retries (they survive
  a killed process or a lost pod, and show in its UI), so the command passes ``--retries 0`` and a task is
  tried ``retries + 1`` times in all, as in a local run. The backoff doubles after each try, as locally.
- ``timeout_seconds``, ``schedule``: from the export options (the pipeline has neither yet).
- ``resources``: the component's ``resources=`` (Ray's names); ``kubernetes_resources`` turns them into a
  container's requests and limits for the Kubeflow and Argo exports. Airflow tasks run where its executor
  puts them (set a pool or an ``executor_config`` in Airflow); Ray custom resources have no Kubernetes
  counterpart and are left out there.

Where the tasks find the stores: the environment of the machine or container that runs them
(``SLUICEWAY_STORE``, ``SLUICEWAY_ARTIFACT_ROOT``), or the values the user passes at export time, which
are then written into the exported file (``env``). Nothing of the exporting machine is written otherwise:
the pipeline target stays as the user gave it (relative paths resolve in the task's working folder,
``workdir`` when given) and the command is ``sluiceway`` from the task's PATH unless ``executable`` is given.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from sluiceway.dsl.pipeline import Pipeline
from sluiceway.errors import ConfigError

RUN_NAME = "{sluiceway_run_name}"  # replaced by each renderer with its orchestrator's run id
STORE_ENV = "SLUICEWAY_STORE"
ARTIFACT_ROOT_ENV = "SLUICEWAY_ARTIFACT_ROOT"
_PASSWORD_IN_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@:]*:[^/@]+@")


@dataclass(frozen=True)
class ExportOptions:
    """What the user decides at export time; everything left None comes from the task's environment.

    ``store`` / ``artifact_root``: written into the exported tasks' environment. ``workdir``: the folder
    the tasks run in (where a relative pipeline target resolves). ``executable``: the ``sluiceway``
    command of the task machines. ``schedule``: a cron expression or preset (``@daily``); None = run on
    demand. ``timeout_seconds``: the longest one task may run. ``cache``: False adds ``--no-cache``.
    """

    store: str | None = None
    artifact_root: str | None = None
    workdir: str | None = None
    executable: str = "sluiceway"
    schedule: str | None = None
    timeout_seconds: float | None = None
    cache: bool = True

    def __post_init__(self) -> None:
        if self.store is not None and _PASSWORD_IN_URL.match(self.store):
            raise ConfigError(
                "The store URL given to export has a password, which would be written into the exported file. "
                f"Set {STORE_ENV} in the environment of the machines that run the tasks instead "
                "(e.g. from a secret), and export without --store."
            )
        if self.timeout_seconds is not None and not (
            math.isfinite(self.timeout_seconds) and self.timeout_seconds > 0
        ):
            raise ConfigError(
                f"The task timeout must be a number of seconds > 0. Got {self.timeout_seconds!r} instead."
            )
        if not self.executable.strip():
            raise ConfigError("The sluiceway executable of the exported tasks must not be empty.")
        if self.schedule is not None and not self.schedule.strip():
            raise ConfigError(
                "The schedule must be a cron expression (e.g. '0 3 * * *') or a preset (e.g. '@daily'); "
                "got an empty string. Leave it out to run the pipeline on demand."
            )


@dataclass(frozen=True)
class TaskPlan:
    """One component as one orchestrator task."""

    id: str
    component_type: str
    argv: tuple[str, ...]  # contains RUN_NAME once
    upstream: tuple[str, ...]
    retries: int
    retry_backoff: float  # seconds before the first retry; doubled after each
    timeout_seconds: float | None
    resources: dict[str, float] = field(default_factory=dict)  # the component's resources= (Ray's names)

    def command(self, run_name: str) -> list[str]:
        """``argv`` with the run name filled in."""
        return [run_name if part == RUN_NAME else part for part in self.argv]


@dataclass(frozen=True)
class ExportPlan:
    """A whole pipeline as orchestrator tasks, in the pipeline's topological order."""

    pipeline_name: str
    description: str
    pipeline_target: str
    tasks: tuple[TaskPlan, ...]
    schedule: str | None
    workdir: str | None
    env: dict[str, str] = field(default_factory=dict)  # only what the user passed at export time

    def task(self, task_id: str) -> TaskPlan:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(task_id)

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain JSON data: what renderers running in another interpreter (kfp's) receive."""
        data = asdict(self)
        data["run_name_placeholder"] = RUN_NAME
        for task in data["tasks"]:  # renderers in kfp's interpreter cannot import this module: mapped here
            task["kubernetes_resources"] = kubernetes_resources(task["resources"])
        return data


def build_plan(pipeline: Pipeline, target: str, options: ExportOptions | None = None) -> ExportPlan:
    """The task plan of ``pipeline``, loaded from ``target`` (path/to/pipeline.py, file.py:attr or module:attr).

    ``target`` is written into every task's command as given: the tasks load the pipeline from it.
    """
    options = options or ExportOptions()
    env = {}
    if options.store is not None:
        env[STORE_ENV] = options.store
    if options.artifact_root is not None:
        env[ARTIFACT_ROOT_ENV] = options.artifact_root
    tasks = []
    for component in pipeline.components:
        argv = [
            options.executable,
            "exec",
            "--pipeline",
            target,
            "--component",
            component.id,
            "--run",
            RUN_NAME,
            "--retries",
            "0",
        ]
        if not options.cache:
            argv.append("--no-cache")
        tasks.append(
            TaskPlan(
                id=component.id,
                component_type=component.type_name,
                argv=tuple(argv),
                upstream=tuple(upstream.id for upstream in component.upstream),
                retries=component.retries,
                retry_backoff=component.retry_backoff,
                timeout_seconds=options.timeout_seconds,
                resources=dict(component.resources),
            )
        )
    return ExportPlan(
        pipeline_name=pipeline.name,
        description=pipeline.description,
        pipeline_target=target,
        tasks=tuple(tasks),
        schedule=options.schedule,
        workdir=options.workdir,
        env=env,
    )


GPU_RESOURCE = "nvidia.com/gpu"  # the device plugin's name for what Ray calls num_gpus


def kubernetes_resources(resources: dict[str, float]) -> dict[str, dict[str, str]]:
    """A component's ``resources=`` as a Kubernetes container's ``requests``/``limits`` (quantities as strings).

    ``num_cpus`` and ``memory`` (bytes) become requests: the scheduler places the pod where they fit, and the
    container may use more when the node is idle, as a Ray task may. ``num_gpus`` becomes a limit (Kubernetes
    takes extended resources as limits), rounded up to whole GPUs. Ray custom resources are left out.
    """
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if resources.get("num_cpus"):
        millis = math.ceil(resources["num_cpus"] * 1000)
        requests["cpu"] = str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"
    if resources.get("memory"):
        requests["memory"] = str(math.ceil(resources["memory"]))
    if resources.get("num_gpus"):
        limits[GPU_RESOURCE] = str(math.ceil(resources["num_gpus"]))
    return {key: value for key, value in (("requests", requests), ("limits", limits)) if value}

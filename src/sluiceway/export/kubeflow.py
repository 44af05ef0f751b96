"""Render a task plan as a Kubeflow Pipelines v2 spec: one container task per component running ``sluiceway exec``.

kfp pins protobuf < 7 and exact requests/urllib3 versions, so it often lives in its own virtual environment.
This module therefore depends only on the standard library and kfp, and works on the plan's plain JSON form
(``ExportPlan.to_dict()``): ``sluiceway export kubeflow`` calls it in-process when kfp is importable, and
otherwise runs this very file with the interpreter given by ``--kfp-python``::

    KFP_PYTHON path/to/sluiceway/export/kubeflow.py PLAN.json OUT.yaml IMAGE

Each task is a container (``image``, default ``sluiceway:latest``, built from the repository's Dockerfile)
whose command is the plan's ``sluiceway exec`` argv; the run name is the KFP job name
(``{{$.pipeline_job_name}}``), so every task of one KFP run joins one Sluiceway run. Retries are KFP's
(``set_retry``, backoff doubling from the component's ``retry_backoff``) and the command passes
``--retries 0``. A component's ``resources=`` become the task's CPU and memory requests and its accelerator
(``nvidia.com/gpu``) limit. KFP's own caching is off: Sluiceway caches (a KFP cache hit would skip recording the run).
KFP has no per-task timeout: a timeout wraps the command in coreutils ``timeout -s INT`` (Ctrl-C for
``sluiceway exec``, which records the execution CANCELED). KFP specs carry no schedule: create a recurring
run with the plan's cron expression instead (``kfp.Client().create_recurring_run(cron_expression=...)``).

``lightweight_pipeline`` is the same plan as lightweight Python components, for ``kfp.local``'s
SubprocessRunner, which runs only those (container components need its DockerRunner and a Docker daemon).
"""

# No `from __future__ import annotations`: kfp reads the annotations of the functions below at run time.

import json
import math
import sys
from collections.abc import Callable
from typing import Any

DEFAULT_IMAGE = "sluiceway:latest"
KILL_AFTER_SECONDS = 60  # after the timeout's Ctrl-C, how long `sluiceway exec` gets to record before SIGKILL


def _kfp() -> Any:
    try:
        import kfp  # noqa: F401 - only checks that it is there
        from kfp import dsl
    except ImportError as exc:
        raise ImportError(
            "sluiceway export kubeflow needs the 'kfp' package: pip install 'sluiceway[kubeflow]' "
            "(or install kfp in its own virtual environment and pass its python with --kfp-python)."
        ) from exc
    return dsl


def container_command(task: dict[str, Any], plan: dict[str, Any], run_name: str) -> list[str]:
    """The container's command: the plan's argv with the run name, in ``workdir`` and under the timeout if set."""
    argv = [run_name if part == plan["run_name_placeholder"] else part for part in task["argv"]]
    if task["timeout_seconds"] is not None:
        seconds = str(math.ceil(task["timeout_seconds"]))
        argv = ["timeout", "-s", "INT", "--kill-after", f"{KILL_AFTER_SECONDS}s", f"{seconds}s", *argv]
    if plan["workdir"] is not None:
        argv = ["sh", "-c", 'cd "$0" && exec "$@"', plan["workdir"], *argv]
    return argv


def _component_yaml(task: dict[str, Any], plan: dict[str, Any], image: str) -> str:
    # A component spec in KFP's component YAML format: the run name is its only input.
    marker = "\0run_name\0"
    command = [{"inputValue": "run_name"} if part == marker else part for part in container_command(task, plan, marker)]
    spec = {
        "name": task["id"],
        "description": f"{task['component_type']} (Sluiceway component {task['id']})",
        "inputs": [{"name": "run_name", "type": "String"}],
        "implementation": {"container": {"image": image, "command": command}},
    }
    return json.dumps(spec)  # JSON is YAML


def _configure(task_obj: Any, task: dict[str, Any], env: dict[str, str]) -> None:
    for name, value in sorted(env.items()):
        task_obj.set_env_variable(name, value)
    task_obj.set_caching_options(False)
    task_obj.set_display_name(task["id"])
    wanted = task.get("kubernetes_resources", {})  # the component's resources=, mapped by the plan
    requests, limits = wanted.get("requests", {}), wanted.get("limits", {})
    if "cpu" in requests:
        task_obj.set_cpu_request(requests["cpu"])
    if "memory" in requests:
        task_obj.set_memory_request(requests["memory"])
    for accelerator, count in limits.items():
        task_obj.set_accelerator_type(accelerator)
        task_obj.set_accelerator_limit(int(count))
    if task["retries"]:
        task_obj.set_retry(
            num_retries=task["retries"],
            backoff_duration=f"{math.ceil(task['retry_backoff'])}s",
            backoff_factor=2.0,
        )


def _wire(plan: dict[str, Any], make_task: Callable[[dict[str, Any], str], Any]) -> Callable[[], None]:
    """A KFP pipeline function over the plan's tasks, in topological order, with their dependencies."""
    dsl = _kfp()

    @dsl.pipeline(name=_kfp_name(plan["pipeline_name"]), description=plan["description"] or None)
    def pipeline() -> None:
        made: dict[str, Any] = {}
        for task in plan["tasks"]:
            made[task["id"]] = task_obj = make_task(task, dsl.PIPELINE_JOB_NAME_PLACEHOLDER)
            _configure(task_obj, task, plan["env"])
            for upstream in task["upstream"]:
                task_obj.after(made[upstream])

    return pipeline


def container_pipeline(plan: dict[str, Any], image: str = DEFAULT_IMAGE) -> Callable[[], None]:
    """The pipeline as container tasks (what ``sluiceway export kubeflow`` compiles)."""
    from kfp import components

    loaded = {
        task["id"]: components.load_component_from_text(_component_yaml(task, plan, image)) for task in plan["tasks"]
    }
    return _wire(plan, lambda task, run_name: loaded[task["id"]](run_name=run_name))


def compile_pipeline(plan: dict[str, Any], out_path: str, image: str = DEFAULT_IMAGE) -> None:
    """Compile the container pipeline to a KFP v2 spec (YAML) at ``out_path``."""
    _kfp()
    from kfp import compiler

    compiler.Compiler().compile(container_pipeline(plan, image), package_path=out_path)


def run_sluiceway_exec(argv: list, run_name: str, placeholder: str, workdir: str) -> None:
    """The lightweight component's body (its source is shipped to the task): run the plan's argv."""
    import subprocess

    command = [run_name if part == placeholder else part for part in argv]
    completed = subprocess.run(command, cwd=workdir or None, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"sluiceway exec exited with {completed.returncode}: {' '.join(command)}")


def lightweight_pipeline(plan: dict[str, Any]) -> Callable[[], None]:
    """The same plan as lightweight Python components, for ``kfp.local.SubprocessRunner``.

    Each task runs the plan's exact argv (the container tasks' command) with ``subprocess``, in the
    machine's environment; the task timeout is not applied.
    """
    dsl = _kfp()
    component = dsl.component(run_sluiceway_exec)
    return _wire(
        plan,
        lambda task, run_name: component(
            argv=list(task["argv"]),
            run_name=run_name,
            placeholder=plan["run_name_placeholder"],
            workdir=plan["workdir"] or "",
        ),
    )


def _kfp_name(name: str) -> str:
    # KFP pipeline names become Kubernetes resource names: lowercase letters, digits and '-'.
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
    return cleaned or "sluiceway"


def main(args: list[str]) -> int:
    """``kubeflow.py PLAN.json OUT.yaml [IMAGE]``: compile in an interpreter that has kfp (--kfp-python)."""
    if len(args) not in (2, 3):
        sys.stderr.write("usage: kubeflow.py PLAN.json OUT.yaml [IMAGE]\n")
        return 2
    with open(args[0], encoding="utf-8") as handle:
        plan = json.load(handle)
    compile_pipeline(plan, args[1], args[2] if len(args) == 3 else DEFAULT_IMAGE)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

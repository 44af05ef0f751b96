"""`sluiceway export airflow|kubeflow|argo|luigi|plan`: a pipeline as an orchestrator's DAG, one task per component.

Every task runs ``sluiceway exec`` (see ``sluiceway.export.plan``). The global ``--store`` and
``--artifact-root``, when given on this command line, are written into the exported tasks' environment;
otherwise the tasks read ``SLUICEWAY_STORE`` / ``SLUICEWAY_ARTIFACT_ROOT`` where they run.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from sluiceway.cli.common import console, state

if TYPE_CHECKING:
    from sluiceway.export.plan import ExportPlan

_TARGET = typer.Argument(..., metavar="PIPELINE", help="Pipeline: path/to/pipeline.py, file.py:attr or module:attr.")
_WORKDIR = typer.Option(
    None, "--workdir", metavar="DIR", help="Folder the tasks run in (a relative PIPELINE is relative to it)."
)
_EXECUTABLE = typer.Option(
    "sluiceway", "--sluiceway", metavar="COMMAND", help="The sluiceway command on the task machines."
)
_SCHEDULE = typer.Option(
    None, "--schedule", metavar="CRON", help="Cron expression or preset (@daily); default: on demand."
)
_TIMEOUT = typer.Option(None, "--timeout", metavar="SECONDS", min=0.001, help="Longest time one task may run.")
_NO_CACHE = typer.Option(False, "--no-cache", help="Tasks never reuse cached results.")


def register(app: typer.Typer) -> None:
    export_app = typer.Typer(
        help="Export a pipeline to an orchestrator: one task per component, each running `sluiceway exec`.",
        no_args_is_help=True,
    )
    export_app.command("airflow")(export_airflow)
    export_app.command("kubeflow")(export_kubeflow)
    export_app.command("argo")(export_argo)
    export_app.command("luigi")(export_luigi)
    export_app.command("plan")(export_plan)
    app.add_typer(export_app, name="export")


def _plan(
    target: str, workdir: str | None, executable: str, schedule: str | None, timeout: float | None, no_cache: bool
) -> ExportPlan:
    from sluiceway.dsl.loading import load_pipeline
    from sluiceway.export.plan import ExportOptions, build_plan

    options = ExportOptions(
        store=state.store,
        artifact_root=state.artifact_root,
        workdir=workdir,
        executable=executable,
        schedule=schedule,
        timeout_seconds=timeout,
        cache=not no_cache,
    )
    return build_plan(load_pipeline(target), target, options)


def export_airflow(
    target: str = _TARGET,
    out: Path = typer.Option(..., "--out", metavar="DAGS_DIR", help="Airflow's DAGs folder (created if missing)."),
    workdir: str | None = _WORKDIR,
    executable: str = _EXECUTABLE,
    schedule: str | None = _SCHEDULE,
    timeout: float | None = _TIMEOUT,
    no_cache: bool = _NO_CACHE,
) -> None:
    """Write an Airflow 3 DAG file: one BashOperator per component."""
    from sluiceway.export.airflow import write_dag

    plan = _plan(target, workdir, executable, schedule, timeout, no_cache)
    path = write_dag(plan, out)
    console.print(f"Wrote {path} (DAG {plan.pipeline_name!r}, {len(plan.tasks)} tasks).")
    console.print(f"Try it: airflow dags test {plan.pipeline_name}", soft_wrap=True)


def export_kubeflow(
    target: str = _TARGET,
    out: Path = typer.Option(..., "--out", metavar="FILE", help="The KFP v2 pipeline spec to write (YAML)."),
    image: str = typer.Option(
        "sluiceway:latest", "--image", metavar="IMAGE", help="Container image of every task (see the Dockerfile)."
    ),
    kfp_python: Path | None = typer.Option(
        None,
        "--kfp-python",
        metavar="PYTHON",
        help="A Python that has kfp, when this one has not (kfp pins protobuf < 7: it often has its own venv).",
    ),
    workdir: str | None = _WORKDIR,
    executable: str = _EXECUTABLE,
    schedule: str | None = _SCHEDULE,
    timeout: float | None = _TIMEOUT,
    no_cache: bool = _NO_CACHE,
) -> None:
    """Compile a Kubeflow Pipelines v2 spec: one container task per component."""
    from sluiceway.errors import MissingExtraError
    from sluiceway.export import kubeflow

    plan = _plan(target, workdir, executable, schedule, timeout, no_cache)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Renamed once complete: never half a spec at --out (kfp insists on a .yaml name).
    partial = out.with_name(f".partial-{out.stem}.yaml")
    if kfp_python is None:
        try:
            kubeflow.compile_pipeline(plan.to_dict(), str(partial), image)
        except ImportError as exc:
            raise MissingExtraError("sluiceway export kubeflow", "kubeflow", "kfp") from exc
    else:
        _compile_with(kfp_python, plan, partial, image)
    partial.replace(out)
    console.print(f"Wrote {out} (pipeline {plan.pipeline_name!r}, {len(plan.tasks)} container tasks, image {image}).")
    if plan.schedule:
        console.print(
            f"KFP specs carry no schedule: create a recurring run with cron expression {plan.schedule!r}.",
            soft_wrap=True,
        )


def _compile_with(kfp_python: Path, plan: ExportPlan, out: Path, image: str) -> None:
    """Compile in another interpreter: the renderer module needs only the standard library and kfp."""
    from sluiceway.errors import ConfigError
    from sluiceway.export import kubeflow

    with tempfile.TemporaryDirectory(prefix="sluiceway-kfp-") as folder:
        plan_file = Path(folder) / "plan.json"
        plan_file.write_text(json.dumps(plan.to_dict()), encoding="utf-8")
        try:
            completed = subprocess.run(
                [str(kfp_python), str(kubeflow.__file__), str(plan_file), str(out), image],
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError as exc:
            raise ConfigError(
                f"--kfp-python {kfp_python} cannot be run: {exc}. Give the path of a Python that has kfp."
            ) from exc
    if completed.returncode != 0:
        out.unlink(missing_ok=True)
        raise ConfigError(
            f"Compiling with --kfp-python {kfp_python} failed (exit {completed.returncode}):\n"
            f"{completed.stderr.strip()[-2000:]}\n"
            "Check that this Python has kfp 2 installed (pip install 'kfp>=2.17,<3')."
        )


def export_luigi(
    target: str = _TARGET,
    out: Path = typer.Option(
        ..., "--out", metavar="FILE", help="The Luigi module to write (a folder: sluiceway_PIPELINE.py in it)."
    ),
    workdir: str | None = _WORKDIR,
    executable: str = _EXECUTABLE,
    timeout: float | None = _TIMEOUT,
    no_cache: bool = _NO_CACHE,
) -> None:
    """Write a Luigi module: one task per component, complete() read from the metadata store."""
    from sluiceway.export.luigi import task_namespace, write_module

    plan = _plan(target, workdir, executable, None, timeout, no_cache)
    path = write_module(plan, out)
    console.print(f"Wrote {path} (Luigi tasks of {plan.pipeline_name!r}, {len(plan.tasks)} components).")
    console.print(
        f"Try it: PYTHONPATH={path.parent} luigi --module {path.stem} {task_namespace(plan)}.Pipeline "
        "--run-name NAME --local-scheduler",
        soft_wrap=True,
    )


def export_argo(
    target: str = _TARGET,
    out: Path = typer.Option(..., "--out", metavar="FILE", help="The Argo Workflow (or CronWorkflow) YAML to write."),
    image: str = typer.Option(
        "sluiceway:latest", "--image", metavar="IMAGE", help="Container image of every task (see the Dockerfile)."
    ),
    cron: str | None = typer.Option(
        None, "--cron", metavar="CRON", help="Write a CronWorkflow on this schedule (e.g. '0 * * * *')."
    ),
    workdir: str | None = _WORKDIR,
    executable: str = _EXECUTABLE,
    timeout: float | None = _TIMEOUT,
    no_cache: bool = _NO_CACHE,
) -> None:
    """Write an Argo Workflow (or, with --cron, a CronWorkflow): a DAG of one container task per component."""
    from sluiceway.export.argo import write_workflow

    plan = _plan(target, workdir, executable, cron, timeout, no_cache)
    path = write_workflow(plan, out, image)
    kind = "CronWorkflow" if cron else "Workflow"
    console.print(f"Wrote {path} (Argo {kind} of {plan.pipeline_name!r}, {len(plan.tasks)} tasks, image {image}).")
    console.print(f"Submit it: argo {'cron create' if cron else 'submit'} {path}", soft_wrap=True)


def export_plan(
    target: str = _TARGET,
    out: Path | None = typer.Option(None, "--out", metavar="FILE", help="Write the plan here (default: print it)."),
    workdir: str | None = _WORKDIR,
    executable: str = _EXECUTABLE,
    schedule: str | None = _SCHEDULE,
    timeout: float | None = _TIMEOUT,
    no_cache: bool = _NO_CACHE,
) -> None:
    """Print the orchestrator-neutral task plan as JSON (for other tools and orchestrators)."""
    plan = _plan(target, workdir, executable, schedule, timeout, no_cache)
    text = json.dumps(plan.to_dict(), indent=2, sort_keys=True) + "\n"
    if out is None:
        console.file.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"Wrote {out} ({len(plan.tasks)} tasks).")

"""Render a task plan as an Airflow 3 DAG file: one ``BashOperator`` per component running ``sluiceway exec``.

The file is plain text written from the plan; exporting does not need Airflow installed. The DAG file
imports only the standard library and Airflow (``airflow.sdk``, the standard provider's ``BashOperator``):
the DAG processor parses it often, and Sluiceway, Polars and the user's pipeline are loaded by the task's
own ``sluiceway exec`` process, never at parse time.

Every task of one DAG run joins one Sluiceway run, named ``{pipeline}-{run_id}`` (characters a run name
may not hold become ``-``). Retries are Airflow's (``retries``, ``retry_delay`` = the component's
``retry_backoff``, doubled after each try); the command passes ``--retries 0`` so a failure is not retried
twice. A task's timeout becomes ``execution_timeout``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from sluiceway.errors import ConfigError
from sluiceway.export.plan import RUN_NAME, ExportPlan, TaskPlan

_AIRFLOW_RUN_NAME = "{{ run_id | sluiceway_run_name }}"
_JINJA_MARKERS = re.compile(r"\{[{%#]")
_PYTHON_NAME = re.compile(r"[^A-Za-z0-9_]")


def dag_file_name(plan: ExportPlan) -> str:
    """The file the DAG is written to in the DAGs folder: ``sluiceway_{pipeline}.py``."""
    return f"sluiceway_{_PYTHON_NAME.sub('_', plan.pipeline_name)}.py"


def render_dag(plan: ExportPlan) -> str:
    """The DAG file's source text (same plan, same bytes)."""
    if plan.workdir is None and _is_relative_file(plan.pipeline_target):
        raise ConfigError(
            f"The pipeline target {plan.pipeline_target!r} is a relative path, but Airflow runs BashOperator tasks "
            "in a temporary folder where it would not be found. Pass --workdir with the folder it is relative "
            "to on the Airflow workers (e.g. --workdir /opt/project), or give an absolute path or a module "
            "(package.module:attr)."
        )
    lines = [
        f'"""Airflow DAG of the Sluiceway pipeline {plan.pipeline_name!r}, written by `sluiceway export airflow`.',
        "",
        "Each task runs one component with `sluiceway exec` against the shared metadata and artifact stores;",
        "every task of one DAG run joins the Sluiceway run named after the DAG run. Export again rather than",
        "edit: the pipeline's graph, retries and schedule come from the pipeline.",
        f"Pipeline: {plan.pipeline_target}",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import re",
        "from datetime import datetime, timedelta, timezone",
        "",
        "from airflow.providers.standard.operators.bash import BashOperator",
        "from airflow.sdk import DAG",
        "",
        f"PIPELINE = {plan.pipeline_name!r}",
        "# The stores and anything else given at export time; the rest comes from the worker's environment",
        "# (SLUICEWAY_STORE, SLUICEWAY_ARTIFACT_ROOT).",
        f"ENV = {_python_dict(plan.env)}",
        f"WORKDIR = {plan.workdir!r}",
        "",
        "",
        "def sluiceway_run_name(run_id: str) -> str:",
        '    """The Sluiceway run of a DAG run: the pipeline name and run id, in the characters run names allow."""',
        '    return (PIPELINE + "-" + re.sub(r"[^A-Za-z0-9_.-]", "-", run_id))[:200]',
        "",
        "",
        "with DAG(",
        f"    dag_id={plan.pipeline_name!r},",
        f"    description={_description(plan)!r},",
        f"    schedule={plan.schedule!r},",
        # A fixed past start keeps the file the same bytes on every export; catchup=False runs only the latest
        # interval when the DAG is switched on.
        "    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),",
        "    catchup=False,",
        "    max_active_runs=1,",
        '    tags=["sluiceway"],',
        '    user_defined_filters={"sluiceway_run_name": sluiceway_run_name},',
        ") as dag:",
        "    tasks = {}",
    ]
    for task in plan.tasks:
        lines.extend(_task_lines(task))
    for task in plan.tasks:
        for upstream in task.upstream:
            lines.append(f"    tasks[{upstream!r}] >> tasks[{task.id!r}]")
    return "\n".join(lines) + "\n"


def write_dag(plan: ExportPlan, dags_folder: Path) -> Path:
    """Write the DAG file into ``dags_folder`` (created if missing); returns its path.

    Written to a temporary name and renamed, so the DAG processor never parses half a file.
    """
    text = render_dag(plan)
    dags_folder.mkdir(parents=True, exist_ok=True)
    final = dags_folder / dag_file_name(plan)
    partial = dags_folder / f".{final.name}.partial"
    partial.write_text(text, encoding="utf-8")
    partial.replace(final)
    return final


def _task_lines(task: TaskPlan) -> list[str]:
    timeout = f"timedelta(seconds={task.timeout_seconds!r})" if task.timeout_seconds is not None else "None"
    return [
        f"    tasks[{task.id!r}] = BashOperator(",
        f"        task_id={task.id!r},",
        f"        doc={f'{task.component_type} (Sluiceway component {task.id})'!r},",
        f"        bash_command={bash_command(task)!r},",
        "        env=ENV,",
        "        append_env=True,",
        "        cwd=WORKDIR,",
        f"        retries={task.retries},",
        f"        retry_delay=timedelta(seconds={task.retry_backoff!r}),",
        "        retry_exponential_backoff=2.0,",
        f"        execution_timeout={timeout},",
        "    )",
    ]


def bash_command(task: TaskPlan) -> str:
    """The task's ``sluiceway exec`` command as one shell line, the run name a Jinja expression.

    Each word is shell-quoted; a word that Jinja would read as a template (``{{``, ``{%``, ``{#``) is kept
    literal with ``{% raw %}``.
    """
    words = []
    for part in task.argv:
        if part == RUN_NAME:
            words.append(_AIRFLOW_RUN_NAME)  # renders to letters, digits, '_', '-', '.': no quoting needed
            continue
        quoted = shlex.quote(part)
        words.append("{% raw %}" + quoted + "{% endraw %}" if _JINJA_MARKERS.search(quoted) else quoted)
    return " ".join(words)


def _description(plan: ExportPlan) -> str:
    return plan.description or f"Sluiceway pipeline {plan.pipeline_name}"


def _python_dict(values: dict[str, str]) -> str:
    return "{" + ", ".join(f"{key!r}: {value!r}" for key, value in sorted(values.items())) + "}"


def _is_relative_file(target: str) -> bool:
    path_part = target.split(":", 1)[0] if not re.match(r"^[A-Za-z]:[\\/]", target) else target
    return path_part.endswith(".py") and not Path(path_part).is_absolute()

"""Render a task plan as a Luigi module: one ``luigi.Task`` per component, its completion read from the store.

Luigi's scheduler decides what to run by asking each task ``complete()``; here that is the metadata store's
record of a COMPLETE or CACHED execution of the component in the Sluiceway run named by the task's
``run_name`` parameter (``component_complete``). So a second build of the same run finds every task
complete and runs nothing, and a build after a failure runs only what did not complete.

``run()`` is the plan's ``sluiceway exec`` command in a subprocess. Luigi's local scheduler does not retry a
failed task within one build, so the command keeps the component's own retries (``--retries N``, backoff
doubling from ``retry_backoff``) instead of the plan's ``--retries 0``. A task timeout sends Ctrl-C (SIGINT,
which ``sluiceway exec`` records as CANCELED), then SIGKILL after ``KILL_AFTER_SECONDS``.

The module imports only the standard library and Luigi at import time; ``complete()`` imports Sluiceway's
store, so Luigi runs where Sluiceway is installed (``pip install 'sluiceway[luigi]'``). Run it with::

    luigi --module sluiceway_penguin penguin.Pipeline --run-name penguin-2026-11-30 --local-scheduler
"""

from __future__ import annotations

import re
from pathlib import Path

from sluiceway.export.plan import RUN_NAME, ExportPlan, TaskPlan

KILL_AFTER_SECONDS = 60  # after the timeout's Ctrl-C, how long `sluiceway exec` gets to record before SIGKILL
_PYTHON_NAME = re.compile(r"[^A-Za-z0-9_]")


def module_file_name(plan: ExportPlan) -> str:
    """A file name Python can import: ``sluiceway_{pipeline}.py``."""
    return f"sluiceway_{_python_name(plan.pipeline_name)}.py"


def task_namespace(plan: ExportPlan) -> str:
    """The Luigi namespace of the module's tasks (the pipeline's name as a Python name)."""
    return _python_name(plan.pipeline_name)


def class_names(plan: ExportPlan) -> dict[str, str]:
    """Component id -> Luigi task class name: the id as a Python name, made unique."""
    names: dict[str, str] = {}
    taken = {"Pipeline", "SluicewayComponent"}
    for task in plan.tasks:
        base = _python_name(task.id)
        name, suffix = base, 2
        while name in taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(name)
        names[task.id] = name
    return names


def component_complete(
    run_name: str, component_id: str, *, env: dict[str, str] | None = None, workdir: str | None = None
) -> bool:
    """Whether the store records a COMPLETE or CACHED execution of ``component_id`` in run ``run_name``.

    The store is the one ``sluiceway exec`` uses in the same place: ``env``'s ``SLUICEWAY_STORE`` (the value
    written at export time), else the settings of ``workdir`` (environment, ``sluiceway.toml``, defaults).
    A store or run that does not exist yet means not complete.
    """
    from sluiceway.config import load_settings
    from sluiceway.errors import NotFoundError, StoreNotFoundError
    from sluiceway.export.plan import STORE_ENV
    from sluiceway.metadata.store import MetadataStore

    settings = load_settings(workdir, store=(env or {}).get(STORE_ENV))
    try:
        store = MetadataStore(settings.store, create=False)
    except StoreNotFoundError:
        return False
    try:
        run = store.get_run(run_name)
        return store.successful_execution(run.id, component_id) is not None
    except NotFoundError:
        return False
    finally:
        store.close()


def luigi_command(task: TaskPlan) -> list[str]:
    """The plan's argv with the component's own retries: Luigi's local scheduler does not retry within a build."""
    argv = list(task.argv)
    position = argv.index("--retries")
    argv[position + 1] = str(task.retries)
    return argv


def render_module(plan: ExportPlan) -> str:
    """The Luigi module's source text (same plan, same bytes)."""
    names = class_names(plan)
    namespace = task_namespace(plan)
    sinks = [t.id for t in plan.tasks if not any(t.id in other.upstream for other in plan.tasks)]
    lines = [
        f'"""Luigi tasks of the Sluiceway pipeline {plan.pipeline_name!r}, written by `sluiceway export luigi`.',
        "",
        "One task per component; run() is `sluiceway exec`, complete() is the metadata store's record of a",
        "COMPLETE or CACHED execution of the component in the run named --run-name. Export again rather than",
        "edit: the graph and retries come from the pipeline.",
        f"Pipeline: {plan.pipeline_target}",
        "",
        f"    luigi --module {module_file_name(plan)[:-3]} {namespace}.Pipeline --run-name NAME --local-scheduler",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import os",
        "import signal",
        "import subprocess",
        "",
        "import luigi",
        "",
        f"PIPELINE = {plan.pipeline_name!r}",
        "# The stores given at export time; the rest comes from the environment (SLUICEWAY_STORE, ...).",
        f"ENV = {_python_dict(plan.env)}",
        f"WORKDIR = {plan.workdir!r}",
        f"KILL_AFTER_SECONDS = {KILL_AFTER_SECONDS}",
        "",
        "",
        "class SluicewayComponent(luigi.Task):",
        '    """One component of one Sluiceway run."""',
        "",
        f"    task_namespace = {namespace!r}",
        '    run_name = luigi.Parameter(description="The Sluiceway run every task of this build joins.")',
        '    component_id = ""',
        "    command: tuple[str, ...] = ()",
        "    upstream: tuple[str, ...] = ()",
        "    timeout_seconds: float | None = None",
        "",
        "    def requires(self):",
        "        return [TASKS[cid](run_name=self.run_name) for cid in self.upstream]",
        "",
        "    def complete(self):",
        "        from sluiceway.export.luigi import component_complete",
        "",
        "        return component_complete(self.run_name, self.component_id, env=ENV, workdir=WORKDIR)",
        "",
        "    def run(self):",
        f"        command = [self.run_name if part == {RUN_NAME!r} else part for part in self.command]",
        "        process = subprocess.Popen(command, cwd=WORKDIR, env={**os.environ, **ENV})",
        "        try:",
        "            code = process.wait(timeout=self.timeout_seconds)",
        "        except subprocess.TimeoutExpired:",
        "            process.send_signal(signal.SIGINT)  # sluiceway exec records the execution CANCELED",
        "            try:",
        "                process.wait(timeout=KILL_AFTER_SECONDS)",
        "            except subprocess.TimeoutExpired:",
        "                process.kill()",
        "                process.wait()",
        '            raise RuntimeError(f"{self.component_id} ran longer than {self.timeout_seconds} s") from None',
        "        if code != 0:",
        '            raise RuntimeError(f"sluiceway exec of {self.component_id} exited with {code}")',
    ]
    for task in plan.tasks:
        lines.extend(_task_lines(task, names[task.id]))
    lines.extend(
        [
            "",
            "",
            "class Pipeline(luigi.WrapperTask):",
            f'    """The whole pipeline {plan.pipeline_name!r}: every component of one run."""',
            "",
            f"    task_namespace = {namespace!r}",
            '    run_name = luigi.Parameter(description="The Sluiceway run every task of this build joins.")',
            "",
            "    def requires(self):",
            f"        return [TASKS[cid](run_name=self.run_name) for cid in {tuple(sinks)!r}]",
            "",
            "",
            "TASKS = {" + ", ".join(f"{task.id!r}: {names[task.id]}" for task in plan.tasks) + "}",
        ]
    )
    return "\n".join(lines) + "\n"


def write_module(plan: ExportPlan, out: Path) -> Path:
    """Write the module to ``out`` (a file, or a folder to write ``module_file_name`` into); returns its path.

    Written to a temporary name and renamed, so Luigi never imports half a file.
    """
    text = render_module(plan)
    final = out / module_file_name(plan) if out.is_dir() else out
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f".{final.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(final)
    return final


def _task_lines(task: TaskPlan, class_name: str) -> list[str]:
    return [
        "",
        "",
        f"class {class_name}(SluicewayComponent):",
        f"    {f'{task.component_type} (Sluiceway component {task.id})'!r}",
        "",
        f"    component_id = {task.id!r}",
        f"    command = {tuple(luigi_command(task))!r}",
        f"    upstream = {task.upstream!r}",
        f"    timeout_seconds = {task.timeout_seconds!r}",
    ]


def _python_name(name: str) -> str:
    cleaned = _PYTHON_NAME.sub("_", name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"_{cleaned}"


def _python_dict(values: dict[str, str]) -> str:
    return "{" + ", ".join(f"{key!r}: {value!r}" for key, value in sorted(values.items())) + "}"

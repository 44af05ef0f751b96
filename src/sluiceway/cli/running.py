"""`sluiceway run` and `sluiceway exec`: running pipelines, and telling the user what happened.

After a run the user sees what failed (the last frames of each traceback and the log file), what the
validators found without stopping the run, and, when it completed, where the outputs and reports are and
what to try next. ``-v`` streams each component's output (its log file) while it runs.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from sluiceway.cli.common import (
    console,
    err_console,
    plural,
    print_json,
    read_store,
    settings,
    state,
    styled,
)
from sluiceway.errors import ConfigError, NotFoundError, StoreNotFoundError
from sluiceway.runners.hooks import RunHooks

if TYPE_CHECKING:
    from sluiceway.metadata.store import ExecutionRecord
    from sluiceway.runners.local import Run

TRACEBACK_FRAMES = 3  # frames of a failed component's traceback shown after a run; `runs show` shows all


ENGINE_HELP = (
    "Where the components' data work runs: 'local' (threads) or 'ray' (the cluster at RAY_ADDRESS; "
    "pip install 'sluiceway[ray]'). Default: the pipeline's setting, else local."
)


def check_engine_option(engine: str | None) -> None:
    from sluiceway.data.engine import ENGINE_NAMES
    from sluiceway.errors import ConfigError

    if engine is not None and engine not in ENGINE_NAMES:
        raise ConfigError(f"The --engine option must be 'local' or 'ray'. Got {engine!r} instead.")


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command("exec", short_help="Run one component of a run (orchestrator tasks).")(exec_component)


def run(
    target: str = typer.Argument(
        ..., metavar="TARGET", help="Pipeline: path/to/pipeline.py, file.py:attr or package.module:attr."
    ),
    parallelism: int | None = typer.Option(
        None, "--parallelism", "-p", metavar="N", help="Components run at once (default: CPU cores)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every component even if a cached result exists."),
    resume: str | None = typer.Option(
        None, "--resume", metavar="RUN", help="Resume this run: rerun only what did not complete."
    ),
    run_name: str | None = typer.Option(
        None, "--run-name", metavar="NAME", help="Name for the new run (default: pipeline-timestamp)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the run's result as JSON."),
    engine: str | None = typer.Option(None, "--engine", metavar="local|ray", help=ENGINE_HELP),
    runner_name: str = typer.Option(
        "local", "--runner", metavar="RUNNER",
        help="local (threads here), celery (Celery workers, see --broker) or ray (Ray tasks, see --ray-address).",
    ),
    broker: str | None = typer.Option(
        None, "--broker", metavar="URL", help="Celery broker (redis://host:6379/0); default: $SLUICEWAY_CELERY_BROKER."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", metavar="ADDR", help="Ray cluster for --runner ray (host:port); default: $RAY_ADDRESS."
    ),
) -> None:
    """Run a pipeline with the local runner (or on Celery workers, or as Ray tasks: see --runner)."""
    from sluiceway.cli.progress import RichProgress
    from sluiceway.dsl.loading import load_pipeline
    from sluiceway.runners.local import LocalRunner, new_run_name

    tracker = _RunTracker(since_ms=int(time.time() * 1000))
    names: dict[str, str] = {}
    state.describe_interrupt = lambda: _describe_interrupt(target, names.get("run"), resume, tracker)
    check_engine_option(engine)
    if runner_name not in ("local", "celery", "ray"):
        raise ConfigError(f"--runner must be 'local', 'celery' or 'ray'. Got {runner_name!r} instead.")
    if broker is not None and runner_name != "celery":
        raise ConfigError(f"--broker is for --runner celery; the {runner_name} runner has no broker.")
    if ray_address is not None and runner_name != "ray":
        raise ConfigError("--ray-address is for --runner ray (the data engine's cluster is $RAY_ADDRESS).")
    run_settings = settings(parallelism=parallelism, cache=False if no_cache else None)
    pipeline = load_pipeline(target)
    names["run"] = resume or run_name or new_run_name(pipeline.name)
    hooks: list[RunHooks] = [tracker]
    if not as_json:
        # The progress display styles its own text with markup (and escapes what is not its own).
        from rich.console import Console

        hooks.append(
            RichProgress(
                Console(file=console.file, width=console.width, highlight=False, emoji=False), quiet=state.verbosity < 0
            )
        )
        if state.verbosity >= 1:
            hooks.append(LogFollower(run_settings.log_root))
    if runner_name == "ray":
        from sluiceway.runners.ray import RayRunner

        # --engine applies as under the local runner: 'ray' fans each component's data work out further.
        ray_runner = RayRunner(address=ray_address, settings=run_settings, hooks=hooks, engine=engine)
        result = ray_runner.run(target, run_name=None if resume else names["run"], resume=resume)
    elif runner_name == "celery":
        if engine is not None:
            raise ConfigError(
                "--engine is for the local runner; with --runner celery, set engine= on the pipeline or its components."
            )
        from sluiceway.runners.celery import CeleryRunner

        celery_runner = CeleryRunner(broker=broker, settings=run_settings, hooks=hooks)
        result = celery_runner.run(target, run_name=None if resume else names["run"], resume=resume)
    else:
        runner = LocalRunner(settings=run_settings, hooks=hooks, engine=engine)
        result = runner.run(pipeline, run_name=None if resume else names["run"], resume=resume)
    if as_json:
        print_json(
            {
                "run": result.name,
                "state": result.state,
                "not_run": result.not_run,
                "executions": {k: v.to_dict() for k, v in result.executions.items()},
            }
        )
    else:
        _show_outcome(result, target, run_settings)
    raise typer.Exit(0 if result.succeeded else 1)


class _RunTracker(RunHooks):
    """Knows whether the runner got as far as starting the run (for the interruption message)."""

    def __init__(self, *, since_ms: int) -> None:
        self.started = False
        self.since_ms = since_ms  # a run created from then on is this command's, even before on_run_start

    def on_run_start(self, *, run_name: str, pipeline: Any, **future_kwargs: Any) -> None:
        self.started = True


def _describe_interrupt(target: str, run_name: str | None, resume: str | None, tracker: _RunTracker) -> str:
    """What a Ctrl-C really left behind, read from the store."""
    if run_name is None:
        return "no run was recorded (the pipeline file was still being imported)."
    try:
        record = read_store().get_run(run_name)
    except (StoreNotFoundError, NotFoundError):
        return f"no run was recorded (run {run_name} had not started)."
    again = f"sluiceway run {target} --resume {run_name}"
    if resume is None and not tracker.started and record.create_time < tracker.since_ms:
        return f"no run was recorded (run {run_name} is an earlier run, left as it was: {record.state})."
    if resume is not None and not tracker.started:
        return f"run {run_name} was not resumed; it is still {record.state}. Resume it with: {again}"
    if record.state == "CANCELED":
        return f"run {run_name} is CANCELED; what completed is kept. Continue it with: {again}"
    return f"run {run_name} was left {record.state}. Continue it with: {again}"


def _describe_interrupted_task(component: str, run_name: str) -> str:
    """What a Ctrl-C left of a `sluiceway exec` task: its execution's state in the store, if it started."""
    try:
        store = read_store()
        record = store.get_run(run_name)
    except (StoreNotFoundError, NotFoundError):
        return f"component {component} did not start: run {run_name} was not recorded."
    mine = [e for e in store.executions(record.id, with_artifacts=False) if e.component_id == component]
    if not mine:
        return f"component {component} did not start in run {run_name}."
    latest = mine[-1]
    where = f"component {component} of run {run_name}"
    return f"{where}: execution {latest.id} is {latest.state}. Run the task again to retry it."


def _show_outcome(result: Run, target: str, run_settings: Any) -> None:
    quiet = state.verbosity < 0
    if not quiet:
        _show_anomalies(result.executions.values())
        _show_not_pushed(result.executions.values())
    for execution in result.executions.values():
        if execution.state == "FAILED":
            _show_failure(execution, message_shown=True)
    if not result.succeeded:
        err_console.print(f"Inspect it with: sluiceway runs show {result.name}", soft_wrap=True)
    elif not quiet:
        _show_next_steps(result, target, run_settings)


def _show_anomalies(executions: Any) -> None:
    """Anomalies that did not stop the run (a validator with fail_on_anomalies=False, or warnings only)."""
    for execution in executions:
        if execution.state not in ("COMPLETE", "CACHED"):
            continue
        for artifact in execution.outputs.values():
            count = artifact.properties.get("anomaly_count") if artifact.TYPE_NAME == "ExampleAnomalies" else None
            if not count:
                continue
            kinds = ", ".join(artifact.properties.get("kinds") or [])
            report = getattr(artifact, "report_file", None)
            console.print(
                styled(
                    ("warning:", "yellow"),
                    f" {execution.component_id} found {plural(int(count), 'anomaly', 'anomalies')}"
                    " that did not stop the run"
                    + (f" ({kinds})" if kinds else "")
                    + (f"; report: {report}" if report is not None else ""),
                ),
                soft_wrap=True,
            )


def _show_not_pushed(executions: Any) -> None:
    """A Pusher that refused to push (a blessing said no): why, since the run itself completed."""
    for execution in executions:
        if execution.state not in ("COMPLETE", "CACHED"):
            continue
        for artifact in execution.outputs.values():
            if artifact.TYPE_NAME != "PushedModel" or artifact.properties.get("pushed") is not False:
                continue
            reasons = "; ".join(artifact.properties.get("reasons") or []) or "no reason recorded"
            console.print(
                styled(("note:", "yellow"), f" {execution.component_id} did not push: {reasons}"), soft_wrap=True
            )


def traceback_tail(error: str, frames: int = TRACEBACK_FRAMES) -> list[str]:
    """The last ``frames`` frames of a formatted traceback and its exception lines; other text whole."""
    lines = error.rstrip().splitlines()
    if not lines or not lines[0].startswith("Traceback"):
        return lines
    starts = [i for i, line in enumerate(lines) if line.startswith("  File ")]
    if len(starts) <= frames:
        return lines
    return ["Traceback (most recent call last, last frames):"] + lines[starts[-frames] :]


def _show_failure(execution: ExecutionRecord, *, message_shown: bool = False) -> None:
    """A failure's last traceback frames and its log. ``message_shown``: the progress display already printed
    a message that is not a traceback (e.g. a gate's list of anomalies), so it is not repeated."""
    error = execution.error or "(no error recorded)"
    err_console.print(styled((f"{execution.component_id} failed:", "bold red")))
    if not (message_shown and not error.startswith("Traceback")):
        for line in traceback_tail(error):
            err_console.print(f"  {line}", soft_wrap=True)
    if execution.log_uri:
        err_console.print(f"  log: {execution.log_uri}", soft_wrap=True)


def _show_next_steps(result: Run, target: str, run_settings: Any) -> None:
    from sluiceway.metadata.urls import redact_url

    reports = []
    for cid, execution in result.executions.items():
        for name, artifact in execution.outputs.items():
            report = getattr(artifact, "report_file", None)
            if report is not None and Path(report).exists():
                reports.append(f"  {cid}.{name}: {report}")
    steps = [
        (f"sluiceway runs show {result.name}", "each component: state, outputs, log file"),
        ("sluiceway artifacts list", "every output; then: sluiceway lineage ID"),
        (f"sluiceway run {target}", "again: unchanged components come from the cache"),
    ]
    width = max(len(command) for command, _ in steps)
    lines = [
        f"Outputs: {run_settings.artifact_root}  (metadata: {redact_url(run_settings.store)})",
        *(["Reports (open in a browser):", *reports] if reports else []),
        "Next:",
        *(f"  {command:<{width}}  # {why}" for command, why in steps),
    ]
    console.print("\n".join(lines), soft_wrap=True)


class LogFollower(RunHooks):
    """``-v``: streams each running component's log file to stderr, one prefixed line at a time.

    Follows the file the runner writes (``{log_root}/{run}/{component}.log``), polling like ``tail -f``;
    the component's end drains what is left before the next line about it is printed.
    """

    POLL_SECONDS = 0.2

    def __init__(self, log_root: Path) -> None:
        self.log_root = Path(log_root)
        self._offsets: dict[str, tuple[Path, int]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def on_run_start(self, *, run_name: str, pipeline: Any, **future_kwargs: Any) -> None:
        self._thread = threading.Thread(target=self._follow, name="sluiceway-log-follower", daemon=True)
        self._thread.start()

    def on_component_start(self, *, run_name: str, component_id: str, **future_kwargs: Any) -> None:
        with self._lock:
            self._offsets[component_id] = (self.log_root / run_name / f"{component_id}.log", 0)

    def on_component_end(self, *, run_name: str, component_id: str, **future_kwargs: Any) -> None:
        with self._lock:
            if component_id in self._offsets:
                self._drain(component_id)
                del self._offsets[component_id]

    def on_run_end(self, *, run_name: str, state: str, **future_kwargs: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _follow(self) -> None:
        while not self._stop.wait(self.POLL_SECONDS):
            with self._lock:
                for component_id in list(self._offsets):
                    self._drain(component_id)

    def _drain(self, component_id: str) -> None:
        path, offset = self._offsets[component_id]
        try:
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        except FileNotFoundError:  # the component has not opened its log yet
            return
        complete = chunk.rfind(b"\n") + 1  # print whole lines only; the rest is read again next time
        if not complete:
            return
        self._offsets[component_id] = (path, offset + complete)
        for line in chunk[:complete].decode("utf-8", errors="replace").splitlines():
            err_console.print(styled((f"{component_id} | ", "dim"), line), soft_wrap=True)


def exec_component(
    pipeline: str = typer.Option(..., "--pipeline", metavar="TARGET", help="Pipeline file or module:attr."),
    component: str = typer.Option(..., "--component", metavar="ID", help="Id of the component to run."),
    run_name: str = typer.Option(..., "--run", metavar="RUN", help="Run name; created if it does not exist yet."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not reuse a cached result."),
    retries: int | None = typer.Option(
        None,
        "--retries",
        min=0,
        metavar="N",
        help="Retries within this process (default: the component's). Orchestrators that retry the task pass 0.",
    ),
    engine: str | None = typer.Option(None, "--engine", metavar="local|ray", help=ENGINE_HELP),
) -> None:
    """Run one component of a run against the shared stores (the entry point of orchestrator tasks)."""
    from sluiceway.dsl.loading import load_pipeline
    from sluiceway.runners.execute import ExecutionTarget, execute_component
    from sluiceway.runners.local import run_for_exec, update_run_state_after_exec

    state.describe_interrupt = lambda: _describe_interrupted_task(component, run_name)
    check_engine_option(engine)
    exec_settings = settings(cache=False if no_cache else None)
    loaded = load_pipeline(pipeline)
    node = loaded.component(component)
    if retries is not None:  # this process runs only this component: its own copy of the pipeline may change
        node.retries = retries
    store, record = run_for_exec(exec_settings, loaded, run_name)
    target = ExecutionTarget.from_settings(exec_settings, store=store, pipeline=loaded, run=record, engine=engine)
    execution = execute_component(target, node)
    update_run_state_after_exec(store, loaded, record, execution)
    console.print(f"{execution.state} {component} (execution {execution.id}, run {record.name})")
    if execution.state == "SKIPPED":
        console.print(styled(("skipped: ", "dim"), execution.error or "no reason recorded"), soft_wrap=True)
    if execution.state == "FAILED":
        _show_failure(execution)
        raise typer.Exit(1)

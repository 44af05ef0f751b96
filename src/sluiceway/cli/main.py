"""The ``sluiceway`` command: a thin layer over the public API.

Exit codes: 0 success; 1 a run or component failed (or a lookup found nothing); 2 unusable input or
definition (bad pipeline, bad settings, bad data); 130 interrupted.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from sluiceway import __version__
from sluiceway.cli.gc import gc_command
from sluiceway.cli.store import store_app
from sluiceway.errors import DataError, DefinitionError, NotFoundError, SluicewayError, StoreError

app = typer.Typer(
    name="sluiceway",
    help="Production ML pipelines: run, inspect and serve Sluiceway pipelines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
runs_app = typer.Typer(help="Inspect pipeline runs.", no_args_is_help=True)
artifacts_app = typer.Typer(help="Inspect artifacts.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(artifacts_app, name="artifacts")
app.command("gc")(gc_command)
app.add_typer(store_app, name="store")

# Piped output (scripts, CI logs) gets wide lines instead of Rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


class _State:
    store: Optional[str] = None
    artifact_root: Optional[str] = None
    verbosity: int = 0


state = _State()


def _version(value: bool) -> None:
    if value:
        console.print(f"sluiceway {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    store: Optional[str] = typer.Option(None, "--store", help="Metadata store URL (sqlite:///… or postgresql://…). Env: SLUICEWAY_STORE."),
    artifact_root: Optional[str] = typer.Option(None, "--artifact-root", help="Folder for artifacts. Env: SLUICEWAY_ARTIFACT_ROOT."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More output (-vv for debug)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors and the final result."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    state.store = store
    state.artifact_root = artifact_root
    state.verbosity = -1 if quiet else verbose
    _configure_logging(state.verbosity)


def _configure_logging(verbosity: int) -> None:
    from rich.logging import RichHandler

    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    root = logging.getLogger()
    root.handlers = [RichHandler(console=err_console, level=level, show_path=False, rich_tracebacks=False)]
    root.setLevel(min(level, logging.INFO))


def _settings(**overrides: Any) -> Any:
    from sluiceway.config import load_settings

    return load_settings(store=state.store, artifact_root=state.artifact_root, **overrides)


def _store() -> Any:
    from sluiceway.metadata.store import MetadataStore

    return MetadataStore(_settings().store)


def _fail(exc: BaseException, code: int) -> None:
    err_console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _exit_code(exc: SluicewayError) -> int:
    return 2 if isinstance(exc, (DefinitionError, DataError, StoreError)) else 1


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def _time(ms: Optional[int]) -> str:
    if ms is None:
        return "-"
    from datetime import datetime

    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


# -- run / exec ---------------------------------------------------------------------------------------


@app.command()
def run(
    target: str = typer.Argument(..., help="Pipeline: path/to/pipeline.py, file.py:attr or package.module:attr."),
    parallelism: Optional[int] = typer.Option(None, "--parallelism", "-p", help="Components run at once (default: CPU cores)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every component even if a cached result exists."),
    resume: Optional[str] = typer.Option(None, "--resume", help="Resume this run: rerun only what did not complete."),
    run_name: Optional[str] = typer.Option(None, "--run-name", help="Name for the new run (default: pipeline-timestamp)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's result as JSON."),
) -> None:
    """Run a pipeline with the local runner."""
    from sluiceway.cli.progress import RichProgress
    from sluiceway.dsl.loading import load_pipeline
    from sluiceway.runners.local import LocalRunner

    try:
        settings = _settings(parallelism=parallelism, cache=False if no_cache else None)
        pipeline = load_pipeline(target)
        hooks = [] if as_json else [RichProgress(console, quiet=state.verbosity < 0)]
        runner = LocalRunner(settings=settings, hooks=hooks)
        result = runner.run(pipeline, run_name=run_name, resume=resume)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/yellow]: the run is marked CANCELED; continue it with --resume.")
        sys.stdout.flush()
        os._exit(130)  # worker threads may still be inside a component: do not wait for them
    except SluicewayError as exc:
        _fail(exc, _exit_code(exc))
        return
    if as_json:
        _print_json({"run": result.name, "state": result.state, "not_run": result.not_run,
                     "executions": {k: v.to_dict() for k, v in result.executions.items()}})
    elif not result.succeeded:
        err_console.print(f"Inspect it with: sluiceway runs show {result.name}", highlight=False)
    raise typer.Exit(0 if result.succeeded else 1)


@app.command("exec")
def exec_component(
    pipeline: str = typer.Option(..., "--pipeline", help="Pipeline file or module:attr."),
    component: str = typer.Option(..., "--component", help="Id of the component to run."),
    run_name: str = typer.Option(..., "--run", help="Run name; created if it does not exist yet."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not reuse a cached result."),
) -> None:
    """Run one component of a run against the shared stores (the entry point of orchestrator tasks)."""
    from sluiceway.dsl.loading import load_pipeline
    from sluiceway.runners.execute import ExecutionTarget, execute_component
    from sluiceway.runners.local import run_for_exec, update_run_state_after_exec

    try:
        settings = _settings(cache=False if no_cache else None)
        loaded = load_pipeline(pipeline)
        node = loaded.component(component)
        store, record = run_for_exec(settings, loaded, run_name)
        target = ExecutionTarget(store=store, pipeline=loaded, run=record, artifact_root=Path(settings.artifact_root),
                                 log_root=settings.log_root, cache=settings.cache)
        execution = execute_component(target, node)
        update_run_state_after_exec(store, loaded, record, execution)
    except SluicewayError as exc:
        _fail(exc, _exit_code(exc))
        return
    console.print(f"{execution.state} {component} (execution {execution.id}, run {record.name})", highlight=False)
    if execution.state == "FAILED":
        err_console.print(execution.error or "", highlight=False)
        err_console.print(f"log: {execution.log_uri}", highlight=False)
        raise typer.Exit(1)


# -- runs ---------------------------------------------------------------------------------------------


@runs_app.command("list")
def runs_list(
    pipeline: Optional[str] = typer.Option(None, "--pipeline", help="Only runs of this pipeline."),
    limit: int = typer.Option(20, "--limit", help="How many runs, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List runs, newest first."""
    from rich.table import Table

    try:
        runs = _store().list_runs(pipeline=pipeline, limit=limit)
    except SluicewayError as exc:
        _fail(exc, _exit_code(exc))
        return
    if as_json:
        _print_json([r.to_dict() for r in runs])
        return
    table = Table("id", "run", "pipeline", "state", "started", "updated")
    for r in runs:
        table.add_row(str(r.id), r.name, r.pipeline, r.state, _time(r.create_time), _time(r.update_time))
    console.print(table)


@runs_app.command("show")
def runs_show(
    run_ref: str = typer.Argument(..., metavar="RUN", help="Run name or id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a run: each component's state, timing, outputs and log file."""
    from rich.table import Table

    from sluiceway.runners.local import run_record_to_run

    try:
        store = _store()
        record = store.get_run(run_ref)
        result = run_record_to_run(store, record)
    except SluicewayError as exc:
        _fail(exc, _exit_code(exc))
        return
    if as_json:
        _print_json({**record.to_dict(), "executions": {k: v.to_dict() for k, v in result.executions.items()},
                     "not_run": result.not_run})
        return
    console.print(f"[bold]{record.name}[/bold]  pipeline {record.pipeline}  state {record.state}  started {_time(record.create_time)}", highlight=False)
    table = Table("component", "state", "execution", "duration", "outputs", "log")
    for cid, e in result.executions.items():
        outputs = ", ".join(f"{k}=#{a.id}" for k, a in e.outputs.items())
        duration = f"{e.duration_ms / 1000:.2f} s" if e.duration_ms is not None else "-"
        state_text = e.state if e.cached_from is None else f"{e.state} (from {e.cached_from})"
        table.add_row(cid, state_text, str(e.id), duration, outputs, e.log_uri or "")
    for cid in result.not_run:
        table.add_row(cid, "NOT RUN", "-", "-", "", "")
    console.print(table)
    for e in result.executions.values():
        if e.state == "FAILED" and e.error:
            console.print(f"[red]{e.component_id} failed:[/red] {e.error.strip().splitlines()[-1]}", highlight=False)


# -- artifacts and lineage ----------------------------------------------------------------------------


@artifacts_app.command("list")
def artifacts_list(
    type_name: Optional[str] = typer.Option(None, "--type", help="Only artifacts of this type, e.g. Examples."),
    limit: int = typer.Option(50, "--limit", help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List artifacts, newest first."""
    from rich.table import Table

    try:
        items = _store().list_artifacts(type_name=type_name, limit=limit)
    except SluicewayError as exc:
        _fail(exc, _exit_code(exc))
        return
    if as_json:
        _print_json([a.to_dict() for a in items])
        return
    table = Table("id", "type", "producer", "output", "state", "uri")
    for a in items:
        table.add_row(str(a.id), a.TYPE_NAME, a.producer or "", a.name or "", a.state or "", a.uri)
    console.print(table)


def _artifact_id(value: str) -> int:
    try:
        return int(value.lstrip("#"))
    except ValueError:
        _fail(DefinitionError(f"An artifact id is a number (see `sluiceway artifacts list`). Got {value!r} instead."), 2)
        raise


@artifacts_app.command("show")
def artifacts_show(
    artifact_ref: str = typer.Argument(..., metavar="ID", help="Artifact id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one artifact: type, URI, properties, fingerprint and files."""
    try:
        artifact = _store().get_artifact(_artifact_id(artifact_ref))
    except SluicewayError as exc:
        _fail(exc, _exit_code(exc))
        return
    files = sorted(str(p.relative_to(artifact.path)) for p in artifact.path.rglob("*") if p.is_file()) if artifact.path.exists() else []
    if as_json:
        _print_json({**artifact.to_dict(), "files": files})
        return
    console.print(f"[bold]#{artifact.id}[/bold] {artifact.TYPE_NAME} ({artifact.state}) from {artifact.producer}.{artifact.name}", highlight=False)
    console.print(f"uri: {artifact.uri}", highlight=False)
    console.print(f"fingerprint: {artifact.fingerprint}", highlight=False)
    console.print("properties: " + json.dumps(artifact.properties, indent=2, default=str), highlight=False)
    console.print("files:\n  " + "\n  ".join(files[:50]) + (f"\n  … {len(files) - 50} more" if len(files) > 50 else ""), highlight=False)


@app.command()
def lineage(
    artifact_ref: str = typer.Argument(..., metavar="ID", help="Artifact id."),
    depth: int = typer.Option(20, "--depth", help="How many steps to follow each way."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What produced an artifact (from what), and what consumed it: both directions."""
    try:
        result = _store().lineage(_artifact_id(artifact_ref), max_depth=depth)
    except SluicewayError as exc:
        _fail(exc, _exit_code(exc))
        return
    if as_json:
        _print_json(result.to_dict())
        return
    a = result.artifact
    console.print(f"[bold]#{a.id} {a.TYPE_NAME}[/bold] {a.uri}", highlight=False)

    def show(title: str, nodes: list[Any], arrow: str) -> None:
        console.print(f"[bold]{title}[/bold]" + ("" if nodes else ": none"))
        for node in nodes:
            e = node.execution
            ins = ", ".join(f"{k}=#{v.id} {v.TYPE_NAME}" for k, v in e.inputs.items()) or "-"
            outs = ", ".join(f"{k}=#{v.id} {v.TYPE_NAME}" for k, v in e.outputs.items()) or "-"
            console.print(f"{'  ' * node.depth}{arrow} {e.component_id} (execution {e.id}, {e.state}, run {node.run_name})  in: {ins}  out: {outs}", highlight=False)

    show("produced by", result.upstream, "<-")
    show("consumed by", result.downstream, "->")


# -- init ---------------------------------------------------------------------------------------------


@app.command()
def init(
    name: str = typer.Argument(..., help="Project name; a folder of this name is created."),
    force: bool = typer.Option(False, "--force", help="Write into an existing non-empty folder."),
) -> None:
    """Scaffold a new project: a pipeline, a custom component, a test and a README, runnable as created."""
    from sluiceway.cli.scaffold import scaffold

    try:
        folder = scaffold(Path(name), force=force)
    except SluicewayError as exc:
        _fail(exc, _exit_code(exc))
        return
    console.print(f"Created {folder}/. Next:\n  cd {folder}\n  sluiceway run pipeline.py\n  python -m pytest", highlight=False)


def main() -> None:
    import sluiceway.cli.data  # noqa: F401 - registers stats, schema and validate

    try:
        app()
    except NotFoundError as exc:  # pragma: no cover - commands handle their own errors
        _fail(exc, 1)


if __name__ == "__main__":
    # Run through the imported module: commands registered by sluiceway.cli.data attach to *its* app.
    from sluiceway.cli.main import main as _main

    _main()

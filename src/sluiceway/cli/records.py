"""`sluiceway runs`, `sluiceway artifacts` and `sluiceway lineage`: reading the metadata store.

These commands never create a store: in a folder where nothing ran, listings are empty and lookups say
that there is no store yet.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from sluiceway.cli.common import console, err_console, local_time, plural, print_json, read_store, styled
from sluiceway.errors import DefinitionError, StoreNotFoundError

if TYPE_CHECKING:
    from sluiceway.metadata.store import ExecutionRecord, LineageNode

SKIPPED = "SKIPPED"  # recorded when a condition was false; also shown for what an upstream failure kept from running
PENDING = "PENDING"  # not run yet, in a run that is still going


def register(app: typer.Typer) -> None:
    runs_app = typer.Typer(help="Inspect pipeline runs.", no_args_is_help=True)
    runs_app.command("list")(runs_list)
    runs_app.command("show")(runs_show)
    runs_app.command("delete")(runs_delete)
    artifacts_app = typer.Typer(help="Inspect artifacts.", no_args_is_help=True)
    artifacts_app.command("list")(artifacts_list)
    artifacts_app.command("show")(artifacts_show)
    app.add_typer(runs_app, name="runs")
    app.add_typer(artifacts_app, name="artifacts")
    app.command(short_help="What produced an artifact, and what consumed it.")(lineage)


def _no_store_yet(exc: StoreNotFoundError, as_json: bool, what: str) -> None:
    if as_json:
        print_json([])
    else:
        err_console.print(f"No {what}: {exc}")


def runs_list(
    pipeline: str | None = typer.Option(None, "--pipeline", metavar="NAME", help="Only runs of this pipeline."),
    limit: int = typer.Option(20, "--limit", metavar="N", min=1, help="How many runs, newest first."),
    include_deleted: bool = typer.Option(False, "--all", help="Include deleted runs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List runs, newest first (deleted runs only with --all)."""
    from rich.table import Table

    try:
        store = read_store()
    except StoreNotFoundError as exc:
        _no_store_yet(exc, as_json, "runs")
        return
    runs = store.list_runs(pipeline=pipeline, limit=limit, include_deleted=include_deleted)
    if as_json:
        print_json([r.to_dict() for r in runs])
        return
    table = Table("id", "run", "pipeline", "state", "started", "updated")
    for r in runs:
        table.add_row(str(r.id), r.name, r.pipeline, r.state, local_time(r.create_time), local_time(r.update_time))
    console.print(table)


def runs_show(
    run_ref: str = typer.Argument(..., metavar="RUN", help="Run name or id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a run: each component's state, timing, outputs and log file, and every error in full."""
    from rich.table import Table

    from sluiceway.runners.local import run_record_to_run

    store = read_store()
    record = store.get_run(run_ref)
    result = run_record_to_run(store, record)
    if as_json:
        print_json(
            {
                **record.to_dict(),
                "executions": {k: v.to_dict() for k, v in result.executions.items()},
                "not_run": result.not_run,
            }
        )
        return
    console.print(
        styled(
            (record.name, "bold"),
            f"  pipeline {record.pipeline}  state {record.state}  started {local_time(record.create_time)}",
        )
    )
    table = Table("component", "state", "execution", "duration", "outputs", "log")
    for cid, e in result.executions.items():
        outputs = ", ".join(f"{k}=#{a.id}" for k, a in e.outputs.items())
        duration = f"{e.duration_ms / 1000:.2f} s" if e.duration_ms is not None else "-"
        state_text = e.state if e.cached_from is None else f"{e.state} (from {e.cached_from})"
        table.add_row(cid, state_text, str(e.id), duration, outputs, e.log_uri or "")
    for cid in result.not_run:
        table.add_row(cid, PENDING if record.state == "RUNNING" else SKIPPED, "-", "-", "", "")
    console.print(table)
    for e in result.executions.values():
        if e.state == SKIPPED:
            console.print(styled((f"{e.component_id} ", "bold"), f"skipped: {e.error or 'no reason recorded'}"),
                          soft_wrap=True)
        elif e.error and e.state != "COMPLETE":
            show_error(e)


def runs_delete(
    run_refs: list[str] = typer.Argument(..., metavar="RUN...", help="Run names or ids."),
    yes: bool = typer.Option(False, "--yes", help="Delete (default: a dry run that only says what would go)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Delete runs: their artifacts are marked DELETED (files freed by `sluiceway gc --yes`), records kept.

    Artifacts another run still uses (as an input, or reused from the cache) stay live. A run with an
    execution still running is refused.
    """
    store = read_store()
    for ref in run_refs:  # every run is found before anything changes
        store.get_run(ref)
    results = []
    for ref in run_refs:
        record, deleted, kept = store.delete_run(ref, dry_run=not yes)
        results.append({"run": record.name, "deleted": yes, "artifacts_deleted": [a.id for a in deleted],
                        "artifacts_kept": [a.id for a in kept]})
        verb = "Deleted" if yes else "Would delete"
        shared = f"; {plural(len(kept), 'artifact')} kept, used by other runs" if kept else ""
        if not as_json:
            console.print(f"{verb} run {escape(record.name)} and {plural(len(deleted), 'artifact')}{shared}.",
                          soft_wrap=True)
    if as_json:
        print_json(results)
    elif yes:
        console.print("Run `sluiceway gc --yes` to remove their files.")
    else:
        console.print("Run again with --yes to delete.")


def show_error(execution: ExecutionRecord) -> None:
    """A failed or canceled execution's whole error (tracebacks and multi-line gate messages) and its log file."""
    console.print(styled((f"{execution.component_id} {execution.state.lower()}:", "red")))
    console.print((execution.error or "").rstrip(), soft_wrap=True)
    if execution.log_uri:
        console.print(f"log: {execution.log_uri}", soft_wrap=True)


def _known_types(store: Any) -> list[str]:
    from sluiceway.artifacts import base, standard

    builtin = {
        value.TYPE_NAME
        for value in vars(standard).values()
        if isinstance(value, type) and issubclass(value, base.Artifact) and value is not base.Artifact
    }
    return sorted(builtin | set(store.artifact_types()))


def artifacts_list(
    type_name: str | None = typer.Option(
        None, "--type", metavar="TYPE", help="Only artifacts of this type, e.g. Examples."
    ),
    limit: int = typer.Option(50, "--limit", metavar="N", min=1, help="How many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List artifacts, newest first."""
    from rich.table import Table

    try:
        store = read_store()
    except StoreNotFoundError as exc:
        _no_store_yet(exc, as_json, "artifacts")
        return
    if type_name is not None:
        known = _known_types(store)
        if type_name not in known:
            raise DefinitionError(
                f"Unknown artifact type {type_name!r} for --type. Known types: {', '.join(known)}. "
                "Type names are case-sensitive."
            )
    items = store.list_artifacts(type_name=type_name, limit=limit)
    if as_json:
        print_json([a.to_dict() for a in items])
        return
    table = Table("id", "type", "producer", "output", "state", "uri")
    for a in items:
        table.add_row(str(a.id), a.TYPE_NAME, a.producer or "", a.name or "", a.state or "", a.uri)
    console.print(table)


def _artifact_id(value: str) -> int:
    try:
        return int(value.lstrip("#"))
    except ValueError:
        raise DefinitionError(
            f"An artifact id is a number (see `sluiceway artifacts list`). Got {value!r} instead."
        ) from None


def artifacts_show(
    artifact_ref: str = typer.Argument(..., metavar="ID", help="Artifact id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one artifact: type, URI, properties, fingerprint and files."""
    artifact_id = _artifact_id(artifact_ref)
    artifact = read_store().get_artifact(artifact_id)
    path = artifact.path
    files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) if path.exists() else []
    if as_json:
        print_json({**artifact.to_dict(), "files": files})
        return
    console.print(
        styled(
            (f"#{artifact.id}", "bold"),
            f" {artifact.TYPE_NAME} ({artifact.state}) from {artifact.producer}.{artifact.name}",
        )
    )
    console.print(f"uri: {artifact.uri}", soft_wrap=True)
    console.print(f"fingerprint: {artifact.fingerprint}")
    console.print("properties: " + json.dumps(artifact.properties, indent=2, default=str))
    more = f"\n  … {len(files) - 50} more" if len(files) > 50 else ""
    console.print(("files:\n  " + "\n  ".join(files[:50]) + more) if files else "files: none (the folder is gone)")


def _split_cached(nodes: list[LineageNode]) -> tuple[list[LineageNode], list[LineageNode]]:
    """(executions that did the work, CACHED executions that reused their outputs)."""
    return [n for n in nodes if n.execution.cached_from is None], [
        n for n in nodes if n.execution.cached_from is not None
    ]


def lineage(
    artifact_ref: str = typer.Argument(..., metavar="ID", help="Artifact id."),
    depth: int = typer.Option(20, "--depth", metavar="N", min=1, help="How many steps to follow each way."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What produced an artifact (from what), and what consumed it: both directions.

    Each execution that did the work is listed once; runs that reused it from the cache are listed apart.
    """
    artifact_id = _artifact_id(artifact_ref)
    result = read_store().lineage(artifact_id, max_depth=depth)
    upstream, upstream_cached = _split_cached(result.upstream)
    downstream, downstream_cached = _split_cached(result.downstream)
    if as_json:
        print_json(
            {
                "artifact": result.artifact.to_dict(),
                "upstream": [n.to_dict() for n in upstream],
                "upstream_cached": [n.to_dict() for n in upstream_cached],
                "downstream": [n.to_dict() for n in downstream],
                "downstream_cached": [n.to_dict() for n in downstream_cached],
            }
        )
        return
    a = result.artifact
    console.print(styled((f"#{a.id} {a.TYPE_NAME}", "bold"), f" {a.uri}"), soft_wrap=True)

    def show(title: str, nodes: list[LineageNode], cached: list[LineageNode], arrow: str) -> None:
        console.print(styled((title, "bold"), "" if nodes else ": none"))
        for node in nodes:
            e = node.execution
            ins = ", ".join(f"{k}=#{v.id} {v.TYPE_NAME}" for k, v in e.inputs.items()) or "-"
            outs = ", ".join(f"{k}=#{v.id} {v.TYPE_NAME}" for k, v in e.outputs.items()) or "-"
            where = f"(execution {e.id}, {e.state}, run {node.run_name})"
            console.print(
                f"{'  ' * node.depth}{arrow} {e.component_id} {where}  in: {ins}  out: {outs}", soft_wrap=True
            )
        if cached:
            reuses = ", ".join(
                f"{n.execution.component_id} in run {n.run_name} (execution {n.execution.id})" for n in cached
            )
            console.print(f"  reused from the cache {plural(len(cached), 'time')}: {reuses}", soft_wrap=True)

    show("produced by", upstream, upstream_cached, "<-")
    show("consumed by", downstream, downstream_cached, "->")

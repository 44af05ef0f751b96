"""``sluiceway gc``: reclaim folders the metadata store no longer accounts for. A thin layer over runners.gc."""

from __future__ import annotations

import typer
from rich.table import Table

from sluiceway.cli.common import console, plural, print_json, read_store, settings, styled


def register(app: typer.Typer) -> None:
    app.command("gc", short_help="Reclaim unrecorded artifact folders and stale staging.")(gc_command)


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.0f} B"  # pragma: no cover - the loop always returns


def gc_command(
    yes: bool = typer.Option(False, "--yes", help="Delete what is listed (default: a dry run that only lists it)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List (and with --yes delete) unrecorded artifact folders, stale staging and deleted artifacts.

    Folders of executions the store says are RUNNING are never touched. For a remote artifact root, this
    machine's leftovers in the cache folder go too: stale staging, cut-short downloads and local copies of
    artifacts that are no longer live.
    """
    from sluiceway.runners.gc import collect_garbage

    current = settings()
    report = collect_garbage(read_store(), current.artifact_root, delete=yes, cache_dir=current.cache_dir or None)
    if as_json:
        print_json(report.to_dict())
        raise typer.Exit(1 if report.not_deleted else 0)
    if report.garbage:
        table = Table("folder", "why", "size")
        for item in report.garbage:
            table.add_row(str(item.path), item.reason, _size(item.size))
        console.print(table)
    verb = "Deleted" if yes else "Would delete"
    console.print(
        f"{verb} {plural(len(report.garbage), 'folder')} ({_size(report.total_bytes)}) under {report.artifact_root}."
    )
    if report.in_use:
        console.print(
            f"Left {plural(len(report.in_use), 'folder')} of RUNNING executions alone; "
            "resume or finish their runs first."
        )
    if report.garbage and not yes:
        console.print("Run `sluiceway gc --yes` to delete them.")
    for path in report.not_deleted:
        console.print(styled(("could not delete ", "red"), str(path)))
    raise typer.Exit(1 if report.not_deleted else 0)

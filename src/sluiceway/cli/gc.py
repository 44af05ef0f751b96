"""``sluiceway gc``: reclaim folders the metadata store no longer accounts for. A thin layer over runners.gc."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return f"{count} B"  # pragma: no cover - the loop always returns


def gc_command(
    yes: bool = typer.Option(False, "--yes", help="Delete what is listed (default: a dry run that only lists it)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List (and with --yes delete) unrecorded artifact folders, stale staging and deleted artifacts.

    Folders of executions the store says are RUNNING are never touched.
    """
    from sluiceway.cli.main import _settings
    from sluiceway.metadata.store import MetadataStore
    from sluiceway.runners.gc import collect_garbage

    settings = _settings()
    report = collect_garbage(MetadataStore(settings.store), settings.artifact_root, delete=yes)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
        raise typer.Exit(1 if report.not_deleted else 0)
    console = Console(width=None if sys.stdout.isatty() else 200)
    if report.garbage:
        table = Table("folder", "why", "size")
        for item in report.garbage:
            table.add_row(escape(str(item.path)), item.reason, _size(item.size))
        console.print(table)
    verb = "Deleted" if yes else "Would delete"
    console.print(
        f"{verb} {len(report.garbage)} folder{'s' if len(report.garbage) != 1 else ''} "
        f"({_size(report.total_bytes)}) under {escape(str(report.artifact_root))}.",
        highlight=False,
    )
    if report.in_use:
        console.print(
            f"Left {len(report.in_use)} folder(s) of RUNNING executions alone; resume or finish their runs first.",
            highlight=False,
        )
    if report.garbage and not yes:
        console.print("Run `sluiceway gc --yes` to delete them.", highlight=False)
    for path in report.not_deleted:
        console.print(f"[red]could not delete[/red] {escape(str(path))}", highlight=False)
    raise typer.Exit(1 if report.not_deleted else 0)

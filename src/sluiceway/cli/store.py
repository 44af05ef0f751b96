"""`sluiceway store check` and `sluiceway store init`: look after the metadata store itself.

A Typer sub-app, registered by ``cli/main.py``. Both commands take ``--store URL`` (or the global
``--store`` / ``SLUICEWAY_STORE`` / settings file). Exit codes: 0 healthy or created; 2 damaged, missing or
refused.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

store_app = typer.Typer(help="Check the metadata store, or create one.", no_args_is_help=True)

_out = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
_err = Console(stderr=True, width=None if sys.stderr.isatty() else 200, highlight=False)

STORE_OPTION = typer.Option(
    None, "--store", help="Metadata store URL (default: the global --store, SLUICEWAY_STORE or settings)."
)


def _store_url(ctx: typer.Context, store: Optional[str]) -> str:
    from sluiceway.config import load_settings

    # The global option (`sluiceway --store URL store check`) lives on the root command's context.
    global_store = ctx.find_root().params.get("store")
    return str(load_settings(store=store or global_store).store)


@store_app.command("check")
def check(ctx: typer.Context, store: Optional[str] = STORE_OPTION) -> None:
    """Check the store: that it is a Sluiceway store, its schema, and SQLite's integrity_check. Exit 2 if damaged."""
    from sluiceway.errors import SluicewayError
    from sluiceway.metadata.check import check_store

    try:
        result = check_store(_store_url(ctx, store))
    except SluicewayError as exc:
        _err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    if not result.exists:
        _err.print(f"[bold red]no store:[/bold red] {escape(result.problems[0])}", soft_wrap=True)
        raise typer.Exit(2)
    if result.healthy:
        _out.print(
            f"The metadata store at {escape(result.url)} is healthy: {escape(', '.join(result.facts))}.", soft_wrap=True
        )
        return
    _err.print(f"[bold red]The metadata store at {escape(result.url)} is damaged.[/bold red]", soft_wrap=True)
    for problem in result.problems:
        _err.print("  - " + escape(problem).replace("\n", "\n      "), soft_wrap=True)
    if result.advice:
        _err.print(escape(result.advice), soft_wrap=True)
    raise typer.Exit(2)


@store_app.command("init")
def init(
    ctx: typer.Context,
    store: Optional[str] = STORE_OPTION,
    force: bool = typer.Option(
        False, "--force", help="Add Sluiceway's tables to a database that already holds other tables."
    ),
) -> None:
    """Create a new, empty store (or adopt a 0-byte file). A database with other tables needs --force."""
    from sluiceway.errors import SluicewayError
    from sluiceway.metadata.store import MetadataStore
    from sluiceway.metadata.urls import redact_url

    try:
        url = _store_url(ctx, store)
        opened, outcome = MetadataStore.initialize(url, force=force)
        opened.close()
    except SluicewayError as exc:
        _err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    said = {
        "created": "Created a new metadata store",
        "migrated": "Upgraded the metadata store",
        "existing": "The metadata store already exists",
    }[outcome]
    _out.print(f"{said} at {escape(redact_url(url))}.", soft_wrap=True)

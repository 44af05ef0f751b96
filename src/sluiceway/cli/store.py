"""``sluiceway store check`` and ``sluiceway store init``: look after the metadata store itself.

Both use the global ``--store URL`` (which may follow the subcommand: ``sluiceway store check --store URL``),
``SLUICEWAY_STORE`` or the settings file. Exit codes: 0 healthy or created; 2 damaged, missing or refused.
"""

from __future__ import annotations

import typer

from sluiceway.cli.common import console, err_console, settings, styled


def register(app: typer.Typer) -> None:
    store_app = typer.Typer(help="Check the metadata store, or create one.", no_args_is_help=True)
    store_app.command("check")(check)
    store_app.command("init")(init)
    app.add_typer(store_app, name="store")


def check() -> None:
    """Check the store: that it is a Sluiceway store, its schema, and SQLite's integrity_check. Exit 2 if damaged."""
    from sluiceway.metadata.check import check_store

    result = check_store(settings().store)
    if not result.exists:
        err_console.print(styled(("no store: ", "bold red"), result.problems[0]), soft_wrap=True)
        raise typer.Exit(2)
    if result.healthy:
        console.print(f"The metadata store at {result.url} is healthy: {', '.join(result.facts)}.", soft_wrap=True)
        return
    err_console.print(styled((f"The metadata store at {result.url} is damaged.", "bold red")), soft_wrap=True)
    for problem in result.problems:
        err_console.print("  - " + problem.replace("\n", "\n      "), soft_wrap=True)
    if result.advice:
        err_console.print(result.advice, soft_wrap=True)
    raise typer.Exit(2)


def init(
    force: bool = typer.Option(
        False, "--force", help="Add Sluiceway's tables to a database that already holds other tables."
    ),
) -> None:
    """Create a new, empty store (or adopt a 0-byte file). A database with other tables needs --force."""
    from sluiceway.metadata.store import MetadataStore
    from sluiceway.metadata.urls import redact_url

    url = settings().store
    opened, outcome = MetadataStore.initialize(url, force=force)
    opened.close()
    said = {
        "created": "Created a new metadata store",
        "migrated": "Upgraded the metadata store",
        "existing": "The metadata store already exists",
    }[outcome]
    console.print(f"{said} at {redact_url(url)}.", soft_wrap=True)

"""What every command module of the CLI shares: the consoles, the global options, the store and output helpers.

Command modules import from here, never from ``sluiceway.cli.main`` (which imports them to register their
commands): no import cycle, and importing a command module changes nothing until ``register(app)`` runs.
Commands report problems by raising typed errors (``sluiceway.errors``); ``main()`` turns them into one
message and one exit code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from sluiceway.errors import DataError

if TYPE_CHECKING:
    from sluiceway.config import Settings
    from sluiceway.metadata.store import MetadataStore

# Piped output (scripts, CI logs) gets wide lines instead of Rich's 80-column default. Markup is off: every
# string printed (table cells and titles included) is shown as is, so data values, file names and error
# messages containing "[...]" can neither crash a command nor lose text; emoji codes (":smile:") stay text
# too. Our own styling uses Text objects (``styled``).
console = Console(width=None if sys.stdout.isatty() else 200, highlight=False, markup=False, emoji=False)
err_console = Console(
    stderr=True, width=None if sys.stderr.isatty() else 200, highlight=False, markup=False, emoji=False
)


class CliState:
    """The global options of this invocation, and what the error handler should know when interrupted."""

    def __init__(self) -> None:
        self.store: str | None = None
        self.artifact_root: str | None = None
        self.verbosity = 0  # -1 quiet, 0 default, 1 -v, 2 -vv
        # Set by a command whose interruption needs explaining (e.g. `run`: was a run recorded, and is
        # it CANCELED?); called by the error handler on KeyboardInterrupt.
        self.describe_interrupt: Callable[[], str] | None = None


state = CliState()


def settings(**overrides: Any) -> Settings:
    from sluiceway.config import load_settings

    return load_settings(store=state.store, artifact_root=state.artifact_root, **overrides)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite store URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[-1] if ":///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def read_store() -> MetadataStore:
    """The existing metadata store, for commands that only read it: never creates one.

    Raises ``StoreNotFoundError`` (a ``StoreError``) when nothing has run with these settings yet.
    """
    from sluiceway.metadata.store import MetadataStore

    return MetadataStore(settings().store, create=False)


def write_store() -> MetadataStore:
    """The metadata store, created and migrated if needed (for commands that record something)."""
    from sluiceway.metadata.store import MetadataStore

    return MetadataStore(settings().store)


def output_path(path: Path, *, what: str) -> Path:
    """Check, before any work is done, that ``path`` can be written: its folder exists and it is not a folder."""
    if path.is_dir():
        raise DataError(f"Cannot write the {what} to {path}: it is a folder. Give a file name, e.g. {path / 'out'}.")
    parent = path.parent
    if not parent.is_dir():
        raise DataError(
            f"Cannot write the {what} to {path}: the folder {parent} does not exist. "
            "Create it first, or choose another path."
        )
    return path


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def styled(*parts: str | tuple[str, str] | Text) -> Text:
    """One line from plain pieces and ``(text, style)`` pairs: ``styled(("error:", "bold red"), " ", message)``.

    Pieces are never parsed as markup, so user text can be passed straight in.
    """
    return Text.assemble(*parts)


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``1 component``, ``2 components``; ``plural(3, "anomaly", "anomalies")``."""
    return f"{count} {noun if count == 1 else (plural_form or noun + 's')}"


def local_time(ms: int | None) -> str:
    if ms is None:
        return "-"
    from datetime import datetime

    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")

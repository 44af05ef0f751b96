"""Deciding whether what is at a store URL is a Sluiceway store we may use, before anything is written to it.

A store is used only if it is one: a SQLite file that starts with SQLite's header, with Sluiceway's tables
and columns at a schema revision this version knows (older ones are migrated). Anything else is refused
with a message that names the file: a folder, an unreadable file, a 0-byte file or another application's
database (unless asked, through ``sluiceway store init``), a damaged file, a store written by a newer
Sluiceway. ``integrity_problems`` and ``quick_check_once`` look inside SQLite's pages for corruption.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection

from sluiceway.errors import NotAStoreError, StoreDamagedError, StoreError, StoreNotFoundError
from sluiceway.metadata import tables as t
from sluiceway.metadata.failures import damaged_error, recovery_advice
from sluiceway.metadata.urls import redact_url

SQLITE_HEADER = b"SQLite format 3\x00"
_SQLITE_HEADER_SIZE = 100
# Sluiceway's own tables and their columns, as this version's code reads and writes them.
EXPECTED_COLUMNS: dict[str, set[str]] = {
    table.name: {column.name for column in table.columns} for table in t.metadata.sorted_tables
}
ALEMBIC_TABLE = "alembic_version"
# How many lines of integrity_check output a message or `store check` shows.
MAX_PROBLEM_LINES = 20


def init_hint(url: str, *, force: bool = False) -> str:
    flag = " --force" if force else ""
    return f"`sluiceway store init --store {redact_url(url)}{flag}`"


def check_sqlite_file(url: str, path: Path, *, create: bool, adopt_empty: bool) -> bool:
    """Refuse a path that cannot be a store; True if a new store will be created there.

    Raises StoreNotFoundError (nothing there and ``create`` is False), NotAStoreError (a folder, a 0-byte
    file unless ``adopt_empty``, a file that is not SQLite) or StoreError (unreadable, no folder for it).
    """
    if path.is_dir():
        raise NotAStoreError(
            f"The metadata store at {redact_url(url)} is a folder ({path}), not a store file. Point --store "
            "(or SLUICEWAY_STORE) at a file inside it, e.g. "
            f"sqlite:///{path / 'metadata.db'}, or remove the folder."
        )
    if not path.exists():
        if not create:
            raise StoreNotFoundError(
                f"No metadata store at {redact_url(url)} ({path} does not exist). Run a pipeline to create one, or "
                f"create an empty store with {init_hint(url)}."
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
            reason = f"{blocker} is a file, not a folder" if blocker else f"{exc.strerror or exc}"
            raise StoreError(
                f"Cannot create the metadata store at {redact_url(url)}: the folder {path.parent} cannot be "
                f"created ({reason}). Point --store (or SLUICEWAY_STORE) at a writable location."
            ) from exc
        return True
    try:
        with path.open("rb") as handle:
            header = handle.read(_SQLITE_HEADER_SIZE)
    except OSError as exc:
        raise StoreError(
            f"Cannot open the metadata store at {redact_url(url)}: the file {path} cannot be read "
            f"({exc.strerror or exc}). Make it readable and writable by this user (and its folder writable)."
        ) from exc
    if not header:
        if adopt_empty:
            return True
        raise NotAStoreError(
            f"The metadata store file {path} is empty (0 bytes): it is not a Sluiceway store, and Sluiceway does "
            f"not silently turn an empty file into one. To start a new store in it, run {init_hint(url)}; or "
            "delete it and run the pipeline again."
        )
    if not header.startswith(SQLITE_HEADER):
        raise NotAStoreError(
            f"The metadata store file {path} is not a SQLite database (it does not start with SQLite's header). "
            f"Point --store (or SLUICEWAY_STORE) at a Sluiceway store. If this file was one, it is damaged: "
            f"{recovery_advice(path)}"
        )
    if len(header) < _SQLITE_HEADER_SIZE:
        raise damaged_error(url, f"the file is truncated ({len(header)} bytes, shorter than SQLite's header)")
    return False


def read_schema(conn: Connection) -> dict[str, set[str]]:
    """Every table of the database (in the current schema on PostgreSQL) and its columns, in one query."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(
            "SELECT m.name, p.name FROM sqlite_master AS m, pragma_table_info(m.name) AS p "
            "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
        )
    else:
        rows = conn.execute(
            text("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()")
        )
    schema: dict[str, set[str]] = {}
    for table, column in rows:
        schema.setdefault(table, set()).add(column)
    return schema


def schema_problems(schema: dict[str, set[str]]) -> list[str]:
    """What this version needs and the database lacks: missing tables, and missing columns of present ones."""
    problems = []
    for table, columns in EXPECTED_COLUMNS.items():
        if table not in schema:
            problems.append(f"table {table!r} is missing")
            continue
        missing = sorted(columns - schema[table])
        if missing:
            problems.append(f"table {table!r} lacks column(s) {', '.join(missing)}")
    return problems


@dataclass(frozen=True)
class Revision:
    """The schema revision recorded in a store, and what this version makes of it."""

    current: str | None  # None: no Sluiceway tables yet (a new, empty database)
    known: bool
    foreign_tables: tuple[str, ...] = ()  # tables of another application, in a database without our revision


def read_revision(conn: Connection, schema: dict[str, set[str]]) -> Revision:
    from sluiceway.metadata.migrations import MINIMUM_VERSIONS

    if ALEMBIC_TABLE not in schema:
        return Revision(None, True, tuple(sorted(schema)))
    current = conn.exec_driver_sql(f"SELECT version_num FROM {ALEMBIC_TABLE}").scalar()
    return Revision(current or "", current in MINIMUM_VERSIONS)  # "": the revision row was deleted


def refuse_unknown_revision(url: str, conn: Connection, schema: dict[str, set[str]], revision: Revision) -> None:
    """A revision this version does not know: say which Sluiceway can use the store, when the store says."""
    from sluiceway import __version__
    from sluiceway.metadata.migrations import HEAD, MIN_VERSION_KEY

    needed = None
    if "store_info" in schema:
        needed = conn.execute(text("SELECT value FROM store_info WHERE key = :key"), {"key": MIN_VERSION_KEY}).scalar()
    where = f"The metadata store at {redact_url(url)}"
    if not revision.current:
        raise damaged_error(url, f"its schema revision (table {ALEMBIC_TABLE}) is empty")
    if needed and _version_key(str(needed)) > _version_key(__version__):
        raise StoreError(
            f"{where} has schema revision {revision.current!r}, newer than this Sluiceway ({__version__}, which knows "
            f"revisions up to {HEAD!r}) can use; it was written by a newer Sluiceway. Install Sluiceway {needed} or "
            f"later: pip install 'sluiceway>={needed}'. The store was left as it is."
        )
    raise StoreDamagedError(
        f"{where} has the unknown schema revision {revision.current!r} (this Sluiceway, {__version__}, knows revisions "
        f"up to {HEAD!r}). Either a newer Sluiceway wrote it (upgrade: pip install -U sluiceway) or it was changed "
        "outside Sluiceway. The store was left as it is."
    )


def _version_key(version: str) -> tuple[int, ...]:
    """``"0.10.2"`` → ``(0, 10, 2)``; enough to compare release numbers (pre-release tags are ignored)."""
    parts = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit()) if not part.isdigit() else part
        parts.append(int(digits or 0))
    return tuple(parts)


def refuse_foreign_tables(url: str, foreign: tuple[str, ...]) -> None:
    if set(EXPECTED_COLUMNS) - {"store_info"} <= set(foreign):
        raise damaged_error(
            url, f"Sluiceway's tables are there but its schema revision (table {ALEMBIC_TABLE}) is missing"
        )
    shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
    raise NotAStoreError(
        f"The database at {redact_url(url)} is not a Sluiceway store: it holds other tables ({shown}) and no "
        "Sluiceway schema revision. Sluiceway will not add its tables to another application's database. Point "
        f"--store (or SLUICEWAY_STORE) at a new file or database, or add the tables anyway with "
        f"{init_hint(url, force=True)}."
    )


# -- corruption inside SQLite's pages ---------------------------------------------------------------------

_quick_checked: dict[str, int] = {}  # resolved path → pid of the process that checked it
_quick_check_lock = threading.Lock()


def integrity_problems(path: Path, *, quick: bool = False) -> list[str]:
    """What SQLite's ``integrity_check`` (or the cheaper ``quick_check``) finds wrong in a store file ([] = healthy).

    Opens the file read-only, so checking never changes it.
    """
    pragma = "quick_check" if quick else "integrity_check"
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=60)
    except sqlite3.Error as exc:
        return [f"SQLite cannot open the file: {exc}"]
    try:
        rows = [str(row[0]) for row in connection.execute(f"PRAGMA {pragma}({MAX_PROBLEM_LINES})")]
    except sqlite3.DatabaseError as exc:  # the damage can be bad enough that the check itself cannot run
        return [f"SQLite cannot read the file: {exc}"]
    finally:
        connection.close()
    return [] if rows == ["ok"] else rows


def summarize(rows: list[str], shown: int = 3) -> str:
    """The first few lines of what an integrity check found, on one line ('*** in database main ***' dropped)."""
    lines = [line.strip() for row in rows for line in row.splitlines()]
    lines = [line for line in lines if line and not line.startswith("***")]
    more = f" (and {len(lines) - shown} more)" if len(lines) > shown else ""
    return "; ".join(lines[:shown]) + more


def quick_check_once(url: str, path: Path, conn: Connection) -> None:
    """Refuse a corrupt SQLite store before the first write of this process to it (cheap: once per file).

    Runs ``quick_check`` on the store's own connection ``conn``; raises StoreDamagedError with what it found
    (a check that cannot even read the file raises a DatabaseError, which the caller translates).
    """
    key = str(path.resolve())
    pid = os.getpid()
    with _quick_check_lock:
        if _quick_checked.get(key) == pid:
            return
        rows = [str(row[0]) for row in conn.exec_driver_sql(f"PRAGMA quick_check({MAX_PROBLEM_LINES})")]
        if rows != ["ok"]:
            raise damaged_error(url, "SQLite's quick_check found: " + summarize(rows))
        _quick_checked[key] = pid

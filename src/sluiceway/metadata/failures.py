"""What went wrong with a metadata store, in words a user can act on.

Every database error the store meets (SQLAlchemy's, and the sqlite3 or psycopg error under it) becomes a
``StoreError`` (or a subclass) here: it names the store (password redacted), says what happened (damaged,
full, read-only, unreachable, locked, schema changed) and what to do. One place, so the store's methods only
have to call ``store_error``.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from sluiceway.errors import MissingStoreDriverError, StoreDamagedError, StoreError
from sluiceway.metadata.urls import redact_text, redact_url


def driver_errors() -> tuple[type[BaseException], ...]:
    """The exception types the store translates: SQLAlchemy's, sqlite3's and (when loaded) psycopg's."""
    found: list[type[BaseException]] = [SQLAlchemyError, sqlite3.Error]
    psycopg = sys.modules.get("psycopg")  # only ever loaded by a PostgreSQL store; importing it here would cost time
    if psycopg is not None:
        found.append(psycopg.Error)
    return tuple(found)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (``sqlite:///x.db`` → ``x.db``); None for in-memory and other databases."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[-1].split("?", 1)[0] if ":///" in url else ""
    if not path or path == ":memory:":
        return None
    return Path(path)


def _driver_message(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return redact_text(text)


def check_advice(url: str) -> str:
    return f"Run `sluiceway store check --store {redact_url(url)}` to see what is wrong"


def recovery_advice(path: Path) -> str:
    """How to get a usable SQLite store back from a damaged one."""
    return (
        f"To recover, restore a backup of {path}, or salvage what SQLite can still read into a new file with "
        f"`sqlite3 {path} .recover | sqlite3 {path.with_name(path.stem + '-recovered' + path.suffix)}` and point "
        "--store (or SLUICEWAY_STORE) at the recovered file."
    )


def damaged_error(url: str, detail: str) -> StoreDamagedError:
    """The message for a store that is corrupt or whose schema was changed outside Sluiceway."""
    path = sqlite_path(url)
    where = f"The metadata store at {redact_url(url)}"
    if path is None:
        return StoreDamagedError(
            f"{where} is damaged: {detail}. Nothing more was written to it. {check_advice(url)}; restore the "
            "database from a backup to recover."
        )
    return StoreDamagedError(
        f"{where} is damaged: {detail}. Nothing more was written to it. {check_advice(url)}. {recovery_advice(path)}"
    )


_DAMAGED = (
    "database disk image is malformed",
    "file is not a database",
    "malformed database schema",
    "file is encrypted or is not a database",
    "could not decode to utf-8",  # bytes in a stored value that SQLite's own checks cannot see
)
# PostgreSQL's missing table or column shows in the psycopg class name (UndefinedTable, UndefinedColumn).
_SCHEMA_CHANGED = ("no such table", "no such column", "has no column named", "undefinedtable", "undefinedcolumn")
_FULL = ("database or disk is full", "disk full", "no space left", "diskfull", "could not extend file")
_READ_ONLY = ("readonly database", "read-only", "readonly", "read only")


def _root_error(exc: BaseException) -> BaseException:
    """The error that says what happened: SQLite rolls a transaction back by itself on SQLITE_FULL or IOERR,
    so the error raised is often a follow-up ("no such savepoint") whose context holds the real one."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__context__
    markers = (*_DAMAGED, *_SCHEMA_CHANGED, *_FULL, *_READ_ONLY, "disk i/o error")
    for candidate in seen:
        lowered = f"{type(getattr(candidate, 'orig', None) or candidate).__name__} {candidate}".lower()
        if any(marker in lowered for marker in markers):
            return candidate
    return exc


def store_error(url: str, exc: BaseException, doing: str = "use") -> StoreError:
    """The StoreError for a database error ``exc`` met while trying to ``doing`` the store at ``url``."""
    exc = _root_error(exc)
    message = _driver_message(exc)
    lowered = f"{type(getattr(exc, 'orig', None) or exc).__name__} {message}".lower()
    where = f"the metadata store at {redact_url(url)}"
    path = sqlite_path(url)
    if any(marker in lowered for marker in _DAMAGED):
        return damaged_error(url, f"SQLite says {message!r}")
    if any(marker in lowered for marker in _SCHEMA_CHANGED):
        return damaged_error(
            url, f"part of its schema is missing ({message}); it was changed outside Sluiceway or is corrupt"
        )
    if any(marker in lowered for marker in _FULL):
        room = (
            f"the disk holding {path.parent} has no room left, or the file reached a size limit"
            if path
            else ("the database server has no room left")
        )
        return StoreError(
            f"Cannot {doing} {where}: it is full ({room}). The transaction that hit the limit was rolled back; "
            "what was recorded before it is intact. Free disk space, or move the store elsewhere with --store / "
            "SLUICEWAY_STORE, then resume the run with --resume."
        )
    if path is not None:
        problem = _sqlite_file_problem(path)
        if problem or any(marker in lowered for marker in _READ_ONLY):
            return StoreError(
                f"Cannot {doing} {where}: {problem or 'it is read-only'} ({message}). Make the file and its folder "
                "writable (SQLite writes -wal and -shm files beside it), or point --store / SLUICEWAY_STORE at a "
                "writable location."
            )
        if "disk i/o error" in lowered:
            return StoreError(
                f"Cannot {doing} {where}: the disk reported an I/O error ({message}): it may be full, failing, or "
                f"the file was changed underneath SQLite. Check the disk holding {path.parent}; {check_advice(url)}."
            )
        if "locked" in lowered or "busy" in lowered:
            return StoreError(
                f"Cannot {doing} {where}: another process has held its write lock for over a minute ({message}). "
                "Wait for that process, or stop it, then try again."
            )
        return StoreError(
            f"Cannot {doing} {where}: {type(getattr(exc, 'orig', None) or exc).__name__}: {message}. "
            f"Check the path (--store / SLUICEWAY_STORE). {check_advice(url)}."
        )
    if any(marker in lowered for marker in _READ_ONLY):
        return StoreError(
            f"Cannot {doing} {where}: the database is read-only for this user ({message}). Connect as a user with "
            "write access, or point --store / SLUICEWAY_STORE at a writable database."
        )
    return StoreError(
        f"Cannot {doing} {where}: {type(getattr(exc, 'orig', None) or exc).__name__}: {message}. Check the URL "
        "(--store / SLUICEWAY_STORE), the user name and password, and that the database server is running and "
        "reachable."
    )


def _sqlite_file_problem(path: Path) -> str:
    """Why a SQLite store file cannot be written, from the file system's point of view ('' if no reason found)."""
    folder = path.parent
    if not folder.exists():
        return f"its folder {folder} does not exist"
    if path.exists() and not os.access(path, os.R_OK):
        return f"the file {path} is not readable by this user"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"it is read-only: its folder {folder} is not writable by this user"
    if path.exists() and not os.access(path, os.W_OK):
        return f"it is read-only: the file {path} is not writable by this user"
    return ""


def missing_driver_error(url: str, module: str | None) -> MissingStoreDriverError:
    """The install advice for a store URL whose database driver is not installed (the right extra, no password)."""
    scheme = url.split("://", 1)[0].lower()
    dialect, _, driver = scheme.partition("+")
    where = f"The metadata store at {redact_url(url)}"
    if dialect in ("postgresql", "postgres"):
        if driver in ("", "psycopg"):
            return MissingStoreDriverError(
                f"{where} needs the PostgreSQL driver psycopg (version 3), which is not installed. Install it with: "
                "pip install 'sluiceway[postgres]'",
                extra="postgres",
                module=module or "psycopg",
            )
        return MissingStoreDriverError(
            f"{where} names the PostgreSQL driver {driver!r}, whose package {module or driver!r} is not installed. "
            "Sluiceway's PostgreSQL support uses psycopg 3: install it with pip install 'sluiceway[postgres]' and "
            f"write the URL as postgresql://… (or install {module or driver!r} to keep that driver).",
            extra="postgres",
            module=module or driver,
        )
    return MissingStoreDriverError(
        f"{where} needs the database driver {module or scheme!r}, which is not installed. Sluiceway supports SQLite "
        "(sqlite:///path/to/metadata.db, nothing to install) and PostgreSQL (postgresql://…, pip install "
        f"'sluiceway[postgres]'); for another database, install its SQLAlchemy driver ({module or scheme}) yourself.",
        extra="",
        module=module or scheme,
    )

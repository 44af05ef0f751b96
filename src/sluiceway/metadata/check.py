"""`sluiceway store check`: is the metadata store at a URL healthy, and if not, what is wrong with it.

Opens the store as the other commands would (never creating one), runs SQLite's full ``integrity_check``
on a SQLite file, and counts what is recorded. Read-only: checking never changes the store.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sluiceway.errors import StoreError, StoreNotFoundError
from sluiceway.metadata.failures import recovery_advice, sqlite_path
from sluiceway.metadata.opening import (
    EXPECTED_COLUMNS,
    MAX_PROBLEM_LINES,
    SQLITE_HEADER,
    integrity_problems,
    summarize,
)
from sluiceway.metadata.urls import redact_url


@dataclass(frozen=True)
class StoreCheck:
    """What ``check_store`` found: ``healthy`` is True only if no problem was found."""

    url: str  # redacted
    exists: bool
    problems: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)  # revision, counts: what a user wants to see when it is healthy
    advice: str = ""

    @property
    def healthy(self) -> bool:
        return self.exists and not self.problems


def check_store(url: str) -> StoreCheck:
    """Check the store at ``url`` without changing it (see the module docstring)."""
    from sluiceway.metadata.store import MetadataStore

    problems: list[str] = []
    facts: list[str] = []
    path = sqlite_path(url)
    try:
        store = MetadataStore(url, create=False)
    except StoreNotFoundError as exc:
        return StoreCheck(redact_url(url), False, [str(exc)])
    except StoreError as exc:
        problems.append(_without_check_hint(str(exc)))
    else:
        with store:
            try:
                facts.append(f"schema revision {store.revision()}")
                for table in ("contexts", "executions", "artifacts", "events"):
                    facts.append(f"{store.count(table)} rows in {table}")
            except StoreError as exc:
                problems.append(_without_check_hint(str(exc)))
    if path is not None and path.is_file() and _starts_like_sqlite(path):
        found = integrity_problems(path)
        if found:
            lines = summarize(found, shown=MAX_PROBLEM_LINES).split("; ")
            problems.append("SQLite's integrity_check found:\n" + "\n".join(lines))
        else:
            facts.append("SQLite's integrity_check: ok")
            undecodable = _undecodable_text(path)
            if undecodable:
                problems.append("stored text that is not valid UTF-8 (damaged values):\n" + "\n".join(undecodable))
    advice = recovery_advice(path) if problems and path is not None else ""
    if advice and any(advice in problem for problem in problems):
        advice = ""  # the message already says it
    if problems and path is None:
        advice = "Restore the database from a backup, or fix what the messages above name."
    return StoreCheck(redact_url(url), True, problems, facts, advice)


def _undecodable_text(path: Path, shown: int = MAX_PROBLEM_LINES) -> list[str]:
    """Values of Sluiceway's tables that are not valid UTF-8: damage that SQLite's integrity_check cannot see."""
    found: list[str] = []
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    connection.text_factory = bytes
    try:
        for table, columns in EXPECTED_COLUMNS.items():
            for row in connection.execute(f"SELECT rowid, {', '.join(sorted(columns))} FROM {table}"):
                for column, value in zip(["rowid", *sorted(columns)], row, strict=True):
                    if isinstance(value, bytes) and not _is_utf8(value):
                        found.append(f"table {table!r}, row {row[0]}, column {column!r}")
                if len(found) >= shown:
                    return found
    except sqlite3.Error as exc:  # a missing table or unreadable page: reported by the checks above
        found.append(f"could not read every value: {exc}")
    finally:
        connection.close()
    return found


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _starts_like_sqlite(path: object) -> bool:
    try:
        with open(str(path), "rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:  # unreadable: the open attempt above already reported why
        return False


_CHECK_HINT = re.compile(r"Run `sluiceway store check[^`]*` to see what is wrong[.;] ?")


def _without_check_hint(message: str) -> str:
    """A store error's message without its advice to run this very check."""
    return _CHECK_HINT.sub("", message)

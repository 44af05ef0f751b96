"""Locating what is wrong in an input that a reader refused: the line, the byte, the key."""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sluiceway.errors import DataError

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

_READ_CHUNK_BYTES = 8 << 20


def _reads_as_nan(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return value != value


def _check_unique_columns(names: Sequence[str], where: str) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names):
        if name in seen:
            raise DataError(
                f"{where} has the column name {name!r} twice (columns {seen[name] + 1} and {position + 1}); "
                "expected unique column names. Rename one of them."
            )
        seen[name] = position



def _line_of(path: str, offset: int) -> int:
    """The 1-based line number of a byte offset."""
    lines = 1
    remaining = offset
    with open(path, "rb") as handle:
        while remaining > 0:
            chunk = handle.read(min(remaining, _READ_CHUNK_BYTES))
            if not chunk:
                break
            lines += chunk.count(b"\n")
            remaining -= len(chunk)
    return lines



def _locate_utf8_error(path: str) -> str | None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    consumed = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_READ_CHUNK_BYTES)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                # The decoder may hold back up to 3 bytes of an incomplete sequence from the previous chunk.
                pending = len(exc.object) - len(chunk)
                offset = consumed - pending + exc.start
                line = _line_of(path, offset)
                return (
                    f"line {line} is not UTF-8: byte offset {offset} holds {exc.object[exc.start]:#04x} "
                    f"({exc.reason}). Expected UTF-8 text. Re-encode the file, e.g. iconv -f latin1 -t utf-8."
                )
            if not chunk:
                return None
            consumed += len(chunk)


def _locate_json_error(path: str) -> str | None:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                return (
                    f"line {number} is not valid JSON ({exc.msg} at column {exc.colno}); expected one JSON object "
                    "a line. Fix that line."
                )
            if not isinstance(value, dict):
                return (
                    f"line {number} holds a JSON {type(value).__name__}, not an object; expected one JSON object "
                    "a line, e.g. {\"a\": 1}."
                )
            _check_unique_json_keys(line, path, number)
    return None


def _check_unique_json_keys(line: str, path: str, number: int) -> None:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            dupe = next(k for k in keys if keys.count(k) > 1)
            raise DataError(
                f"JSON lines file {path!r} line {number} has the key {dupe!r} twice; expected unique column "
                "names. Rename one of them."
            )
        return dict(pairs)

    json.loads(line, object_pairs_hook=hook)



"""Locating what is wrong in an input that a reader refused: the line, the byte, the key."""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Sequence
from typing import Any

from sluiceway.errors import DataError

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


#: The default bound on the columns of one input (``max_columns`` of ``ingest`` and the ExampleGens).
DEFAULT_MAX_COLUMNS = 20_000


def _check_column_count(columns: int, max_columns: int, where: str) -> None:
    """Refuse an input wider than ``max_columns`` before any per-column work is done on it."""
    if columns > max_columns:
        raise DataError(
            f"{where} has {columns:,} columns; expected at most max_columns={max_columns:,}. Pass a larger "
            "max_columns (to ingest or the ExampleGen) if the file really is that wide (each column costs "
            "memory in every later step), or select the columns you need first."
        )


def _check_column_names(names: Sequence[str], where: str) -> None:
    """Names every later step can use: not empty, no NUL (Arrow's C interface cannot carry it)."""
    for position, name in enumerate(names):
        if not name.strip() or "\0" in name:
            problem = "an empty column name" if not name.strip() else f"the column name {name!r} with a NUL byte"
            raise DataError(
                f"{where} has {problem} at column {position + 1}; expected a non-empty name without NUL "
                "characters for every column. Rename it."
            )


def _check_nested_fields(schema: Any, where: str) -> None:
    """Nested JSON values Parquet cannot hold, or Polars cannot export: an object with no keys in every row
    read ({}), a key with a NUL byte. ``schema`` is a Polars schema (its Struct/List dtypes are walked)."""
    import polars as pl

    def walk(path: str, dtype: Any) -> None:
        if isinstance(dtype, pl.Struct):
            if not dtype.fields:
                raise DataError(
                    f"{where}: column {path!r} holds only empty objects ({{}}); expected objects with at least one "
                    "key, which Parquet needs to store them. Drop the key or give its objects fields."
                )
            for item in dtype.fields:
                if "\0" in item.name:
                    raise DataError(
                        f"{where}: column {path!r} has the nested key {item.name!r} with a NUL byte; expected keys "
                        "without NUL characters. Rename it."
                    )
                walk(f"{path}.{item.name}", item.dtype)
        elif isinstance(dtype, (pl.List, pl.Array)):
            walk(f"{path}[]", dtype.inner)

    for name, dtype in schema.items():
        walk(name, dtype)


def _nul_error(path: str, offset: int, delimiter: str) -> DataError:
    """A NUL byte in a CSV file: refused, because it means a binary or UTF-16 file far more often than a
    value that really holds one, and Polars cannot carry it in column names."""
    with open(path, "rb") as handle:
        start = max(0, offset - (1 << 20))
        handle.seek(start)
        before = handle.read(offset - start)
    line_start = before.rfind(b"\n") + 1
    column = before[line_start:].count(delimiter.encode()) + 1
    return DataError(
        f"CSV file {path!r} line {_line_of(path, offset)}, column {column}, holds a NUL byte (0x00) at byte "
        f"offset {offset}; expected text. NUL bytes mean a binary or UTF-16 file: re-encode it as UTF-8 "
        "(iconv -f utf-16 -t utf-8) or remove them (tr -d '\\000')."
    )


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
    """The first line of a JSON-lines file that is not one flat-enough JSON object of 64-bit-safe values."""
    from sluiceway.data.ingest.column_types import wide_integer, wide_integer_advice

    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line, parse_constant=_refuse_constant)
            except json.JSONDecodeError as exc:
                return (
                    f"line {number} is not valid JSON ({exc.msg} at column {exc.colno}); expected one JSON object "
                    "a line. Fix that line."
                )
            except RecursionError:
                return (
                    f"line {number} nests arrays or objects too deeply to read (over ~1,000 levels); expected one "
                    "JSON object a line with shallow values. Flatten that record."
                )
            except ValueError as exc:  # NaN/Infinity, or an integer of more than 4,300 digits
                return f"line {number} holds a value that is not standard JSON ({exc}); expected JSON. Fix that line."
            if not isinstance(value, dict):
                return (
                    f"line {number} holds a JSON {type(value).__name__}, not an object; expected one JSON object "
                    "a line, e.g. {\"a\": 1}."
                )
            for key, item in value.items():
                if wide_integer(item):
                    return f"line {number}, key {key!r}, {wide_integer_advice(key, item)}"
            _check_unique_json_keys(line, path, number)
    return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


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



"""Declared column types (``column_types=`` of the CSV and JSON sources) and integers too wide for 64 bits.

Polars infers Int128 for integers beyond int64, which neither Arrow's C interface nor Parquet's INT64 can
carry. Rather than fail later with a message about a format string, ingest finds the first such value,
names its file, line and column, and says how to read the column instead (``column_types``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sluiceway.errors import DataError

if TYPE_CHECKING:
    import polars as pl

#: The types a column can be declared as, by the names users write.
COLUMN_TYPES = ("string", "int64", "float64", "bool", "date", "datetime")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def polars_overrides(column_types: Mapping[str, str], names: Sequence[str] | None, where: str) -> dict[str, Any]:
    """``column_types`` as Polars dtypes, checked against the column names (when known)."""
    import polars as pl

    dtypes: dict[str, Any] = {"string": pl.String, "int64": pl.Int64, "float64": pl.Float64, "bool": pl.Boolean,
                              "date": pl.Date, "datetime": pl.Datetime("us")}
    overrides = {}
    for column, kind in column_types.items():
        if kind not in dtypes:
            raise DataError(
                f"column_types for {where} gives column {column!r} the type {kind!r}; expected one of "
                f"{list(COLUMN_TYPES)}. Use one of those names."
            )
        if names is not None and column not in names:
            raise DataError(
                f"column_types names the column {column!r}, but {where} has no such column (it has "
                f"{_some(names)}). Fix the name or remove it from column_types."
            )
        overrides[column] = dtypes[kind]
    return overrides


def check_integer_widths(schema: pl.Schema, files: Sequence[str], kind: str, delimiter: str = ",",
                         quote_char: str | None = '"') -> None:
    """Refuse (with file, line and column) a column Polars read as 128-bit integers."""
    import polars as pl

    wide = [name for name, dtype in schema.items() if dtype in (pl.Int128, pl.UInt128)]
    if not wide:
        return
    column = wide[0]
    for path in files:
        if kind == "CSV":
            found = _first_wide_integer_in_csv(path, column, delimiter, quote_char)
        else:
            found = _first_wide_integer_in_json(path, column)
        if found is not None:
            raise DataError(wide_integer_message(kind, path, found[0], column, found[1]))
    raise DataError(wide_integer_message(kind, files[0] if len(files) == 1 else list(files), None, column, None))


def wide_integer_message(kind: str, path: object, line: int | None, column: str, value: int | None) -> str:
    where = f"{kind} file {path!r} line {line}, column {column!r}," if line is not None else \
        f"{kind} input {path!r}, column {column!r},"
    return f"{where} {wide_integer_advice(column, value)}"


def wide_integer_advice(column: str, value: int | None) -> str:
    what = f"the integer {value}" if value is not None else "an integer"
    return (
        f"holds {what}, which does not fit 64 bits (from {_INT64_MIN} to {_INT64_MAX}); expected 64-bit "
        f"integers. Declare how to read the column instead: column_types={{{column!r}: 'string'}} (exact, as "
        "text) or 'float64' (approximate), on the source or the ExampleGen."
    )


def wide_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _INT64_MAX


def _first_wide_integer_in_csv(path: str, column: str, delimiter: str,
                               quote_char: str | None) -> tuple[int, int] | None:
    kwargs: dict[str, Any] = {"delimiter": delimiter}
    kwargs.update({"quotechar": quote_char} if quote_char else {"quoting": csv.QUOTE_NONE})
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, **kwargs)
            header = next(reader)
            index = header.index(column)
            for row in reader:
                if index < len(row):
                    text = row[index].strip()
                    if text.lstrip("+-").isdigit() and wide_integer(int(text)):
                        return reader.line_num, int(text)
    except (csv.Error, ValueError, UnicodeDecodeError, StopIteration):  # only locating: the caller still refuses
        return None
    return None


def _first_wide_integer_in_json(path: str, column: str) -> tuple[int, int] | None:
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                value = json.loads(line)
            except (ValueError, RecursionError):  # only locating: the caller still refuses
                continue
            if isinstance(value, dict) and wide_integer(value.get(column)):
                return number, value[column]
    return None


def _some(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")

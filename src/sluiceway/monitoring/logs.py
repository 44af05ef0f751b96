"""Reading the server's request log (layout in ``sluiceway.serving.request_log``) for monitoring.

Only the raw feature columns are statistics material: the log's own columns (``LOG_COLUMNS``: time, request
id, version, prediction, probabilities) are dropped, so the statistics compare column for column with the
training data's.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sluiceway.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pyarrow as pa

LOG_COLUMNS = ("time", "request_id", "model_version", "prediction", "probabilities")
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, *, what: str) -> timedelta:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"`` (also combined: ``"1h30m"``) as a timedelta."""
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != cleaned.replace(" ", ""):
        raise ConfigError(
            f"The {what} must be a duration such as 30m, 1h, 7d or 1h30m (units s, m, h, d, w). Got {text!r} instead."
        )
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ConfigError(f"The {what} must be longer than zero. Got {text!r} instead.")
    return timedelta(seconds=seconds)


def parse_time(text: str, *, what: str) -> datetime:
    """An ISO 8601 time (``2026-11-30T17:00:00Z``; without a zone it is UTC) as an aware datetime."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"The {what} must be an ISO 8601 time such as 2026-11-30T17:00:00Z. Got {text!r} instead."
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def model_log_folder(log_dir: str | Path, model: str) -> Path:
    """``{log_dir}/{model}``, checked: a clear error when the folder or the model's logs are absent."""
    if not MODEL_NAME.fullmatch(model):
        raise ConfigError(
            "The model name must match [A-Za-z0-9][A-Za-z0-9_.-]* (as in the serving directory). "
            f"Got {model!r} instead."
        )
    root = Path(log_dir)
    if not root.is_dir():
        raise DataError(
            f"The request-log folder {root} does not exist. Give the folder `sluiceway serve --log-dir` writes to."
        )
    folder = root / model
    if not folder.is_dir():
        known = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        raise DataError(
            f"The request log {root} has no folder for the model {model!r}; it has {known or 'none'}. "
            "Check --model, or that the server logs requests (--log-dir, --log-rate above 0)."
        )
    return folder


def log_files(folder: Path, start: datetime | None = None, end: datetime | None = None) -> list[Path]:
    """The finished Parquet files of a model's log (temporary ``.*.tmp`` files are skipped), in name order,
    limited to day folders that can hold rows between ``start`` and ``end``."""
    files = []
    for day in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            date = datetime.strptime(day.name, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        except ValueError:
            continue  # not a day folder of the log: ignored like the server ignores it
        if (start is not None and date + timedelta(days=1) <= start) or (end is not None and date > end):
            continue
        files.extend(sorted(p for p in day.glob("requests-*.parquet") if not p.name.startswith(".")))
    return files


def read_requests(
    log_dir: str | Path,
    model: str,
    *,
    version: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pa.Table:
    """The logged rows of ``model`` (of ``version`` when given) received in ``[start, end)``, every column."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    folder = model_log_folder(log_dir, model)
    tables = []
    for path in log_files(folder, start, end):
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise DataError(f"The request-log file {path} cannot be read ({exc}). Delete or move it.") from exc
        mask = None
        if version is not None:
            mask = pc.equal(table["model_version"], version)
        for bound, op in ((start, pc.greater_equal), (end, pc.less)):
            if bound is not None:
                cond = op(table["time"], pa.scalar(bound, pa.timestamp("us", tz="UTC")))
                mask = cond if mask is None else pc.and_(mask, cond)
        tables.append(table.filter(mask) if mask is not None else table)
    if not tables:
        return pa.table({})
    # Files of different versions may differ in feature columns: missing ones become null.
    return pa.concat_tables(tables, promote_options="default")


def feature_columns(table: pa.Table) -> pa.Table:
    """The raw feature columns of logged rows (the log's own columns dropped)."""
    return table.drop_columns([c for c in LOG_COLUMNS if c in table.column_names])


__all__ = [
    "LOG_COLUMNS",
    "feature_columns",
    "log_files",
    "model_log_folder",
    "parse_duration",
    "parse_time",
    "read_requests",
]

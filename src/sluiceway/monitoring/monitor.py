"""``monitor``: statistics of logged requests, validated against the training reference for skew and drift.

The verdicts are ExampleValidator's (``sluiceway.data.validation``), so they mean the same in a pipeline
and on live traffic:

* the window's serving data against the schema, in its SERVING environment when the schema has one
  (missing or new columns, out-of-domain values, ranges, ...);
* skew: the training statistics (their ``train`` split) against the window's (the schema's
  ``skew_comparator`` or the defaults: KS for numbers, L-infinity for categories, with noise bounds);
* drift: the window against the previous window of the log (the schema's ``drift_comparator`` or the
  defaults), when a window is given and the previous one holds at least ``min_rows`` rows.

Status: ``"ok"``, ``"anomalies"`` (a threshold was crossed, or the serving data breaks the schema) or
``"no_data"`` (fewer than ``min_rows`` logged rows in the window: nothing is judged).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sluiceway.errors import ConfigError, RunError
from sluiceway.monitoring.logs import feature_columns, read_requests

if TYPE_CHECKING:
    from sluiceway.data.schema import DataSchema
    from sluiceway.data.statistics import StatisticsSet
    from sluiceway.data.validation import Anomalies

SERVING_SPLIT = "serving"
DEFAULT_MIN_ROWS = 30
WEBHOOK_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Window:
    """``[start, end)`` of receive times; ``start=None``: from the first logged row."""

    start: datetime | None
    end: datetime

    def to_dict(self) -> dict[str, str | None]:
        return {"start": self.start.isoformat() if self.start else None, "end": self.end.isoformat()}


def windows(
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    window: timedelta | None = None,
    baseline_window: timedelta | None = None,
) -> tuple[Window, Window | None]:
    """The monitored window (from ``since``, or the last ``window``, else everything up to now) and the
    drift baseline: the ``baseline_window`` (default: as long as the monitored one) just before it."""
    end = now or datetime.now(timezone.utc)
    if since is not None and window is not None:
        raise ConfigError("Give either --since or --window, not both: each sets where the monitored window starts.")
    start = since if since is not None else (end - window if window is not None else None)
    if start is not None and start >= end:
        raise ConfigError(f"The monitored window starts at {start.isoformat()}, not before now ({end.isoformat()}).")
    if start is None:
        return Window(None, end), None
    length = baseline_window or (end - start)
    return Window(start, end), Window(start - length, start)


@dataclass
class MonitorResult:
    model: str
    status: str  # "ok", "anomalies", "no_data"
    rows: int
    window: Window
    anomalies: Anomalies | None
    reference: str
    baseline_rows: int | None = None
    baseline_window: Window | None = None
    versions: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "sluiceway.monitor",
            "version": 1,
            "model": self.model,
            "status": self.status,
            "rows": self.rows,
            "model_versions": self.versions,
            "window": self.window.to_dict(),
            "baseline_rows": self.baseline_rows,
            "baseline_window": self.baseline_window.to_dict() if self.baseline_window else None,
            "reference": self.reference,
            "notes": self.notes,
            "anomalies": self.anomalies.to_dict() if self.anomalies is not None else None,
        }


def serving_statistics(table: Any) -> StatisticsSet:
    """Statistics of logged rows (raw feature columns only) as one split named ``serving``."""
    from sluiceway.data.statistics import compute_statistics

    return compute_statistics(feature_columns(table), default_split=SERVING_SPLIT)


def serving_environment(schema: DataSchema) -> str | None:
    """``"SERVING"`` when the schema uses that environment (the label is then not expected), else None."""
    known = set(schema.default_environment)
    for feature in schema.features:
        known.update(feature.in_environment, feature.not_in_environment)
    return "SERVING" if "SERVING" in known else None


def validate_serving(
    current: StatisticsSet,
    training: StatisticsSet,
    schema: DataSchema,
    previous: StatisticsSet | None = None,
) -> Anomalies:
    """Serving statistics against the schema (and ``previous`` for drift), and against training for skew."""
    from sluiceway.data.validation import Anomalies, Comparison, validate_statistics

    environment = serving_environment(schema)
    found = validate_statistics(current, schema, baseline=previous, environment=environment)
    train_split = "train" if any(d.split == "train" and d.slice is None for d in training.datasets) else None
    # validate_statistics checks its first argument against the schema too: only the skew part is kept,
    # the training data's own anomalies are the pipeline's business, not the server's.
    # Features a request does not send (the label, outside SERVING) have nothing to compare with.
    skew = validate_statistics(training, schema, serving=current, split=train_split)
    served = {f.name for f in schema.features_in(environment)}

    def is_skew(comparison: Comparison | None) -> bool:
        return comparison is not None and comparison.kind == "skew" and comparison.feature in served

    return Anomalies(
        anomalies=[*found.anomalies, *(a for a in skew.anomalies if is_skew(a.comparison))],
        comparisons=[*found.comparisons, *(c for c in skew.comparisons if is_skew(c))],
        splits=found.splits,
        environment=environment,
    )


def monitor(
    log_dir: str | Path,
    model: str,
    *,
    statistics: str | Path,
    schema: str | Path,
    version: int | None = None,
    window: Window | None = None,
    baseline_window: Window | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
    reference: str = "given",
) -> MonitorResult:
    """Validate the logged requests of ``model`` in ``window`` against the training ``statistics`` and
    ``schema`` (skew), and against ``baseline_window`` (drift). See the module docstring."""
    from sluiceway.data.schema import load_schema
    from sluiceway.data.statistics import load_statistics

    if min_rows < 1:
        raise ConfigError(f"min_rows must be at least 1. Got {min_rows} instead.")
    window = window or Window(None, datetime.now(timezone.utc))
    training = load_statistics(statistics)
    curated = load_schema(schema)
    table = read_requests(log_dir, model, version=version, start=window.start, end=window.end)
    result = MonitorResult(model, "no_data", table.num_rows, window, None, reference, baseline_window=baseline_window)
    if table.num_rows:
        result.versions = sorted({int(v) for v in table["model_version"].to_pylist() if v is not None})
    if table.num_rows < min_rows:
        result.notes.append(
            f"{table.num_rows} logged rows of {model!r} in the window, fewer than the {min_rows} needed to judge "
            "skew or drift: nothing was validated. Widen the window, raise the server's --log-rate, "
            "or lower --min-rows."
        )
        return result
    previous = None
    if baseline_window is not None:
        earlier = read_requests(log_dir, model, version=version, start=baseline_window.start, end=baseline_window.end)
        result.baseline_rows = earlier.num_rows
        if earlier.num_rows >= min_rows:
            previous = serving_statistics(earlier)
        else:
            result.notes.append(
                f"Drift not checked: the previous window holds {earlier.num_rows} logged rows, fewer than {min_rows}."
            )
    found = validate_serving(serving_statistics(table), training, curated, previous)
    result.anomalies = found
    result.status = "anomalies" if found.anomalies else "ok"
    undecided = sorted({c.feature for c in found.comparisons if c.verdict == "too_few_rows"})
    if undecided:
        result.notes.append(
            f"Above the threshold but within sampling noise (too_few_rows, not an alert): {', '.join(undecided)}."
        )
    return result


def post_webhook(url: str, body: dict[str, Any], timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> int:
    """POST ``body`` as JSON to ``url``; the HTTP status. Raises ``RunError`` when it is not delivered."""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"The webhook URL must start with http:// or https://. Got {url!r} instead.")
    data = json.dumps(body, default=str).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json", "User-Agent": "sluiceway-monitor"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise RunError(f"The webhook {url} refused the alert: HTTP {exc.code} {exc.reason}.") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise RunError(f"The alert could not be sent to the webhook {url}: {exc}.") from exc


__all__ = [
    "DEFAULT_MIN_ROWS",
    "SERVING_SPLIT",
    "MonitorResult",
    "Window",
    "monitor",
    "post_webhook",
    "serving_statistics",
    "validate_serving",
    "windows",
]

"""ServingStatsGen: statistics of a served model's request log, as ``ExampleStatistics`` of split ``serving``.

Reads the request log ``sluiceway serve --log-dir`` writes (``sluiceway.serving.request_log``) for one
model, keeps the raw feature columns (the log's own columns — time, request id, version, prediction — are
dropped) and computes the same statistics StatisticsGen does. Give them to ``ExampleValidator`` as
``serving_statistics`` to check training/serving skew in a pipeline, with the methods and verdicts
``sluiceway monitor`` uses on live traffic::

    serving = ServingStatsGen(log_dir="logs", model_name="penguin", window="1d")
    validator = ExampleValidator(statistics=stats.statistics, schema=schema.schema,
                                 serving_statistics=serving.statistics, environment="SERVING")

Rows: those of ``version`` (all versions by default) received in ``[since, until)`` (ISO times), or in the
last ``window`` (a duration: ``"1h"``, ``"7d"``) before the run, or all of them. Cached on the log files'
(path, size, mtime) and the parameters; a ``window`` is relative to the run's time, so it is never cached.
Fewer than ``min_rows`` rows fail the component (statistics of a handful of requests would pass every check
by sampling noise alone, which reads as "no skew").
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, cast

from pydantic import Field

from sluiceway.artifacts import ExampleStatistics
from sluiceway.dsl.component import Component, Output
from sluiceway.errors import DataError, DefinitionError, SluicewayError

__all__ = ["ServingStatsGen"]


class ServingStatsGen(Component):
    """Request log of a served model → ExampleStatistics (split ``serving``)."""

    def execute(  # type: ignore[override]
        self,
        statistics: Output[ExampleStatistics],
        *,
        log_dir: str,
        model_name: str,
        version: Annotated[int, Field(ge=1)] | None = None,
        since: str | None = None,
        until: str | None = None,
        window: str | None = None,
        min_rows: Annotated[int, Field(ge=1)] = 1,
    ) -> None:
        from sluiceway.monitoring.logs import read_requests
        from sluiceway.monitoring.monitor import SERVING_SPLIT, serving_statistics
        from sluiceway.reports.statistics_html import write_statistics_html

        target = cast(ExampleStatistics, statistics)
        start, end = _bounds(since, until, window)
        table = read_requests(log_dir, model_name, version=version, start=start, end=end)
        if table.num_rows < min_rows:
            raise DataError(
                f"ServingStatsGen found {table.num_rows} logged rows of the model {model_name!r} under {log_dir}"
                f"{' (version ' + str(version) + ')' if version else ''} in the chosen time range, fewer than "
                f"min_rows={min_rows}. Widen the range (since/until/window), or check the server logs requests "
                "(--log-dir, --log-rate)."
            )
        result = serving_statistics(table)
        result.write_json(target.file)
        write_statistics_html(result, target.report_file, title=f"Serving statistics of {model_name}")
        target.properties["split_names"] = [SERVING_SPLIT]
        target.properties["num_examples"] = {d.name: d.num_examples for d in result.datasets}

    def check_parameters(self, owner: str, parameters: dict[str, Any]) -> None:
        from sluiceway.monitoring.logs import MODEL_NAME

        name = parameters.get("model_name")
        if not isinstance(name, str) or not MODEL_NAME.fullmatch(name):
            raise DefinitionError(
                f"The 'model_name' parameter of {owner} must match [A-Za-z0-9][A-Za-z0-9_.-]* (a served model's "
                f"name). Got {name!r} instead."
            )
        if parameters.get("window") is not None and (parameters.get("since") or parameters.get("until")):
            raise DefinitionError(
                f"{owner} got 'window' together with 'since'/'until'. Give a window relative to the run, or a fixed "
                "range, not both."
            )
        try:
            _bounds(parameters.get("since"), parameters.get("until"), parameters.get("window"))
        except SluicewayError as exc:
            raise DefinitionError(f"{owner}: {exc}") from exc

    def cache_key(self) -> dict[str, Any]:
        from sluiceway.data.spans import input_fingerprint
        from sluiceway.monitoring.logs import log_files, model_log_folder

        key: dict[str, Any] = {}
        if self.parameters.get("window") is not None:
            key["now"] = datetime.now(timezone.utc).isoformat()  # relative to the run: never the same twice
        try:
            folder = model_log_folder(self.parameters["log_dir"], self.parameters["model_name"])
            key["log_files"] = input_fingerprint(log_files(folder))
        except (SluicewayError, OSError) as exc:  # the executor reports a missing log with the full message
            key["log_error"] = str(exc)
        return key


def _bounds(since: str | None, until: str | None, window: str | None) -> tuple[datetime | None, datetime | None]:
    from sluiceway.monitoring.logs import parse_duration, parse_time

    start = parse_time(since, what="'since' parameter") if since else None
    end = parse_time(until, what="'until' parameter") if until else None
    if window:
        end = datetime.now(timezone.utc)
        start = end - parse_duration(window, what="'window' parameter")
    if start is not None and end is not None and start >= end:
        raise DefinitionError(
            f"The time range [{start.isoformat()}, {end.isoformat()}) is empty: since must be before until."
        )
    return start, end

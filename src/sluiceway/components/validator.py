"""ExampleValidator: validate statistics against the schema, and against a baseline (drift) or serving
statistics (skew), with TFDV's anomaly kinds.

A gate: with ``fail_on_anomalies=True`` (the default) blocking anomalies stop the run here. The
anomalies artifact (``anomalies.json`` and ``report.html``) is still published so the reason can be read,
the execution is FAILED with the anomalies in its message, and nothing downstream (training) runs.
"""

from __future__ import annotations

from sluiceway.artifacts import ExampleAnomalies, ExampleStatistics, Schema
from sluiceway.dsl.component import Component, Input, Output
from sluiceway.errors import DataValidationError


def describe_anomalies(anomalies: object, limit: int = 30) -> str:
    """One line per anomaly: split, feature, kind, description (for messages and the CLI)."""
    lines = []
    for anomaly in anomalies.anomalies[:limit]:  # type: ignore[attr-defined]
        where = anomaly.feature or "(dataset)"
        split = f"[{anomaly.split}] " if anomaly.split else ""
        lines.append(f"{split}{where}: {anomaly.kind} ({anomaly.severity}): {anomaly.description}")
    extra = len(anomalies.anomalies) - limit  # type: ignore[attr-defined]
    if extra > 0:
        lines.append(f"… and {extra} more")
    return "\n".join(lines)


class ExampleValidator(Component):
    """ExampleStatistics + Schema (+ baseline/serving statistics) → ExampleAnomalies, and a gate."""

    def execute(  # type: ignore[override]
        self,
        statistics: Input[ExampleStatistics],
        schema: Input[Schema],
        anomalies: Output[ExampleAnomalies],
        baseline_statistics: Input[ExampleStatistics] | None = None,
        serving_statistics: Input[ExampleStatistics] | None = None,
        *,
        environment: str | None = None,
        fail_on_anomalies: bool = True,
    ) -> None:
        from sluiceway.data.schema import Schema as SchemaModel
        from sluiceway.data.statistics import StatisticsSet
        from sluiceway.data.validation import validate_statistics
        from sluiceway.reports.anomalies_html import render_anomalies_html

        stats = StatisticsSet.from_json(statistics.path / "statistics.json")
        curated = SchemaModel.from_yaml(schema.file)
        baseline = StatisticsSet.from_json(baseline_statistics.path / "statistics.json") if baseline_statistics else None
        serving = StatisticsSet.from_json(serving_statistics.path / "statistics.json") if serving_statistics else None
        found = validate_statistics(stats, curated, baseline=baseline, serving=serving, environment=environment)
        found.to_json(anomalies.path / "anomalies.json")
        render_anomalies_html(found, title="Data validation", path=anomalies.path / "report.html")
        anomalies.properties["anomaly_count"] = len(found)
        anomalies.properties["blocking"] = found.blocking
        anomalies.properties["split_names"] = list(found.splits)
        anomalies.properties["kinds"] = sorted(found.kinds())
        if fail_on_anomalies and found.blocking:
            raise DataValidationError(
                f"{len(found.blocking_anomalies)} blocking anomalies in {statistics.producer or 'the statistics'} "
                f"(report: {anomalies.path / 'report.html'}; accept a change by curating the schema, or pass "
                f"fail_on_anomalies=False):\n{describe_anomalies(found)}"
            )

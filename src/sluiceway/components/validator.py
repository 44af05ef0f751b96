"""ExampleValidator: validate statistics against the schema, and against a baseline (drift) or serving
statistics (skew), with TFDV's anomaly kinds.

A gate: with ``fail_on_anomalies=True`` (the default) blocking anomalies stop the run here. The
anomalies artifact (``ExampleAnomalies.file`` and ``.report_file``) is still published so the reason can
be read, the execution is FAILED with the anomalies and the report's path in its message, and nothing
downstream (training) runs.
"""

from __future__ import annotations

from sluiceway.artifacts import ExampleAnomalies, ExampleStatistics, Schema
from sluiceway.data.validation.model import describe_anomalies
from sluiceway.dsl.component import Component, Input, Output
from sluiceway.errors import DataValidationError

__all__ = ["ExampleValidator"]


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
        from sluiceway.data.schema import DataSchema
        from sluiceway.data.statistics import load_statistics
        from sluiceway.data.validation import validate_statistics
        from sluiceway.reports.anomalies_html import render_anomalies_html

        stats = load_statistics(statistics.file)
        curated = DataSchema.from_yaml(schema.file)
        baseline = load_statistics(baseline_statistics.file) if baseline_statistics else None
        serving = load_statistics(serving_statistics.file) if serving_statistics else None
        found = validate_statistics(stats, curated, baseline=baseline, serving=serving, environment=environment)
        found.to_json(anomalies.file)
        render_anomalies_html(found, title="Data validation", path=anomalies.report_file)
        anomalies.properties["anomaly_count"] = len(found)
        anomalies.properties["blocking"] = found.blocking
        anomalies.properties["split_names"] = list(found.splits)
        anomalies.properties["kinds"] = sorted(found.kinds())
        # drift/skew that could not be judged on so few rows: not blocking, but worth showing
        anomalies.properties["too_few_rows"] = sorted(
            {c.feature for c in found.comparisons if c.verdict == "too_few_rows"}
        )
        if fail_on_anomalies and found.blocking:
            # The runner rewrites the staging path in this message to the published one.
            count = len(found.blocking_anomalies)
            raise DataValidationError(
                f"{count} blocking {'anomaly' if count == 1 else 'anomalies'} in "
                f"{statistics.producer or 'the statistics'} (report: {anomalies.report_file}; accept a change by "
                f"curating the schema, or pass fail_on_anomalies=False):\n{describe_anomalies(found)}"
            )

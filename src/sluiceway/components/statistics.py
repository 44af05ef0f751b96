"""StatisticsGen: per-split, per-feature statistics of ``Examples`` (TFDV's statistics, without TensorFlow).

Writes ``statistics.json`` (the documented JSON form of ``sluiceway.data.statistics``), a static
``report.html`` (train vs eval side by side) and, with ``tfdv_export=True``, ``statistics.pb``: TFDV's
``DatasetFeatureStatisticsList`` for Facets and TFDV tools (needs ``pip install 'sluiceway[tfx]'``).
"""

from __future__ import annotations

from sluiceway.artifacts import Examples, ExampleStatistics
from sluiceway.dsl.component import Component, Input, Output


class StatisticsGen(Component):
    """Examples → ExampleStatistics, in one streaming pass over the Parquet row groups."""

    def execute(  # type: ignore[override]
        self,
        examples: Input[Examples],
        statistics: Output[ExampleStatistics],
        *,
        slice_by: list[str] | None = None,
        weight_column: str | None = None,
        top_k: int = 20,
        num_histogram_buckets: int = 10,
        num_quantiles: int = 100,
        tfdv_export: bool = False,
    ) -> None:
        from sluiceway.data.statistics import compute_statistics
        from sluiceway.reports.statistics_html import write_statistics_html

        result = compute_statistics(
            examples,
            split_names=examples.split_names,
            slice_by=slice_by,
            weight_column=weight_column,
            top_k=top_k,
            num_histogram_buckets=num_histogram_buckets,
            num_quantiles=num_quantiles,
        )
        result.to_json(statistics.path / "statistics.json")
        write_statistics_html(result, statistics.path / "report.html", title=f"Statistics of {examples.producer or 'examples'}")
        if tfdv_export:
            from sluiceway.data.tfdv import write_tfdv_statistics

            write_tfdv_statistics(result, statistics.path / "statistics.pb")
        statistics.properties["split_names"] = result.split_names
        statistics.properties["num_examples"] = {d.name: d.num_examples for d in result.datasets}
        for key in ("span", "version"):
            if examples.properties.get(key) is not None:
                statistics.properties[key] = examples.properties[key]

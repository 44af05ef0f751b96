"""StatisticsGen: per-split, per-feature statistics of ``Examples`` (TFDV's statistics, without TensorFlow).

Writes ``ExampleStatistics.file`` (the documented JSON form of ``sluiceway.data.statistics``), a
static report (``ExampleStatistics.report_file``: the splits side by side) and, with
``tfdv_export=True``, TFDV's ``DatasetFeatureStatisticsList`` (``ExampleStatistics.TFDV_FILENAME``)
for Facets and TFDV tools (needs ``pip install 'sluiceway[tfx]'``). The same examples give the same
bytes in every file, so downstream components stay cached.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from pydantic import Field

from sluiceway.artifacts import Examples, ExampleStatistics
from sluiceway.dsl.component import Component, Input, Output
from sluiceway.errors import DefinitionError


class StatisticsGen(Component):
    """Examples → ExampleStatistics, in one streaming pass over the Parquet row groups."""

    def execute(  # type: ignore[override]
        self,
        examples: Input[Examples],
        statistics: Output[ExampleStatistics],
        *,
        slice_by: list[str] | None = None,
        weight_column: str | None = None,
        top_k: Annotated[int, Field(ge=1)] = 20,
        num_histogram_buckets: Annotated[int, Field(ge=1)] = 10,
        num_quantiles: Annotated[int, Field(ge=1)] = 100,
        tfdv_export: bool = False,
    ) -> None:
        from sluiceway.data.statistics import compute_statistics
        from sluiceway.reports.statistics_html import write_statistics_html

        # at run time the executor passes the artifacts themselves
        source, target = cast(Examples, examples), cast(ExampleStatistics, statistics)
        result = compute_statistics(
            source,
            split_names=source.split_names,
            slice_by=slice_by,
            weight_column=weight_column,
            top_k=top_k,
            num_histogram_buckets=num_histogram_buckets,
            num_quantiles=num_quantiles,
        )
        result.write_json(target.file)
        write_statistics_html(result, target.report_file, title=f"Statistics of {source.producer or 'examples'}")
        if tfdv_export:
            from sluiceway.data.tfdv import write_tfdv_statistics

            write_tfdv_statistics(result, target.path / ExampleStatistics.TFDV_FILENAME)
        target.properties["split_names"] = result.split_names
        target.properties["num_examples"] = {d.name: d.num_examples for d in result.datasets}
        for key in ("span", "version"):
            if source.properties.get(key) is not None:
                target.properties[key] = source.properties[key]

    def check_parameters(self, owner: str, parameters: dict[str, Any]) -> None:
        # the Annotated bounds above say the same; checked here too because the DSL may read the
        # signature without its Annotated extras
        for name in ("top_k", "num_histogram_buckets", "num_quantiles"):
            value = parameters.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise DefinitionError(
                    f"The {name!r} parameter of {owner} must be an int in the range [1, inf). Got {value!r} instead."
                )
        slice_by = parameters.get("slice_by") or []
        weight = parameters.get("weight_column")
        if weight is not None and weight in slice_by:
            raise DefinitionError(
                f"The 'weight_column' parameter of {owner} names {weight!r}, which is also in 'slice_by'. "
                "A column is either the example weight or a slice key: pick one."
            )
        if len(set(slice_by)) != len(slice_by):
            raise DefinitionError(
                f"The 'slice_by' parameter of {owner} lists a column twice: {slice_by!r}. Name each column once."
            )

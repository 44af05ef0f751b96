"""Transform: the user's ``preprocessing_fn`` fitted on the analyze splits and applied to every split.

    Transform(examples=gen.examples, schema=schema.schema, preprocessing_fn=features.preprocessing_fn)

``preprocessing_fn`` is a function or a ``"module:function"`` string, resolved and checked when the
pipeline is built. Outputs: ``transform_graph`` (a ``TransformGraph``: the fitted, self-contained graph
that ``sw.load_transform`` reads, e.g. at serving time), ``transformed_examples`` (``Examples`` with the
same splits, span and version, one column per output of ``preprocessing_fn``), and the statistics of the
transformed splits with a schema inferred from them (``post_transform_statistics``,
``post_transform_schema``). With a ``schema``, columns the schema marks as absent in the SERVING
environment (the label) may be missing at serving time.
The cache follows the function's code (and the helpers and modules it uses), in both forms.

``analyzer_cache`` (a folder, default none) keeps each input file's analyzer accumulators, keyed by the
file's bytes and the analyzer's input, so a refit over files already seen (a rolling window of spans, a
``preprocessing_fn`` with one more output) computes only what is new; the graph is the same either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

from sluiceway.artifacts import Examples, ExampleStatistics, Schema, TransformGraph
from sluiceway.dsl.component import Component, Input, Output
from sluiceway.dsl.functions import function_cache_key, resolve_function
from sluiceway.errors import DefinitionError

if TYPE_CHECKING:
    from sluiceway.transform.graph import FittedTransform

logger = logging.getLogger(__name__)

PreprocessingFn = Union[Callable[..., Any], str]  # noqa: UP007 - pydantic validates this form at build time


def resolve_preprocessing_fn(value: Any, owner: str = "Transform") -> Callable[..., Any]:
    """The function a ``preprocessing_fn`` parameter names; ``DefinitionError`` saying how to fix it if not."""
    return resolve_function(
        value,
        parameter="preprocessing_fn",
        owner=owner,
        takes="the inputs dict (the graph is traced from it)",
        usage="def preprocessing_fn(inputs): ...",
    )


class Transform(Component):
    """Examples (+ Schema) → TransformGraph + transformed Examples, with full-pass analyzers."""

    def check_parameters(self, owner: str, parameters: dict[str, Any]) -> None:
        resolve_preprocessing_fn(parameters["preprocessing_fn"], owner)
        splits = parameters["analyze_splits"]
        if splits is not None and not splits:
            raise DefinitionError(
                f"The 'analyze_splits' parameter of {owner} must name at least one split (default ['train']). "
                "Got [] instead."
            )

    def cache_key(self) -> dict[str, Any]:
        parameter = self.parameters["preprocessing_fn"]
        return function_cache_key(parameter, "preprocessing_fn_code", resolve_preprocessing_fn)

    def execute(  # type: ignore[override]
        self,
        examples: Input[Examples],
        transform_graph: Output[TransformGraph],
        transformed_examples: Output[Examples],
        post_transform_statistics: Output[ExampleStatistics],
        post_transform_schema: Output[Schema],
        schema: Input[Schema] | None = None,
        *,
        preprocessing_fn: PreprocessingFn,
        analyze_splits: list[str] | None = None,
        analyzer_cache: str | None = None,
    ) -> None:
        import pyarrow.parquet as pq

        from sluiceway.data.schema import SERVING, load_schema
        from sluiceway.errors import DataError
        from sluiceway.transform.cache import AnalyzerCache
        from sluiceway.transform.fit import apply_to_files, column_kinds, fit, trace

        function = resolve_preprocessing_fn(preprocessing_fn)
        splits = examples.split_names
        wanted = analyze_splits or ["train"]
        unknown = [s for s in wanted if s not in splits]
        if unknown:
            raise DataError(f"Transform: analyze split(s) {unknown} are not in the examples, which have {splits}.")
        files = {split: [str(f) for f in examples.split_files(split)] for split in splits}
        analyze_files = [f for s in wanted for f in files[s]]
        outputs = trace(function, column_kinds(analyze_files))
        serving: dict[str, bool] = {}
        if schema is not None:
            curated = load_schema(schema.file)
            serving = {f.name: f.in_env(SERVING, curated.default_environment) for f in curated.features}
        metadata = {"analyze_splits": wanted, "preprocessing_fn": f"{function.__module__}:{function.__qualname__}"}
        cache = AnalyzerCache(analyzer_cache) if analyzer_cache else None
        fitted = fit(outputs, analyze_files, serving=serving, metadata=metadata, cache=cache)
        if cache is not None:
            logger.info("Analyzer cache %s: %d hits, %d misses.", analyzer_cache, cache.hits, cache.misses)
        fitted.save(transform_graph.folder)
        row_counts = {}
        for split in splits:
            row_counts[split] = apply_to_files(fitted, files[split], transformed_examples.split_uri(split))
        first = sorted((transformed_examples.path / f"Split-{splits[0]}").glob("*.parquet"))[0]
        transformed_examples.properties["split_names"] = splits
        transformed_examples.properties["row_counts"] = row_counts
        transformed_examples.properties["column_types"] = {f.name: str(f.type) for f in pq.read_schema(first)}
        for key in ("span", "version"):
            if examples.properties.get(key) is not None:
                transformed_examples.properties[key] = examples.properties[key]
        transform_graph.properties["analyze_splits"] = wanted
        transform_graph.properties["output_schema"] = fitted.output_schema
        _describe_outputs(transformed_examples, fitted, post_transform_statistics, post_transform_schema)


def _describe_outputs(
    examples: Examples, fitted: FittedTransform, statistics: ExampleStatistics, schema: Schema
) -> None:
    """Statistics of the transformed splits and a schema inferred from them (TFX's post-transform outputs).
    Outputs that need only training-only columns (the label) stay out of the SERVING environment."""
    from sluiceway.data.engine import InProcessEngine
    from sluiceway.data.schema import SERVING, TRAINING, infer_schema
    from sluiceway.data.statistics import compute_statistics
    from sluiceway.reports.statistics_html import write_statistics_html

    # One worker: compute_statistics merges float moments in completion order, so with several workers its
    # last digits vary between runs, and the cache (and check_component) need the same bytes every time.
    result = compute_statistics(examples, split_names=examples.split_names, engine=InProcessEngine(max_workers=1))
    result.to_json(statistics.file)
    write_statistics_html(result, statistics.report_file, title="Statistics after Transform")
    statistics.properties["split_names"] = result.split_names
    inferred = infer_schema(result)
    training_only = [
        name
        for name, expr in fitted.outputs.items()
        if expr.columns() and not any(fitted.inputs[c]["serving"] for c in expr.columns())
    ]
    for name in training_only:
        if name in inferred:
            inferred.default_environment = [TRAINING, SERVING]
            inferred.feature(name).not_in_environment = [SERVING]
    inferred.to_yaml(schema.file)
    schema.properties["num_features"] = len(inferred.features)

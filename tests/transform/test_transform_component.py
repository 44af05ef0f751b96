"""The Transform component in real pipelines on penguins: outputs, build-time checks, caching, failures."""

from __future__ import annotations

import functools
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest
from transform_fixtures import PENGUINS_CSV

import sluiceway as sw
import sluiceway.transform as T
from sluiceway.components import CsvExampleGen, SchemaGen, StatisticsGen, Transform


def preprocessing_fn(inputs):
    return {
        "bill_length_z": T.scale_to_z_score(inputs["bill_length_mm"]),
        "island_id": T.compute_and_apply_vocabulary(inputs["island"], top_k=100, num_oov_buckets=1),
        "mass_bucket": T.bucketize(inputs["body_mass_g"], num_buckets=5),
        "flipper_ratio": inputs["flipper_length_mm"] / inputs["bill_length_mm"],
        "species": inputs["species"],
    }


def _pipeline(fn=preprocessing_fn, **options) -> sw.Pipeline:
    gen = CsvExampleGen(input_pattern=str(PENGUINS_CSV))
    stats = StatisticsGen(examples=gen.examples)
    schema = SchemaGen(statistics=stats.statistics, label="species")
    transform = Transform(examples=gen.examples, schema=schema.schema, preprocessing_fn=fn, **options)
    return sw.Pipeline("penguin-transform", [gen, stats, schema, transform])


def test_transform_in_the_penguin_pipeline(runner: sw.LocalRunner) -> None:
    run = runner.run(_pipeline())
    assert run.succeeded, {k: v.error for k, v in run.executions.items()}
    raw = run.output("CsvExampleGen", "examples")
    transformed = run.output("Transform", "transformed_examples")
    graph = run.output("Transform", "transform_graph")
    assert transformed.properties["split_names"] == raw.properties["split_names"] == ["train", "eval"]
    assert transformed.properties["row_counts"] == raw.properties["row_counts"]
    assert transformed.properties["column_types"] == {
        "bill_length_z": "double",
        "island_id": "int64",
        "mass_bucket": "int64",
        "flipper_ratio": "double",
        "species": "large_string",
    }
    assert transformed.properties["span"] == raw.properties["span"]
    assert graph.properties["analyze_splits"] == ["train"]
    assert Path(graph.uri, "transform", "transform_graph.json").is_file()

    loaded = sw.load_transform(graph)
    for split in ("train", "eval"):
        rows = pl.from_arrow(raw.read(split))
        assert loaded.transform(rows).equals(pl.from_arrow(transformed.read(split))), split
    # fitted on train only: the z-score of the train split is centred, the eval split's is not exactly
    train_z = pl.from_arrow(transformed.read("train"))["bill_length_z"]
    assert abs(train_z.mean()) < 1e-12
    # at serving, the label (absent in SERVING in the inferred schema) may be missing
    served = loaded.transform(
        {"bill_length_mm": 39.1, "island": "Torgersen", "body_mass_g": 3750, "flipper_length_mm": 181}
    )
    assert set(served) == {"bill_length_z", "island_id", "mass_bucket", "flipper_ratio"}


def test_a_module_function_string_is_resolved_and_its_code_is_cached_on(
    runner: sw.LocalRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    module = folder / "penguin_features_for_cache_test.py"
    source = textwrap.dedent(
        """
        import sluiceway.transform as T

        def preprocessing_fn(inputs):
            return {"mass": T.scale_to_0_1(inputs["body_mass_g"])}
        """
    )
    module.write_text(source)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.chdir(folder)  # the project folder: its modules count as user code for the fingerprint
    try:
        target = "penguin_features_for_cache_test:preprocessing_fn"
        first = runner.run(_pipeline(target))
        assert first.succeeded and first["Transform"].state == "COMPLETE"
        assert runner.run(_pipeline(target))["Transform"].state == "CACHED"
        module.write_text(source.replace("scale_to_0_1(", "scale_to_z_score("))
        sys.modules.pop("penguin_features_for_cache_test", None)
        changed = runner.run(_pipeline(target))
        assert changed["Transform"].state == "COMPLETE"
        column = pl.from_arrow(changed.output("Transform", "transformed_examples").read("train"))["mass"]
        assert column.min() < 0  # a z-score now, not a 0..1 scale
    finally:
        sys.modules.pop("penguin_features_for_cache_test", None)


def _two_args(inputs, extra):
    return {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "features.preprocessing_fn",
            r"must be a function or a 'module:function' string. Got 'features.preprocessing_fn'",
        ),
        ("no_such_module_xyz:fn", r"names the module 'no_such_module_xyz', which cannot be imported"),
        ("json:no_such_function", r"names 'no_such_function' in module 'json', which has no such attribute"),
        (functools.partial(preprocessing_fn), r"must be a function \(def ...\) taking the inputs dict"),
        (_two_args, r"_two_args must take exactly one argument"),
    ],
)
def test_preprocessing_fn_is_checked_when_the_pipeline_is_built(value: object, message: str) -> None:
    with pytest.raises(sw.DefinitionError, match=message):
        _pipeline(value)


def test_analyze_splits_are_checked(runner: sw.LocalRunner) -> None:
    with pytest.raises(sw.DefinitionError, match=r"'analyze_splits' parameter .* must name at least one split"):
        _pipeline(analyze_splits=[])
    run = runner.run(_pipeline(analyze_splits=["test"]))
    assert run["Transform"].state == "FAILED"
    assert "analyze split(s) ['test'] are not in the examples, which have ['train', 'eval']" in run["Transform"].error


def test_a_failing_preprocessing_fn_names_the_output_and_the_column(runner: sw.LocalRunner) -> None:
    def broken(inputs):
        return {"ratio": inputs["island"] / inputs["bill_length_mm"]}

    run = runner.run(_pipeline(broken))
    execution = run["Transform"]
    assert execution.state == "FAILED" and not execution.outputs
    assert "output 'ratio': Cannot apply '/' to column 'island', which is string" in execution.error


def test_transform_keeps_the_component_contract(tmp_path: Path) -> None:
    """check_component: outputs only in their folders, inputs untouched, byte-identical on a second run."""
    from sluiceway.testing import check_component

    frame = pl.read_csv(PENGUINS_CSV, null_values="NA")
    for split, part in (("train", frame.head(230)), ("eval", frame.tail(114))):
        (tmp_path / "examples" / f"Split-{split}").mkdir(parents=True)
        part.write_parquet(tmp_path / "examples" / f"Split-{split}" / "part-0.parquet", row_group_size=60)
    outputs = check_component(
        Transform, inputs={"examples": tmp_path / "examples"}, parameters={"preprocessing_fn": preprocessing_fn}
    )
    transformed = outputs["transformed_examples"]
    assert transformed.properties["row_counts"] == {"eval": 114, "train": 230}
    assert pl.from_arrow(transformed.read("eval")).height == 114


def test_the_analyzer_cache_parameter_fills_its_folder(runner: sw.LocalRunner, tmp_path: Path) -> None:
    run = runner.run(_pipeline(analyzer_cache=str(tmp_path / "analyzers")))
    assert run.succeeded, {k: v.error for k, v in run.executions.items()}
    assert len(list((tmp_path / "analyzers").rglob("*.pkl"))) == 3  # moments, vocabulary, quantiles of train


def test_post_transform_statistics_and_schema(runner: sw.LocalRunner) -> None:
    from sluiceway.data.schema import DataSchema as SchemaModel
    from sluiceway.data.statistics import load_statistics

    run = runner.run(_pipeline())
    assert run.succeeded, {k: v.error for k, v in run.executions.items()}
    statistics = run.output("Transform", "post_transform_statistics")
    result = load_statistics(statistics.file)
    assert result.split_names == ["train", "eval"] and statistics.report_file.is_file()
    train = next(d for d in result.datasets if d.name == "train")
    assert {f.name for f in train.features} == {"bill_length_z", "island_id", "mass_bucket", "flipper_ratio", "species"}
    schema = SchemaModel.from_yaml(run.output("Transform", "post_transform_schema").file)
    assert schema.feature("island_id").type == "int" and schema.feature("bill_length_z").type == "float"
    assert schema.feature("species").not_in_environment == ["SERVING"]  # the label: training only
    assert schema.feature("island_id").in_env("SERVING", schema.default_environment)

"""The statistics model: JSON written by earlier versions reads back byte for byte, bad files are
DataErrors naming the file, special floats survive, the public functions are importable and typed."""

from __future__ import annotations

import json
import math
import typing
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pydantic import ValidationError

from sluiceway.artifacts import ExampleStatistics
from sluiceway.data.statistics import (
    Bucket,
    DatasetStatistics,
    FeatureKind,
    FeatureStatistics,
    Histogram,
    NumericStats,
    StatisticsSet,
    TopValue,
    compute_statistics,
    load_statistics,
)
from sluiceway.errors import DataError

FIXTURE = Path(__file__).parent / "fixtures" / "statistics-format-1.json"
HEAD = '{"format": "sluiceway.statistics", "datasets": '
BAD_FEATURE = '{"name": "x", "type": "complex", "count": 1, "missing": 0}'


def _as_format_2(node: Any) -> Any:
    """A format-1 document as format 2 writes it: each ``quantiles`` list of {"rank", "value"} becomes
    ``quantile_values``, a list of the values, in the same place."""
    if isinstance(node, list):
        return [_as_format_2(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "quantiles" and isinstance(value, list):
            out["quantile_values"] = [q["value"] for q in value]
        elif key == "version":
            out[key] = 2
        else:
            out[key] = _as_format_2(value)
    return out


def test_a_file_written_by_format_1_reads_back_to_the_same_content_in_format_2(tmp_path: Path) -> None:
    # written by the dataclass model before the package split (penguins: slices, weights, a list)
    format_1 = FIXTURE.read_text(encoding="utf-8")
    text = json.dumps(_as_format_2(json.loads(format_1)), indent=1, allow_nan=False)
    stats = load_statistics(FIXTURE)
    assert [d.name for d in stats] == [
        "train", "train/island=Biscoe", "train/island=Dream", "train/island=Torgersen",
        "eval", "eval/island=Biscoe", "eval/island=Dream",
    ]
    train = stats["train"]
    assert train.feature("tags").type is FeatureKind.LIST and train.feature("tags").value_type is FeatureKind.STRING
    assert train.feature("species").string.top_values[0] == TopValue(value="Adelie", count=38.0)
    assert train.feature("bill_length_mm").numeric.weighted is not None
    assert stats.to_json() == text
    # the quantiles read back with the ranks format 1 wrote beside them
    old_bill = json.loads(format_1)["datasets"][0]["features"]
    old_bill = next(f for f in old_bill if f["name"] == "bill_length_mm")["numeric"]
    bill = train.feature("bill_length_mm").numeric
    assert [q.model_dump(mode="json") for q in bill.quantiles] == old_bill["quantiles"]
    assert [q.model_dump(mode="json") for q in bill.weighted.quantiles] == old_bill["weighted"]["quantiles"]
    (tmp_path / ExampleStatistics.FILENAME).write_text(text, encoding="utf-8")
    assert load_statistics(tmp_path) == stats  # an ExampleStatistics folder works too
    assert StatisticsSet.from_json(text) == stats
    assert StatisticsSet.from_json(format_1) == stats


def test_format_1_quantiles_at_uneven_ranks_are_a_data_error(tmp_path: Path) -> None:
    # format 2 keeps only the values, at ranks 0, 1/n, ..., 1: other ranks cannot be read silently
    quantiles = '[{"rank": 0.0, "value": 1}, {"rank": 0.3, "value": 2}, {"rank": 1.0, "value": 3}]'
    feature = '{"name": "x", "type": "int", "count": 3, "missing": 0, "numeric": {"quantiles": ' + quantiles + "}}"
    path = tmp_path / "statistics.json"
    path.write_text(HEAD + '[{"split": "t", "num_examples": 3, "features": [' + feature + "]}]}", encoding="utf-8")
    with pytest.raises(DataError, match=r"features/0/numeric.*quantile 1 has rank 0.3, expected 0.5") as info:
        load_statistics(path)
    assert str(path) in str(info.value)


def test_nan_and_infinity_travel_as_strings_in_strict_json() -> None:
    numeric = NumericStats(mean=1.0, std=0.5, min=-math.inf, median=1.0, max=math.inf, num_inf=2)
    feature = FeatureStatistics(name="x", type=FeatureKind.FLOAT, count=3, missing=0, numeric=numeric)
    stats = StatisticsSet((DatasetStatistics(split="train", num_examples=3, features=(feature,)),))
    text = stats.to_json()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert '"min": "-Infinity"' in text and '"max": "Infinity"' in text
    again = StatisticsSet.from_json(text).dataset("train").feature("x")
    assert again.numeric.min == -math.inf and again.numeric.max == math.inf
    assert again.value_type is FeatureKind.FLOAT  # defaults to the type


def test_models_are_frozen_and_validate_what_they_are_given() -> None:
    histogram = Histogram(kind="standard", buckets=(Bucket(low=0.0, high=1.0, count=1),))
    assert histogram.buckets[0].count == 1.0 and isinstance(histogram.buckets[0].count, float)
    with pytest.raises(ValidationError):
        histogram.kind = "quantiles"
    with pytest.raises(ValidationError):
        Bucket(low="low", high=1.0, count=1.0)
    dataset = DatasetStatistics(split="train", num_examples=0)
    assert StatisticsSet((dataset,)) == StatisticsSet(datasets=(dataset,))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (HEAD + '[{"split": "train"}]}', r"at datasets/0/num_examples: Field required"),
        (HEAD + '[{"split": "t", "num_examples": "many"}]}', "datasets/0/num_examples"),
        (HEAD + '[{"split": "t", "num_examples": 1, "features": [' + BAD_FEATURE + "]}]}", "features/0/type"),
        ('{"format": "something.else", "datasets": []}', "format 'something.else'"),
        ('{"format": "sluiceway.statistics", "version": 99, "datasets": []}', "version 99"),
        ('["not", "an", "object"]', "expected a JSON object"),
        ('{"format": "sluiceway.statistics", "datasets": [', "not valid JSON.*line 1"),
    ],
)
def test_a_file_that_is_not_statistics_is_a_data_error_naming_it(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "statistics.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=problem) as info:
        load_statistics(path)
    assert str(path) in str(info.value)
    with pytest.raises(DataError, match="not found"):
        load_statistics(tmp_path / "missing.json")


def test_public_functions_have_resolvable_type_hints() -> None:
    hints = typing.get_type_hints(compute_statistics)
    assert hints["return"] is StatisticsSet
    assert typing.get_type_hints(load_statistics)["return"] is StatisticsSet


def test_statistics_render_inline_in_notebooks() -> None:
    stats = compute_statistics(pa.table({"city": ["<b>Oslo</b>", "Rome", "Rome"], "n": [1, 2, 3]}))
    page = stats._repr_html_()
    assert "&lt;b&gt;Oslo&lt;/b&gt;" in page and "<b>Oslo</b>" not in page
    assert "<html" not in page and "<svg" in page  # a fragment for the notebook, not a whole page


@pytest.mark.parametrize("datasets", [0, 1, 2])
def test_streamed_json_is_the_same_bytes_as_the_whole_document(tmp_path: Path, datasets: int) -> None:
    stats = load_statistics(FIXTURE)
    chosen = StatisticsSet(stats.datasets[:datasets] + (DatasetStatistics(split="empty", num_examples=0),))
    whole = json.dumps(chosen.to_dict(), indent=1, allow_nan=False)
    assert chosen.to_json() == whole
    assert chosen.write_json(tmp_path / "s.json").read_text(encoding="utf-8") == whole
    assert load_statistics(tmp_path / "s.json") == chosen


def test_parts_keep_their_dict_form_and_a_mixed_pandas_column_is_a_data_error() -> None:
    import pandas as pd

    histogram = Histogram.from_dict({"kind": "standard", "buckets": [{"low": "-Infinity", "high": 1, "count": 2}]})
    assert histogram.buckets[0].low == -math.inf
    assert histogram.to_dict() == {"kind": "standard", "buckets": [{"low": "-Infinity", "high": 1.0, "count": 2.0}]}
    with pytest.raises(DataError, match="Give each column one type"):
        compute_statistics(pd.DataFrame({"a": [1, "x", 2.5]}))

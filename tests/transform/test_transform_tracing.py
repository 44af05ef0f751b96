"""preprocessing_fn mistakes fail at fit time with a DefinitionError that says what and where."""

from __future__ import annotations

import math

import numpy as np
import pytest
from transform_fixtures import fit_fn

import sluiceway.transform as T
from sluiceway.errors import DefinitionError


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (
            lambda i: {"x": i["bill_lenght_mm"]},
            r"inputs\['bill_lenght_mm'\].*no such column.*Did you mean 'bill_length_mm'",
        ),
        (
            lambda i: {"x": i["island"] / 2},
            r"Cannot apply '/' to column 'island', which is string.*compute_and_apply_vocabulary",
        ),
        (
            lambda i: {"x": i["bill_length_mm"] if i["bill_length_mm"] > 40 else 0},
            r"comparing column .bill_length_mm. \(==.*cannot be recorded",
        ),
        (
            lambda i: {"x": math.log(i["bill_length_mm"])},
            r"converting column 'bill_length_mm' to a Python number.*T.log1p",
        ),
        (lambda i: {"x": np.log(i["bill_length_mm"])}, r"numpy function 'log'.*T.log1p"),
        (lambda i: {"x": [v * 2 for v in i["bill_length_mm"]]}, r"iterating over column 'bill_length_mm'"),
        (lambda i: {"x": i["bill_length_mm"].apply(math.log)}, r"last input column read: 'bill_length_mm'.*apply"),
        (
            lambda i: {"x": 3.0},
            r"output 'x' is a float, not a transform expression.*arbitrary Python functions cannot be recorded",
        ),
        (
            lambda i: {"x": T.vocabulary(i["island"])},
            r"output 'x' is analyzer\(column 'island'\), a vocabulary and not a per-row value",
        ),
        (lambda i: [i["island"]], r"must return a non-empty dict .* Got list instead"),
        (
            lambda i: {"x": T.bucketize(i["bill_length_mm"], num_buckets=1)},
            r"'num_buckets' parameter of T.bucketize must be an int >= 2. Got 1",
        ),
        (lambda i: {"x": T.scale_by_min_max(i["body_mass_g"], 1.0, 0.0)}, r"output_min < output_max"),
        (
            lambda i: {"x": T.fill_missing(i["island"], 0)},
            r"fill_missing: the value 0 is int but column 'island' is string",
        ),
        (lambda i: {"x": T.apply_buckets(i["body_mass_g"], [3, 1])}, r"sorted list of numbers"),
    ],
)
def test_mistakes_are_definition_errors(penguins_file: str, fn, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        fit_fn(fn, [penguins_file])


# ---- every error names the output it concerns ------------------------------------------------------------


def _mass_bucket_of_a_string(inputs):
    return {
        "bill_z": T.scale_to_z_score(inputs["bill_length_mm"]),
        "mass_bucket": T.bucketize(inputs["island"], num_buckets=5),
    }


def _helper(column):  # a mistake made in a helper, far from the output's line
    return T.scale_to_z_score(column) * 2


def _through_a_helper(inputs):
    outputs = {name: _helper(inputs[name]) for name in ("bill_length_mm", "body_mass_g")}
    outputs["island_scaled"] = _helper(inputs["island"])
    return outputs


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (
            _mass_bucket_of_a_string,
            r"output 'mass_bucket': T.bucketize needs int or float values; got column 'island', which is string",
        ),
        (lambda i: {"a": i["bill_length_mm"], "x": i["bill_lenght_mm"] * 2}, r"output 'x': .*Did you mean"),
        (lambda i: {"x": i["island"] / 2, "y": i["sex"] * 3}, r"output 'x': Cannot apply '/' to column 'island'"),
        (lambda i: {"b": T.bucketize(i["body_mass_g"], num_buckets=1)}, r"output 'b': The 'num_buckets' parameter"),
        (lambda i: {"f": T.fill_missing(i["island"], 0)}, r"output 'f': T.fill_missing: the value 0 is int"),
        (lambda i: {"k": T.apply_buckets(i["body_mass_g"], [3, 1])}, r"output 'k': T.apply_buckets needs a sorted"),
        (
            lambda i: {"v": T.compute_and_apply_vocabulary(i["bill_length_mm"])},
            r"output 'v': T.vocabulary needs string or int values; got column 'bill_length_mm', which is float",
        ),
        (_through_a_helper, r"output 'island_scaled': T.scale_to_z_score needs int or float values"),
    ],
)
def test_builder_mistakes_name_their_output(penguins_file: str, fn, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        fit_fn(fn, [penguins_file])


def _condition_in_a_dict(inputs):
    return {
        "length": inputs["bill_length_mm"] * 1,
        "big": inputs["body_mass_g"] if inputs["body_mass_g"] > 4000 else 0,
    }


def _math_in_an_assignment(inputs):
    outputs = {"length": inputs["bill_length_mm"] * 1}
    outputs["logged"] = math.log(
        inputs["flipper_length_mm"],
    )
    return outputs


def _numpy_in_a_comprehension(inputs):
    return {f"{name}_log": np.log(inputs[name]) for name in ("bill_length_mm", "bill_depth_mm")}


def _user_code_failing(inputs):
    scale = {"bill_length_mm": 2.0}
    return {
        "length": inputs["bill_length_mm"] * scale["bill_length_mm"],
        "depth": inputs["bill_depth_mm"] * scale["bill_depth_mm"],
    }


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (_condition_in_a_dict, r"failed while building output 'big' \(last input column read: 'body_mass_g'\)"),
        (_math_in_an_assignment, r"failed while building output 'logged' .*converting column 'flipper_length_mm'"),
        (
            _numpy_in_a_comprehension,
            r"failed while building output ('bill_length_mm_log'|\"f'\{name\}_log'\").*numpy function 'log'",
        ),
        (_user_code_failing, r"failed while building output 'depth' .*: KeyError: 'bill_depth_mm'"),
    ],
)
def test_immediate_failures_name_the_output_from_the_source(penguins_file: str, fn, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        fit_fn(fn, [penguins_file])


def test_an_analyzer_without_values_names_its_outputs(tmp_path) -> None:
    import polars as pl

    from sluiceway.errors import DataError

    path = tmp_path / "nulls.parquet"
    pl.DataFrame({"x": [None, None], "y": [1.0, 2.0]}, schema={"x": pl.Float64, "y": pl.Float64}).write_parquet(path)
    with pytest.raises(DataError, match=r"Output 'x_z' and 'x_centered': the analyzer mean\(column 'x'\) saw no"):
        fit_fn(
            lambda i: {"y": i["y"] * 1, "x_z": T.scale_to_z_score(i["x"]), "x_centered": i["x"] - T.mean(i["x"])},
            [str(path)],
        )


def test_inputs_behave_as_a_mapping_of_the_columns(penguins_file: str) -> None:
    seen = {}

    def fn(inputs):
        seen.update(has_island="island" in inputs, has_typo="islnd" in inputs, default=inputs.get("islnd", 7))
        return {"x": inputs["bill_length_mm"] * 1}

    fit_fn(fn, [penguins_file])
    assert seen == {"has_island": True, "has_typo": False, "default": 7}


def test_a_file_unlike_the_first_names_the_outputs_it_breaks(tmp_path) -> None:
    import polars as pl

    from sluiceway.errors import DataError

    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pl.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]}).write_parquet(first)
    pl.DataFrame({"x": [5.0, 6.0]}).write_parquet(second)  # a later span lost column y
    with pytest.raises(DataError, match=r"Output\(s\) \['y_z'\]: the analyzers of column 'y' failed on .*b\.parquet"):
        fit_fn(
            lambda i: {"x_z": T.scale_to_z_score(i["x"]), "y_z": T.scale_to_z_score(i["y"])}, [str(first), str(second)]
        )

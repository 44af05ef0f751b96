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

"""Serving-time input: missing columns, wrong types, unknown categories and nulls."""

from __future__ import annotations

import pytest
from transform_fixtures import fit_fn

import sluiceway.transform as T
from sluiceway.errors import DataError


def fn(inputs):
    return {
        "mass_z": T.scale_to_z_score(inputs["body_mass_g"]),
        "island_oov": T.compute_and_apply_vocabulary(inputs["island"], num_oov_buckets=2),
        "island_default": T.compute_and_apply_vocabulary(inputs["island"], default_value=-7),
        "length": inputs["bill_length_mm"] * 1,
        "label": T.compute_and_apply_vocabulary(inputs["species"]),
    }


ROW = {"body_mass_g": 4000, "island": "Biscoe", "bill_length_mm": 40.5, "species": "Adelie"}


@pytest.fixture(scope="module")
def fitted(penguins_file: str):
    return fit_fn(fn, [penguins_file], serving={"species": False})


def test_unknown_category_goes_to_an_oov_bucket_or_the_default(fitted) -> None:
    out = fitted.transform({**ROW, "island": "Atlantis"})
    assert out["island_oov"] in (3, 4) and out["island_default"] == -7
    again = fitted.transform([{**ROW, "island": "Atlantis"}, {**ROW, "island": "Atlantis"}])
    assert again[0]["island_oov"] == again[1]["island_oov"] == out["island_oov"]  # a stable hash


def test_null_stays_null(fitted) -> None:
    out = fitted.transform({**ROW, "body_mass_g": None, "island": None})
    assert out["mass_z"] is None and out["island_oov"] is None and out["island_default"] is None


def test_a_column_absent_in_serving_may_be_missing_and_its_outputs_are_left_out(fitted) -> None:
    out = fitted.transform({k: v for k, v in ROW.items() if k != "species"})
    assert "label" not in out and set(out) == {"mass_z", "island_oov", "island_default", "length"}


def test_a_missing_serving_column_is_a_clear_error(fitted) -> None:
    with pytest.raises(
        DataError,
        match=r"lack column\(s\) the transform needs: 'island' \(needed by \['island_oov', 'island_default'\]\)",
    ):
        fitted.transform({k: v for k, v in ROW.items() if k != "island"})


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("body_mass_g", "heavy", r"Column 'body_mass_g' must hold int values .*got String such as 'heavy'"),
        ("body_mass_g", 4000.5, r"Column 'body_mass_g' must hold int values .*got Float64 such as 4000.5"),
        ("body_mass_g", float("nan"), r"Column 'body_mass_g' must hold int values .*got Float64 such as nan"),
        ("body_mass_g", 1e300, r"Column 'body_mass_g' must hold int values .*got Float64 such as 1e\+300"),
        ("island", 3, r"Column 'island' must hold string values .*got Int64 such as 3"),
        ("bill_length_mm", True, r"Column 'bill_length_mm' must hold float values .*got Boolean"),
    ],
)
def test_wrong_types_are_clear_errors(fitted, column: str, value: object, message: str) -> None:
    with pytest.raises(DataError, match=message):
        fitted.transform({**ROW, column: value})


def test_compatible_numbers_are_accepted(fitted) -> None:
    as_int = fitted.transform({**ROW, "bill_length_mm": 40})
    as_float = fitted.transform({**ROW, "body_mass_g": 4000.0, "bill_length_mm": 40.0})
    assert as_int == as_float and as_int["length"] == 40.0


def test_no_rows_give_no_rows(fitted) -> None:
    assert fitted.transform([]) == []

"""The small-input path (rows.py) gives exactly what the frame path gives: values, types, nulls, NaN and
errors, on every op, for thousands of seeded adversarial rows and for hypothesis-drawn numbers."""

from __future__ import annotations

import math
import random
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transform_fixtures import every_op, fit_fn, penguins_frame

import sluiceway.transform as T
from sluiceway.transform.rows import SMALL_ROWS, Fallback


def more_ops(inputs):
    """The corners of the scalar ops: int arithmetic, powers, division by zero, NaN-producing functions,
    fills across types, constant sub-expressions mixed with columns, int vocabularies, literal buckets."""
    year, mass, flipper = inputs["year"], inputs["body_mass_g"], inputs["flipper_length_mm"]
    length, depth = inputs["bill_length_mm"], inputs["bill_depth_mm"]
    return {
        "pow_half": depth**0.5,
        "pow_int": mass**2,
        "pow_negative": flipper**-1,
        "neg_int": -year,
        "int_arith": year * 3 - mass + 7,
        "div_zero": length / (year - 2008),
        "int_div": mass / flipper,
        "const_mix": year + (T.count(inputs["sex"]) + 1),
        "fill_column": T.fill_missing(length, depth),
        "fill_int": T.fill_missing(mass, 0),
        "fill_float_on_int": T.fill_missing(mass, 0.5),
        "fill_int_on_float": T.fill_missing(depth, 3),
        "log_exp": T.log1p(depth - 20) + T.exp(flipper / 10),
        "sqrt": T.sqrt(depth - 17),
        "abs": abs(year - 2008) + abs(length - 44.5),
        "year_oov": T.compute_and_apply_vocabulary(year, num_oov_buckets=3),
        "year_default": T.compute_and_apply_vocabulary(year, top_k=1, default_value=-2),
        "island_hash": T.hash_strings(inputs["island"], 7),
        "flat": T.scale_to_0_1(year * 0),
        "constant_output": T.count(inputs["island"]) + 1,
        "literal_buckets": T.apply_buckets(year, [2007.5, 2008.5]),
        "nested_z": T.scale_to_z_score(length / depth),
        "island_tfidf": T.tfidf(inputs["island"], top_k=3),
        "sex_filled": T.fill_missing(inputs["sex"], "unknown"),
        "label": T.compute_and_apply_vocabulary(inputs["species"]),
    }


@pytest.fixture(scope="module", params=["every_op", "more_ops"])
def fitted(request: pytest.FixtureRequest, penguins_file: str):
    fn = every_op if request.param == "every_op" else more_ops
    return fit_fn(fn, [penguins_file], serving={"species": False})


def same(left: Any, right: Any) -> bool:
    """Equal values of equal types; NaN equals NaN; 0.0 and -0.0 differ."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float):
        return (math.isnan(left) and math.isnan(right)) or (
            left == right and math.copysign(1.0, left) == math.copysign(1.0, right)
        )
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


def outcome(call) -> tuple[str, Any]:
    try:
        return "value", call()
    except Exception as exc:  # the errors are compared: their type and message must be the same
        return type(exc).__name__, str(exc)


FLOATS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324, 17.0, 20.0, -1.0, 2008.0]
INTS = [0, -1, 2007, 2008, 2009, 4000, 2**62, 2**63, -(2**63), 6300, 172, 0]
STRINGS = ["Biscoe", "Dream", "Torgersen", "Atlantis", "", "Biscoe Dream  Biscoe", "a\x1cb", "Dream\u2003Biscoe"]
STRINGS += ["\u0085Dream", "Torgersen\u00a0Torgersen", "Dréam", "MALE", "male", "female"]


def _float(rng: random.Random, mean: float) -> Any:
    pick = rng.random()
    if pick < 0.55:
        return round(rng.gauss(mean, mean / 5), rng.choice([1, 2, 6, 12]))
    if pick < 0.7:
        return rng.choice(FLOATS)
    if pick < 0.8:
        return rng.choice([None, int(mean), -int(mean), 0])  # ints in a float column
    return rng.choice([None, "long", True]) if pick > 0.97 else None


def _int(rng: random.Random, mean: int) -> Any:
    pick = rng.random()
    if pick < 0.6:
        return int(rng.gauss(mean, mean / 10 + 1))
    if pick < 0.75:
        return rng.choice(INTS)
    if pick < 0.85:
        return rng.choice([float(mean), float(mean) + 0.5, math.nan, 1e300])  # floats in an int column
    return rng.choice([None, "2008", False]) if pick > 0.97 else None


def _string(rng: random.Random) -> Any:
    pick = rng.random()
    if pick < 0.85:
        return rng.choice(STRINGS)
    return rng.choice([None, 3, 2.5]) if pick > 0.97 else None


def random_row(rng: random.Random) -> dict[Any, Any]:
    row: dict[Any, Any] = {
        "species": rng.choice(["Adelie", "Gentoo", "Chinstrap", "Unknown"]),
        "island": _string(rng),
        "bill_length_mm": _float(rng, 44.0),
        "bill_depth_mm": _float(rng, 17.0),
        "flipper_length_mm": _int(rng, 200),
        "body_mass_g": _int(rng, 4200),
        "sex": rng.choice(["male", "female", None]),
        "year": _int(rng, 2008),
    }
    if rng.random() < 0.05:
        del row[rng.choice(list(row))]  # a missing column: the label is allowed, the others are errors
    if rng.random() < 0.03:
        row[rng.choice(["comment", 7])] = rng.choice([[1, 2], "x", {"a": 1}])  # extra columns, odd keys
    return row


def test_one_row_equals_the_frame_path_on_thousands_of_seeded_rows(fitted) -> None:
    rng = random.Random(20261130)
    program = fitted._row_program()
    assert program is not None  # every op compiles: nothing silently falls back to the frame path
    row_path_used = 0
    for _ in range(1500):
        row = random_row(rng)
        expected = outcome(lambda row=row: fitted._transform_as_frame(row))
        got = outcome(lambda row=row: fitted.transform(row))
        assert got[0] == expected[0] and same(got[1], expected[1]), (row, got, expected)
        try:
            program.run([row])
            row_path_used += 1
        except (Fallback, Exception):  # counted: most rows must take the row path
            pass
    assert row_path_used > 600  # the others are rows the frame path refuses, or overflows


def test_lists_of_rows_equal_the_frame_path(fitted) -> None:
    rng = random.Random(7)
    for _ in range(600):
        rows = [random_row(rng) for _ in range(rng.choice([1, 2, 3, 5, 8]))]
        expected = outcome(lambda rows=rows: fitted._transform_as_frame(rows))
        got = outcome(lambda rows=rows: fitted.transform(rows))
        assert got[0] == expected[0] and same(got[1], expected[1]), (rows, got, expected)


def test_every_training_row_equals_the_frame_path(fitted) -> None:
    rows = penguins_frame().to_dicts()
    expected = fitted._transform_as_frame(rows)
    for row, want in zip(rows, expected, strict=True):
        assert same(fitted.transform(row), want)
    assert same(fitted.transform(rows[:SMALL_ROWS]), expected[:SMALL_ROWS])


def test_the_row_path_is_taken_for_clean_rows(fitted) -> None:
    rows = [r for r in penguins_frame().to_dicts() if None not in r.values()]
    assert fitted._row_program().run(rows[:10])  # no Fallback


numbers = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(min_value=-(2**64), max_value=2**64),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(length=numbers, depth=numbers, flipper=numbers, mass=numbers, year=numbers, island=st.text(max_size=12))
def test_drawn_numbers_give_the_same_result_on_both_paths(
    fitted, length: Any, depth: Any, flipper: Any, mass: Any, year: Any, island: str
) -> None:
    row = {
        "species": "Adelie",
        "island": island,
        "bill_length_mm": length,
        "bill_depth_mm": depth,
        "flipper_length_mm": flipper,
        "body_mass_g": mass,
        "sex": "male",
        "year": year,
    }
    expected = outcome(lambda: fitted._transform_as_frame(row))
    got = outcome(lambda: fitted.transform(row))
    assert got[0] == expected[0] and same(got[1], expected[1]), (got, expected)


def frame_outcome(call) -> tuple[str, Any]:
    kind, value = outcome(call)
    return (kind, (value.schema, value.to_dicts())) if kind == "value" else (kind, value)


def test_small_polars_frames_equal_the_frame_path(fitted) -> None:
    from sluiceway.transform.graph import _rows_to_frame

    rng = random.Random(11)
    frames = [penguins_frame().head(n) for n in (1, 3, SMALL_ROWS)]
    frames.append(penguins_frame().head(2).with_columns(pl.col("bill_length_mm").cast(pl.Float32)))
    frames.append(penguins_frame().head(2).with_columns(pl.col("body_mass_g").cast(pl.Int32)))
    frames.append(penguins_frame().head(2).with_columns(pl.col("flipper_length_mm").cast(pl.Float64)))
    frames.append(penguins_frame().head(2).with_columns(pl.col("bill_depth_mm").cast(pl.Int64)))
    frames.append(penguins_frame().head(2).with_columns(pl.lit(None).alias("island")))
    frames.append(penguins_frame().head(2).with_columns(pl.col("island").cast(pl.Categorical)))
    frames.append(penguins_frame().head(2).drop("species"))
    while len(frames) < 400:
        try:
            frames.append(_rows_to_frame([random_row(rng) for _ in range(rng.choice([1, 2, 4]))]))
        except Exception:  # rows the frame path itself cannot read are covered by the dict tests
            continue
    taken = 0
    for frame in frames:
        expected = frame_outcome(lambda frame=frame: fitted._transform_as_frame(frame))
        got = frame_outcome(lambda frame=frame: fitted.transform(frame))
        assert got[0] == expected[0], (frame, got, expected)
        if got[0] == "value":
            assert got[1][0] == expected[1][0] and same(got[1][1], expected[1][1]), (frame, got, expected)
        try:
            fitted._row_program().run_frame(frame)
            taken += 1
        except Exception:  # counted below: most frames must take the row path
            pass
    assert taken > 150


def test_a_fitted_transform_still_pickles_after_the_row_path_ran(fitted) -> None:
    import pickle

    row = penguins_frame().row(0, named=True)
    before = fitted.transform(row)
    copy = pickle.loads(pickle.dumps(fitted))  # closures are not pickled: recompiled on first use
    assert same(copy.transform(row), before) and copy._row_program() is not None

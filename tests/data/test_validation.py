"""validate_statistics: every anomaly kind, environments, drift and skew on real and generated data."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from palmerpenguins import load_penguins

from sluiceway.data.schema import Comparator, Feature, Presence, Range, DataSchema, ValueCount, infer_schema
from sluiceway.data.statistics import DatasetStatistics, StatisticsSet, compute_statistics
from sluiceway.data.validation import (
    ANOMALY_KINDS,
    DEFAULT_INFINITY_NORM_THRESHOLD,
    DEFAULT_KS_THRESHOLD,
    Anomalies,
    validate_statistics,
)
from sluiceway.errors import DataError, DefinitionError

# ---------------------------------------------------------------------------------------------------
# Statistics computed by StatisticsGen's function, from pandas frames or plain columns
# ---------------------------------------------------------------------------------------------------


def dataset_stats(columns: dict[str, list], split: str = "train") -> DatasetStatistics:
    """Statistics of plain Python columns (None is null, float("nan") stays NaN, lists are list features)."""
    table = pa.table({name: pa.array(values, from_pandas=False) for name, values in columns.items()})
    return compute_statistics(table, default_split=split)[split]


def stats_of(df: pd.DataFrame, split: str = "train") -> StatisticsSet:
    """Statistics of a pandas frame (NaN in a float column is a missing value, as pyarrow reads it)."""
    return compute_statistics(df, default_split=split)


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    return load_penguins()


@pytest.fixture(scope="module")
def penguin_schema(penguins: pd.DataFrame) -> DataSchema:
    return infer_schema(stats_of(penguins), label="species")


# ---------------------------------------------------------------------------------------------------
# Clean data
# ---------------------------------------------------------------------------------------------------


def test_the_data_a_schema_was_inferred_from_has_no_anomalies(penguins, penguin_schema):
    anomalies = validate_statistics(stats_of(penguins), penguin_schema)
    assert len(anomalies) == 0
    assert not anomalies
    assert not anomalies.blocking


def test_every_kind_has_a_short_and_a_long_description():
    for kind, (short, long) in ANOMALY_KINDS.items():
        assert short and long and kind.isupper()


# ---------------------------------------------------------------------------------------------------
# One test per anomaly kind
# ---------------------------------------------------------------------------------------------------


def test_missing_column(penguins, penguin_schema):
    anomalies = validate_statistics(stats_of(penguins.drop(columns=["island"])), penguin_schema)
    assert anomalies.kinds() == {"SCHEMA_MISSING_COLUMN"}
    (anomaly,) = anomalies.anomalies
    assert anomaly.feature == "island" and anomaly.split == "train" and anomaly.blocking
    assert anomaly.short_description == "Column dropped"


def test_new_column(penguins, penguin_schema):
    data = penguins.assign(ring_id=[f"r{i % 7}" for i in range(len(penguins))])
    anomalies = validate_statistics(stats_of(data), penguin_schema)
    assert anomalies.kinds() == {"SCHEMA_NEW_COLUMN"}
    assert anomalies.anomalies[0].feature == "ring_id"


def test_unexpected_data_type(penguins, penguin_schema):
    data = penguins.assign(year=penguins["year"].astype(str))
    anomalies = validate_statistics(stats_of(data), penguin_schema)
    assert anomalies.kinds() == {"UNEXPECTED_DATA_TYPE"}
    anomaly = anomalies.anomalies[0]
    assert (anomaly.expected, anomaly.actual) == ("int", "string")
    assert "Expected data of type int but got string" in anomaly.description


def test_int_data_in_a_float_feature_is_accepted(penguins, penguin_schema):
    data = penguins.dropna().assign(body_mass_g=lambda d: d["body_mass_g"].astype(int))
    assert "UNEXPECTED_DATA_TYPE" not in validate_statistics(stats_of(data), penguin_schema).kinds()


def test_unexpected_string_values_carry_fraction_and_examples(penguins, penguin_schema):
    data = penguins.copy()
    data.loc[:9, "island"] = "Anvers"
    data.loc[10:12, "island"] = "Petermann"
    anomalies = validate_statistics(stats_of(data), penguin_schema)
    assert anomalies.kinds() == {"ENUM_TYPE_UNEXPECTED_STRING_VALUES"}
    anomaly = anomalies.anomalies[0]
    assert anomaly.feature == "island"
    assert anomaly.unexpected_values == ["Anvers", "Petermann"]
    assert anomaly.unexpected_fraction == pytest.approx(13 / len(data))
    assert "'Anvers'" in anomaly.description and "3.78%" in anomaly.description


def test_min_domain_mass_tolerates_a_few_unexpected_values(penguins, penguin_schema):
    schema = penguin_schema.model_copy(deep=True)
    schema.feature("island").min_domain_mass = 0.95
    data = penguins.copy()
    data.loc[:9, "island"] = "Anvers"  # 2.9 %
    assert not validate_statistics(stats_of(data), schema)
    data.loc[:29, "island"] = "Anvers"  # 8.7 %
    assert validate_statistics(stats_of(data), schema).kinds() == {"ENUM_TYPE_UNEXPECTED_STRING_VALUES"}


def test_low_fraction_present(penguins, penguin_schema):
    data = penguins.copy()
    data.loc[:33, "island"] = None
    anomalies = validate_statistics(stats_of(data), penguin_schema)
    assert anomalies.kinds() == {"FEATURE_TYPE_LOW_FRACTION_PRESENT"}
    assert anomalies.anomalies[0].expected == 1.0
    assert anomalies.anomalies[0].actual == pytest.approx(310 / 344, abs=1e-6)


def test_low_number_present(penguins):
    schema = DataSchema(features=[Feature(name="sex", type="string", presence=Presence(min_count=400))])
    anomalies = validate_statistics(stats_of(penguins[["sex"]]), schema)
    assert anomalies.kinds() == {"FEATURE_TYPE_LOW_NUMBER_PRESENT"}
    assert anomalies.anomalies[0].actual == 333


def test_an_all_null_column_is_judged_by_presence_not_type(penguins, penguin_schema):
    data = penguins.assign(island=None)
    assert validate_statistics(stats_of(data), penguin_schema).kinds() == {
        "FEATURE_TYPE_LOW_FRACTION_PRESENT",
        "FEATURE_TYPE_LOW_NUMBER_PRESENT",
    }


def test_nan_and_inf(penguins, penguin_schema):
    table = pa.Table.from_pandas(penguins)
    def column(name: str) -> list:
        return [None if pd.isna(v) else v for v in penguins[name]]

    depth = [math.nan] * 3 + column("bill_depth_mm")[3:]
    flipper = [math.inf, -math.inf] + column("flipper_length_mm")[2:]
    for name, values in (("bill_depth_mm", depth), ("flipper_length_mm", flipper)):
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(values, from_pandas=False))
    stats = compute_statistics(table, default_split="train")
    anomalies = validate_statistics(stats, penguin_schema)
    assert {(a.feature, a.kind, a.actual) for a in anomalies.anomalies} == {
        ("bill_depth_mm", "FLOAT_TYPE_HAS_NAN", 3),
        ("flipper_length_mm", "FLOAT_TYPE_HAS_INF", 2),
    }
    allowed = penguin_schema.model_copy(deep=True)
    allowed.feature("bill_depth_mm").allow_nan = True
    allowed.feature("flipper_length_mm").allow_inf = True
    assert not validate_statistics(stats, allowed)


def test_ranges_are_off_by_default_and_checked_when_set(penguins):
    big = penguins.assign(body_mass_g=penguins["body_mass_g"] * 10, year=penguins["year"] - 10)
    assert not validate_statistics(stats_of(big), infer_schema(stats_of(penguins)))
    schema = infer_schema(stats_of(penguins), infer_ranges=True)
    assert schema.feature("year").range == Range(min=2007, max=2009)
    assert not validate_statistics(stats_of(penguins), schema)
    anomalies = validate_statistics(stats_of(big), schema)
    assert {(a.feature, a.kind) for a in anomalies.anomalies} == {
        ("body_mass_g", "FLOAT_TYPE_BIG_FLOAT"),
        ("year", "INT_TYPE_SMALL_INT"),
    }
    small = penguins.assign(body_mass_g=penguins["body_mass_g"] / 10, year=penguins["year"] + 10)
    assert validate_statistics(stats_of(small), schema).kinds() == {"FLOAT_TYPE_SMALL_FLOAT", "INT_TYPE_BIG_INT"}


def test_value_counts_of_list_features():
    rng = np.random.default_rng(0)
    tags = [[f"t{j}" for j in rng.integers(0, 5, size=rng.integers(1, 4))] for _ in range(200)]
    stats = StatisticsSet((dataset_stats({"tags": tags}),))
    schema = infer_schema(stats, infer_value_count_max=True)
    feature = schema.feature("tags")
    assert feature.type == "string" and feature.value_count == ValueCount(min=1, max=3)
    assert feature.domain == ["t0", "t1", "t2", "t3", "t4"]
    assert not validate_statistics(stats, schema)
    longer = [t + ["t0"] * 3 for t in tags[:10]] + [[] for _ in range(5)] + tags[15:]
    anomalies = validate_statistics(StatisticsSet((dataset_stats({"tags": longer}),)), schema)
    assert anomalies.kinds() == {"FEATURE_TYPE_LOW_NUMBER_VALUES", "FEATURE_TYPE_HIGH_NUMBER_VALUES"}
    assert {a.kind: a.actual for a in anomalies.anomalies} == {
        "FEATURE_TYPE_LOW_NUMBER_VALUES": 0,
        "FEATURE_TYPE_HIGH_NUMBER_VALUES": 6,
    }


def test_dataset_example_counts(penguins, penguin_schema):
    schema = penguin_schema.model_copy(update={"min_examples_count": 400, "max_examples_count": 1000})
    low = validate_statistics(stats_of(penguins), schema)
    assert low.kinds() == {"DATASET_LOW_NUM_EXAMPLES"} and low.anomalies[0].feature is None
    schema = penguin_schema.model_copy(update={"max_examples_count": 100})
    assert validate_statistics(stats_of(penguins), schema).kinds() == {"DATASET_HIGH_NUM_EXAMPLES"}
    # the inferred schema wants at least one example: an empty span is an anomaly
    empty = StatisticsSet((DatasetStatistics(split="train", num_examples=0),))
    assert validate_statistics(empty, penguin_schema).kinds() == {"DATASET_LOW_NUM_EXAMPLES"}


def test_deprecated_features_are_not_checked(penguins, penguin_schema):
    schema = penguin_schema.model_copy(deep=True)
    schema.feature("island").deprecated = True
    assert not validate_statistics(stats_of(penguins.drop(columns=["island"])), schema)


# ---------------------------------------------------------------------------------------------------
# Environments
# ---------------------------------------------------------------------------------------------------


def test_label_absent_in_serving_is_fine_but_not_in_training(penguins, penguin_schema):
    serving = stats_of(penguins.drop(columns=["species"]), split="serving")
    assert not validate_statistics(serving, penguin_schema, environment="SERVING")
    training = validate_statistics(serving, penguin_schema, environment="TRAINING")
    assert training.kinds() == {"SCHEMA_MISSING_COLUMN"} and training.anomalies[0].feature == "species"
    assert validate_statistics(serving, penguin_schema).kinds() == {"SCHEMA_MISSING_COLUMN"}


def test_an_unknown_environment_is_refused(penguins, penguin_schema):
    with pytest.raises(DefinitionError, match="environment 'SERVNG'.*knows \\['SERVING', 'TRAINING'\\]"):
        validate_statistics(stats_of(penguins), penguin_schema, environment="SERVNG")


def test_in_environment_restricts_a_feature():
    schema = DataSchema(
        default_environment=["TRAINING", "SERVING"],
        features=[
            Feature(name="x", type="int", presence=Presence(min_count=1)),
            Feature(name="request_id", type="string", presence=Presence(min_count=1), in_environment=["SERVING"]),
        ],
    )
    stats = StatisticsSet((dataset_stats({"x": [1, 2, 3]}),))
    assert not validate_statistics(stats, schema, environment="TRAINING")
    assert validate_statistics(stats, schema, environment="SERVING").kinds() == {"SCHEMA_MISSING_COLUMN"}


# ---------------------------------------------------------------------------------------------------
# Drift and skew
# ---------------------------------------------------------------------------------------------------


def _resample(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    return df.sample(n=len(df), replace=True, random_state=seed).reset_index(drop=True)


def test_an_iid_resample_does_not_drift(penguins, penguin_schema):
    baseline = stats_of(penguins)
    for seed in range(10):
        anomalies = validate_statistics(stats_of(_resample(penguins, seed)), penguin_schema, baseline=baseline)
        assert not anomalies, [a.description for a in anomalies.anomalies]
        # every feature of the schema was compared, with the documented defaults
        compared = {c.feature: c for c in anomalies.comparisons}
        assert set(compared) == {f.name for f in penguin_schema.features}
        assert compared["island"].method == "infinity_norm"
        assert compared["island"].threshold == DEFAULT_INFINITY_NORM_THRESHOLD
        assert compared["body_mass_g"].method == "ks_distance"
        assert compared["body_mass_g"].threshold == DEFAULT_KS_THRESHOLD
        assert all(c.threshold_source == "default" and c.score is not None for c in compared.values())


def test_a_shifted_numeric_column_is_caught_by_a_baseline_alone(penguins, penguin_schema):
    shifted = penguins.assign(body_mass_g=penguins["body_mass_g"] + 2 * penguins["body_mass_g"].std())
    anomalies = validate_statistics(stats_of(shifted), penguin_schema, baseline=stats_of(penguins))
    assert {(a.feature, a.kind) for a in anomalies.anomalies} == {("body_mass_g", "COMPARATOR_KS_DISTANCE_HIGH")}
    verdict = anomalies.anomalies[0].comparison
    assert verdict is not None and verdict.kind == "drift" and not verdict.passed and verdict.verdict == "drifted"
    assert verdict.method == "ks_distance" and verdict.threshold == DEFAULT_KS_THRESHOLD and verdict.score > 0.6
    assert verdict.num_reference == verdict.num_current == penguins["body_mass_g"].notna().sum()
    assert verdict.score > verdict.noise_bound > 0
    assert "quantiles" in verdict.binning
    assert "current and previous" in anomalies.anomalies[0].short_description
    # a third of a standard deviation is caught too on 342 values (KS about 0.13, noise bound about 0.15
    # would not be; half a standard deviation scores about 0.2)
    half = penguins.assign(body_mass_g=penguins["body_mass_g"] + penguins["body_mass_g"].std() / 2)
    assert validate_statistics(stats_of(half), penguin_schema, baseline=stats_of(penguins)).kinds() == {
        "COMPARATOR_KS_DISTANCE_HIGH"
    }


def test_a_reweighted_categorical_is_caught_by_a_baseline_alone(penguins, penguin_schema):
    # keep every Biscoe penguin, drop half of the others: Biscoe goes from 49 % to about 66 %
    rng = np.random.default_rng(1)
    keep = (penguins["island"] == "Biscoe") | (rng.random(len(penguins)) < 0.5)
    anomalies = validate_statistics(stats_of(penguins[keep]), penguin_schema, baseline=stats_of(penguins))
    by_feature = {a.feature: a for a in anomalies.anomalies}
    assert by_feature["island"].kind == "COMPARATOR_L_INFTY_HIGH"
    verdict = by_feature["island"].comparison
    assert verdict.value == "Biscoe" and verdict.score == pytest.approx(
        (keep & (penguins["island"] == "Biscoe")).sum() / keep.sum() - (penguins["island"] == "Biscoe").mean()
    )


def test_schema_thresholds_override_the_defaults(penguins, penguin_schema):
    schema = penguin_schema.model_copy(deep=True)
    schema.feature("island").drift_comparator = Comparator(infinity_norm=0.001)
    schema.feature("body_mass_g").drift_comparator = Comparator(ks_distance=0.9)
    shifted = _resample(penguins, 3).assign(body_mass_g=lambda d: d["body_mass_g"] + 500)
    anomalies = validate_statistics(stats_of(shifted), schema, baseline=stats_of(penguins))
    assert not anomalies  # 500 g is over the default KS threshold, not over the schema's 0.9
    verdicts = {c.feature: c for c in anomalies.comparisons}
    assert verdicts["body_mass_g"].threshold == 0.9 and verdicts["body_mass_g"].verdict == "passed"
    assert verdicts["body_mass_g"].score > DEFAULT_KS_THRESHOLD
    # a resample's island frequencies move by more than 0.001, but well within the noise of 344 rows
    island = verdicts["island"]
    assert island.threshold == 0.001 and island.threshold_source == "schema"
    assert island.score > 0.001 and island.verdict == "too_few_rows" and "too few rows" in island.note


def test_without_default_comparators_only_configured_features_are_compared(penguins, penguin_schema):
    shifted = penguins.assign(body_mass_g=penguins["body_mass_g"] + 1000)
    anomalies = validate_statistics(
        stats_of(shifted), penguin_schema, baseline=stats_of(penguins), default_comparators=False
    )
    assert not anomalies and not anomalies.comparisons


def test_training_serving_skew(penguins, penguin_schema):
    training = stats_of(penguins)
    serving_df = _resample(penguins.drop(columns=["species"]), 7)
    serving = stats_of(serving_df, split="serving")
    clean = validate_statistics(training, penguin_schema, serving=serving)
    assert not clean
    assert {c.kind for c in clean.comparisons} == {"skew"}
    species = {c.feature: c for c in clean.comparisons}["species"]
    assert species.score is None and "serving" in species.note  # the label is not served
    skewed = stats_of(serving_df.assign(sex="female"), split="serving")
    anomalies = validate_statistics(training, penguin_schema, serving=skewed)
    (anomaly,) = anomalies.anomalies
    assert anomaly.kind == "COMPARATOR_L_INFTY_HIGH" and anomaly.feature == "sex"
    assert "training and serving" in anomaly.short_description


def test_bool_features_compare_their_true_fraction():
    rng = np.random.default_rng(2)
    base = StatisticsSet((dataset_stats({"flag": [bool(v) for v in rng.random(500) < 0.3]}),))
    schema = infer_schema(base)
    assert schema.feature("flag").type == "bool"
    same = StatisticsSet((dataset_stats({"flag": [bool(v) for v in rng.random(500) < 0.3]}),))
    more = StatisticsSet((dataset_stats({"flag": [bool(v) for v in rng.random(500) < 0.6]}),))
    assert not validate_statistics(same, schema, baseline=base)
    assert validate_statistics(more, schema, baseline=base).kinds() == {"COMPARATOR_L_INFTY_HIGH"}


def test_generated_normal_data_drift_and_no_drift():
    rng = np.random.default_rng(3)
    base = StatisticsSet((dataset_stats({"x": list(rng.normal(0, 1, 5000))}),))
    schema = infer_schema(base)
    same = StatisticsSet((dataset_stats({"x": list(rng.normal(0, 1, 5000))}),))
    wider = StatisticsSet((dataset_stats({"x": list(rng.normal(0, 3, 5000))}),))
    assert not validate_statistics(same, schema, baseline=base)
    assert validate_statistics(wider, schema, baseline=base).kinds() == {"COMPARATOR_KS_DISTANCE_HIGH"}
    # a schema that asks for TFDV's JSD gets it, with its own noise bound
    schema.feature("x").drift_comparator = Comparator(jensen_shannon_divergence=0.05)
    verdicts = validate_statistics(wider, schema, baseline=base)
    assert verdicts.kinds() == {"COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"}
    assert [c.method for c in verdicts.comparisons] == ["jensen_shannon_divergence"]
    assert not validate_statistics(same, schema, baseline=base)


def test_every_split_is_validated_and_compared_with_its_namesake(penguins, penguin_schema):
    train, evaluation = penguins.iloc[::2], penguins.iloc[1::2]
    current = compute_statistics({"train": train, "eval": evaluation.drop(columns=["sex"])})
    baseline = compute_statistics({"train": train, "eval": evaluation})
    anomalies = validate_statistics(current, penguin_schema, baseline=baseline)
    assert anomalies.splits == ["train", "eval"]
    assert {(a.split, a.feature, a.kind) for a in anomalies.anomalies} == {("eval", "sex", "SCHEMA_MISSING_COLUMN")}
    train_verdicts = [c for c in anomalies.comparisons if c.split == "train"]
    assert train_verdicts and all(c.score == 0 for c in train_verdicts if c.score is not None)
    only_train = validate_statistics(current, penguin_schema, split="train")
    assert only_train.splits == ["train"] and not only_train
    with pytest.raises(DataError, match="no split 'test'"):
        validate_statistics(current, penguin_schema, split="test")


# ---------------------------------------------------------------------------------------------------
# The Anomalies model
# ---------------------------------------------------------------------------------------------------


def test_anomalies_round_trip_through_json(tmp_path, penguins, penguin_schema):
    data = penguins.drop(columns=["island"]).assign(body_mass_g=penguins["body_mass_g"] + 2000)
    anomalies = validate_statistics(stats_of(data), penguin_schema, baseline=stats_of(penguins))
    assert len(anomalies) == 2
    text = anomalies.to_json(tmp_path / "anomalies.json")
    assert json.loads(text)["format"] == "sluiceway.anomalies"
    assert Anomalies.from_json(tmp_path) == anomalies
    assert Anomalies.from_json(text) == anomalies
    assert Anomalies.from_dict(anomalies.to_dict()) == anomalies
    with pytest.raises(DataError, match="not found"):
        Anomalies.from_json(tmp_path / "missing.json")
    for garbage in ("{not json", '{"anomalies": 3}', "[1, 2]"):
        (tmp_path / "bad.json").write_text(garbage)
        with pytest.raises(DataError, match="bad.json is not a Sluiceway anomalies file"):
            Anomalies.from_json(tmp_path / "bad.json")


def test_anomalies_written_before_verdicts_existed_still_load():
    old = {
        "format": "sluiceway.anomalies", "version": 1, "splits": ["train"], "environment": None, "anomalies": [],
        "comparisons": [
            {"feature": "x", "split": "train", "kind": "drift", "method": "jensen_shannon_divergence", "score": 0.3,
             "threshold": 0.1, "threshold_source": "default", "passed": False, "binning": "10 bins", "value": None,
             "note": None},
            {"feature": "c", "split": "train", "kind": "drift", "method": "infinity_norm", "score": 0.01,
             "threshold": 0.1, "threshold_source": "default", "passed": True, "binning": None, "value": "a",
             "note": None},
        ],
    }
    loaded = Anomalies.from_dict(old)
    assert [c.verdict for c in loaded.comparisons] == ["drifted", "passed"]
    assert loaded.comparisons[0].noise_bound is None


def test_warning_kinds_do_not_block(penguins, penguin_schema):
    data = penguins.assign(ring_id="x")
    schema = penguin_schema.model_copy(update={"warning_kinds": ["SCHEMA_NEW_COLUMN"]})
    anomalies = validate_statistics(stats_of(data), schema)
    assert len(anomalies) == 1 and anomalies.anomalies[0].severity == "warning"
    assert not anomalies.blocking and anomalies.blocking_anomalies == []
    assert validate_statistics(stats_of(data), penguin_schema).blocking
    with pytest.raises(DefinitionError, match="SCHEMA_NEW_COLUMNS"):
        validate_statistics(stats_of(data), penguin_schema.model_copy(update={"warning_kinds": ["SCHEMA_NEW_COLUMNS"]}))


def test_statistics_json_round_trip_gives_the_same_verdicts(penguins, penguin_schema):
    current = stats_of(penguins.assign(body_mass_g=penguins["body_mass_g"] + 700))
    baseline = StatisticsSet.from_json(stats_of(penguins).to_json())
    direct = validate_statistics(current, penguin_schema, baseline=stats_of(penguins))
    assert validate_statistics(StatisticsSet.from_json(current.to_json()), penguin_schema, baseline=baseline) == direct


def test_inference_and_validation_take_milliseconds(penguins):
    """Measured, not asserted (timing assertions are flaky): printed with ``-s``."""
    current, baseline = stats_of(_resample(penguins, 5)), stats_of(penguins)
    runs = []
    for _ in range(20):
        start = time.perf_counter()
        schema = infer_schema(baseline, label="species")
        validate_statistics(current, schema, baseline=baseline)
        runs.append(time.perf_counter() - start)
    print(f"\ninfer_schema + validate_statistics with baseline (8 features): median {np.median(runs) * 1000:.2f} ms")


def test_datetime_features_are_compared_only_with_an_explicit_comparator():
    days = pd.date_range("2024-01-01", periods=300, freq="D")
    span_1 = pd.DataFrame({"pickup_time": days, "fare": np.linspace(5, 50, 300)})
    span_2 = span_1.assign(pickup_time=days + pd.Timedelta(days=300))  # the next span: later, naturally
    baseline, current = stats_of(span_1), stats_of(span_2)
    schema = infer_schema(baseline)
    assert schema.feature("pickup_time").type == "datetime"
    anomalies = validate_statistics(current, schema, baseline=baseline)
    assert not anomalies and {c.feature for c in anomalies.comparisons} == {"fare"}
    schema.feature("pickup_time").drift_comparator = Comparator(jensen_shannon_divergence=0.1)
    anomalies = validate_statistics(current, schema, baseline=baseline)
    assert anomalies.kinds("pickup_time") == {"COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH"}

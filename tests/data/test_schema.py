"""Schema: inference from statistics, the curated YAML form, and TFDV schema.pbtxt import/export."""

from __future__ import annotations

import logging
import textwrap

import pandas as pd
import pytest
from palmerpenguins import load_penguins
from test_validation import dataset_stats, stats_of

from sluiceway.data.schema import (
    SERVING,
    TRAINING,
    Comparator,
    Feature,
    Presence,
    Range,
    DataSchema,
    ValueCount,
    infer_schema,
)
from sluiceway.data.statistics import StatisticsSet
from sluiceway.data.validation import validate_statistics
from sluiceway.errors import DataError, DefinitionError

TFDV_SCHEMA = r"""
# A schema as TFDV writes it (infer_schema, then curated), with the text-format variants people use.
feature {
  name: "species"
  type: BYTES
  domain: "species"
  presence {
    min_fraction: 1.0
    min_count: 1
  }
  shape {
    dim {
      size: 1
    }
  }
  not_in_environment: "SERVING"
  skew_comparator {
    infinity_norm {
      threshold: 0.01
    }
  }
}
feature {
  name: "island"
  type: BYTES
  string_domain { value: "Biscoe" value: "Dream" value: 'Torgersen' }
  presence: < min_count: 1 >
  distribution_constraints { min_domain_mass: 0.9 }
  drift_comparator { infinity_norm { threshold: 0.05 } }
}
feature {
  name: "bill_length_mm"
  value_count { min: 1 max: 1 }
  type: FLOAT
  float_domain { min: 30.5 max: 6e1 disallow_nan: true }
  presence { min_count: 1 }
  drift_comparator { jensen_shannon_divergence { threshold: 0.05 } }
  annotation { comment: "Bill length, \"culmen\"" }
}
feature { name: "year" type: INT int_domain { min: 2007 max: 2009 } presence { min_count: 1 }
          lifecycle_stage: DEPRECATED }
feature { name: "tagged" type: INT bool_domain { } }
feature {
  name: "request_id"
  type: BYTES
  in_environment: "SERVING"
  unique_constraints { min: 1 }
}
string_domain {
  name: "species"
  value: "Adelie"
  value: "Chinstrap"
  value: "Gentoo"
  value: "Pingu\303\257n"
}
default_environment: "TRAINING"
default_environment: "SERVING"
dataset_constraints { min_examples_count: 10 max_examples_count: 100000 }
"""


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    return load_penguins()


@pytest.fixture(scope="module")
def penguin_schema(penguins: pd.DataFrame) -> DataSchema:
    return infer_schema(stats_of(penguins), label="species")


# ---------------------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------------------


def test_infers_types_presence_and_domains_from_penguins(penguin_schema):
    by_name = {f.name: f for f in penguin_schema.features}
    assert {n: f.type for n, f in by_name.items()} == {
        "species": "string", "island": "string", "bill_length_mm": "float", "bill_depth_mm": "float",
        "flipper_length_mm": "float", "body_mass_g": "float", "sex": "string", "year": "int",
    }
    assert by_name["species"].presence == Presence(min_fraction=1.0, min_count=1)
    assert by_name["sex"].presence == Presence(min_fraction=0.0, min_count=1)  # 11 penguins have no sex
    assert by_name["island"].domain == ["Biscoe", "Dream", "Torgersen"]
    assert by_name["sex"].domain == ["female", "male"]
    # ranges are off by default, as in TFDV; NaN and infinity are not allowed (none in the data)
    assert all(f.range is None for f in penguin_schema.features)
    assert not by_name["body_mass_g"].allow_nan and not by_name["body_mass_g"].allow_inf
    assert penguin_schema.min_examples_count == 1


def test_label_is_kept_out_of_serving(penguin_schema):
    assert penguin_schema.default_environment == [TRAINING, SERVING]
    assert penguin_schema.feature("species").not_in_environment == [SERVING]
    assert "species" not in {f.name for f in penguin_schema.features_in(SERVING)}
    assert "species" in {f.name for f in penguin_schema.features_in(TRAINING)}
    with pytest.raises(DefinitionError, match="label 'penguin'"):
        infer_schema(stats_of(load_penguins()), label="penguin")


def test_domain_cap_and_identifier_columns_get_no_domain():
    n = 400
    stats = StatisticsSet((dataset_stats({
        "code": [f"c{i % 40}" for i in range(n)],
        "small": [f"s{i % 20}" for i in range(n)],
        "id": [f"id-{i}" for i in range(n)],  # unique: an identifier, not an enumeration
    }),))
    schema = infer_schema(stats, max_domain_size=30)
    assert schema.feature("code").domain is None  # 40 values, above the cap
    assert schema.feature("small").domain == sorted(f"s{i}" for i in range(20))
    assert schema.feature("id").domain is None
    # 40 values: more than the 20 top values, but the rank histogram lists them all
    assert infer_schema(stats).feature("code").domain == sorted(f"c{i}" for i in range(40))
    assert infer_schema(stats, max_domain_size=10).feature("small").domain is None
    with pytest.raises(DefinitionError, match="'max_domain_size' parameter of infer_schema must be an int >= 0"):
        infer_schema(stats, max_domain_size=-1)


def test_allow_nan_is_inferred_from_data_that_had_nan():
    stats = StatisticsSet((dataset_stats({"x": [1.0, float("nan"), 2.0, float("inf")]}),))
    feature = infer_schema(stats).feature("x")
    assert feature.allow_nan and feature.allow_inf


def test_inference_picks_the_train_split_or_the_one_asked_for(penguins):
    stats = StatisticsSet((
        dataset_stats({"x": [1, 2, None]}, "eval"),
        dataset_stats({"x": [1, 2, 3]}, "train"),
    ))
    assert infer_schema(stats).feature("x").presence.min_fraction == 1.0
    assert infer_schema(stats, split="eval").feature("x").presence.min_fraction == 0.0
    with pytest.raises(DataError, match="no split 'test'"):
        infer_schema(stats, split="test")


def test_all_null_columns_are_not_inferred(caplog):
    stats = StatisticsSet((dataset_stats({"x": [1, 2], "empty": [None, None]}),))
    with caplog.at_level(logging.WARNING):
        schema = infer_schema(stats)
    assert [f.name for f in schema.features] == ["x"]
    assert "empty" in caplog.text


# ---------------------------------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------------------------------


def test_yaml_round_trip_is_exact_and_readable(tmp_path, penguin_schema):
    schema = penguin_schema.model_copy(deep=True)
    schema.feature("body_mass_g").range = Range(min=2700.0, max=6300.0)
    schema.feature("body_mass_g").drift_comparator = Comparator(jensen_shannon_divergence=0.05)
    schema.feature("island").skew_comparator = Comparator(infinity_norm=0.02)
    schema.feature("island").description = "Where the penguin was observed: 'Biscoe', etc."
    text = schema.to_yaml(tmp_path / "schema.yaml")
    assert (tmp_path / "schema.yaml").read_text() == text
    assert DataSchema.from_yaml(tmp_path / "schema.yaml") == schema
    assert text.startswith("# Sluiceway data schema")
    assert "  domain: [Biscoe, Dream, Torgersen]\n" in text
    assert "  not_in_environment: [SERVING]\n" in text
    assert "  presence: {min_fraction: 1.0, min_count: 1}\n" in text
    body = text.split("features:", 1)[1]
    assert "allow_nan" not in body and "deprecated" not in body  # defaults are left out


def test_hand_edited_yaml_with_comments_loads(tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text(textwrap.dedent("""\
        # frozen by the data team on 2024-05-01
        default_environment: [TRAINING, SERVING]
        features:
          - name: species     # the label
            type: string
            domain: [Adelie, Chinstrap, Gentoo]
            not_in_environment: [SERVING]
          - name: body_mass_g
            type: float
            presence: {min_fraction: 0.95}
            range: {min: 2000}
            drift_comparator: {jensen_shannon_divergence: 0.05}
        """))
    schema = DataSchema.from_yaml(path)
    assert schema.feature("body_mass_g").range == Range(min=2000, max=None)
    assert schema.feature("body_mass_g").presence.min_fraction == 0.95
    assert schema.feature("species").in_env("SERVING", schema.default_environment) is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("features:\n- name: x\n  type: int\n  presense: {min_count: 1}\n", r"\['x'\]\.presense: Extra inputs"),
        ("features:\n- name: x\n  type: integer\n", r"\['x'\]\.type"),
        ("features:\n- {name: x, type: int}\n- {name: x, type: float}\n", "defined more than once"),
        ("features:\n- {name: x, type: int, domain: [a]}\n", "domains are for string"),
        ("features:\n- {name: x, type: float, range: {min: 3, max: 1}}\n", "must not exceed"),
        ("features:\n- {name: x, type: int, presence: {min_fraction: 2}}\n", "min_fraction"),
        ("features: [\n", "not valid YAML"),
        ("- just a list\n", "must be a YAML mapping"),
        ("schema_version: 9\n", "newer than this Sluiceway"),
    ],
)
def test_invalid_yaml_is_reported_with_where_and_what(text, message):
    with pytest.raises(DataError, match=message):
        DataSchema.from_yaml_text(text, source="schema.yaml")


def test_missing_yaml_file_says_how_to_make_one(tmp_path):
    with pytest.raises(DataError, match="does not exist.*sluiceway schema infer"):
        DataSchema.from_yaml(tmp_path / "nope.yaml")


# ---------------------------------------------------------------------------------------------------
# TFDV schema.pbtxt
# ---------------------------------------------------------------------------------------------------


def test_a_handwritten_tfdv_schema_parses(caplog):
    with caplog.at_level(logging.WARNING):
        schema = DataSchema.from_pbtxt_text(TFDV_SCHEMA, source="schema.pbtxt")
    assert "unique_constraints is not supported" in caplog.text
    species = schema.feature("species")
    assert species.type == "string" and species.domain == ["Adelie", "Chinstrap", "Gentoo", "Pinguïn"]
    assert species.domain_name is None  # named after its feature: the export's default
    assert species.presence == Presence(min_fraction=1.0, min_count=1)
    assert species.value_count == ValueCount(min=1, max=1)  # shape { dim { size: 1 } }
    assert species.not_in_environment == ["SERVING"]
    assert species.skew_comparator == Comparator(infinity_norm=0.01)
    island = schema.feature("island")
    assert island.domain == ["Biscoe", "Dream", "Torgersen"] and island.min_domain_mass == 0.9
    assert island.drift_comparator == Comparator(infinity_norm=0.05)
    bill = schema.feature("bill_length_mm")
    assert bill.range == Range(min=30.5, max=60.0)
    assert not bill.allow_nan and bill.allow_inf  # TFDV allows what it does not disallow
    assert bill.drift_comparator == Comparator(jensen_shannon_divergence=0.05)
    assert bill.description == 'Bill length, "culmen"'
    year = schema.feature("year")
    assert year.type == "int" and year.range == Range(min=2007, max=2009) and year.deprecated
    assert schema.feature("tagged").type == "bool"
    assert schema.feature("request_id").in_environment == ["SERVING"]
    assert schema.default_environment == ["TRAINING", "SERVING"]
    assert (schema.min_examples_count, schema.max_examples_count) == (10, 100000)


def test_pbtxt_round_trip(tmp_path, penguin_schema):
    schema = DataSchema.from_pbtxt_text(TFDV_SCHEMA).model_copy(deep=True)
    schema.feature("request_id").description = "multi\nline\twith \\ and \"quotes\""
    text = schema.to_pbtxt(tmp_path / "schema.pbtxt")
    assert DataSchema.from_pbtxt(tmp_path / "schema.pbtxt") == schema
    assert 'domain: "species"' in text and "string_domain {\n  name: \"species\"" in text
    # what a Sluiceway user writes survives the trip too
    assert DataSchema.from_pbtxt_text(penguin_schema.to_pbtxt()) == penguin_schema
    # features sharing a named domain keep sharing it; the same name with other values is renamed
    shared = DataSchema(features=[
        Feature(name="a", type="string", domain=["x", "y"], domain_name="colours"),
        Feature(name="b", type="string", domain=["x", "y"], domain_name="colours"),
        Feature(name="c", type="string", domain=["z"], domain_name="colours"),
    ])
    text = shared.to_pbtxt()
    assert text.count("string_domain {") == 2 and 'domain: "colours_"' in text
    back = DataSchema.from_pbtxt_text(text)
    assert [f.domain for f in back.features] == [["x", "y"], ["x", "y"], ["z"]]
    # and YAML ↔ pbtxt agree
    assert DataSchema.from_yaml_text(schema.to_yaml()) == schema


def test_pbtxt_export_uses_tfdv_names(penguin_schema):
    text = penguin_schema.to_pbtxt()
    assert 'name: "island"\n  type: BYTES\n  domain: "island"' in text
    expected = 'name: "body_mass_g"\n  type: FLOAT\n  float_domain {\n    disallow_nan: true\n    disallow_inf: true'
    assert expected in text
    assert 'not_in_environment: "SERVING"' in text
    assert "dataset_constraints {\n  min_examples_count: 1\n}" in text


def test_tensorflow_metadata_parses_the_export_when_installed(penguin_schema):
    schema_pb2 = pytest.importorskip("tensorflow_metadata.proto.v0.schema_pb2", reason="extra sluiceway[tfx]")
    from google.protobuf import text_format

    proto = text_format.Parse(penguin_schema.to_pbtxt(), schema_pb2.Schema())
    assert [f.name for f in proto.feature] == [f.name for f in penguin_schema.features]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('feature { name: "x" type: BYTES domain: "nope" }', "refers to domain 'nope'"),
        ('feature { name: "x" type: STRUCT }', "has type STRUCT"),
        ('feature { name: "x" type: INT', "unexpected end of input"),
        ('feature { name: "x"\n presence { min_count: many } type: INT }', "line 2: .*min_count: expected an integer"),
        ('feature { name: "x" presence { min_fraction: "0.5" } type: INT }', "min_fraction: expected a number"),
        ('feature { name: "x" type: INT } }', "expected a field name"),
        ("feature { type: INT }", "has no name"),
        ('feature { name: "x" $ }', "unexpected character"),
        ('feature {\n name: "x" type: INT\n presense { min_count: 1 } }', "line 3: .*no field 'presense'.*'presence'"),
        ('feture { name: "x" }', "line 1: the schema has no field 'feture'; did you mean 'feature'"),
        ('feature: "x"', "feature: expected a message"),
        ('feature { name { } type: INT }', "feature.name: expected a value"),
        ('feature { name: "x" type: FLOAT float_domain { disallow_nan: maybe } }', "expected true or false"),
        ('feature { name: "x" type: INT presence { min_fraction: 2 } }', "min_fraction"),
        ('feature { name: "x" type: BYTES string_domain { value: "\\q" } }', "unknown escape"),
    ],
)
def test_invalid_pbtxt_is_a_data_error(text, message):
    with pytest.raises(DataError, match=message):
        DataSchema.from_pbtxt_text(text)


def test_an_imported_tfdv_schema_validates_penguins(penguins):
    schema = DataSchema.from_pbtxt_text(TFDV_SCHEMA)
    anomalies = validate_statistics(stats_of(penguins), schema, environment="TRAINING")
    # "tagged" has no presence constraint, "request_id" is SERVING-only, "year" is deprecated
    assert {(a.feature, a.kind) for a in anomalies.anomalies} == {
        ("bill_depth_mm", "SCHEMA_NEW_COLUMN"),
        ("flipper_length_mm", "SCHEMA_NEW_COLUMN"),
        ("body_mass_g", "SCHEMA_NEW_COLUMN"),
        ("sex", "SCHEMA_NEW_COLUMN"),
    }

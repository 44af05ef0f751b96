"""The hand-written schema.pbtxt parser checked field by field against protobuf's own text-format parser.

Our parser turns text into ordered (field, value) pairs; ``_to_proto`` fills tensorflow-metadata's
``schema_pb2.Schema`` from those pairs with our typed readers (numbers, booleans, enums, escapes). Protobuf
message equality then compares every field with ``text_format.Parse`` of the same text. The texts are
hand-written TFDV schemas, our own exports, and random schemas (hypothesis) written by protobuf's
``MessageToString`` — escapes, non-ASCII, exponents, repeated and nested fields included. Needs the
``tfx`` extra (a dev dependency).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluiceway.data.schema import Comparator, DataSchema, Feature, Presence, Range, ValueCount
from sluiceway.data.schema.pbtxt import parse_message
from sluiceway.data.schema.textformat import Quoted, read_bool, read_int, read_number

schema_pb2 = pytest.importorskip("tensorflow_metadata.proto.v0.schema_pb2", reason="extra sluiceway[tfx]")
text_format = pytest.importorskip("google.protobuf.text_format")
from google.protobuf.descriptor import FieldDescriptor  # noqa: E402

_INTS = {FieldDescriptor.CPPTYPE_INT32, FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT32,
         FieldDescriptor.CPPTYPE_UINT64}
_FLOATS = {FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE}


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    where = field.full_name
    kind = field.cpp_type
    if kind in _INTS:
        return read_int(value, where)
    if kind in _FLOATS:
        return read_number(value, where)
    if kind == FieldDescriptor.CPPTYPE_BOOL:
        return read_bool(value, where)
    if kind == FieldDescriptor.CPPTYPE_ENUM:
        assert not isinstance(value, Quoted), f"{where}: an enum is a bare word"
        return field.enum_type.values_by_name[str(value)].number
    assert kind == FieldDescriptor.CPPTYPE_STRING and isinstance(value, Quoted), f"{where}: {value!r}"
    return str(value)


def _to_proto(message: list, proto: Any) -> Any:
    """Fill ``proto`` from our parser's (field, value) pairs, as protobuf's text-format merge does."""
    for key, value in message:
        field = proto.DESCRIPTOR.fields_by_name[key]
        repeated = field.is_repeated if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED
        if field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
            assert isinstance(value, list), f"{field.full_name} is a message"
            target = getattr(proto, key).add() if repeated else getattr(proto, key)
            target.SetInParent()
            _to_proto(value, target)
        elif repeated:
            getattr(proto, key).append(_scalar(field, value))
        else:
            setattr(proto, key, _scalar(field, value))
    return proto


def _check(text: str) -> None:
    expected = text_format.Parse(text, schema_pb2.Schema())
    ours = _to_proto(parse_message(text), schema_pb2.Schema())
    assert ours == expected, f"ours:\n{ours}\nprotobuf:\n{expected}"


TFDV_TEXT = r'''
# a comment
feature {
  name: "bill_length_mm"
  value_count { min: 1 max: 1 }
  type: FLOAT
  float_domain { min: 30.5 max: 6e1 disallow_nan: true disallow_inf: false }
  presence { min_count: 1 min_fraction: 0.25 }
  drift_comparator { jensen_shannon_divergence { threshold: 0.05 } }
  skew_comparator { infinity_norm { threshold: 1e-2 } }
  annotation { comment: "Bill length, \"culmen\"" comment: 'second\tline' tag: "a" }
}
feature < name: "year" type: INT int_domain { min: -2007 max: 0x7D9 } lifecycle_stage: DEPRECATED >
feature { name: "tagged" type: INT bool_domain { } in_environment: "TRAINING" not_in_environment: "SERVING" }
feature { name: "island" type: BYTES domain: "island" distribution_constraints { min_domain_mass: 0.9 } }
feature { name: "caf\303\251" type: BYTES string_domain { value: "a" value: "\x41\101" value: "multi" "part" } }
feature: { name: "colon_before_brace", type: FLOAT; shape { dim { size: 1 } } }
string_domain { name: "island" value: ["Biscoe", "Dream", "Torgersen"] }
default_environment: "TRAINING"
default_environment: "SERVING"
dataset_constraints { min_examples_count: 10 max_examples_count: 1000000 }
'''


def test_a_hand_written_tfdv_schema_parses_as_protobuf_parses_it():
    _check(TFDV_TEXT)


def test_our_export_parses_as_protobuf_parses_it():
    schema = DataSchema(
        default_environment=["TRAINING", "SERVING"], min_examples_count=1,
        features=[
            Feature(name="x", type="float", range=Range(min=-math.inf, max=2.5), allow_nan=True,
                    drift_comparator=Comparator(jensen_shannon_divergence=0.05, infinity_norm=0.2)),
            Feature(name="n", type="int", range=Range(min=0, max=10), presence=Presence(min_fraction=1.0, min_count=1)),
            Feature(name='we"ird\\name\n', type="string", domain=["é", "a\tb", ""], min_domain_mass=0.5,
                    not_in_environment=["SERVING"], description="line 1\nline 2"),
            Feature(name="flag", type="bool", value_count=ValueCount(min=1, max=3), deprecated=True),
        ],
    )
    text = schema.to_pbtxt()
    _check(text)
    assert DataSchema.from_pbtxt_text(text) == schema


# ------------------------------------------------------------------------------------------------------
# Random schemas written by protobuf
# ------------------------------------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_finite32 = st.floats(min_value=-(2.0**100), max_value=2.0**100, allow_nan=False, width=32)


@st.composite
def _protos(draw: st.DrawFn) -> Any:
    schema = schema_pb2.Schema()
    for _ in range(draw(st.integers(0, 4))):
        f = schema.feature.add()
        f.name = draw(_text)
        f.type = draw(st.sampled_from([schema_pb2.INT, schema_pb2.FLOAT, schema_pb2.BYTES]))
        if draw(st.booleans()):
            f.presence.min_fraction = draw(st.floats(0, 1))
            f.presence.min_count = draw(st.integers(0, 2**40))
        if draw(st.booleans()):
            f.value_count.min = draw(st.integers(0, 5))
            f.value_count.max = draw(st.integers(5, 10))
        domain = draw(st.sampled_from(["none", "int", "float", "string", "bool"]))
        if domain == "int":
            f.int_domain.min = draw(st.integers(-(2**63), 0))
            f.int_domain.max = draw(st.integers(0, 2**63 - 1))
        elif domain == "float":
            f.float_domain.min = draw(_finite32 | st.just(-math.inf))
            f.float_domain.disallow_nan = draw(st.booleans())
        elif domain == "string":
            f.string_domain.value.extend(draw(st.lists(_text, max_size=4)))
        elif domain == "bool":
            f.bool_domain.SetInParent()
        f.in_environment.extend(draw(st.lists(_text, max_size=2)))
        if draw(st.booleans()):
            f.drift_comparator.jensen_shannon_divergence.threshold = draw(st.floats(0, 1))
        if draw(st.booleans()):
            f.annotation.comment.append(draw(_text))
        if draw(st.booleans()):
            f.lifecycle_stage = schema_pb2.DEPRECATED
    schema.default_environment.extend(draw(st.lists(_text, max_size=2)))
    if draw(st.booleans()):
        schema.dataset_constraints.min_examples_count = draw(st.integers(0, 2**62))
    return schema


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(_protos(), st.booleans(), st.booleans())
def test_random_schemas_written_by_protobuf_parse_the_same(proto, as_one_line, as_utf8):
    text = text_format.MessageToString(proto, as_one_line=as_one_line, as_utf8=as_utf8)
    _check(text)

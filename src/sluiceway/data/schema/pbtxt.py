"""TFDV's ``schema.pbtxt``: a small protocol-buffer text-format parser and writer for the subset TFDV
schemas use, so ``DataSchema.from_pbtxt`` / ``to_pbtxt`` work without ``tensorflow-metadata`` installed.

It is checked field by field against protobuf's own ``text_format`` parsing into tensorflow-metadata's
``schema_pb2.Schema`` (tests/data/test_schema_pbtxt.py, with the ``tfx`` extra).

Read: ``feature`` {``name``, ``type``, ``presence``, ``value_count``, ``shape`` (a single dim of size 1
becomes value_count 1..1), ``domain`` (reference), ``int_domain``/``float_domain`` (min, max,
disallow_nan, disallow_inf), ``string_domain``, ``bool_domain``, ``distribution_constraints``
(min_domain_mass), ``in_environment``, ``not_in_environment``, ``skew_comparator``/``drift_comparator``
(``infinity_norm``, ``jensen_shannon_divergence``), ``lifecycle_stage`` (DEPRECATED and friends),
``annotation.comment``}; top-level ``string_domain``, ``default_environment`` and ``dataset_constraints``
(min/max_examples_count). Other fields of TFDV's ``Schema`` and ``Feature`` are skipped with a logged
warning; a name that is not a field of TFDV's messages at all (a typo) is a ``DataError`` naming it, its
line and the closest field names. Every error names the source and, where known, the line.
"""

from __future__ import annotations

import difflib
import logging
from typing import Any

from pydantic import ValidationError

from sluiceway.data.schema.model import Comparator, DataSchema, Feature, Presence, Range, ValueCount
from sluiceway.data.schema.textformat import (
    Message,
    Parser,
    TextFormatError,
    at,
    fields,
    fmt_number,
    format_message,
    get,
    read_bool,
    read_int,
    read_number,
    scalar_text,
    Word,
)
from sluiceway.errors import DataError

logger = logging.getLogger(__name__)

# Field names of tensorflow-metadata's Schema and Feature messages (schema.proto), so a typo is told apart
# from a TFDV field this reader skips.
_TFDV_SCHEMA_FIELDS = frozenset({
    "annotation", "dataset_constraints", "default_environment", "feature", "float_domain", "int_domain",
    "represent_variable_length_as_ragged", "sparse_feature", "string_domain", "tensor_representation_group",
    "weighted_feature",
})
_TFDV_FEATURE_FIELDS = frozenset({
    "annotation", "audio_domain", "bool_domain", "content_chunk_domain", "deprecated", "distribution_constraints",
    "domain", "drift_comparator", "float_domain", "group_presence", "image_domain", "in_environment", "int_domain",
    "lifecycle_stage", "mid_domain", "name", "natural_language_domain", "not_in_environment", "presence",
    "sequence_metadata", "shape", "skew_comparator", "string_domain", "struct_domain", "time_domain",
    "time_of_day_domain", "type", "unique_constraints", "url_domain", "validation_derived_source", "value_count",
    "value_counts", "video_domain",
})


def parse_pbtxt(text: str, *, source: str = "<string>") -> DataSchema:
    """A ``DataSchema`` from TFDV's text-format ``Schema`` proto; ``DataError`` for anything unreadable."""
    try:
        message = parse_message(text, source=source)
        return _schema_from_message(message, source)
    except TextFormatError as exc:
        raise DataError(
            f"Schema {source} is not a valid schema.pbtxt: {exc}. It should be TFDV's text-format Schema "
            "(a .yaml/.yml suffix reads Sluiceway's YAML schema instead)."
        ) from exc
    except ValidationError as exc:
        raise DataError(f"Schema {source} does not make a valid schema:\n{exc}") from exc


def parse_message(text: str, *, source: str = "<string>") -> Message:
    """The text as an ordered list of (field name, value) pairs; sub-messages are lists, scalars strings.

    Raises ``TextFormatError`` (a ``ValueError``) for malformed text; ``parse_pbtxt`` turns it into a
    ``DataError``."""
    return Parser(text, source).parse()


def format_pbtxt(schema: DataSchema) -> str:
    """The schema in TFDV's text format."""
    return format_message(_schema_to_message(schema))


def _unknown(key: str, known: frozenset[str], where: str, value: Any, source: str) -> None:
    """Skip a TFDV field this reader does not support (with a warning); refuse a name TFDV does not know."""
    if key in known:
        logger.warning("%s: %s.%s is not supported; skipped", source, where, key)
        return
    close = difflib.get_close_matches(key, sorted(known), n=3)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else f"; TFDV's fields are {sorted(known)}"
    raise TextFormatError(f"{at(value)}{where} has no field {key!r}{hint}")


def _comparator_from(value: Any, where: str, source: str) -> Comparator:
    comparator = Comparator()
    for key, body in fields(value, where):
        if key in ("infinity_norm", "jensen_shannon_divergence"):
            threshold = get(fields(body, f"{where}.{key}"), "threshold")
            if threshold is not None:
                setattr(comparator, key, read_number(threshold, f"{where}.{key}.threshold"))
        else:
            _unknown(key, frozenset({"normalized_abs_difference"}), where, body, source)
    return comparator


_INACTIVE_STAGES = {"DEPRECATED", "PLANNED", "ALPHA", "DEBUG_ONLY", "DISABLED"}


def _feature_type(message: Message, where: str) -> dict[str, Any]:
    """The schema type (and TFDV's NaN/inf defaults for floats) of a feature message."""
    tfdv_type = scalar_text(get(message, "type") or "TYPE_UNKNOWN", f"{where}.type")
    if tfdv_type == "INT":
        return {"type": "bool" if any(key == "bool_domain" for key, _ in message) else "int"}
    if tfdv_type == "FLOAT":
        return {"type": "float", "allow_nan": True, "allow_inf": True}  # unless float_domain disallows them
    if tfdv_type == "BYTES":
        return {"type": "string"}
    raise TextFormatError(
        f"{at(get(message, 'type') or message)}{where} has type {tfdv_type}; supported types are INT, FLOAT and BYTES"
    )


def _shape(value: Any, here: str, kind: dict[str, Any], source: str) -> None:
    dims = [fields(d, f"{here}.dim") for k, d in fields(value, here) if k == "dim"]
    size = get(dims[0], "size") if len(dims) == 1 else None
    if size is not None and read_int(size, f"{here}.dim.size") == 1:
        kind["value_count"] = ValueCount(min=1, max=1)
    else:
        logger.warning("%s: %s other than a single value is not supported; skipped", source, here)


def _numeric_domain(key: str, body: Message, here: str, kind: dict[str, Any], source: str) -> None:
    """int_domain / float_domain: the range, and a float's NaN/inf rules."""
    lo, hi = get(body, "min"), get(body, "max")
    if lo is not None or hi is not None:
        read = read_int if key == "int_domain" else read_number
        kind["range"] = Range(
            min=read(lo, f"{here}.min") if lo is not None else None,
            max=read(hi, f"{here}.max") if hi is not None else None,
        )
    if key == "float_domain":
        if (v := get(body, "disallow_nan")) is not None:
            kind["allow_nan"] = not read_bool(v, f"{here}.disallow_nan")
        if (v := get(body, "disallow_inf")) is not None:
            kind["allow_inf"] = not read_bool(v, f"{here}.disallow_inf")
    for sub_key, sub_value in body:
        if sub_key not in ("min", "max", "disallow_nan", "disallow_inf", "name"):
            _unknown(sub_key, _DOMAIN_FIELDS[key], here, sub_value, source)


def _feature_from(value: Any, string_domains: dict[str, list[str]], source: str) -> Feature:
    message = fields(value, "feature")
    name = get(message, "name")
    if name is None:
        raise TextFormatError(f"{at(message)}a feature has no name")
    name = scalar_text(name, "feature.name")
    where = f"feature {name!r}"
    kind: dict[str, Any] = {"name": name, **_feature_type(message, where)}
    in_env: list[str] = []
    not_in_env: list[str] = []
    for key, value in message:
        here = f"{where}.{key}"
        if key in ("name", "type"):
            continue
        if key == "bool_domain":
            fields(value, here)
        elif key == "presence":
            body = fields(value, here)
            presence: dict[str, float] = {}
            if (v := get(body, "min_fraction")) is not None:
                presence["min_fraction"] = read_number(v, f"{here}.min_fraction")
            if (v := get(body, "min_count")) is not None:
                presence["min_count"] = read_int(v, f"{here}.min_count")
            kind["presence"] = Presence.model_validate(presence)
        elif key == "value_count":
            body = fields(value, here)
            kind["value_count"] = ValueCount(
                min=read_int(v, f"{here}.min") if (v := get(body, "min")) is not None else None,
                max=read_int(v, f"{here}.max") if (v := get(body, "max")) is not None else None,
            )
        elif key == "shape":
            _shape(value, here, kind, source)
        elif key == "domain":
            domain_name = scalar_text(value, here)
            if domain_name not in string_domains:
                raise TextFormatError(
                    f"{at(value)}{where} refers to domain {domain_name!r}, which is not a top-level string_domain "
                    f"(those are {sorted(string_domains)})"
                )
            kind["domain"] = list(string_domains[domain_name])
            if domain_name != name:  # export names a domain after its feature by default
                kind["domain_name"] = domain_name
        elif key == "string_domain":
            kind["domain"] = [scalar_text(v, f"{here}.value") for k, v in fields(value, here) if k == "value"]
        elif key in ("int_domain", "float_domain"):
            _numeric_domain(key, fields(value, here), here, kind, source)
        elif key == "distribution_constraints":
            if (v := get(fields(value, here), "min_domain_mass")) is not None:
                kind["min_domain_mass"] = read_number(v, f"{here}.min_domain_mass")
        elif key == "in_environment":
            in_env.append(scalar_text(value, here))
        elif key == "not_in_environment":
            not_in_env.append(scalar_text(value, here))
        elif key in ("skew_comparator", "drift_comparator"):
            kind[key] = _comparator_from(value, here, source)
        elif key == "lifecycle_stage":
            kind["deprecated"] = scalar_text(value, here) in _INACTIVE_STAGES
        elif key == "annotation":
            comments = [scalar_text(v, f"{here}.comment") for k, v in fields(value, here) if k == "comment"]
            if comments:
                kind["description"] = "\n".join(comments)
        else:
            _unknown(key, _TFDV_FEATURE_FIELDS, where, value, source)
    if in_env:
        kind["in_environment"] = in_env
    if not_in_env:
        kind["not_in_environment"] = not_in_env
    return Feature(**kind)


_DOMAIN_FIELDS = {
    "int_domain": frozenset({"is_categorical", "max", "min", "name"}),
    "float_domain": frozenset({
        "disallow_inf", "disallow_nan", "embedding_dim", "embedding_type", "is_categorical", "is_embedding", "max",
        "min", "name",
    }),
}


def _schema_from_message(message: Message, source: str) -> DataSchema:
    string_domains: dict[str, list[str]] = {}
    for key, value in message:
        if key == "string_domain":
            body = fields(value, "string_domain")
            name = get(body, "name")
            if name is None:
                raise TextFormatError(f"{at(body)}a top-level string_domain has no name")
            values = [scalar_text(v, "string_domain.value") for k, v in body if k == "value"]
            string_domains[scalar_text(name, "string_domain.name")] = values
    schema = DataSchema()
    features: list[Feature] = []
    for key, value in message:
        if key == "feature":
            features.append(_feature_from(value, string_domains, source))
        elif key == "default_environment":
            schema.default_environment = [*schema.default_environment, scalar_text(value, key)]
        elif key == "dataset_constraints":
            body = fields(value, key)
            if (v := get(body, "min_examples_count")) is not None:
                schema.min_examples_count = read_int(v, "dataset_constraints.min_examples_count")
            if (v := get(body, "max_examples_count")) is not None:
                schema.max_examples_count = read_int(v, "dataset_constraints.max_examples_count")
        elif key != "string_domain":
            _unknown(key, _TFDV_SCHEMA_FIELDS, "the schema", value, source)
    schema.features = features
    return DataSchema.model_validate(schema.model_dump())


def _numeric_domain_message(feature: Feature) -> Message:
    numeric: Message = []
    if feature.range is not None:
        for bound, value in (("min", feature.range.min), ("max", feature.range.max)):
            if value is not None:
                numeric.append((bound, Word(str(int(value))) if feature.type == "int" else fmt_number(value)))
    if feature.type == "float":
        if not feature.allow_nan:
            numeric.append(("disallow_nan", Word("true")))
        if not feature.allow_inf:
            numeric.append(("disallow_inf", Word("true")))
    return numeric


def _comparator_message(comparator: Comparator, feature: str, key: str) -> Message:
    body: Message = []
    if comparator.infinity_norm is not None:
        body.append(("infinity_norm", [("threshold", fmt_number(comparator.infinity_norm))]))
    if comparator.jensen_shannon_divergence is not None:
        body.append(("jensen_shannon_divergence", [("threshold", fmt_number(comparator.jensen_shannon_divergence))]))
    if comparator.ks_distance is not None:
        logger.warning("feature %r: %s.ks_distance has no schema.pbtxt equivalent; not exported", feature, key)
    return body


def _schema_to_message(schema: DataSchema) -> Message:
    message: Message = []
    domains: Message = []
    used_names: dict[str, list[str]] = {}
    for feature in schema.features:
        f: Message = [("name", feature.name)]
        if feature.type == "float":
            f.append(("type", Word("FLOAT")))
        elif feature.type in ("string", "bytes"):
            f.append(("type", Word("BYTES")))
        else:
            f.append(("type", Word("INT")))
            if feature.type == "datetime":
                logger.warning("feature %r: TFDV has no datetime type; exported as INT", feature.name)
        if feature.type == "bool":
            f.append(("bool_domain", []))
        if feature.domain is not None:
            domain_name = feature.domain_name or feature.name
            while domain_name in used_names and used_names[domain_name] != feature.domain:
                domain_name += "_"  # the same name for different values: keep both, distinctly named
            if domain_name not in used_names:
                used_names[domain_name] = feature.domain
                domains.append(("string_domain", [("name", domain_name), *(("value", v) for v in feature.domain)]))
            f.append(("domain", domain_name))
        if feature.type in ("int", "float") and (numeric := _numeric_domain_message(feature)):
            f.append(("int_domain" if feature.type == "int" else "float_domain", numeric))
        presence: Message = []
        if feature.presence.min_fraction:
            presence.append(("min_fraction", fmt_number(feature.presence.min_fraction)))
        if feature.presence.min_count:
            presence.append(("min_count", Word(str(feature.presence.min_count))))
        f.append(("presence", presence))
        if feature.value_count is not None:
            counts: Message = []
            if feature.value_count.min is not None:
                counts.append(("min", Word(str(feature.value_count.min))))
            if feature.value_count.max is not None:
                counts.append(("max", Word(str(feature.value_count.max))))
            f.append(("value_count", counts))
        if feature.min_domain_mass < 1.0:
            f.append(("distribution_constraints", [("min_domain_mass", fmt_number(feature.min_domain_mass))]))
        for env in feature.in_environment:
            f.append(("in_environment", env))
        for env in feature.not_in_environment:
            f.append(("not_in_environment", env))
        for key in ("skew_comparator", "drift_comparator"):
            comparator: Comparator | None = getattr(feature, key)
            if comparator is not None and (body := _comparator_message(comparator, feature.name, key)):
                f.append((key, body))
        if feature.deprecated:
            f.append(("lifecycle_stage", Word("DEPRECATED")))
        if feature.description:
            f.append(("annotation", [("comment", feature.description)]))
        message.append(("feature", f))
    message.extend(domains)
    for env in schema.default_environment:
        message.append(("default_environment", env))
    constraints: Message = []
    if schema.min_examples_count is not None:
        constraints.append(("min_examples_count", Word(str(schema.min_examples_count))))
    if schema.max_examples_count is not None:
        constraints.append(("max_examples_count", Word(str(schema.max_examples_count))))
    if constraints:
        message.append(("dataset_constraints", constraints))
    if schema.warning_kinds:
        logger.warning("warning_kinds %s has no schema.pbtxt equivalent; not exported", schema.warning_kinds)
    return message


__all__ = ["format_pbtxt", "parse_message", "parse_pbtxt"]

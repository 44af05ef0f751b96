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
import math
import re
from typing import Any

from pydantic import ValidationError

from sluiceway.data.schema.model import Comparator, DataSchema, Feature, Presence, Range, ValueCount
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
    except _TextFormatError as exc:
        raise DataError(
            f"Schema {source} is not a valid schema.pbtxt: {exc}. It should be TFDV's text-format Schema "
            "(a .yaml/.yml suffix reads Sluiceway's YAML schema instead)."
        ) from exc
    except ValidationError as exc:
        raise DataError(f"Schema {source} does not make a valid schema:\n{exc}") from exc


def parse_message(text: str, *, source: str = "<string>") -> _Message:
    """The text as an ordered list of (field name, value) pairs; sub-messages are lists, scalars strings.

    Raises ``_TextFormatError`` (a ``ValueError``) for malformed text; ``parse_pbtxt`` turns it into a
    ``DataError``."""
    return _Parser(text, source).parse()


def format_pbtxt(schema: DataSchema) -> str:
    """The schema in TFDV's text format."""
    return _format_message(_schema_to_message(schema))


class _TextFormatError(ValueError):
    pass


class _Enum(str):
    """A bare identifier in text format (an enum value or ``true``/``inf``), as opposed to a quoted string."""

    line: int | None = None


class _Str(str):
    """A quoted string, with the line it was read from."""

    line: int | None = None


class _Msg(list):  # type: ignore[type-arg]
    """A sub-message (its (name, value) pairs), with the line it starts on."""

    line: int | None = None


def _at(value: Any) -> str:
    """``"line N: "`` for a parsed value that knows its line."""
    line = getattr(value, "line", None)
    return f"line {line}: " if line is not None else ""


# A message is a list of (field name, value) pairs, in order, with repeated fields repeated.
_Message = list[tuple[str, Any]]

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
    |(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    |(?P<word>[A-Za-z0-9_.+\-]+)
    |(?P<punct>[{}<>:\[\],;])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": b"\n", "t": b"\t", "r": b"\r", "a": b"\a", "b": b"\b", "f": b"\f", "v": b"\v",
            "\\": b"\\", "'": b"'", '"': b'"', "?": b"?"}


def _unescape(body: str, line: int) -> str:
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out += _ESCAPES[nxt]
            i += 2
        elif nxt in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1 :])
            assert m is not None
            out.append(int(m.group(0), 8) & 0xFF)
            i += 1 + len(m.group(0))
        elif nxt in "xX":
            m = re.match(r"[0-9A-Fa-f]{1,2}", body[i + 2 :])
            if not m:
                raise _TextFormatError(f"line {line}: bad \\x escape in {body!r}")
            out.append(int(m.group(0), 16))
            i += 2 + len(m.group(0))
        else:
            raise _TextFormatError(f"line {line}: unknown escape \\{nxt} in {body!r}")
    return out.decode("utf-8", errors="replace")


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.tokens: list[tuple[str, str, int]] = []
        pos, line = 0, 1
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                raise _TextFormatError(f"line {line}: unexpected character {text[pos]!r}")
            kind = m.lastgroup
            value = m.group(0)
            if kind != "ws":
                self.tokens.append((kind, value, line))  # type: ignore[arg-type]
            line += value.count("\n")
            pos = m.end()
        self.i = 0

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _next(self, what: str) -> tuple[str, str, int]:
        tok = self._peek()
        if tok is None:
            raise _TextFormatError(f"unexpected end of input, expected {what}")
        self.i += 1
        return tok

    def parse(self) -> _Message:
        message = self._message(closer=None)
        return message

    def _message(self, closer: str | None, line: int | None = None) -> _Message:
        fields = _Msg()
        fields.line = line
        while True:
            tok = self._peek()
            if tok is None:
                if closer is not None:
                    raise _TextFormatError(f"unexpected end of input, expected {closer!r}")
                return fields
            kind, value, line = tok
            if kind == "punct" and value == closer:
                self.i += 1
                return fields
            if kind == "punct" and value in ",;":
                self.i += 1
                continue
            if kind != "word":
                raise _TextFormatError(f"line {line}: expected a field name, got {value!r}")
            self.i += 1
            fields.extend((value, v) for v in self._field_values(value, line))

    def _field_values(self, name: str, line: int) -> list[Any]:
        tok = self._next(f"a value for {name!r}")
        has_colon = tok[0] == "punct" and tok[1] == ":"
        if has_colon:
            tok = self._next(f"a value for {name!r}")
        kind, value, line = tok
        if kind == "punct" and value in "{<":
            return [self._message("}" if value == "{" else ">", line)]
        if kind == "punct" and value == "[":
            values: list[Any] = []
            while True:
                kind, value, line = self._next("']'")
                if kind == "punct" and value == "]":
                    return values
                if kind == "punct" and value == ",":
                    continue
                if kind == "punct" and value in "{<":
                    values.append(self._message("}" if value == "{" else ">", line))
                else:
                    self.i -= 1
                    values.append(self._scalar())
        if not has_colon:
            raise _TextFormatError(f"line {line}: expected ':' or '{{' after {name!r}, got {value!r}")
        self.i -= 1
        return [self._scalar()]

    def _scalar(self) -> Any:
        kind, value, line = self._next("a value")
        if kind == "string":
            text = _unescape(value[1:-1], line)
            while (tok := self._peek()) is not None and tok[0] == "string":  # adjacent strings concatenate
                self.i += 1
                text += _unescape(tok[1][1:-1], tok[2])
            quoted = _Str(text)
            quoted.line = line
            return quoted
        if kind == "word":
            word = _Enum(value)
            word.line = line
            return word
        raise _TextFormatError(f"line {line}: expected a value, got {value!r}")


def _scalar_text(value: Any, what: str) -> str:
    """A scalar field's text; a sub-message where a scalar belongs is an error."""
    if isinstance(value, list):
        raise _TextFormatError(f"{_at(value)}{what}: expected a value (field: value), got a message {{ ... }}")
    return str(value)


def _fields(value: Any, what: str) -> _Message:
    """A sub-message's fields; a scalar where a message belongs is an error."""
    if not isinstance(value, list):
        raise _TextFormatError(f"{_at(value)}{what}: expected a message ({what.rsplit('.', 1)[-1]} {{ ... }}), got {value!r}")
    return value


def _number(value: Any, what: str) -> float:
    text = _scalar_text(value, what).lower()
    if re.fullmatch(r"[+-]?[0-9.]+(e[+-]?[0-9]+)?f", text):  # C-style float suffix: 1.5f
        text = text[:-1]
    try:
        if text in ("inf", "infinity", "+inf", "+infinity"):
            return math.inf
        if text in ("-inf", "-infinity"):
            return -math.inf
        if text in ("nan", "+nan", "-nan"):
            return math.nan
        if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", text):
            return float(int(text, 16))
        if isinstance(value, _Str):  # a quoted "1.5" is a string, not a number (protobuf refuses it too)
            raise ValueError(text)
        return float(text)
    except (ValueError, OverflowError):
        raise _TextFormatError(f"{_at(value)}{what}: expected a number, got {value!r}") from None


def _int(value: Any, what: str) -> int:
    number = _number(value, what)
    if not number.is_integer():
        raise _TextFormatError(f"{_at(value)}{what}: expected an integer, got {value!r}")
    return int(number)


def _bool(value: Any, what: str) -> bool:
    text = _scalar_text(value, what).lower()
    if not isinstance(value, _Str):
        if text in ("true", "t", "1"):
            return True
        if text in ("false", "f", "0"):
            return False
    raise _TextFormatError(f"{_at(value)}{what}: expected true or false, got {value!r}")


def _get(message: _Message, name: str) -> Any:
    """The last value of field ``name`` (text format merges repeats; the last wins here), or ``None``."""
    value = None
    for key, v in message:
        if key == name:
            value = v
    return value


def _unknown(key: str, known: frozenset[str], where: str, value: Any, source: str) -> None:
    """Skip a TFDV field this reader does not support (with a warning); refuse a name TFDV does not know."""
    if key in known:
        logger.warning("%s: %s.%s is not supported; skipped", source, where, key)
        return
    close = difflib.get_close_matches(key, sorted(known), n=3)
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else f"; TFDV's fields are {sorted(known)}"
    raise _TextFormatError(f"{_at(value)}{where} has no field {key!r}{hint}")


def _comparator_from(value: Any, where: str, source: str) -> Comparator:
    comparator = Comparator()
    for key, body in _fields(value, where):
        if key in ("infinity_norm", "jensen_shannon_divergence"):
            threshold = _get(_fields(body, f"{where}.{key}"), "threshold")
            if threshold is not None:
                setattr(comparator, key, _number(threshold, f"{where}.{key}.threshold"))
        else:
            _unknown(key, frozenset({"normalized_abs_difference"}), where, body, source)
    return comparator


_INACTIVE_STAGES = {"DEPRECATED", "PLANNED", "ALPHA", "DEBUG_ONLY", "DISABLED"}


def _feature_from(value: Any, string_domains: dict[str, list[str]], source: str) -> Feature:
    message = _fields(value, "feature")
    name = _get(message, "name")
    if name is None:
        raise _TextFormatError(f"{_at(message)}a feature has no name")
    name = _scalar_text(name, "feature.name")
    where = f"feature {name!r}"
    tfdv_type = _scalar_text(_get(message, "type") or "TYPE_UNKNOWN", f"{where}.type")
    kind: dict[str, Any] = {"name": name}
    is_bool = any(key == "bool_domain" for key, _ in message)
    if tfdv_type == "INT":
        kind["type"] = "bool" if is_bool else "int"
    elif tfdv_type == "FLOAT":
        kind["type"] = "float"
        kind["allow_nan"] = True  # TFDV allows NaN/inf unless float_domain disallows them
        kind["allow_inf"] = True
    elif tfdv_type == "BYTES":
        kind["type"] = "string"
    else:
        raise _TextFormatError(
            f"{_at(_get(message, 'type') or message)}{where} has type {tfdv_type}; supported types are INT, FLOAT "
            "and BYTES"
        )
    in_env: list[str] = []
    not_in_env: list[str] = []
    for key, value in message:
        here = f"{where}.{key}"
        if key in ("name", "type"):
            continue
        if key == "bool_domain":
            _fields(value, here)
        elif key == "presence":
            body = _fields(value, here)
            presence = {}
            if (v := _get(body, "min_fraction")) is not None:
                presence["min_fraction"] = _number(v, f"{here}.min_fraction")
            if (v := _get(body, "min_count")) is not None:
                presence["min_count"] = _int(v, f"{here}.min_count")
            kind["presence"] = Presence(**presence)
        elif key == "value_count":
            body = _fields(value, here)
            kind["value_count"] = ValueCount(
                min=_int(v, f"{here}.min") if (v := _get(body, "min")) is not None else None,
                max=_int(v, f"{here}.max") if (v := _get(body, "max")) is not None else None,
            )
        elif key == "shape":
            dims = [_fields(d, f"{here}.dim") for k, d in _fields(value, here) if k == "dim"]
            size = _get(dims[0], "size") if len(dims) == 1 else None
            if size is not None and _int(size, f"{here}.dim.size") == 1:
                kind["value_count"] = ValueCount(min=1, max=1)
            else:
                logger.warning("%s: %s.shape other than a single value is not supported; skipped", source, where)
        elif key == "domain":
            domain_name = _scalar_text(value, here)
            if domain_name not in string_domains:
                raise _TextFormatError(
                    f"{_at(value)}{where} refers to domain {domain_name!r}, which is not a top-level string_domain "
                    f"(those are {sorted(string_domains)})"
                )
            kind["domain"] = list(string_domains[domain_name])
            if domain_name != name:  # export names a domain after its feature by default
                kind["domain_name"] = domain_name
        elif key == "string_domain":
            kind["domain"] = [_scalar_text(v, f"{here}.value") for k, v in _fields(value, here) if k == "value"]
        elif key in ("int_domain", "float_domain"):
            body = _fields(value, here)
            lo, hi = _get(body, "min"), _get(body, "max")
            if lo is not None or hi is not None:
                read = _int if key == "int_domain" else _number
                kind["range"] = Range(
                    min=read(lo, f"{here}.min") if lo is not None else None,
                    max=read(hi, f"{here}.max") if hi is not None else None,
                )
            if key == "float_domain":
                if (v := _get(body, "disallow_nan")) is not None:
                    kind["allow_nan"] = not _bool(v, f"{here}.disallow_nan")
                if (v := _get(body, "disallow_inf")) is not None:
                    kind["allow_inf"] = not _bool(v, f"{here}.disallow_inf")
            for sub_key, sub_value in body:
                if sub_key not in ("min", "max", "disallow_nan", "disallow_inf", "name"):
                    _unknown(sub_key, _DOMAIN_FIELDS[key], here, sub_value, source)
        elif key == "distribution_constraints":
            if (v := _get(_fields(value, here), "min_domain_mass")) is not None:
                kind["min_domain_mass"] = _number(v, f"{here}.min_domain_mass")
        elif key == "in_environment":
            in_env.append(_scalar_text(value, here))
        elif key == "not_in_environment":
            not_in_env.append(_scalar_text(value, here))
        elif key in ("skew_comparator", "drift_comparator"):
            kind[key] = _comparator_from(value, here, source)
        elif key == "lifecycle_stage":
            kind["deprecated"] = _scalar_text(value, here) in _INACTIVE_STAGES
        elif key == "annotation":
            comments = [_scalar_text(v, f"{here}.comment") for k, v in _fields(value, here) if k == "comment"]
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


def _schema_from_message(message: _Message, source: str) -> DataSchema:
    string_domains: dict[str, list[str]] = {}
    for key, value in message:
        if key == "string_domain":
            body = _fields(value, "string_domain")
            name = _get(body, "name")
            if name is None:
                raise _TextFormatError(f"{_at(body)}a top-level string_domain has no name")
            values = [_scalar_text(v, "string_domain.value") for k, v in body if k == "value"]
            string_domains[_scalar_text(name, "string_domain.name")] = values
    schema = DataSchema()
    features: list[Feature] = []
    for key, value in message:
        if key == "feature":
            features.append(_feature_from(value, string_domains, source))
        elif key == "default_environment":
            schema.default_environment = [*schema.default_environment, _scalar_text(value, key)]
        elif key == "dataset_constraints":
            body = _fields(value, key)
            if (v := _get(body, "min_examples_count")) is not None:
                schema.min_examples_count = _int(v, "dataset_constraints.min_examples_count")
            if (v := _get(body, "max_examples_count")) is not None:
                schema.max_examples_count = _int(v, "dataset_constraints.max_examples_count")
        elif key != "string_domain":
            _unknown(key, _TFDV_SCHEMA_FIELDS, "the schema", value, source)
    schema.features = features
    return DataSchema.model_validate(schema.model_dump())


def _fmt_number(value: float) -> _Enum:
    if math.isinf(value):
        return _Enum("inf" if value > 0 else "-inf")
    if math.isnan(value):
        return _Enum("nan")
    return _Enum(repr(float(value)))


def _schema_to_message(schema: DataSchema) -> _Message:
    message: _Message = []
    domains: _Message = []
    used_names: dict[str, list[str]] = {}
    for feature in schema.features:
        f: _Message = [("name", feature.name)]
        if feature.type == "float":
            f.append(("type", _Enum("FLOAT")))
        elif feature.type in ("string", "bytes"):
            f.append(("type", _Enum("BYTES")))
        else:
            f.append(("type", _Enum("INT")))
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
        if feature.type in ("int", "float"):
            numeric: _Message = []
            if feature.range is not None:
                if feature.range.min is not None:
                    lo = feature.range.min
                    numeric.append(("min", _Enum(str(int(lo))) if feature.type == "int" else _fmt_number(lo)))
                if feature.range.max is not None:
                    hi = feature.range.max
                    numeric.append(("max", _Enum(str(int(hi))) if feature.type == "int" else _fmt_number(hi)))
            if feature.type == "float":
                if not feature.allow_nan:
                    numeric.append(("disallow_nan", _Enum("true")))
                if not feature.allow_inf:
                    numeric.append(("disallow_inf", _Enum("true")))
            if numeric:
                f.append(("int_domain" if feature.type == "int" else "float_domain", numeric))
        presence: _Message = []
        if feature.presence.min_fraction:
            presence.append(("min_fraction", _fmt_number(feature.presence.min_fraction)))
        if feature.presence.min_count:
            presence.append(("min_count", _Enum(str(feature.presence.min_count))))
        f.append(("presence", presence))
        if feature.value_count is not None:
            counts: _Message = []
            if feature.value_count.min is not None:
                counts.append(("min", _Enum(str(feature.value_count.min))))
            if feature.value_count.max is not None:
                counts.append(("max", _Enum(str(feature.value_count.max))))
            f.append(("value_count", counts))
        if feature.min_domain_mass < 1.0:
            f.append(("distribution_constraints", [("min_domain_mass", _fmt_number(feature.min_domain_mass))]))
        for env in feature.in_environment:
            f.append(("in_environment", env))
        for env in feature.not_in_environment:
            f.append(("not_in_environment", env))
        for key in ("skew_comparator", "drift_comparator"):
            comparator: Comparator | None = getattr(feature, key)
            if comparator is None or not comparator.is_set:
                continue
            body: _Message = []
            if comparator.infinity_norm is not None:
                body.append(("infinity_norm", [("threshold", _fmt_number(comparator.infinity_norm))]))
            if comparator.jensen_shannon_divergence is not None:
                body.append(("jensen_shannon_divergence", [("threshold", _fmt_number(comparator.jensen_shannon_divergence))]))
            f.append((key, body))
        if feature.deprecated:
            f.append(("lifecycle_stage", _Enum("DEPRECATED")))
        if feature.description:
            f.append(("annotation", [("comment", feature.description)]))
        message.append(("feature", f))
    message.extend(domains)
    for env in schema.default_environment:
        message.append(("default_environment", env))
    constraints: _Message = []
    if schema.min_examples_count is not None:
        constraints.append(("min_examples_count", _Enum(str(schema.min_examples_count))))
    if schema.max_examples_count is not None:
        constraints.append(("max_examples_count", _Enum(str(schema.max_examples_count))))
    if constraints:
        message.append(("dataset_constraints", constraints))
    if schema.warning_kinds:
        logger.warning("warning_kinds %s has no schema.pbtxt equivalent; not exported", schema.warning_kinds)
    return message


def _quote(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _format_message(message: _Message, indent: int = 0) -> str:
    pad = "  " * indent
    lines: list[str] = []
    for key, value in message:
        if isinstance(value, list):
            if not value:
                lines.append(f"{pad}{key} {{\n{pad}}}")
            else:
                lines.append(f"{pad}{key} {{\n{_format_message(value, indent + 1)}{pad}}}")
        elif isinstance(value, _Enum):
            lines.append(f"{pad}{key}: {value}")
        elif isinstance(value, bool):
            lines.append(f"{pad}{key}: {'true' if value else 'false'}")
        elif isinstance(value, (int, float)):
            lines.append(f"{pad}{key}: {_fmt_number(float(value)) if isinstance(value, float) else value}")
        else:
            lines.append(f"{pad}{key}: {_quote(str(value))}")
    return "".join(line + "\n" for line in lines)


__all__ = ["format_pbtxt", "parse_message", "parse_pbtxt"]

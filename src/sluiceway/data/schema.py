"""The data schema: what a feature's data is expected to look like, curated by people and frozen.

A ``Schema`` is inferred from statistics once (``infer_schema``), written as a readable YAML file
(``Schema.to_yaml``), reviewed and edited by people, and then used as the contract every later span and the
serving data are validated against (``sluiceway.data.validation.validate_statistics``).

It carries TFDV's concepts, in a flat shape::

    schema_version: 1
    default_environment: [TRAINING, SERVING]
    min_examples_count: 1
    features:
    - name: species
      type: string
      presence: {min_fraction: 1.0, min_count: 1}
      domain: [Adelie, Chinstrap, Gentoo]
      not_in_environment: [SERVING]          # the label: absent at serving time
    - name: body_mass_g
      type: float
      presence: {min_count: 1}
      range: {min: 2700.0, max: 6300.0}       # off unless inferred with infer_ranges=True or written by hand
      drift_comparator: {jensen_shannon_divergence: 0.05}

Differences from TFDV worth knowing:

* ``type`` is one of ``int``, ``float``, ``string``, ``bytes``, ``bool``, ``datetime``; it is the element
  type for list-valued features (which have a ``value_count``). In pbtxt, ``string`` and ``bytes`` are
  TFDV's ``BYTES`` (imported as ``string``), ``bool`` is ``INT`` with a ``bool_domain``, and ``datetime`` is
  exported as ``INT`` (TFDV has no timestamp type; it comes back as ``int``).
* NaN and infinity in a float feature are anomalies unless ``allow_nan`` / ``allow_inf`` is true;
  ``infer_schema`` sets them to true when the data it learnt from already had them. TFDV allows both unless
  ``float_domain { disallow_nan: true }`` says otherwise; pbtxt import and export translate.
* A categorical domain is written inline as ``domain: [values]``; pbtxt export writes TFDV's top-level
  ``string_domain`` referenced by name, and import accepts both forms.
* With a baseline, every feature is compared even when it has no comparator: see
  ``sluiceway.data.validation`` for the default thresholds.
* ``warning_kinds`` (anomaly kinds reported without blocking the pipeline) has no TFDV equivalent and is not
  exported to pbtxt.

TFDV's ``schema.pbtxt`` is read and written by a small text-format parser and writer in this module, so
``from_pbtxt`` / ``to_pbtxt`` work without ``tensorflow-metadata`` installed. Fields outside the supported
subset are skipped with a logged warning (listed in ``Schema.from_pbtxt_text``'s docstring).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sluiceway.errors import DataError, DefinitionError

if TYPE_CHECKING:
    from sluiceway.data.statistics import DatasetStatistics, FeatureStatistics, StatisticsSet, StringStats

logger = logging.getLogger(__name__)

FeatureType = Literal["int", "float", "string", "bytes", "bool", "datetime"]
FEATURE_TYPES: tuple[str, ...] = ("int", "float", "string", "bytes", "bool", "datetime")
TRAINING = "TRAINING"
SERVING = "SERVING"
SCHEMA_VERSION = 1
DEFAULT_MAX_DOMAIN_SIZE = 100


class _Model(BaseModel):
    # extra="forbid": a typo in a hand-edited schema (``min_fracton``) is an error, not a silent no-op.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Presence(_Model):
    """How often a feature must be present: in at least ``min_fraction`` of the examples and at least
    ``min_count`` of them. A required feature has ``min_fraction: 1.0``."""

    min_fraction: float = Field(0.0, ge=0.0, le=1.0)
    min_count: int = Field(0, ge=0)


class ValueCount(_Model):
    """Bounds on the number of values per example of a list-valued feature (``None``: unbounded)."""

    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ValueCount:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"value_count min ({self.min}) must not exceed max ({self.max})")
        return self


class Range(_Model):
    """Inclusive bounds on the values of a numeric feature (``None``: unbounded on that side)."""

    min: int | float | None = None
    max: int | float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"range min ({self.min}) must not exceed max ({self.max})")
        return self


class Comparator(_Model):
    """Threshold of a distribution comparison between two datasets (drift between spans, skew between
    training and serving). ``infinity_norm``: largest absolute difference of a categorical feature's value
    frequencies; ``jensen_shannon_divergence``: between a numeric feature's histograms (base 2, in [0, 1])."""

    infinity_norm: float | None = Field(None, ge=0.0)
    jensen_shannon_divergence: float | None = Field(None, ge=0.0, le=1.0)

    @property
    def is_set(self) -> bool:
        return self.infinity_norm is not None or self.jensen_shannon_divergence is not None


class Feature(_Model):
    """What one feature's data is expected to look like."""

    name: str = Field(min_length=1)
    type: FeatureType
    description: str | None = None
    presence: Presence = Field(default_factory=Presence)
    value_count: ValueCount | None = None
    domain: list[str] | None = None
    # Name of the TFDV top-level string_domain this came from (kept so a pbtxt round trip keeps names).
    domain_name: str | None = None
    # Fraction of values that must fall in ``domain`` (TFDV's distribution_constraints.min_domain_mass).
    min_domain_mass: float = Field(1.0, ge=0.0, le=1.0)
    range: Range | None = None
    allow_nan: bool = False
    allow_inf: bool = False
    in_environment: list[str] = Field(default_factory=list)
    not_in_environment: list[str] = Field(default_factory=list)
    skew_comparator: Comparator | None = None
    drift_comparator: Comparator | None = None
    deprecated: bool = False

    @field_validator("domain")
    @classmethod
    def _unique_domain(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return None
        seen: set[str] = set()
        duplicates = sorted({v for v in values if v in seen or seen.add(v)})  # type: ignore[func-returns-value]
        if duplicates:
            raise ValueError(f"domain lists {duplicates} more than once; list each value once")
        return values

    @model_validator(mode="after")
    def _consistent(self) -> Feature:
        if self.domain is not None and self.type not in ("string", "bytes"):
            raise ValueError(
                f"feature {self.name!r} of type {self.type} has a categorical domain; domains are for string "
                "and bytes features. Use range: {min: ..., max: ...} for numeric features."
            )
        if self.range is not None and self.type not in ("int", "float"):
            raise ValueError(f"feature {self.name!r} of type {self.type} has a range; ranges are for int and float")
        return self

    @property
    def domain_set(self) -> frozenset[str] | None:
        return None if self.domain is None else frozenset(self.domain)

    def in_env(self, environment: str | None, default_environment: Iterable[str] = ()) -> bool:
        """Whether this feature is expected in ``environment`` (``None``: every feature is expected).

        TFDV's rule: listed in ``in_environment`` → yes; listed in ``not_in_environment`` → no; otherwise
        yes when ``in_environment`` is empty (and the environment is a default one, when defaults are set)."""
        if environment is None:
            return True
        if environment in self.in_environment:
            return True
        if environment in self.not_in_environment:
            return False
        if self.in_environment:
            return False
        defaults = list(default_environment)
        return not defaults or environment in defaults


class Schema(_Model):
    """The curated contract of a dataset: its features and dataset-level constraints.

    Users edit the YAML form; ``extra`` keys are refused so a typo is reported instead of ignored.
    """

    schema_version: int = SCHEMA_VERSION
    default_environment: list[str] = Field(default_factory=list)
    min_examples_count: int | None = Field(None, ge=0)
    max_examples_count: int | None = Field(None, ge=0)
    warning_kinds: list[str] = Field(default_factory=list)
    features: list[Feature] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> Schema:
        names = [f.name for f in self.features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"features {duplicates} are defined more than once; keep one entry per feature")
        if self.schema_version > SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {self.schema_version} is newer than this Sluiceway understands "
                f"({SCHEMA_VERSION}); upgrade sluiceway"
            )
        return self

    # ---- access -------------------------------------------------------------------------------------
    def feature(self, name: str) -> Feature:
        """The feature called ``name``; ``KeyError`` naming the known features if there is none."""
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(f"schema has no feature {name!r}; it has {[f.name for f in self.features]}")

    def __contains__(self, name: object) -> bool:
        return any(f.name == name for f in self.features)

    def features_in(self, environment: str | None) -> list[Feature]:
        """The features expected in ``environment`` (all of them for ``None``)."""
        return [f for f in self.features if f.in_env(environment, self.default_environment)]

    # ---- YAML ---------------------------------------------------------------------------------------
    def to_yaml(self, path: str | Path | None = None) -> str:
        """The schema as readable YAML (defaults left out); also written to ``path`` when given."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        data["schema_version"] = self.schema_version
        features = data.pop("features", [])
        ordered: dict[str, Any] = {"schema_version": data.pop("schema_version")}
        ordered.update(data)
        ordered["features"] = features
        text = _YAML_HEADER + yaml.dump(
            ordered, Dumper=_SchemaDumper, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False
        )
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_yaml(cls, path: str | Path) -> Schema:
        """Read a schema YAML file (as written by ``to_yaml`` and edited by people)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(f"Schema file {path} does not exist. Infer one with `sluiceway schema infer`.") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"Schema file {path} is not UTF-8 text ({exc}).") from exc
        return cls.from_yaml_text(text, source=str(path))

    @classmethod
    def from_yaml_text(cls, text: str, *, source: str = "<string>") -> Schema:
        """Parse schema YAML from a string; ``source`` names it in error messages."""
        try:
            data = yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            raise DefinitionError(f"Schema {source} is not valid YAML: {exc}") from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise DefinitionError(
                f"Schema {source} must be a YAML mapping with a 'features' list; got a {type(data).__name__}."
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise DefinitionError(f"Schema {source} is invalid:\n{_pydantic_errors(exc, data)}") from exc

    # ---- TFDV schema.pbtxt ----------------------------------------------------------------------------
    def to_pbtxt(self, path: str | Path | None = None) -> str:
        """The schema in TFDV's ``schema.pbtxt`` text format; also written to ``path`` when given."""
        text = _format_message(_schema_to_message(self))
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_pbtxt(cls, path: str | Path) -> Schema:
        """Read a TFDV ``schema.pbtxt`` file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(f"Schema file {path} does not exist.") from None
        return cls.from_pbtxt_text(text, source=str(path))

    @classmethod
    def from_pbtxt_text(cls, text: str, *, source: str = "<string>") -> Schema:
        """Parse TFDV's text-format ``Schema`` proto.

        Supported: ``feature`` {``name``, ``type``, ``presence``, ``value_count``, ``shape`` (a single dim of
        size 1 becomes value_count 1..1), ``domain`` (reference), ``int_domain``/``float_domain`` (min, max,
        disallow_nan, disallow_inf), ``string_domain``, ``bool_domain``, ``distribution_constraints``
        (min_domain_mass), ``in_environment``, ``not_in_environment``, ``skew_comparator``/
        ``drift_comparator`` (``infinity_norm``, ``jensen_shannon_divergence``), ``lifecycle_stage``
        (DEPRECATED and friends), ``annotation.comment``}; top-level ``string_domain``,
        ``default_environment`` and ``dataset_constraints`` (min/max_examples_count). Other fields are
        skipped with a warning.
        """
        try:
            message = _Parser(text, source).parse()
            return _schema_from_message(message, source)
        except _TextFormatError as exc:
            raise DataError(f"Schema {source} is not a valid schema.pbtxt: {exc}") from exc
        except ValidationError as exc:
            raise DataError(f"Schema {source} does not make a valid schema:\n{exc}") from exc


# ------------------------------------------------------------------------------------------------------
# Inference
# ------------------------------------------------------------------------------------------------------


def infer_schema(
    statistics: StatisticsSet | DatasetStatistics,
    *,
    split: str | None = None,
    label: str | None = None,
    max_domain_size: int = DEFAULT_MAX_DOMAIN_SIZE,
    infer_ranges: bool = False,
    infer_value_count_max: bool = False,
) -> Schema:
    """Infer a schema from statistics, the way TFDV's ``infer_schema`` does.

    * ``split``: which split to learn from (default ``train`` when there is one, else the first split).
    * type: from the statistics; presence: required (``min_fraction: 1.0``) when no example missed the
      feature, else ``min_count: 1``.
    * categorical domain for a string feature when the listed values (top values, or the rank histogram
      when it lists more) account for every value and there are at most ``max_domain_size`` of them (so
      also at most as many as the statistics list: 50 by default in StatisticsGen), and values repeat (distinct values at most half the count), so an
      identifier column does not become an enumeration.
    * ``range`` from the observed min/max only with ``infer_ranges=True`` (off by default, as in TFDV).
    * ``value_count`` for list-valued features: the observed minimum (and maximum with
      ``infer_value_count_max=True``).
    * ``allow_nan``/``allow_inf`` for float features: true only when the data already had NaN/infinity.
    * ``label``: that feature gets ``not_in_environment: [SERVING]`` and the schema
      ``default_environment: [TRAINING, SERVING]``.
    * ``min_examples_count: 1``, so an empty span is an anomaly.
    """
    if max_domain_size < 0:
        raise DefinitionError(
            f"The 'max_domain_size' parameter of infer_schema must be an int >= 0. Got {max_domain_size!r} instead."
        )
    dataset = _pick_dataset(statistics, split)
    features: list[Feature] = []
    for stats in dataset.features:
        feature = _infer_feature(stats, max_domain_size, infer_ranges, infer_value_count_max)
        if feature is not None:
            features.append(feature)
    schema = Schema(min_examples_count=1, features=features)
    if label is not None:
        if label not in schema:
            raise DefinitionError(
                f"The label {label!r} given to infer_schema is not a feature of the statistics; "
                f"features are {[f.name for f in features]}."
            )
        schema.default_environment = [TRAINING, SERVING]
        schema.feature(label).not_in_environment = [SERVING]
    return schema


def _pick_dataset(statistics: StatisticsSet | DatasetStatistics, split: str | None) -> DatasetStatistics:
    """One split's statistics out of a statistics set (slices are not splits), or the dataset itself."""
    datasets = getattr(statistics, "datasets", None)
    if datasets is None:  # already one dataset
        return statistics  # type: ignore[return-value]
    by_name = {d.split: d for d in datasets if d.slice is None}
    if not by_name:
        raise DataError("The statistics hold no split; compute statistics over at least one split.")
    if split is None:
        split = "train" if "train" in by_name else next(iter(by_name))
    if split not in by_name:
        raise DataError(f"The statistics have no split {split!r}; they have {list(by_name)}.")
    return by_name[split]


def normalize_type(stats_type: Any) -> str:
    """Map a statistics type (``FeatureType.INT``, ``"int64"``, ``"utf8"``, ...) to a schema type name."""
    t = str(getattr(stats_type, "value", stats_type)).lower()
    if t in FEATURE_TYPES:
        return t
    if t.startswith(("int", "uint")):
        return "int"
    if t in ("double",) or t.startswith(("float", "decimal")):
        return "float"
    if t == "boolean":
        return "bool"
    if t in ("str", "utf8", "large_string", "large_utf8", "categorical", "enum"):
        return "string"
    if t in ("binary", "large_binary"):
        return "bytes"
    if t.startswith(("date", "timestamp", "time")):
        return "datetime"
    return t


def listed_values(strings: StringStats) -> list[tuple[str, float]]:
    """The (value, count) pairs the statistics list for a string feature, most frequent first: the rank
    histogram's single-value buckets when it lists more values than ``top_values`` (it usually does)."""
    ranked = [(b.label, b.count) for b in strings.rank_histogram if b.low_rank == b.high_rank]
    if len(ranked) > len(strings.top_values):
        return ranked
    return [(v.value, v.count) for v in strings.top_values]


def _infer_feature(
    stats: FeatureStatistics, max_domain_size: int, infer_ranges: bool, infer_value_count_max: bool
) -> Feature | None:
    ftype = normalize_type(stats.value_type or stats.type)
    if ftype not in FEATURE_TYPES:
        # "null" (no value at all: no type can be told) and "struct" (its fields are features of their own).
        logger.warning("feature %r has statistics type %r, which a schema cannot describe; not inferred", stats.name, ftype)
        return None
    required = stats.missing == 0 and stats.count > 0
    presence = Presence(min_fraction=1.0, min_count=1) if required else Presence(min_count=1)
    feature = Feature(name=stats.name, type=ftype, presence=presence)  # type: ignore[arg-type]

    lists = stats.list
    if lists is not None:
        feature.value_count = ValueCount(
            min=lists.min_num_values, max=lists.max_num_values if infer_value_count_max else None
        )

    numeric = stats.numeric
    if ftype == "float" and numeric is not None:
        feature.allow_nan = numeric.num_nan > 0
        feature.allow_inf = numeric.num_inf > 0
    if infer_ranges and ftype in ("int", "float") and numeric is not None and numeric.min is not None:
        lo, hi = numeric.min, numeric.max
        if hi is not None and math.isfinite(lo) and math.isfinite(hi):
            feature.range = Range(min=int(lo), max=int(hi)) if ftype == "int" else Range(min=float(lo), max=float(hi))

    strings = stats.string
    if ftype in ("string", "bytes") and strings is not None and strings.top_values:
        values = listed_values(strings)
        total_values = lists.total_num_values if lists is not None else stats.count
        covered = sum(count for _, count in values)
        distinct = len(values)
        # Every value must be listed (an exact, complete top-k), the domain small, and values must repeat:
        # a column of identifiers is not an enumeration.
        if (
            strings.top_values_exact
            and covered >= total_values
            and distinct <= max_domain_size
            and distinct * 2 <= total_values
        ):
            feature.domain = sorted(value for value, _ in values)
    return feature


# ------------------------------------------------------------------------------------------------------
# YAML formatting
# ------------------------------------------------------------------------------------------------------

_YAML_HEADER = """\
# Sluiceway data schema: the contract every span and the serving data are validated against.
# Edit it freely (comments are fine); see sluiceway.data.schema for every field. Short reminders:
#   presence: {min_fraction, min_count}   domain: [allowed values]   range: {min, max}
#   value_count: {min, max} (list features)   allow_nan / allow_inf (float features)
#   not_in_environment: [SERVING] keeps the label out of serving validation
#   skew_comparator / drift_comparator: {infinity_norm: 0.1} (categorical) or
#     {jensen_shannon_divergence: 0.1} (numeric); with a baseline, features without one use 0.1.
#   warning_kinds: anomaly kinds that are reported but do not stop the pipeline.
"""


# libyaml's C loader and dumper when PyYAML was built with them (5-10x faster), else the Python ones.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SchemaDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Short lists and small mappings of scalars in flow style (``[a, b]``, ``{min: 1}``): easier to read."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(not isinstance(v, (dict, list)) for v in data) and len(str(data)) <= 90
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    flow = len(data) <= 3 and all(not isinstance(v, (dict, list)) for v in data.values()) and "name" not in data
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


_SchemaDumper.add_representer(list, _represent_list)
_SchemaDumper.add_representer(dict, _represent_dict)


def _pydantic_errors(exc: ValidationError, data: dict) -> str:
    """Pydantic's errors with feature indices replaced by feature names, one per line."""
    lines = []
    features = data.get("features") if isinstance(data, dict) else None
    for err in exc.errors():
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "features" and isinstance(loc[1], int) and isinstance(features, list):
            entry = features[loc[1]] if loc[1] < len(features) else None
            if isinstance(entry, dict) and "name" in entry:
                loc[1] = f"[{entry['name']!r}]"
        where = ".".join(str(p) for p in loc) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------
# Protocol-buffer text format: the subset TFDV schemas use
# ------------------------------------------------------------------------------------------------------


class _TextFormatError(ValueError):
    pass


class _Enum(str):
    """A bare identifier in text format (an enum value or ``true``/``inf``), as opposed to a quoted string."""


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


def _unescape(body: str) -> str:
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
                raise _TextFormatError(f"bad \\x escape in {body!r}")
            out.append(int(m.group(0), 16))
            i += 2 + len(m.group(0))
        else:
            raise _TextFormatError(f"unknown escape \\{nxt} in {body!r}")
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

    def _message(self, closer: str | None) -> _Message:
        fields: _Message = []
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
            return [self._message("}" if value == "{" else ">")]
        if kind == "punct" and value == "[":
            values: list[Any] = []
            while True:
                kind, value, line = self._next("']'")
                if kind == "punct" and value == "]":
                    return values
                if kind == "punct" and value == ",":
                    continue
                if kind == "punct" and value in "{<":
                    values.append(self._message("}" if value == "{" else ">"))
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
            text = _unescape(value[1:-1])
            while (tok := self._peek()) is not None and tok[0] == "string":  # adjacent strings concatenate
                self.i += 1
                text += _unescape(tok[1][1:-1])
            return text
        if kind == "word":
            return _Enum(value)
        raise _TextFormatError(f"line {line}: expected a value, got {value!r}")


def _number(value: Any, what: str) -> float:
    text = str(value).lower()
    if re.fullmatch(r"[+-]?[0-9.]+(e[+-]?[0-9]+)?f", text):  # C-style float suffix: 1.5f
        text = text[:-1]
    try:
        if text in ("inf", "infinity", "+inf"):
            return math.inf
        if text in ("-inf", "-infinity"):
            return -math.inf
        if text == "nan":
            return math.nan
        if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", text):
            return float(int(text, 16))
        return float(text)
    except ValueError:
        raise _TextFormatError(f"{what}: expected a number, got {value!r}") from None


def _int(value: Any, what: str) -> int:
    number = _number(value, what)
    if not number.is_integer():
        raise _TextFormatError(f"{what}: expected an integer, got {value!r}")
    return int(number)


def _bool(value: Any, what: str) -> bool:
    text = str(value).lower()
    if text in ("true", "t", "1"):
        return True
    if text in ("false", "f", "0"):
        return False
    raise _TextFormatError(f"{what}: expected true or false, got {value!r}")


def _sub(message: _Message, name: str) -> _Message:
    """The last value of sub-message field ``name`` (text format merges repeats; the last wins here)."""
    found: _Message = []
    for key, value in message:
        if key == name and isinstance(value, list):
            found = found + value
    return found


def _get(message: _Message, name: str) -> Any:
    value = None
    for key, v in message:
        if key == name:
            value = v
    return value


def _comparator_from(message: _Message, where: str) -> Comparator:
    comparator = Comparator()
    for key, value in message:
        if key == "infinity_norm":
            threshold = _get(value, "threshold")
            comparator.infinity_norm = _number(threshold, f"{where}.infinity_norm.threshold") if threshold is not None else None
        elif key == "jensen_shannon_divergence":
            threshold = _get(value, "threshold")
            comparator.jensen_shannon_divergence = (
                _number(threshold, f"{where}.jensen_shannon_divergence.threshold") if threshold is not None else None
            )
        else:
            logger.warning("schema.pbtxt: %s.%s is not supported; skipped", where, key)
    return comparator


_FEATURE_SKIPPED_QUIETLY = {"shape"}
_INACTIVE_STAGES = {"DEPRECATED", "PLANNED", "ALPHA", "DEBUG_ONLY", "DISABLED"}


def _feature_from(message: _Message, string_domains: dict[str, list[str]], source: str) -> Feature:
    name = _get(message, "name")
    if name is None:
        raise _TextFormatError("a feature has no name")
    where = f"feature {name!r}"
    tfdv_type = str(_get(message, "type") or "TYPE_UNKNOWN")
    kind: dict[str, Any] = {"name": str(name)}
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
        raise _TextFormatError(f"{where} has type {tfdv_type}; supported types are INT, FLOAT and BYTES")
    in_env: list[str] = []
    not_in_env: list[str] = []
    for key, value in message:
        if key in ("name", "type", "bool_domain"):
            continue
        if key == "presence":
            presence = {}
            if (v := _get(value, "min_fraction")) is not None:
                presence["min_fraction"] = _number(v, f"{where}.presence.min_fraction")
            if (v := _get(value, "min_count")) is not None:
                presence["min_count"] = _int(v, f"{where}.presence.min_count")
            kind["presence"] = Presence(**presence)
        elif key == "value_count":
            kind["value_count"] = ValueCount(
                min=_int(v, f"{where}.value_count.min") if (v := _get(value, "min")) is not None else None,
                max=_int(v, f"{where}.value_count.max") if (v := _get(value, "max")) is not None else None,
            )
        elif key == "shape":
            dims = [d for k, d in value if k == "dim"]
            if len(dims) == 1 and _get(dims[0], "size") is not None and _int(_get(dims[0], "size"), where) == 1:
                kind["value_count"] = ValueCount(min=1, max=1)
            else:
                logger.warning("%s: %s.shape other than a single value is not supported; skipped", source, where)
        elif key == "domain":
            domain_name = str(value)
            if domain_name not in string_domains:
                raise _TextFormatError(
                    f"{where} refers to domain {domain_name!r}, which is not a top-level string_domain "
                    f"(those are {sorted(string_domains)})"
                )
            kind["domain"] = list(string_domains[domain_name])
            if domain_name != name:  # export names a domain after its feature by default
                kind["domain_name"] = domain_name
        elif key == "string_domain":
            kind["domain"] = [str(v) for k, v in value if k == "value"]
        elif key in ("int_domain", "float_domain"):
            lo = _get(value, "min")
            hi = _get(value, "max")
            if lo is not None or hi is not None:
                read = _int if key == "int_domain" else _number
                kind["range"] = Range(
                    min=read(lo, f"{where}.{key}.min") if lo is not None else None,
                    max=read(hi, f"{where}.{key}.max") if hi is not None else None,
                )
            if key == "float_domain":
                if (v := _get(value, "disallow_nan")) is not None:
                    kind["allow_nan"] = not _bool(v, f"{where}.float_domain.disallow_nan")
                if (v := _get(value, "disallow_inf")) is not None:
                    kind["allow_inf"] = not _bool(v, f"{where}.float_domain.disallow_inf")
            for sub_key, _ in value:
                if sub_key not in ("min", "max", "disallow_nan", "disallow_inf", "name"):
                    logger.warning("%s: %s.%s.%s is not supported; skipped", source, where, key, sub_key)
        elif key == "distribution_constraints":
            if (v := _get(value, "min_domain_mass")) is not None:
                kind["min_domain_mass"] = _number(v, f"{where}.distribution_constraints.min_domain_mass")
        elif key == "in_environment":
            in_env.append(str(value))
        elif key == "not_in_environment":
            not_in_env.append(str(value))
        elif key in ("skew_comparator", "drift_comparator"):
            kind[key] = _comparator_from(value, f"{where}.{key}")
        elif key == "lifecycle_stage":
            kind["deprecated"] = str(value) in _INACTIVE_STAGES
        elif key == "annotation":
            comments = [str(v) for k, v in value if k == "comment"]
            if comments:
                kind["description"] = "\n".join(comments)
        else:
            logger.warning("%s: %s.%s is not supported; skipped", source, where, key)
    if in_env:
        kind["in_environment"] = in_env
    if not_in_env:
        kind["not_in_environment"] = not_in_env
    return Feature(**kind)


def _schema_from_message(message: _Message, source: str) -> Schema:
    string_domains: dict[str, list[str]] = {}
    for key, value in message:
        if key == "string_domain":
            name = _get(value, "name")
            if name is None:
                raise _TextFormatError("a top-level string_domain has no name")
            string_domains[str(name)] = [str(v) for k, v in value if k == "value"]
    schema = Schema()
    features: list[Feature] = []
    for key, value in message:
        if key == "feature":
            features.append(_feature_from(value, string_domains, source))
        elif key == "default_environment":
            schema.default_environment = [*schema.default_environment, str(value)]
        elif key == "dataset_constraints":
            if (v := _get(value, "min_examples_count")) is not None:
                schema.min_examples_count = _int(v, "dataset_constraints.min_examples_count")
            if (v := _get(value, "max_examples_count")) is not None:
                schema.max_examples_count = _int(v, "dataset_constraints.max_examples_count")
        elif key != "string_domain":
            logger.warning("%s: top-level field %s is not supported; skipped", source, key)
    schema.features = features
    return Schema.model_validate(schema.model_dump())


def _fmt_number(value: float) -> _Enum:
    if math.isinf(value):
        return _Enum("inf" if value > 0 else "-inf")
    if math.isnan(value):
        return _Enum("nan")
    return _Enum(repr(float(value)))


def _schema_to_message(schema: Schema) -> _Message:
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


__all__ = [
    "DEFAULT_MAX_DOMAIN_SIZE",
    "FEATURE_TYPES",
    "SERVING",
    "TRAINING",
    "Comparator",
    "Feature",
    "FeatureType",
    "Presence",
    "Range",
    "Schema",
    "ValueCount",
    "infer_schema",
    "normalize_type",
]

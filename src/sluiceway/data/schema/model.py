"""The data schema model: ``DataSchema`` and its features, and their YAML form.

A ``DataSchema`` is inferred from statistics once (``sluiceway.data.infer_schema``), written as a readable
YAML file (``DataSchema.to_yaml``), reviewed and edited by people, and then used as the contract every later
span and the serving data are validated against (``sluiceway.data.validate_statistics``). It is named
``DataSchema`` so it is not confused with the artifact type ``sluiceway.Schema``, whose file holds one.

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
      drift_comparator: {ks_distance: 0.1}

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
* With a baseline, every feature is compared even when it has no comparator, with the default methods and
  thresholds (``Comparator`` says what each number means). ``ks_distance`` has no TFDV equivalent and is
  not exported to pbtxt; nor is ``warning_kinds`` (anomaly kinds reported without blocking the pipeline).

Every problem reading a schema file — missing, not text, malformed YAML or pbtxt, unknown fields, wrong
types or values — is a ``DataError`` naming the file (and the line where the parser knows it) and saying
what was expected.
"""

from __future__ import annotations

import logging
import reprlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sluiceway.errors import DataError

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

    min_fraction: float = Field(default=0.0, ge=0.0, le=1.0)
    min_count: int = Field(default=0, ge=0)


class ValueCount(_Model):
    """Bounds on the number of values per example of a list-valued feature (``None``: unbounded)."""

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

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
    """Thresholds of distribution comparisons between two datasets (drift between spans, skew between
    training and serving); each set threshold is one comparison. Scores are effect sizes, and a comparison
    fails only when its score is above the threshold *and* above the sampling noise of the two datasets'
    sizes (see ``sluiceway.data.validation.drift``):

    * ``infinity_norm`` (categorical, default 0.1): the largest absolute difference between a value's
      frequencies — 0.1 means some value's share moved by 10 percentage points.
    * ``ks_distance`` (numeric, default 0.05): the Kolmogorov–Smirnov distance, the largest difference
      between the cumulative distributions — 0.05 means 5 % of the values moved across some point. A
      20 % change of scale of a lognormal(σ=1) column scores about 0.07.
    * ``jensen_shannon_divergence`` (numeric, TFDV's; base 2, in [0, 1]): grows with the square of a
      shift, so a 30 % change of scale of a lognormal column scores only about 0.01; prefer ``ks_distance``.
    """

    infinity_norm: float | None = Field(default=None, ge=0.0, le=1.0)
    ks_distance: float | None = Field(default=None, ge=0.0, le=1.0)
    jensen_shannon_divergence: float | None = Field(default=None, ge=0.0, le=1.0)

    @property
    def is_set(self) -> bool:
        return any(x is not None for x in (self.infinity_norm, self.ks_distance, self.jensen_shannon_divergence))


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
    min_domain_mass: float = Field(default=1.0, ge=0.0, le=1.0)
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


class DataSchema(_Model):
    """The curated contract of a dataset: its features and dataset-level constraints.

    Users edit the YAML form; ``extra`` keys are refused so a typo is reported instead of ignored.
    """

    schema_version: int = SCHEMA_VERSION
    default_environment: list[str] = Field(default_factory=list)
    min_examples_count: int | None = Field(default=None, ge=0)
    max_examples_count: int | None = Field(default=None, ge=0)
    warning_kinds: list[str] = Field(default_factory=list)
    features: list[Feature] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> DataSchema:
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
    def from_yaml(cls, path: str | Path) -> DataSchema:
        """Read a schema YAML file (as written by ``to_yaml`` and edited by people)."""
        return cls.from_yaml_text(read_schema_text(path), source=str(path))

    @classmethod
    def from_yaml_text(cls, text: str, *, source: str = "<string>") -> DataSchema:
        """Parse schema YAML from a string; ``source`` names it in error messages."""
        try:
            data = yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a safe loader
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise DataError(
                f"Schema {source}{where} is not valid YAML: {exc.problem or exc}. Fix the YAML syntax there "
                "(a .pbtxt suffix reads TFDV's text format instead)."
            ) from exc
        except (yaml.YAMLError, RecursionError, ValueError) as exc:
            # ValueError: PyYAML's scanner on some malformed numbers and control characters
            raise DataError(f"Schema {source} is not valid YAML ({type(exc).__name__}: {exc}).") from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise DataError(
                f"Schema {source} must be a YAML mapping with a 'features' list; got a {type(data).__name__}. "
                "Start from the file `sluiceway schema infer` writes."
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise DataError(
                f"Schema {source} is invalid (fix or remove the fields named; every field is described in "
                f"sluiceway.data.schema):\n{_pydantic_errors(exc, data)}"
            ) from exc

    # ---- TFDV schema.pbtxt ----------------------------------------------------------------------------
    def to_pbtxt(self, path: str | Path | None = None) -> str:
        """The schema in TFDV's ``schema.pbtxt`` text format; also written to ``path`` when given."""
        from sluiceway.data.schema.pbtxt import format_pbtxt

        text = format_pbtxt(self)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_pbtxt(cls, path: str | Path) -> DataSchema:
        """Read a TFDV ``schema.pbtxt`` file."""
        return cls.from_pbtxt_text(read_schema_text(path), source=str(path))

    @classmethod
    def from_pbtxt_text(cls, text: str, *, source: str = "<string>") -> DataSchema:
        """Parse TFDV's text-format ``Schema`` proto (the supported fields are listed in
        ``sluiceway.data.schema.pbtxt``); ``DataError`` with the line for anything it cannot read."""
        from sluiceway.data.schema.pbtxt import parse_pbtxt

        return parse_pbtxt(text, source=source)


def read_schema_text(path: str | Path) -> str:
    """The text of a schema file; ``DataError`` naming the file when it is missing or unreadable."""
    file = Path(path)
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(
            f"Schema file {str(file)!r} does not exist (looked from {Path.cwd()}). Pass the path of a schema.yaml "
            "or schema.pbtxt, or infer one with `sluiceway schema infer`."
        ) from None
    except IsADirectoryError:
        raise DataError(
            f"Schema file {str(file)!r} is a folder; pass the path of a schema.yaml or schema.pbtxt."
        ) from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"Schema file {str(file)!r} is not UTF-8 text ({exc}); a schema is a YAML or pbtxt text file."
        ) from exc
    except OSError as exc:
        raise DataError(f"Schema file {str(file)!r} cannot be read: {exc}") from exc


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
#     {ks_distance: 0.05} (numeric); with a baseline, features without one use those defaults.
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


_short_repr = reprlib.Repr()
_short_repr.maxstring = _short_repr.maxother = 60
_short_repr.maxlevel = 2


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
        given = _short_repr.repr(err.get("input"))  # bounded: the input may be huge or deeply nested
        lines.append(f"  {where}: {err['msg']} (got {given})")
    if len(lines) > 20:
        lines = [*lines[:20], f"  ... and {len(lines) - 20} more"]
    return "\n".join(lines)


__all__ = [
    "DEFAULT_MAX_DOMAIN_SIZE",
    "FEATURE_TYPES",
    "SCHEMA_VERSION",
    "SERVING",
    "TRAINING",
    "Comparator",
    "DataSchema",
    "Feature",
    "FeatureType",
    "Presence",
    "Range",
    "ValueCount",
    "read_schema_text",
]

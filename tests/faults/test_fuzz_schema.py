"""Fuzzing schema parsing (issue 7; the error contract of issue 6 point 13).

Hypothesis feeds the YAML and TFDV pbtxt schema readers structured and mutated input for a fixed budget
(``trials``: a fast subset in ``make test``, the full count in ``make test-faults``). Each input either
parses into a ``DataSchema`` or raises the documented ``DataError`` naming the source; anything else — a
built-in exception, a pydantic ``ValidationError``, an error that does not say which file — is counted as
``unexpected`` and fails the probe. One table row per probe.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import yaml
from faultlog import record, rng, trials
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from sluiceway.data.schema import DataSchema, load_schema
from sluiceway.errors import DataError

SOURCE = "fuzzed-schema"

VALID_YAML = """\
schema_version: 1
default_environment: [TRAINING, SERVING]
min_examples_count: 1
warning_kinds: [SCHEMA_NEW_COLUMN]
features:
- name: species
  type: string
  presence: {min_fraction: 1.0, min_count: 1}
  domain: [Adelie, Chinstrap, Gentoo]
  not_in_environment: [SERVING]
- name: body_mass_g
  type: float
  range: {min: 2700.0, max: 6300.0}
  allow_nan: true
  drift_comparator: {ks_distance: 0.1}
  skew_comparator: {infinity_norm: 0.2, jensen_shannon_divergence: 0.05}
- name: tags
  type: string
  value_count: {min: 1, max: 4}
  min_domain_mass: 0.9
  deprecated: false
"""

VALID_PBTXT = r"""feature {
  name: "species"
  type: BYTES
  domain: "species"
  presence { min_fraction: 1.0 min_count: 1 }
  not_in_environment: "SERVING"
}
feature {
  name: "body_mass_g"
  type: FLOAT
  float_domain { min: 2700.0 max: 6.3e3 disallow_nan: true }
  drift_comparator { jensen_shannon_divergence { threshold: 0.05 } }
  annotation { comment: "grams, \"rounded\"" }
}
feature { name: "year" type: INT int_domain { min: 2007 max: 0x7D9 } lifecycle_stage: DEPRECATED }
feature { name: "tagged" type: INT bool_domain { } value_count { min: 1 max: 1 } }
string_domain { name: "species" value: "Adelie" value: "Chinstrap" value: "Gentoo" }
default_environment: "TRAINING"
dataset_constraints { min_examples_count: 1 }
"""

SCHEMA_KEYS = [
    "schema_version", "default_environment", "min_examples_count", "max_examples_count", "warning_kinds",
    "features", "name", "type", "description", "presence", "min_fraction", "min_count", "value_count", "min",
    "max", "domain", "domain_name", "min_domain_mass", "range", "allow_nan", "allow_inf", "in_environment",
    "not_in_environment", "skew_comparator", "drift_comparator", "infinity_norm", "ks_distance",
    "jensen_shannon_divergence", "deprecated",
]
PBTXT_TOKENS = [
    "feature", "name", "type", "presence", "min_fraction", "min_count", "value_count", "min", "max", "domain",
    "string_domain", "int_domain", "float_domain", "bool_domain", "value", "disallow_nan", "disallow_inf",
    "distribution_constraints", "min_domain_mass", "in_environment", "not_in_environment", "skew_comparator",
    "drift_comparator", "infinity_norm", "jensen_shannon_divergence", "threshold", "lifecycle_stage",
    "annotation", "comment", "shape", "dim", "size", "default_environment", "dataset_constraints",
    "min_examples_count", "max_examples_count", "sparse_feature", "INT", "FLOAT", "BYTES", "STRUCT",
    "DEPRECATED", "true", "false", "inf", "-inf", "nan", "0", "1", "-1", "0x1F", "017", "1e400", "2.5f",
    "9223372036854775808", "{", "}", "<", ">", ":", "[", "]", ",", ";", '"x"', "'y'", '"\\303\\251"',
    '"\\x41"', '"\\q"', '"unterminated', "#c\n", "\n",
]


def _outcome(parse: Any, text: Any) -> tuple[str, str | None]:
    """("parsed" | "located" | "unexpected", detail)."""
    try:
        parse(text)
    except DataError as exc:
        if SOURCE not in str(exc):
            return "unexpected", f"DataError without the source: {exc}"
        return "located", None
    except Exception as exc:  # noqa: BLE001 - the probe counts whatever escapes; the assertion reports it
        return "unexpected", f"{type(exc).__name__}: {exc}"
    return "parsed", None


class Tally:
    def __init__(self) -> None:
        self.counts = {"parsed": 0, "located": 0, "unexpected": 0}
        self.examples: list[str] = []

    def add(self, outcome: tuple[str, str | None], text: Any) -> None:
        kind, detail = outcome
        self.counts[kind] += 1
        if kind == "unexpected" and len(self.examples) < 5:
            self.examples.append(f"{detail!s:.300} <- {text!r:.300}")

    def report(self, probe: str) -> None:
        total = sum(self.counts.values())
        record(probe, trials=total, located=self.counts["located"], unexpected=self.counts["unexpected"],
               tracebacks=self.counts["unexpected"])
        assert self.counts["unexpected"] == 0, self.examples
        assert total > 0 and self.counts["located"] > 0  # the probe reached the error paths


def _mutations(valid: str) -> st.SearchStrategy[str]:
    """The valid text with a few random edits: deleted, replaced, inserted or duplicated spans."""
    alphabet = st.sampled_from(list(string.printable) + ["\x00", "é", "\u2028", "\ufeff", "\\", '"', "'", "{", "}"])
    edit = st.tuples(st.sampled_from(["delete", "replace", "insert", "duplicate", "truncate"]),
                     st.integers(0, len(valid)), st.integers(1, 12), st.text(alphabet, min_size=1, max_size=8))

    def apply(edits: list[tuple[str, int, int, str]]) -> str:
        text = valid
        for op, at, width, chars in edits:
            at = min(at, len(text))
            if op == "delete":
                text = text[:at] + text[at + width:]
            elif op == "replace":
                text = text[:at] + chars + text[at + len(chars):]
            elif op == "insert":
                text = text[:at] + chars + text[at:]
            elif op == "duplicate":
                text = text[:at] + text[at:at + width] * 2 + text[at + width:]
            else:
                text = text[:at]
        return text

    return st.lists(edit, min_size=1, max_size=4).map(apply)


_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=10)
_keys = st.sampled_from(SCHEMA_KEYS) | st.text(max_size=6)
_structures = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=25,
)
_schema_shaped = st.fixed_dictionaries(
    {"features": st.lists(st.dictionaries(_keys, _structures, max_size=6), max_size=3)},
    optional={"schema_version": _scalars, "default_environment": _structures, "min_examples_count": _scalars,
              "warning_kinds": _structures},
)
_yaml_texts = (
    _mutations(VALID_YAML)
    | _structures.map(lambda v: yaml.safe_dump(v, allow_unicode=True))
    | _schema_shaped.map(lambda v: yaml.safe_dump(v, allow_unicode=True))
    | st.text(max_size=200)
)
_pbtxt_texts = (
    _mutations(VALID_PBTXT)
    | st.lists(st.sampled_from(PBTXT_TOKENS), max_size=40).map(" ".join)
    | st.text(max_size=200)
)

_SETTINGS = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}


def test_fuzz_yaml_schemas_raise_only_located_data_errors() -> None:
    tally = Tally()

    @seed(rng("fuzz-schema-yaml").getrandbits(64))
    @settings(max_examples=trials(300, 5000), **_SETTINGS)
    @given(_yaml_texts)
    def probe(text: str) -> None:
        tally.add(_outcome(lambda t: DataSchema.from_yaml_text(t, source=SOURCE), text), text)

    probe()
    tally.report("fuzz schema YAML")


def test_fuzz_pbtxt_schemas_raise_only_located_data_errors() -> None:
    tally = Tally()

    @seed(rng("fuzz-schema-pbtxt").getrandbits(64))
    @settings(max_examples=trials(300, 5000), **_SETTINGS)
    @given(_pbtxt_texts)
    def probe(text: str) -> None:
        tally.add(_outcome(lambda t: DataSchema.from_pbtxt_text(t, source=SOURCE), text), text)

    probe()
    tally.report("fuzz schema pbtxt")


def test_fuzz_schema_files_of_any_bytes_and_suffix(tmp_path: Path) -> None:
    tally = Tally()
    contents = (st.binary(max_size=300) | _yaml_texts.map(str.encode) | _pbtxt_texts.map(str.encode)
                | st.sampled_from([VALID_YAML.encode(), VALID_PBTXT.encode(), b"\xff\xfe\x00", b""]))
    suffixes = st.sampled_from([".yaml", ".yml", ".pbtxt", ".txt", ".textproto", ".json", "", ".YAML"])

    @seed(rng("fuzz-schema-files").getrandbits(64))
    @settings(max_examples=trials(150, 2000), **_SETTINGS)
    @given(contents, suffixes)
    def probe(content: bytes, suffix: str) -> None:
        path = tmp_path / f"{SOURCE}{suffix}"
        path.write_bytes(content)
        tally.add(_outcome(load_schema, path), (suffix, content))

    probe()
    tally.report("fuzz schema files")


def _alias_bomb(levels: int) -> str:
    lines = ['l0: &l0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join([*lines, f"features: [{{name: x, type: string, domain: *l{levels - 1}}}]"]) + "\n"


HOSTILE = {
    "yaml nested 100k deep": ("yaml", "[" * 100_000 + "]" * 100_000),
    "pbtxt nested 50k deep": ("pbtxt", "feature { " + "annotation { " * 50_000 + "}" * 50_001),
    "yaml alias bomb (9^7 leaves)": ("yaml", _alias_bomb(7)),
    "yaml NUL and BOM": ("yaml", "\ufefffeatures:\n- {name: \"a\x00b\", type: int}\n"),
    "pbtxt unterminated string": ("pbtxt", 'feature { name: "x'),
    "pbtxt int beyond int64": ("pbtxt", 'feature { name: "x" type: INT int_domain { min: 99999999999999999999999 } }'),
    "yaml 10k features": ("yaml", "features:\n" + "".join(f"- {{name: f{i}, type: int}}\n" for i in range(10_000))),
}


def test_hostile_schema_texts_fail_cleanly_with_a_bounded_message() -> None:
    tally = Tally()
    for name, (kind, text) in HOSTILE.items():
        parse = DataSchema.from_yaml_text if kind == "yaml" else DataSchema.from_pbtxt_text
        try:
            parse(text, source=SOURCE)
            tally.add(("parsed", None), name)
        except DataError as exc:
            # a message is for a person: bounded however large or deep the input
            located = SOURCE in str(exc) and len(str(exc)) < 20_000
            tally.add(("located", None) if located else ("unexpected", f"message of {len(str(exc))} chars"), name)
        except Exception as exc:  # noqa: BLE001 - counted and reported by the assertion
            tally.add(("unexpected", f"{type(exc).__name__}: {exc}"), name)
    tally.report("hostile schema texts")

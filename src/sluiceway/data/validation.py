"""Validate statistics against a schema, and compare them with a baseline (drift) or serving data (skew).

``validate_statistics`` is TFDV's ``validate_statistics`` on Sluiceway's statistics model: it reads only
statistics (never the data), so it takes milliseconds, and reports ``Anomalies`` with TFDV's kind names.

Checks against the schema, per split (every unsliced split unless ``split`` is given):

==========================================  ==============================================================
kind                                        when
==========================================  ==============================================================
``SCHEMA_MISSING_COLUMN``                   a feature expected in the environment is absent from the data
``SCHEMA_NEW_COLUMN``                       a column in the data is not in the schema
``UNEXPECTED_DATA_TYPE``                    the data's type differs from the schema's (int data in a
                                            float feature is accepted: it widens without loss)
``ENUM_TYPE_UNEXPECTED_STRING_VALUES``      values outside the feature's ``domain`` make up more than
                                            ``1 - min_domain_mass`` of its values
``FEATURE_TYPE_LOW_FRACTION_PRESENT``       present in fewer than ``presence.min_fraction`` of examples
``FEATURE_TYPE_LOW_NUMBER_PRESENT``         present in fewer than ``presence.min_count`` examples
``FLOAT_TYPE_HAS_NAN`` / ``..._HAS_INF``    NaN / infinite values where ``allow_nan`` / ``allow_inf`` is false
``INT_TYPE_SMALL_INT`` / ``INT_TYPE_BIG_INT``, ``FLOAT_TYPE_SMALL_FLOAT`` / ``FLOAT_TYPE_BIG_FLOAT``
                                            min below / max above the feature's ``range``
``FEATURE_TYPE_LOW_NUMBER_VALUES`` / ``..._HIGH_NUMBER_VALUES``
                                            fewer / more values per example than ``value_count`` allows
``DATASET_LOW_NUM_EXAMPLES`` / ``DATASET_HIGH_NUM_EXAMPLES``
                                            fewer / more examples than ``min/max_examples_count``
``COMPARATOR_L_INFTY_HIGH``                 categorical drift or skew above the threshold
``COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH``  numeric drift or skew above the threshold
==========================================  ==============================================================

Deprecated features are not checked. Features outside ``environment`` (e.g. the label, marked
``not_in_environment: [SERVING]``, when validating serving data with ``environment="SERVING"``) are not
expected; with ``environment=None`` every feature is.

Drift and skew
--------------
With ``baseline`` (the previous span's statistics) every feature of the schema is compared for drift;
with ``serving`` (statistics of serving data) the training statistics are compared with it for skew. The
threshold is the feature's ``drift_comparator`` / ``skew_comparator`` when the schema sets one; otherwise
the documented defaults apply — ``DEFAULT_INFINITY_NORM_THRESHOLD`` (0.1) for string, bytes and bool
features and ``DEFAULT_JSD_THRESHOLD`` (0.1) for int and float features (datetime features are compared
only with an explicit comparator: timestamps always move between spans) — so a baseline alone catches a
shifted column. ``default_comparators=False`` restricts the comparison to features with a comparator, as
TFDV does. Every comparison is recorded in ``Anomalies.comparisons`` with its method, score, threshold,
where the threshold came from and the binning, whether or not it raised an anomaly.

* **L-infinity distance** (categorical): the largest absolute difference between the two datasets' value
  frequencies. Frequencies are the listed values' counts (top values, or the rank histogram when it
  lists more) divided by the number of (non-missing) values; the values beyond those are pooled into one ``<other values>`` entry on each side. Bool features use the
  fraction of ``true`` (their mean).
* **Jensen–Shannon divergence** (numeric, base 2, so in [0, 1]): each dataset's distribution is read from
  its quantile histogram (its equi-width histogram when there is none), assuming values are spread evenly
  within a bucket. Both are re-binned onto common boundaries: the baseline's deciles (computed from that
  histogram) cut the line into ten bins, the outer two open-ended (so a single extreme value, which
  stretches a histogram's outer bucket, moves no mass), plus a bin for NaN. Ten bins keep the sampling
  noise of an i.i.d. resample well below the default threshold on a few hundred rows, while a shift of a
  standard deviation scores about twice the threshold and two standard deviations five times it.
"""

from __future__ import annotations

import bisect
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sluiceway.errors import DataError, DefinitionError

if TYPE_CHECKING:
    from sluiceway.data.schema import Feature, Schema
    from sluiceway.data.statistics import DatasetStatistics, FeatureStatistics, Histogram, StatisticsSet

DEFAULT_INFINITY_NORM_THRESHOLD = 0.1
DEFAULT_JSD_THRESHOLD = 0.1
MAX_EXAMPLE_VALUES = 10  # unexpected values listed in an anomaly
NUM_JSD_BINS = 10  # baseline deciles
_OTHER = "<other values>"

Severity = Literal["error", "warning"]

# kind: (short description, long-description template). Short descriptions follow TFDV's wording.
ANOMALY_KINDS: dict[str, tuple[str, str]] = {
    "SCHEMA_MISSING_COLUMN": ("Column dropped", "The feature is in the schema{env} but absent from the data."),
    "SCHEMA_NEW_COLUMN": ("New column", "New column (column in data but not in schema)."),
    "UNEXPECTED_DATA_TYPE": ("Unexpected data type", "Expected data of type {expected} but got {actual}."),
    "ENUM_TYPE_UNEXPECTED_STRING_VALUES": (
        "Unexpected string values",
        "Examples contain values missing from the schema: {values} (~{percent} of the values; at most "
        "{allowed} allowed).",
    ),
    "FEATURE_TYPE_LOW_FRACTION_PRESENT": (
        "Column dropped",
        "The feature was present in fewer examples than expected: minimum fraction = {expected}, "
        "actual = {actual}.",
    ),
    "FEATURE_TYPE_LOW_NUMBER_PRESENT": (
        "Column dropped",
        "The feature was present in fewer examples than expected: minimum count = {expected}, actual = {actual}.",
    ),
    "FLOAT_TYPE_HAS_NAN": ("Invalid values", "The feature has {actual} NaN values, and the schema allows none."),
    "FLOAT_TYPE_HAS_INF": ("Invalid values", "The feature has {actual} infinite values, and the schema allows none."),
    "INT_TYPE_SMALL_INT": ("Out-of-range values", "Unexpectedly small value: {actual} < {expected} (range minimum)."),
    "INT_TYPE_BIG_INT": ("Out-of-range values", "Unexpectedly large value: {actual} > {expected} (range maximum)."),
    "FLOAT_TYPE_SMALL_FLOAT": ("Out-of-range values", "Unexpectedly small value: {actual} < {expected} (range minimum)."),
    "FLOAT_TYPE_BIG_FLOAT": ("Out-of-range values", "Unexpectedly large value: {actual} > {expected} (range maximum)."),
    "FEATURE_TYPE_LOW_NUMBER_VALUES": (
        "Missing values",
        "Some examples have fewer values than expected: minimum = {expected}, actual = {actual}.",
    ),
    "FEATURE_TYPE_HIGH_NUMBER_VALUES": (
        "Superfluous values",
        "Some examples have more values than expected: maximum = {expected}, actual = {actual}.",
    ),
    "DATASET_LOW_NUM_EXAMPLES": (
        "Low num examples in dataset",
        "The dataset has {actual} examples, fewer than the minimum of {expected}.",
    ),
    "DATASET_HIGH_NUM_EXAMPLES": (
        "High num examples in dataset",
        "The dataset has {actual} examples, more than the maximum of {expected}.",
    ),
    "COMPARATOR_L_INFTY_HIGH": (
        "High Linfty distance between {pair}",
        "The Linfty distance between {pair} is {score:.6g} (threshold {threshold:g}, {source}). The value with "
        "the largest difference is {value!r}: {freq_a:.4g} vs {freq_b:.4g}.",
    ),
    "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH": (
        "High approximate Jensen-Shannon divergence between {pair}",
        "The approximate Jensen-Shannon divergence between {pair} is {score:.6g} (threshold {threshold:g}, "
        "{source}); {binning}.",
    ),
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Comparison(_Model):
    """One drift or skew verdict: which method, the score, the threshold, and whether it passed.

    ``score`` is ``None`` when the comparison could not be computed (``note`` says why); such a comparison
    passes. ``threshold_source`` is ``"schema"`` or ``"default"``."""

    feature: str
    split: str | None = None
    kind: Literal["drift", "skew"]
    method: Literal["infinity_norm", "jensen_shannon_divergence"]
    score: float | None
    threshold: float
    threshold_source: Literal["schema", "default"]
    passed: bool
    binning: str | None = None
    value: str | None = None  # infinity_norm: the value with the largest frequency difference
    note: str | None = None


class Anomaly(_Model):
    """One problem found: its TFDV kind, the feature (``None`` for dataset-level), descriptions and details."""

    kind: str
    feature: str | None = None
    split: str | None = None
    severity: Severity = "error"
    short_description: str
    description: str
    expected: Any = None
    actual: Any = None
    unexpected_values: list[str] = Field(default_factory=list)
    unexpected_fraction: float | None = None
    comparison: Comparison | None = None

    @property
    def blocking(self) -> bool:
        """Whether this anomaly stops a pipeline gated on anomalies (errors do; warnings do not)."""
        return self.severity == "error"


class Anomalies(_Model):
    """The result of a validation: anomalies, and every drift/skew comparison made (passed or not).

    ``len(anomalies)`` and truthiness count anomalies; ``blocking`` says whether any of them is an error
    (kinds listed in the schema's ``warning_kinds`` are warnings and do not block)."""

    anomalies: list[Anomaly] = Field(default_factory=list)
    comparisons: list[Comparison] = Field(default_factory=list)
    splits: list[str] = Field(default_factory=list)
    environment: str | None = None

    def __len__(self) -> int:
        return len(self.anomalies)

    @property
    def blocking(self) -> bool:
        return any(a.blocking for a in self.anomalies)

    @property
    def blocking_anomalies(self) -> list[Anomaly]:
        return [a for a in self.anomalies if a.blocking]

    def kinds(self, feature: str | None = None) -> set[str]:
        """The anomaly kinds found (for one feature when given)."""
        return {a.kind for a in self.anomalies if feature is None or a.feature == feature}

    def for_feature(self, feature: str) -> list[Anomaly]:
        return [a for a in self.anomalies if a.feature == feature]

    def to_dict(self) -> dict[str, Any]:
        return {"format": "sluiceway.anomalies", "version": 1, **self.model_dump(mode="json")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Anomalies:
        data = {k: v for k, v in data.items() if k not in ("format", "version")}
        return cls.model_validate(data)

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 1) -> str:
        """The JSON text (NaN/inf scores never occur); also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, path_or_text: str | Path) -> Anomalies:
        """Read from a file (or an artifact folder holding ``anomalies.json``), or parse JSON text."""
        if isinstance(path_or_text, str) and path_or_text.lstrip().startswith("{"):
            text = path_or_text
        else:
            path = Path(path_or_text)
            if path.is_dir():
                path = path / "anomalies.json"
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise DataError(f"Anomalies file not found: {path}") from None
        return cls.from_dict(json.loads(text))


# ------------------------------------------------------------------------------------------------------
# Entry point
# ------------------------------------------------------------------------------------------------------


def validate_statistics(
    statistics: StatisticsSet | DatasetStatistics,
    schema: Schema,
    *,
    baseline: StatisticsSet | DatasetStatistics | None = None,
    serving: StatisticsSet | DatasetStatistics | None = None,
    environment: str | None = None,
    split: str | None = None,
    default_comparators: bool = True,
) -> Anomalies:
    """Validate ``statistics`` against ``schema``; compare with ``baseline`` (drift) and ``serving`` (skew).

    * ``statistics``: a ``StatisticsSet`` (every unsliced split is validated, or only ``split``) or one
      ``DatasetStatistics``.
    * ``baseline``: the previous span's statistics; each split is compared with the baseline's split of the
      same name (or the baseline's ``train`` / only split when it has no such split).
    * ``serving``: statistics of serving data; the ``train`` split (or the validated split when there is
      one) is compared with it for skew. Validate serving data itself with ``environment="SERVING"``.
    * ``environment``: ``"TRAINING"``, ``"SERVING"`` or another name used in the schema; features not in it
      are not expected. ``None``: every feature is expected.
    * ``default_comparators``: compare features without a comparator using the default thresholds.
    """
    datasets = _datasets(statistics, split, "statistics")
    result = Anomalies(splits=[d.split for d in datasets], environment=environment)
    warning_kinds = set(schema.warning_kinds)
    unknown = warning_kinds - set(ANOMALY_KINDS)
    if unknown:
        raise DefinitionError(
            f"The schema's warning_kinds lists {sorted(unknown)}, which are not anomaly kinds; "
            f"known kinds are {sorted(ANOMALY_KINDS)}."
        )
    if environment is not None:
        known = set(schema.default_environment)
        for feature in schema.features:
            known.update(feature.in_environment, feature.not_in_environment)
        if known and environment not in known:
            # An unknown name would silently expect no feature at all (or every one): refuse it.
            raise DefinitionError(
                f"The environment {environment!r} given to validate_statistics is not used by the schema; "
                f"it knows {sorted(known)}. Pass one of those, or None to expect every feature."
            )
    report = _Reporter(result, warning_kinds)
    for dataset in datasets:
        _validate_dataset(dataset, schema, environment, report)
        if baseline is not None:
            reference = _matching(baseline, dataset.split, "baseline")
            _compare(reference, dataset, schema, "drift", dataset.split, default_comparators, report)
    if serving is not None:
        serving_data = _matching(serving, None, "serving")
        training = next((d for d in datasets if d.split == "train"), datasets[0])
        _compare(training, serving_data, schema, "skew", training.split, default_comparators, report)
    return result


def _datasets(statistics: Any, split: str | None, what: str) -> list[DatasetStatistics]:
    datasets = getattr(statistics, "datasets", None)
    if datasets is None:
        return [statistics]
    unsliced = [d for d in datasets if d.slice is None]
    if not unsliced:
        raise DataError(f"The {what} hold no split; compute statistics over at least one split.")
    if split is not None:
        chosen = [d for d in unsliced if d.split == split]
        if not chosen:
            raise DataError(f"The {what} have no split {split!r}; they have {[d.split for d in unsliced]}.")
        return chosen
    return unsliced


def _matching(statistics: Any, split: str | None, what: str) -> DatasetStatistics:
    candidates = _datasets(statistics, None, what)
    by_name = {d.split: d for d in candidates}
    if split is not None and split in by_name:
        return by_name[split]
    return by_name.get("train", candidates[0])


class _Reporter:
    def __init__(self, result: Anomalies, warning_kinds: set[str]) -> None:
        self.result = result
        self.warning_kinds = warning_kinds

    def add(self, kind: str, feature: str | None, split: str | None, *, short: dict | None = None, **details: Any) -> None:
        short_template, long_template = ANOMALY_KINDS[kind]
        fields = {k: v for k, v in details.items() if k not in ("unexpected_values", "unexpected_fraction", "comparison")}
        self.result.anomalies.append(
            Anomaly(
                kind=kind,
                feature=feature,
                split=split,
                severity="warning" if kind in self.warning_kinds else "error",
                short_description=short_template.format(**(short or {})),
                description=long_template.format(**fields),
                expected=details.get("expected"),
                actual=details.get("actual"),
                unexpected_values=details.get("unexpected_values") or [],
                unexpected_fraction=details.get("unexpected_fraction"),
                comparison=details.get("comparison"),
            )
        )


# ------------------------------------------------------------------------------------------------------
# Checks against the schema
# ------------------------------------------------------------------------------------------------------

# Statistics types each schema type accepts. int data in a float feature widens without loss; a column
# that is entirely null has no type ("null") and is judged by its presence only.
_COMPATIBLE: dict[str, frozenset[str]] = {
    "int": frozenset({"int"}),
    "float": frozenset({"float", "int"}),
    "string": frozenset({"string", "bytes"}),
    "bytes": frozenset({"bytes", "string"}),
    "bool": frozenset({"bool"}),
    "datetime": frozenset({"datetime"}),
}


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _validate_dataset(dataset: DatasetStatistics, schema: Schema, environment: str | None, report: _Reporter) -> None:
    from sluiceway.data.schema import normalize_type

    split = dataset.split
    n = dataset.num_examples
    if schema.min_examples_count is not None and n < schema.min_examples_count:
        report.add("DATASET_LOW_NUM_EXAMPLES", None, split, expected=schema.min_examples_count, actual=n)
    if schema.max_examples_count is not None and n > schema.max_examples_count:
        report.add("DATASET_HIGH_NUM_EXAMPLES", None, split, expected=schema.max_examples_count, actual=n)

    stats_by_name = {f.name: f for f in dataset.features}
    schema_names = {f.name for f in schema.features}
    for stats in dataset.features:
        if stats.name not in schema_names and str(getattr(stats.type, "value", stats.type)) != "struct":
            report.add("SCHEMA_NEW_COLUMN", stats.name, split)

    for feature in schema.features:
        if feature.deprecated or not feature.in_env(environment, schema.default_environment):
            continue
        stats = stats_by_name.get(feature.name)
        if stats is None:
            if n > 0 and (feature.presence.min_count > 0 or feature.presence.min_fraction > 0):
                env = f" (expected in environment {environment})" if environment else ""
                report.add("SCHEMA_MISSING_COLUMN", feature.name, split, env=env)
            continue
        _check_presence(feature, stats, n, split, report)
        actual_type = normalize_type(stats.value_type or stats.type)
        if actual_type != "null" and actual_type not in _COMPATIBLE[feature.type]:
            report.add("UNEXPECTED_DATA_TYPE", feature.name, split, expected=feature.type, actual=actual_type)
            continue  # value checks against a different type would only add noise
        _check_value_count(feature, stats, split, report)
        _check_numeric(feature, stats, split, report)
        _check_domain(feature, stats, split, report)


def _check_presence(feature: Feature, stats: FeatureStatistics, n: int, split: str, report: _Reporter) -> None:
    if n == 0:
        return
    fraction = stats.count / n
    if fraction < feature.presence.min_fraction:
        report.add(
            "FEATURE_TYPE_LOW_FRACTION_PRESENT", feature.name, split,
            expected=feature.presence.min_fraction, actual=round(fraction, 6),
        )
    if stats.count < feature.presence.min_count:
        report.add(
            "FEATURE_TYPE_LOW_NUMBER_PRESENT", feature.name, split,
            expected=feature.presence.min_count, actual=stats.count,
        )


def _check_value_count(feature: Feature, stats: FeatureStatistics, split: str, report: _Reporter) -> None:
    bounds = feature.value_count
    if bounds is None or stats.count == 0:
        return
    if stats.list is not None:
        low, high = stats.list.min_num_values, stats.list.max_num_values
    else:
        low = high = 1  # a scalar column has one value wherever it is present
    if bounds.min is not None and low < bounds.min:
        report.add("FEATURE_TYPE_LOW_NUMBER_VALUES", feature.name, split, expected=bounds.min, actual=low)
    if bounds.max is not None and high > bounds.max:
        report.add("FEATURE_TYPE_HIGH_NUMBER_VALUES", feature.name, split, expected=bounds.max, actual=high)


def _check_numeric(feature: Feature, stats: FeatureStatistics, split: str, report: _Reporter) -> None:
    numeric = stats.numeric
    if numeric is None:
        return
    if feature.type == "float":
        if numeric.num_nan and not feature.allow_nan:
            report.add("FLOAT_TYPE_HAS_NAN", feature.name, split, expected=0, actual=numeric.num_nan)
        if numeric.num_inf and not feature.allow_inf:
            report.add("FLOAT_TYPE_HAS_INF", feature.name, split, expected=0, actual=numeric.num_inf)
    bounds = feature.range
    if bounds is None or feature.type not in ("int", "float"):
        return
    prefix = "INT_TYPE" if feature.type == "int" else "FLOAT_TYPE"
    word = "INT" if feature.type == "int" else "FLOAT"
    if bounds.min is not None and numeric.min is not None and numeric.min < bounds.min:
        report.add(f"{prefix}_SMALL_{word}", feature.name, split, expected=bounds.min, actual=_num(numeric.min))
    if bounds.max is not None and numeric.max is not None and numeric.max > bounds.max:
        report.add(f"{prefix}_BIG_{word}", feature.name, split, expected=bounds.max, actual=_num(numeric.max))


def _num(x: float) -> float | int | str:
    if not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
    return int(x) if float(x).is_integer() else float(x)


def _check_domain(feature: Feature, stats: FeatureStatistics, split: str, report: _Reporter) -> None:
    domain = feature.domain_set
    strings = stats.string
    if domain is None or strings is None:
        return
    total = stats.list.total_num_values if stats.list is not None else stats.count
    if total <= 0:
        return
    from sluiceway.data.schema import listed_values

    values = listed_values(strings)
    # Values beyond the listed ones are unknown, so count them as unexpected: the in-domain mass is a
    # lower bound.
    in_domain = sum(count for value, count in values if value in domain)
    unexpected_fraction = max(0.0, 1.0 - in_domain / total)
    allowed = 1.0 - feature.min_domain_mass
    if unexpected_fraction <= allowed + 1e-12:
        return
    unexpected = [value for value, _ in values if value not in domain]
    shown = unexpected[:MAX_EXAMPLE_VALUES]
    listed = ", ".join(repr(v) for v in shown) + (f" and {len(unexpected) - len(shown)} more" if len(unexpected) > len(shown) else "")
    if not unexpected:
        listed = "values outside the statistics' top values"
    report.add(
        "ENUM_TYPE_UNEXPECTED_STRING_VALUES", feature.name, split,
        values=listed, percent=f"{unexpected_fraction:.2%}", allowed=f"{allowed:.2%}",
        unexpected_values=shown, unexpected_fraction=unexpected_fraction,
        expected=feature.min_domain_mass, actual=1 - unexpected_fraction,
    )


# ------------------------------------------------------------------------------------------------------
# Drift and skew
# ------------------------------------------------------------------------------------------------------


def _compare(
    reference: DatasetStatistics,
    current: DatasetStatistics,
    schema: Schema,
    kind: Literal["drift", "skew"],
    split: str,
    default_comparators: bool,
    report: _Reporter,
) -> None:
    pair = "current and previous" if kind == "drift" else "training and serving"
    ref_by_name = {f.name: f for f in reference.features}
    cur_by_name = {f.name: f for f in current.features}
    for feature in schema.features:
        if feature.deprecated:
            continue
        comparator = feature.drift_comparator if kind == "drift" else feature.skew_comparator
        methods: list[tuple[str, float, str]] = []
        if comparator is not None and comparator.is_set:
            if comparator.infinity_norm is not None:
                methods.append(("infinity_norm", comparator.infinity_norm, "schema"))
            if comparator.jensen_shannon_divergence is not None:
                methods.append(("jensen_shannon_divergence", comparator.jensen_shannon_divergence, "schema"))
        elif default_comparators:
            if feature.type in ("string", "bytes", "bool"):
                methods.append(("infinity_norm", DEFAULT_INFINITY_NORM_THRESHOLD, "default"))
            elif feature.type in ("int", "float"):
                methods.append(("jensen_shannon_divergence", DEFAULT_JSD_THRESHOLD, "default"))
        if not methods:
            continue
        ref, cur = ref_by_name.get(feature.name), cur_by_name.get(feature.name)
        for method, threshold, source in methods:
            verdict = Comparison(
                feature=feature.name, split=split, kind=kind, method=method,  # type: ignore[arg-type]
                score=None, threshold=threshold, threshold_source=source, passed=True,  # type: ignore[arg-type]
            )
            if ref is None or cur is None:
                missing = "baseline" if kind == "drift" else "training data"
                verdict.note = f"not in the {missing if ref is None else ('current data' if kind == 'drift' else 'serving data')}"
                report.result.comparisons.append(verdict)
                continue
            if method == "infinity_norm":
                outcome = infinity_norm(ref, cur)
                if outcome is None:
                    verdict.note = "no value frequencies in the statistics (not a categorical feature)"
                else:
                    score, value, freq_ref, freq_cur = outcome
                    verdict.score, verdict.value = round(score, 12), value
                    verdict.binning = "value frequencies over non-missing values; top-k tail pooled as <other values>"
            else:
                jsd = jensen_shannon_divergence(ref, cur)
                if jsd is None:
                    verdict.note = "no histogram in the statistics (not a numeric feature, or no values)"
                else:
                    verdict.score, verdict.binning = round(jsd[0], 12), jsd[1]
            verdict.passed = verdict.score is None or verdict.score <= threshold
            report.result.comparisons.append(verdict)
            if verdict.passed:
                continue
            source_text = "from the schema" if source == "schema" else "default"
            if method == "infinity_norm":
                report.add(
                    "COMPARATOR_L_INFTY_HIGH", feature.name, split, short={"pair": pair},
                    pair=pair, score=verdict.score, threshold=threshold, source=source_text,
                    value=verdict.value, freq_a=freq_ref, freq_b=freq_cur,
                    expected=threshold, actual=verdict.score, comparison=verdict,
                )
            else:
                report.add(
                    "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", feature.name, split, short={"pair": pair},
                    pair=pair, score=verdict.score, threshold=threshold, source=source_text,
                    binning=verdict.binning, expected=threshold, actual=verdict.score, comparison=verdict,
                )


def _frequencies(stats: FeatureStatistics) -> dict[str, float] | None:
    """Value → fraction of the feature's non-missing values; the top-k tail pooled as ``_OTHER``."""
    value_type = str(getattr(stats.value_type, "value", stats.value_type))
    if value_type == "bool" and stats.numeric is not None and stats.numeric.mean is not None:
        p = float(stats.numeric.mean)
        return {"true": p, "false": 1.0 - p}
    strings = stats.string
    if strings is None:
        return None
    total = stats.list.total_num_values if stats.list is not None else stats.count
    if total <= 0:
        return None
    from sluiceway.data.schema import listed_values

    freqs = {value: count / total for value, count in listed_values(strings)}
    rest = 1.0 - sum(freqs.values())
    if rest > 1e-12:
        freqs[_OTHER] = rest
    return freqs


def infinity_norm(reference: FeatureStatistics, current: FeatureStatistics) -> tuple[float, str, float, float] | None:
    """L-infinity distance between two features' value frequencies: (score, value, freq in reference,
    freq in current), or ``None`` when either has no value frequencies."""
    a, b = _frequencies(reference), _frequencies(current)
    if a is None or b is None:
        return None
    best, best_value, fa, fb = 0.0, "", 0.0, 0.0
    for value in a.keys() | b.keys():
        pa, pb = a.get(value, 0.0), b.get(value, 0.0)
        if abs(pa - pb) > best or not best_value:
            best, best_value, fa, fb = abs(pa - pb), value, pa, pb
    return best, best_value, fa, fb


def _histogram(stats: FeatureStatistics) -> Histogram | None:
    numeric = stats.numeric
    if numeric is None:
        return None
    for histogram in (numeric.quantile_histogram, numeric.histogram):
        if histogram is not None and histogram.buckets and sum(b.count for b in histogram.buckets) > 0:
            return histogram
    return None


class _Distribution:
    """A histogram read as a distribution: each bucket's count spread evenly over [low, high]; a bucket
    with one distinct value or an infinite bound is a point mass (at its finite bound, or at -inf/+inf).

    Plain Python on purpose: histograms have tens of buckets, where numpy's per-call overhead dominates."""

    __slots__ = ("buckets", "cumulative", "ends", "total")

    def __init__(self, histogram: Histogram) -> None:
        inf = math.inf
        buckets = []
        for b in histogram.buckets:
            low, high, count = b.low, b.high, b.count
            if count <= 0:
                continue
            if not (high > low and low > -inf and high < inf):
                # a point mass: one value, or (-inf, x] holding -inf values, or [x, inf] holding +inf values
                at = low if (low == high or low == -inf) else high
                low = high = at
            buckets.append((low, high, count))
        buckets.sort(key=lambda bucket: (bucket[1], bucket[0]))
        self.buckets = buckets
        self.ends = [bucket[1] for bucket in buckets]
        cumulative = [0.0]
        for bucket in buckets:
            cumulative.append(cumulative[-1] + bucket[2])
        self.cumulative = cumulative
        self.total = cumulative[-1]

    def mass_at_or_below(self, x: float) -> float:
        k = bisect.bisect_right(self.ends, x)  # buckets wholly at or below x
        mass = self.cumulative[k]
        for low, high, count in self.buckets[k:]:  # the bucket straddling x (buckets do not overlap)
            if low >= x:
                break
            mass += count * (x - low) / (high - low)
        return mass

    def quantile(self, rank: float) -> float:
        target = rank * self.total
        k = bisect.bisect_left(self.cumulative, target) - 1  # bucket k holds the target mass
        k = min(max(k, 0), len(self.buckets) - 1)
        low, high, count = self.buckets[k]
        if high == low:
            return low
        return low + (target - self.cumulative[k]) / count * (high - low)


def _deciles(reference: _Distribution) -> list[float]:
    """Inner bin edges at the reference's deciles (10 %, ..., 90 %), deduplicated.

    The outer bins are open-ended on purpose: a minimum or maximum is one extreme value, and spreading the
    outer decile evenly up to it would move mass wherever an outlier happens to be."""
    edges: list[float] = []
    for i in range(1, NUM_JSD_BINS):
        value = reference.quantile(i / NUM_JSD_BINS)
        if math.isfinite(value) and (not edges or value > edges[-1]):
            edges.append(value)
    return edges


def _binned(stats: FeatureStatistics, distribution: _Distribution, edges: list[float]) -> list[float]:
    """Mass in (-inf, e0], (e0, e1], ..., (e_last, inf), NaN — normalised to sum to 1."""
    cdf = [distribution.mass_at_or_below(e) for e in edges]
    masses = [cdf[0]] + [cdf[i] - cdf[i - 1] for i in range(1, len(cdf))] + [distribution.total - cdf[-1]]
    masses.append(float(stats.numeric.num_nan) if stats.numeric is not None else 0.0)
    total = sum(masses)
    return [max(m, 0.0) / total for m in masses] if total > 0 else masses


def jensen_shannon_divergence(reference: FeatureStatistics, current: FeatureStatistics) -> tuple[float, str] | None:
    """Approximate Jensen–Shannon divergence (base 2) of two numeric features and a description of the
    binning, or ``None`` when either has no histogram. See the module docstring for the method."""
    ref_hist, cur_hist = _histogram(reference), _histogram(current)
    if ref_hist is None or cur_hist is None:
        return None
    ref_dist, cur_dist = _Distribution(ref_hist), _Distribution(cur_hist)
    edges = _deciles(ref_dist)
    if not edges:
        return None
    p = _binned(reference, ref_dist, edges)
    q = _binned(current, cur_dist, edges)
    score = 0.0
    for pi, qi in zip(p, q):
        m = (pi + qi) / 2
        if pi > 0:
            score += 0.5 * pi * math.log2(pi / m)
        if qi > 0:
            score += 0.5 * qi * math.log2(qi / m)
    binning = (
        f"{len(edges) + 1} bins cut at the baseline's deciles ({_fmt(edges[0])} .. {_fmt(edges[-1])}, from its "
        f"{ref_hist.kind} histogram), open-ended at both ends, plus a NaN bin"
    )
    return min(max(score, 0.0), 1.0), binning


__all__ = [
    "ANOMALY_KINDS",
    "DEFAULT_INFINITY_NORM_THRESHOLD",
    "DEFAULT_JSD_THRESHOLD",
    "Anomalies",
    "Anomaly",
    "Comparison",
    "infinity_norm",
    "jensen_shannon_divergence",
    "validate_statistics",
]

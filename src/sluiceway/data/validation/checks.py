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
``COMPARATOR_L_INFTY_HIGH``                 categorical drift or skew above the threshold and the noise
``COMPARATOR_KS_DISTANCE_HIGH``             numeric drift or skew above the threshold and the noise
``COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH``  numeric, when the schema sets a JSD threshold
==========================================  ==============================================================

Deprecated features are not checked. Features outside ``environment`` (e.g. the label, marked
``not_in_environment: [SERVING]``, when validating serving data with ``environment="SERVING"``) are not
expected; with ``environment=None`` every feature is.

Drift and skew
--------------
With ``baseline`` (the previous span's statistics) every feature of the schema is compared for drift;
with ``serving`` (statistics of serving data) the training statistics are compared with it for skew. The
methods and thresholds are the feature's ``drift_comparator`` / ``skew_comparator`` when the schema sets
one; otherwise the defaults apply — L-infinity at ``DEFAULT_INFINITY_NORM_THRESHOLD`` (0.1) for string,
bytes and bool features, Kolmogorov–Smirnov at ``DEFAULT_KS_THRESHOLD`` (0.05) for int and float features
(datetime features are compared only with an explicit comparator: timestamps always move between spans).
``default_comparators=False`` restricts the comparison to features with a comparator, as TFDV does.
A comparison fails only when its score is above both the threshold and the sampling-noise bound of the two
sample sizes; above the threshold but within the noise it is reported as ``too_few_rows`` and does not
block. Every comparison is recorded in ``Anomalies.comparisons`` (method, score, threshold and its source,
noise bound, sizes, binning, verdict). The methods are described in ``sluiceway.data.validation.drift``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from sluiceway.data.validation import drift
from sluiceway.data.validation.model import ANOMALY_KINDS, Anomalies, Anomaly, Comparison
from sluiceway.errors import DataError, DefinitionError

if TYPE_CHECKING:
    from sluiceway.data.schema import DataSchema, Feature
    from sluiceway.data.statistics import DatasetStatistics, FeatureStatistics, StatisticsSet

MAX_EXAMPLE_VALUES = 10  # unexpected values listed in an anomaly


# ------------------------------------------------------------------------------------------------------
# Entry point
# ------------------------------------------------------------------------------------------------------


def validate_statistics(
    statistics: StatisticsSet | DatasetStatistics,
    schema: DataSchema,
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

    def add(
        self, kind: str, feature: str | None, split: str | None, *, short: dict | None = None, **details: Any
    ) -> None:
        short_template, long_template = ANOMALY_KINDS[kind]
        structured = ("unexpected_values", "unexpected_fraction", "comparison")
        fields = {k: v for k, v in details.items() if k not in structured}
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


def _validate_dataset(
    dataset: DatasetStatistics, schema: DataSchema, environment: str | None, report: _Reporter
) -> None:
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
        found = stats_by_name.get(feature.name)
        if found is None:
            if n > 0 and (feature.presence.min_count > 0 or feature.presence.min_fraction > 0):
                env = f" (expected in environment {environment})" if environment else ""
                report.add("SCHEMA_MISSING_COLUMN", feature.name, split, env=env)
            continue
        _check_presence(feature, found, n, split, report)
        actual_type = normalize_type(found.value_type or found.type)
        if actual_type != "null" and actual_type not in _COMPATIBLE[feature.type]:
            report.add("UNEXPECTED_DATA_TYPE", feature.name, split, expected=feature.type, actual=actual_type)
            continue  # value checks against a different type would only add noise
        _check_value_count(feature, found, split, report)
        _check_numeric(feature, found, split, report)
        _check_domain(feature, found, split, report)


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
    more = len(unexpected) - len(shown)
    listed = ", ".join(repr(v) for v in shown) + (f" and {more} more" if more > 0 else "")
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

_KIND_OF_METHOD = {
    "infinity_norm": "COMPARATOR_L_INFTY_HIGH",
    "ks_distance": "COMPARATOR_KS_DISTANCE_HIGH",
    "jensen_shannon_divergence": "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH",
}


def _methods(feature: Feature, kind: str, default_comparators: bool) -> list[tuple[str, float, str]]:
    """(method, threshold, source) of every comparison to make for ``feature``."""
    comparator = feature.drift_comparator if kind == "drift" else feature.skew_comparator
    if comparator is not None and comparator.is_set:
        return [
            (method, threshold, "schema")
            for method in ("infinity_norm", "ks_distance", "jensen_shannon_divergence")
            if (threshold := getattr(comparator, method)) is not None
        ]
    if not default_comparators:
        return []
    if feature.type in ("string", "bytes", "bool"):
        return [("infinity_norm", drift.DEFAULT_INFINITY_NORM_THRESHOLD, "default")]
    if feature.type in ("int", "float"):
        return [("ks_distance", drift.DEFAULT_KS_THRESHOLD, "default")]
    return []


def _compare(
    reference: DatasetStatistics,
    current: DatasetStatistics,
    schema: DataSchema,
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
        ref, cur = ref_by_name.get(feature.name), cur_by_name.get(feature.name)
        for method, threshold, source in _methods(feature, kind, default_comparators):
            verdict = _verdict(ref, cur, method, threshold, kind)
            verdict = verdict.model_copy(update={"feature": feature.name, "split": split, "threshold_source": source})
            report.result.comparisons.append(verdict)
            if verdict.passed:
                continue
            report.add(
                _KIND_OF_METHOD[method], feature.name, split, short={"pair": pair},
                pair=pair, score=verdict.score, threshold=threshold,
                source="from the schema" if source == "schema" else "default",
                noise_bound=verdict.noise_bound, num_reference=verdict.num_reference,
                num_current=verdict.num_current, binning=verdict.binning, value=verdict.value,
                freq_a=_frequency(ref, verdict.value), freq_b=_frequency(cur, verdict.value),
                expected=threshold, actual=verdict.score, comparison=verdict,
            )


def _verdict(
    ref: FeatureStatistics | None, cur: FeatureStatistics | None, method: str, threshold: float, kind: str
) -> Comparison:
    base: dict[str, Any] = {
        "feature": "", "kind": kind, "method": method, "score": None, "threshold": threshold,
        "threshold_source": "default", "passed": True, "verdict": "not_computed",
    }
    if ref is None or cur is None:
        first, second = ("baseline", "current data") if kind == "drift" else ("training data", "serving data")
        return Comparison(**base, note=f"not in the {first if ref is None else second}")
    if method == "infinity_norm":
        distance = drift.infinity_norm(ref, cur, threshold)
        missing = "no value frequencies in the statistics (not a categorical feature)"
    elif method == "ks_distance":
        distance = drift.ks_distance(ref, cur)
        missing = "no quantiles in the statistics (not a numeric feature, or no values)"
    else:
        distance = drift.jensen_shannon_divergence(ref, cur)
        missing = "no quantiles in the statistics (not a numeric feature, or no values)"
    if distance is None:
        return Comparison(**base, note=missing)
    score = round(distance.score, 12)
    over_threshold = score > threshold
    significant = distance.significant if distance.significant is not None else score > distance.noise_bound
    outcome = "passed" if not over_threshold else ("drifted" if significant else "too_few_rows")
    note = None
    if outcome == "too_few_rows":
        note = (
            f"above the threshold but within the sampling noise of {distance.num_reference} vs "
            f"{distance.num_current} values (bound {distance.noise_bound:.3g}): too few rows to judge"
        )
    base.update(
        score=score, passed=outcome != "drifted", verdict=outcome, noise_bound=round(distance.noise_bound, 12),
        num_reference=distance.num_reference, num_current=distance.num_current, binning=distance.binning,
        value=distance.value, note=note,
    )
    return Comparison(**base)


def _frequency(stats: FeatureStatistics | None, value: str | None) -> float:
    """The frequency of ``value`` in a categorical feature (for the L-infinity description)."""
    if stats is None or value is None:
        return math.nan
    freqs = drift.value_frequencies(stats)
    return (freqs or {}).get(value, 0.0)


__all__ = ["validate_statistics"]

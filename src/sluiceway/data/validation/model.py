"""What validation reports: ``Anomalies`` (a list of ``Anomaly``) and every drift/skew ``Comparison``.

Persisted as ``anomalies.json`` (``ExampleAnomalies.file``); pydantic models, so the JSON is validated when
read back. ``describe_anomalies`` is the one-line-per-anomaly text the CLI and the validator's gate use;
``Anomalies._repr_html_`` shows the HTML report inline in a notebook.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sluiceway.errors import DataError

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
    "FLOAT_TYPE_SMALL_FLOAT": (
        "Out-of-range values", "Unexpectedly small value: {actual} < {expected} (range minimum)."
    ),
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
        "The Linfty distance between {pair} is {score:.6g} (threshold {threshold:g}, {source}; sampling noise "
        "bound {noise_bound:.3g} for {num_reference} vs {num_current} values). The value with the largest "
        "difference is {value!r}: {freq_a:.4g} vs {freq_b:.4g}.",
    ),
    "COMPARATOR_KS_DISTANCE_HIGH": (
        "High Kolmogorov-Smirnov distance between {pair}",
        "The Kolmogorov-Smirnov distance between {pair} is {score:.6g} (threshold {threshold:g}, {source}; "
        "sampling noise bound {noise_bound:.3g} for {num_reference} vs {num_current} values); {binning}.",
    ),
    "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH": (
        "High approximate Jensen-Shannon divergence between {pair}",
        "The approximate Jensen-Shannon divergence between {pair} is {score:.6g} (threshold {threshold:g}, "
        "{source}; sampling noise bound {noise_bound:.3g} for {num_reference} vs {num_current} values); "
        "{binning}.",
    ),
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


Method = Literal["infinity_norm", "ks_distance", "jensen_shannon_divergence"]
Verdict = Literal["passed", "drifted", "too_few_rows", "not_computed"]


class Comparison(_Model):
    """One drift or skew verdict: the method, the score, the threshold, the sampling-noise bound, and the
    outcome (see ``sluiceway.data.validation.drift``).

    ``verdict``: ``"drifted"`` when the score is above both the threshold and ``noise_bound`` (then
    ``passed`` is false and an anomaly is raised); ``"too_few_rows"`` when it is above the threshold but
    within the sampling noise of ``num_reference`` vs ``num_current`` values (reported, not blocking);
    ``"not_computed"`` when the statistics hold nothing to compare (``note`` says why); else ``"passed"``.
    ``threshold_source`` is ``"schema"`` or ``"default"``."""

    feature: str
    split: str | None = None
    kind: Literal["drift", "skew"]
    method: Method
    score: float | None
    threshold: float
    threshold_source: Literal["schema", "default"]
    passed: bool
    verdict: Verdict = "passed"
    noise_bound: float | None = None
    num_reference: int | None = None
    num_current: int | None = None
    binning: str | None = None
    value: str | None = None  # infinity_norm: the value with the largest difference; ks: where the gap is
    note: str | None = None

    @model_validator(mode="after")
    def _consistent_verdict(self) -> Comparison:
        # files written before ``verdict`` existed (and hand-built comparisons) carry only ``passed``
        if not self.passed and self.verdict == "passed":
            self.verdict = "drifted"
        return self


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
        """Read from a file (or an ``ExampleAnomalies`` folder holding its file), or parse JSON text."""
        from sluiceway.artifacts.standard import ExampleAnomalies

        source = "<string>"
        if isinstance(path_or_text, str) and path_or_text.lstrip().startswith("{"):
            text = path_or_text
        else:
            path = Path(path_or_text)
            if path.is_dir():
                path = path / ExampleAnomalies.FILENAME
            source = str(path)
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise DataError(f"Anomalies file not found: {path}") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise DataError(f"Anomalies file {path} cannot be read: {exc}") from exc
        try:
            return cls.from_dict(json.loads(text))
        except (ValueError, TypeError, AttributeError, ValidationError) as exc:
            # json.JSONDecodeError is a ValueError; a non-object JSON fails in from_dict
            raise DataError(
                f"{source} is not a Sluiceway anomalies file ({type(exc).__name__}: {exc}). It is written by "
                "ExampleValidator or validate_statistics(...).to_json()."
            ) from exc

    def _repr_html_(self) -> str:
        """The HTML report, shown inline by Jupyter (the same page ExampleValidator writes)."""
        from sluiceway.reports.anomalies_html import render_anomalies_html

        return render_anomalies_html(self, title="Data validation")

    def __str__(self) -> str:
        if not self.anomalies:
            return f"No anomalies ({len(self.comparisons)} drift/skew comparisons made)."
        return describe_anomalies(self)


def describe_anomalies(anomalies: Anomalies, limit: int = 30) -> str:
    """One line per anomaly: split, feature, kind, severity, description (for messages and the CLI)."""
    lines = []
    for anomaly in anomalies.anomalies[:limit]:
        where = anomaly.feature or "(dataset)"
        split = f"[{anomaly.split}] " if anomaly.split else ""
        lines.append(f"{split}{where}: {anomaly.kind} ({anomaly.severity}): {anomaly.description}")
    extra = len(anomalies.anomalies) - limit
    if extra > 0:
        lines.append(f"… and {extra} more")
    return "\n".join(lines)


__all__ = ["ANOMALY_KINDS", "Anomalies", "Anomaly", "Comparison", "describe_anomalies"]

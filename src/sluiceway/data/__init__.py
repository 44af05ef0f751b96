"""The public data API: what ``sluiceway stats``, ``schema`` and ``validate`` do, from Python (as TFDV's).

In a notebook::

    import sluiceway.data as sd

    stats = sd.compute_statistics("data/train.parquet")          # or a DataFrame, or {split: data}
    schema = sd.infer_schema(stats, label="species")
    sd.write_schema(schema, "schema.yaml")                         # curate it, then:
    schema = sd.load_schema("schema.yaml")                         # .yaml/.yml, or TFDV .pbtxt
    anomalies = sd.validate_statistics(new_stats, schema, baseline=stats)
    anomalies                                                      # the HTML report, inline
    print(sd.describe_anomalies(anomalies))

Names load on first use (``import sluiceway.data`` imports nothing heavy). The names listed in ``__all__``
are the stable surface; the submodules are internal and may change.

* statistics: ``compute_statistics``, ``statistics_of_file`` (a CSV/TSV/JSON-lines/Parquet file or folder,
  or a statistics.json, as ``sluiceway stats`` reads it), ``load_statistics`` and the model (``StatisticsSet``,
  ``DatasetStatistics``, ``FeatureStatistics``, ``NumericStats``, ``StringStats``, ``Histogram``);
* schema: ``infer_schema``, ``load_schema`` / ``write_schema``, ``DataSchema`` (the data model; the
  artifact type is ``sluiceway.Schema``), ``Feature``, ``Presence``, ``Range``, ``ValueCount``,
  ``Comparator``;
* validation: ``validate_statistics``, ``Anomalies``, ``Anomaly``, ``Comparison``,
  ``describe_anomalies``, and the comparators ``ks_distance``, ``infinity_norm``,
  ``jensen_shannon_divergence`` with their default thresholds.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sluiceway.data.files import statistics_of_file
    from sluiceway.data.schema import (
        Comparator,
        DataSchema,
        Feature,
        Presence,
        Range,
        ValueCount,
        infer_schema,
        load_schema,
        write_schema,
    )
    from sluiceway.data.statistics import (
        DatasetStatistics,
        FeatureStatistics,
        Histogram,
        NumericStats,
        StatisticsSet,
        StringStats,
        compute_statistics,
    )
    from sluiceway.data.validation import (
        DEFAULT_INFINITY_NORM_THRESHOLD,
        DEFAULT_JSD_THRESHOLD,
        DEFAULT_KS_THRESHOLD,
        Anomalies,
        Anomaly,
        Comparison,
        describe_anomalies,
        infinity_norm,
        jensen_shannon_divergence,
        ks_distance,
        validate_statistics,
    )

_STATISTICS = "sluiceway.data.statistics"
_SCHEMA = "sluiceway.data.schema"
_VALIDATION = "sluiceway.data.validation"

# public name → module that defines it (loaded on first access)
_LAZY: dict[str, str] = {
    "compute_statistics": _STATISTICS,
    "statistics_of_file": "sluiceway.data.files",
    "load_statistics": _STATISTICS,
    "StatisticsSet": _STATISTICS,
    "DatasetStatistics": _STATISTICS,
    "FeatureStatistics": _STATISTICS,
    "NumericStats": _STATISTICS,
    "StringStats": _STATISTICS,
    "Histogram": _STATISTICS,
    "infer_schema": _SCHEMA,
    "load_schema": _SCHEMA,
    "write_schema": _SCHEMA,
    "DataSchema": _SCHEMA,
    "Feature": _SCHEMA,
    "Presence": _SCHEMA,
    "Range": _SCHEMA,
    "ValueCount": _SCHEMA,
    "Comparator": _SCHEMA,
    "validate_statistics": _VALIDATION,
    "describe_anomalies": _VALIDATION,
    "Anomalies": _VALIDATION,
    "Anomaly": _VALIDATION,
    "Comparison": _VALIDATION,
    "ks_distance": _VALIDATION,
    "infinity_norm": _VALIDATION,
    "jensen_shannon_divergence": _VALIDATION,
    "DEFAULT_KS_THRESHOLD": _VALIDATION,
    "DEFAULT_INFINITY_NORM_THRESHOLD": _VALIDATION,
    "DEFAULT_JSD_THRESHOLD": _VALIDATION,
}

__all__ = [
    "Anomalies",
    "Anomaly",
    "Comparator",
    "Comparison",
    "DEFAULT_INFINITY_NORM_THRESHOLD",
    "DEFAULT_JSD_THRESHOLD",
    "DEFAULT_KS_THRESHOLD",
    "DataSchema",
    "DatasetStatistics",
    "Feature",
    "FeatureStatistics",
    "Histogram",
    "NumericStats",
    "Presence",
    "Range",
    "StatisticsSet",
    "StringStats",
    "ValueCount",
    "compute_statistics",
    "describe_anomalies",
    "infer_schema",
    "infinity_norm",
    "jensen_shannon_divergence",
    "ks_distance",
    "load_schema",
    "load_statistics",
    "statistics_of_file",
    "validate_statistics",
    "write_schema",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'sluiceway.data' has no attribute {name!r}; its public names are {__all__}")
    value: Any = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

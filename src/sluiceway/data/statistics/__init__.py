"""Dataset statistics: the data model, its JSON form, and their computation in one streaming pass.

This is TFDV's ``DatasetFeatureStatisticsList`` rebuilt as small frozen pydantic models. A
``StatisticsSet`` holds one ``DatasetStatistics`` per split (and per slice of a split when slicing);
each dataset holds one ``FeatureStatistics`` per feature (column; struct fields are flattened with
dotted names, ``"a.b"``). Computation (``compute_statistics``) is one pass over Parquet row groups
with mergeable accumulators (``sluiceway.data.sketches``) on an engine (``sluiceway.data.engine``).

Public: ``compute_statistics(data, ...)``, ``load_statistics(path)`` and the model types. The
package's modules, along its seams: ``model`` (types and JSON), ``options`` (``StatisticsOptions``),
``accumulators`` (per-feature and per-dataset accumulators, the general path), ``numeric`` (the
batched path for plain numeric columns), ``compute`` (the driver: splits, fragments, windows).

Same input, same bytes: results do not depend on the thread count, the engine's batch size, the
order in which fragments finish, or the process (the KLL sketch draws no clock-seeded coins; the
engine merges in fragment order; batches are re-cut into fixed windows).

JSON form (``StatisticsSet.to_dict()`` / ``to_json(path)``; ``ExampleStatistics`` stores it as
``{uri}/statistics.json``). Absent values are ``null``; floats that are NaN/±inf are written as the
strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` so the file is strict JSON::

    {
      "format": "sluiceway.statistics",
      "version": 2,                     # 1 (quantiles as {"rank", "value"} objects) is read too
      "datasets": [
        {
          "name": "train",                  # split, or "train/payment_type=Cash" for a slice
          "split": "train",
          "slice": null,                    # or {"column": "payment_type", "value": "Cash"}
          "num_examples": 1000,
          "weighted_num_examples": null,    # float when an example-weight column was given
          "features": [
            {
              "name": "fare",
              "type": "float",              # FeatureKind: int float string bytes bool list struct
                                            #              datetime null
              "value_type": "float",        # element type for lists (== type otherwise)
              "count": 998,                 # examples where the feature is present (non-null)
              "missing": 2,                 # examples where it is null
              "weighted_count": null, "weighted_missing": null,
              "numeric": {                  # int, float, bool, datetime (and lists of those)
                "mean": 12.3, "std": 4.5,   # population std (ddof=0), like TFDV
                "min": 0.0, "median": 9.75, "max": 3000.0,
                "num_zeros": 10, "num_nan": 0, "num_inf": 0,
                "quantile_values": [0.0, ..., 3000.0],  # at ranks 0, 1/n, ..., 1 (n = num_quantiles);
                                            # NumericStats.quantiles gives them as Quantile(rank, value)
                "histogram":          {"kind": "standard",  "buckets": [{"low": 0.0, "high": 300.0,
                                                                          "count": 990.0}, ...]},
                "quantile_histogram": {"kind": "quantiles", "buckets": [...]},
                "exact": false,             # true: quantiles exact (few distinct values), else KLL
                "rank_error": 0.0033,       # KLL normalised rank error bound (0 when exact)
                "weighted": null            # or {"mean", "std", "quantile_values", "histogram",
                                            #      "quantile_histogram", "median"} with weights
              },
              "string": null,               # string and bytes (and lists of those):
                                            # {"unique": 120, "unique_exact": true,
                                            #  "top_values": [{"value": "Cash", "count": 520.0}, ...],
                                            #  "top_values_exact": true,
                                            #  "rank_histogram": [{"low_rank": 0, "high_rank": 0,
                                            #                      "label": "Cash", "count": 520.0}],
                                            #  "avg_length": 4.4, "min_length": 4, "max_length": 11,
                                            #  "weighted": null | {"top_values", "rank_histogram"}}
              "list": null                  # list columns: {"min_num_values": 0, "max_num_values": 5,
                                            #  "avg_num_values": 2.1, "total_num_values": 2100}
            }
          ]
        }
      ]
    }

Numeric statistics: NaN is counted in ``num_nan`` and excluded from everything else; ``mean`` and
``std`` are over finite values; ``min``/``max``/quantiles/histograms include ±inf. count, mean, min,
max, zeros, NaN and inf are exact; ``std`` uses Chan's parallel merge of per-batch moments (exact to
floating-point rounding). Quantiles and histograms are exact while a feature has at most
``exact_cap`` distinct values, else from a KLL sketch (``rank_error``: its normalised rank error
at 99 % confidence; the sketch keeps a few thousand values per feature whatever the row count).
Booleans are numeric 0/1;
datetimes are numeric in their epoch unit. Weighted quantiles/histograms beyond the exact phase feed
the sketch with each value repeated by its stochastically rounded weight (approximate). String lengths
are in bytes. Top values are exact while a feature has few distinct values (``top_values_exact``),
``unique`` exact while ``unique_exact``, else a HyperLogLog estimate.
"""

from __future__ import annotations

from sluiceway.data.statistics.compute import StatisticsMapper, compute_statistics
from sluiceway.data.statistics.model import (
    FORMAT_NAME,
    FORMAT_VERSION,
    Bucket,
    DatasetStatistics,
    FeatureKind,
    FeatureStatistics,
    Histogram,
    ListStats,
    NumericStats,
    Quantile,
    RankBucket,
    SliceKey,
    StatisticsSet,
    StringStats,
    TopValue,
    WeightedNumericStats,
    WeightedStringStats,
    load_statistics,
)
from sluiceway.data.statistics.options import StatisticsOptions

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Bucket",
    "DatasetStatistics",
    "FeatureKind",
    "FeatureStatistics",
    "Histogram",
    "ListStats",
    "NumericStats",
    "Quantile",
    "RankBucket",
    "SliceKey",
    "StatisticsMapper",
    "StatisticsOptions",
    "StatisticsSet",
    "StringStats",
    "TopValue",
    "WeightedNumericStats",
    "WeightedStringStats",
    "compute_statistics",
    "load_statistics",
]

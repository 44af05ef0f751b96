"""Schema inference from statistics, the way TFDV's ``infer_schema`` does it."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from sluiceway.data.schema.model import (
    DEFAULT_MAX_DOMAIN_SIZE,
    FEATURE_TYPES,
    SERVING,
    TRAINING,
    DataSchema,
    Feature,
    Presence,
    Range,
    ValueCount,
)
from sluiceway.errors import DataError, DefinitionError

if TYPE_CHECKING:
    from sluiceway.data.statistics import DatasetStatistics, FeatureStatistics, StatisticsSet, StringStats

logger = logging.getLogger(__name__)


def infer_schema(
    statistics: StatisticsSet | DatasetStatistics,
    *,
    split: str | None = None,
    label: str | None = None,
    max_domain_size: int = DEFAULT_MAX_DOMAIN_SIZE,
    infer_ranges: bool = False,
    infer_value_count_max: bool = False,
) -> DataSchema:
    """Infer a schema from statistics, the way TFDV's ``infer_schema`` does.

    * ``split``: which split to learn from (default ``train`` when there is one, else the first split).
    * type: from the statistics; presence: required (``min_fraction: 1.0``) when no example missed the
      feature, else ``min_count: 1``.
    * categorical domain for a string feature when the listed values (top values, or the rank histogram
      when it lists more) account for every value and there are at most ``max_domain_size`` of them (so
      also at most as many as the statistics list), and values repeat (distinct values at most half the
      count), so an identifier column does not become an enumeration.
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
    schema = DataSchema(min_examples_count=1, features=features)
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
        logger.warning(
            "feature %r has statistics type %r, which a schema cannot describe; not inferred", stats.name, ftype
        )
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


__all__ = ["infer_schema", "listed_values", "normalize_type"]

"""Dataset statistics: the data model, its JSON form, and their computation in one streaming pass.

This is TFDV's ``DatasetFeatureStatisticsList`` rebuilt as small frozen dataclasses. A
``StatisticsSet`` holds one ``DatasetStatistics`` per split (and per slice of a split when slicing);
each dataset holds one ``FeatureStatistics`` per feature (column; struct fields are flattened with
dotted names, ``"a.b"``). Computation (``compute_statistics``) is one pass over Parquet row groups
with mergeable accumulators (``sluiceway.data.sketches``) on an engine (``sluiceway.data.engine``).

JSON form (``StatisticsSet.to_dict()`` / ``to_json(path)``; ``ExampleStatistics`` stores it as
``{uri}/statistics.json``). Absent values are ``null``; floats that are NaN/±inf are written as the
strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` so the file is strict JSON::

    {
      "format": "sluiceway.statistics",
      "version": 1,
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
              "type": "float",              # FeatureType: int float string bytes bool list struct
                                            #              datetime null
              "value_type": "float",        # element type for lists (== type otherwise)
              "count": 998,                 # examples where the feature is present (non-null)
              "missing": 2,                 # examples where it is null
              "weighted_count": null, "weighted_missing": null,
              "numeric": {                  # int, float, bool, datetime (and lists of those)
                "mean": 12.3, "std": 4.5,   # population std (ddof=0), like TFDV
                "min": 0.0, "median": 9.75, "max": 3000.0,
                "num_zeros": 10, "num_nan": 0, "num_inf": 0,
                "quantiles": [{"rank": 0.0, "value": 0.0}, ..., {"rank": 1.0, "value": 3000.0}],
                "histogram":          {"kind": "standard",  "buckets": [{"low": 0.0, "high": 300.0,
                                                                          "count": 990.0}, ...]},
                "quantile_histogram": {"kind": "quantiles", "buckets": [...]},
                "exact": false,             # true: quantiles exact (few distinct values), else KLL
                "rank_error": 0.0033,       # KLL normalised rank error bound (0 when exact)
                "weighted": null            # or {"mean", "std", "quantiles", "histogram",
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
``exact_cap`` distinct values, else from a KLL sketch (``rank_error``). Booleans are numeric 0/1;
datetimes are numeric in their epoch unit. Weighted quantiles/histograms beyond the exact phase feed
the sketch with each value repeated by its stochastically rounded weight (approximate). String lengths
are in bytes. Top values are exact while a feature has few distinct values (``top_values_exact``),
``unique`` exact while ``unique_exact``, else a HyperLogLog estimate.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

FORMAT_NAME = "sluiceway.statistics"
FORMAT_VERSION = 1


class FeatureType(str, Enum):
    """The type of a feature, as recorded in statistics (and inferred into a schema)."""

    INT = "int"
    FLOAT = "float"
    STRING = "string"
    BYTES = "bytes"
    BOOL = "bool"
    DATETIME = "datetime"
    LIST = "list"
    STRUCT = "struct"
    NULL = "null"  # every value is null: no type can be told

    @property
    def is_numeric(self) -> bool:
        return self in (FeatureType.INT, FeatureType.FLOAT, FeatureType.BOOL, FeatureType.DATETIME)

    @property
    def is_string(self) -> bool:
        return self in (FeatureType.STRING, FeatureType.BYTES)


# --------------------------------------------------------------------------------------------
# JSON helpers: strict JSON cannot hold NaN/inf, so they travel as strings.
# --------------------------------------------------------------------------------------------
def _float_out(x: float | None) -> float | str | None:
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def _float_in(x: Any) -> float | None:
    if x is None:
        return None
    if isinstance(x, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[x]
    return float(x)


@dataclass(frozen=True)
class Bucket:
    """One histogram bucket: ``count`` values in [low, high] (high inclusive for the last bucket)."""

    low: float
    high: float
    count: float

    def to_dict(self) -> dict[str, Any]:
        return {"low": _float_out(self.low), "high": _float_out(self.high), "count": self.count}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Bucket:
        return cls(low=_float_in(d["low"]), high=_float_in(d["high"]), count=float(d["count"]))


@dataclass(frozen=True)
class Histogram:
    """An equi-width (``kind="standard"``) or equal-count (``kind="quantiles"``) histogram."""

    kind: str
    buckets: tuple[Bucket, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "buckets": [b.to_dict() for b in self.buckets]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Histogram:
        return cls(kind=d["kind"], buckets=tuple(Bucket.from_dict(b) for b in d["buckets"]))


@dataclass(frozen=True)
class Quantile:
    """The value at normalised rank ``rank`` (0 = min, 0.5 = median, 1 = max)."""

    rank: float
    value: float

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "value": _float_out(self.value)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Quantile:
        return cls(rank=float(d["rank"]), value=_float_in(d["value"]))


@dataclass(frozen=True)
class WeightedNumericStats:
    """Numeric statistics where each example counts with its weight."""

    mean: float | None
    std: float | None
    median: float | None
    quantiles: tuple[Quantile, ...] = ()
    histogram: Histogram | None = None
    quantile_histogram: Histogram | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": _float_out(self.mean),
            "std": _float_out(self.std),
            "median": _float_out(self.median),
            "quantiles": [q.to_dict() for q in self.quantiles],
            "histogram": self.histogram.to_dict() if self.histogram else None,
            "quantile_histogram": self.quantile_histogram.to_dict() if self.quantile_histogram else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WeightedNumericStats:
        return cls(
            mean=_float_in(d.get("mean")),
            std=_float_in(d.get("std")),
            median=_float_in(d.get("median")),
            quantiles=tuple(Quantile.from_dict(q) for q in d.get("quantiles") or ()),
            histogram=Histogram.from_dict(d["histogram"]) if d.get("histogram") else None,
            quantile_histogram=(
                Histogram.from_dict(d["quantile_histogram"]) if d.get("quantile_histogram") else None
            ),
        )


@dataclass(frozen=True)
class NumericStats:
    """Statistics of a numeric feature's (non-null) values. Mean/std/min/max are over non-NaN values."""

    mean: float | None
    std: float | None
    min: float | None
    median: float | None
    max: float | None
    num_zeros: int = 0
    num_nan: int = 0
    num_inf: int = 0
    quantiles: tuple[Quantile, ...] = ()
    histogram: Histogram | None = None
    quantile_histogram: Histogram | None = None
    exact: bool = False
    rank_error: float = 0.0
    weighted: WeightedNumericStats | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": _float_out(self.mean),
            "std": _float_out(self.std),
            "min": _float_out(self.min),
            "median": _float_out(self.median),
            "max": _float_out(self.max),
            "num_zeros": self.num_zeros,
            "num_nan": self.num_nan,
            "num_inf": self.num_inf,
            "quantiles": [q.to_dict() for q in self.quantiles],
            "histogram": self.histogram.to_dict() if self.histogram else None,
            "quantile_histogram": self.quantile_histogram.to_dict() if self.quantile_histogram else None,
            "exact": self.exact,
            "rank_error": self.rank_error,
            "weighted": self.weighted.to_dict() if self.weighted else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NumericStats:
        return cls(
            mean=_float_in(d.get("mean")),
            std=_float_in(d.get("std")),
            min=_float_in(d.get("min")),
            median=_float_in(d.get("median")),
            max=_float_in(d.get("max")),
            num_zeros=int(d.get("num_zeros", 0)),
            num_nan=int(d.get("num_nan", 0)),
            num_inf=int(d.get("num_inf", 0)),
            quantiles=tuple(Quantile.from_dict(q) for q in d.get("quantiles") or ()),
            histogram=Histogram.from_dict(d["histogram"]) if d.get("histogram") else None,
            quantile_histogram=(
                Histogram.from_dict(d["quantile_histogram"]) if d.get("quantile_histogram") else None
            ),
            exact=bool(d.get("exact", False)),
            rank_error=float(d.get("rank_error", 0.0)),
            weighted=WeightedNumericStats.from_dict(d["weighted"]) if d.get("weighted") else None,
        )


@dataclass(frozen=True)
class ValueCount:
    """A value and how often it occurs (a weighted sum when weights are used)."""

    value: str
    count: float

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "count": self.count}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ValueCount:
        return cls(value=str(d["value"]), count=float(d["count"]))


@dataclass(frozen=True)
class RankBucket:
    """A rank-histogram bucket (TFDV's ``RankHistogram.Bucket``): values ranked low_rank..high_rank."""

    low_rank: int
    high_rank: int
    label: str
    count: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RankBucket:
        return cls(int(d["low_rank"]), int(d["high_rank"]), str(d["label"]), float(d["count"]))


@dataclass(frozen=True)
class WeightedStringStats:
    """Top values and rank histogram where each example counts with its weight."""

    top_values: tuple[ValueCount, ...] = ()
    rank_histogram: tuple[RankBucket, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "top_values": [v.to_dict() for v in self.top_values],
            "rank_histogram": [b.to_dict() for b in self.rank_histogram],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WeightedStringStats:
        return cls(
            top_values=tuple(ValueCount.from_dict(v) for v in d.get("top_values") or ()),
            rank_histogram=tuple(RankBucket.from_dict(b) for b in d.get("rank_histogram") or ()),
        )


@dataclass(frozen=True)
class StringStats:
    """Statistics of a string (or bytes, shown UTF-8 decoded with backslash escapes) feature's values.

    ``unique`` is exact when ``unique_exact`` (few distinct values), else an HLL estimate.
    ``top_values`` are sorted by count, descending; exact when ``top_values_exact``.
    Lengths are in bytes (UTF-8 bytes for strings), like TFDV's ``avg_length``.
    """

    unique: int
    top_values: tuple[ValueCount, ...] = ()
    rank_histogram: tuple[RankBucket, ...] = ()
    avg_length: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    unique_exact: bool = True
    top_values_exact: bool = True
    weighted: WeightedStringStats | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "unique": self.unique,
            "unique_exact": self.unique_exact,
            "top_values": [v.to_dict() for v in self.top_values],
            "top_values_exact": self.top_values_exact,
            "rank_histogram": [b.to_dict() for b in self.rank_histogram],
            "avg_length": _float_out(self.avg_length),
            "min_length": self.min_length,
            "max_length": self.max_length,
            "weighted": self.weighted.to_dict() if self.weighted else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StringStats:
        return cls(
            unique=int(d["unique"]),
            top_values=tuple(ValueCount.from_dict(v) for v in d.get("top_values") or ()),
            rank_histogram=tuple(RankBucket.from_dict(b) for b in d.get("rank_histogram") or ()),
            avg_length=_float_in(d.get("avg_length")),
            min_length=d.get("min_length"),
            max_length=d.get("max_length"),
            unique_exact=bool(d.get("unique_exact", True)),
            top_values_exact=bool(d.get("top_values_exact", True)),
            weighted=WeightedStringStats.from_dict(d["weighted"]) if d.get("weighted") else None,
        )


@dataclass(frozen=True)
class ListStats:
    """Number of values per example of a list-valued feature (over non-null examples)."""

    min_num_values: int
    max_num_values: int
    avg_num_values: float
    total_num_values: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ListStats:
        return cls(
            min_num_values=int(d["min_num_values"]),
            max_num_values=int(d["max_num_values"]),
            avg_num_values=float(d["avg_num_values"]),
            total_num_values=int(d["total_num_values"]),
        )


@dataclass(frozen=True)
class FeatureStatistics:
    """Statistics of one feature (column) of one dataset."""

    name: str
    type: FeatureType
    count: int
    missing: int
    value_type: FeatureType | None = None  # element type of a list; same as ``type`` otherwise
    weighted_count: float | None = None
    weighted_missing: float | None = None
    numeric: NumericStats | None = None
    string: StringStats | None = None
    list: ListStats | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", FeatureType(self.type))
        if self.value_type is None:
            object.__setattr__(self, "value_type", self.type)
        else:
            object.__setattr__(self, "value_type", FeatureType(self.value_type))

    @property
    def num_examples(self) -> int:
        return self.count + self.missing

    @property
    def presence(self) -> float:
        """Fraction of examples where the feature is present (1.0 for an empty dataset)."""
        total = self.count + self.missing
        return self.count / total if total else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type.value,
            "value_type": self.value_type.value if self.value_type else None,
            "count": self.count,
            "missing": self.missing,
            "weighted_count": self.weighted_count,
            "weighted_missing": self.weighted_missing,
            "numeric": self.numeric.to_dict() if self.numeric else None,
            "string": self.string.to_dict() if self.string else None,
            "list": self.list.to_dict() if self.list else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureStatistics:
        return cls(
            name=d["name"],
            type=FeatureType(d["type"]),
            value_type=FeatureType(d["value_type"]) if d.get("value_type") else None,
            count=int(d["count"]),
            missing=int(d["missing"]),
            weighted_count=d.get("weighted_count"),
            weighted_missing=d.get("weighted_missing"),
            numeric=NumericStats.from_dict(d["numeric"]) if d.get("numeric") else None,
            string=StringStats.from_dict(d["string"]) if d.get("string") else None,
            list=ListStats.from_dict(d["list"]) if d.get("list") else None,
        )


@dataclass(frozen=True)
class SliceKey:
    """Which slice of a split a dataset is: rows where ``column == value`` (value as text)."""

    column: str
    value: str | None  # None: the rows where the slice column is null

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "value": self.value}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SliceKey:
        return cls(column=d["column"], value=d["value"])


@dataclass(frozen=True)
class DatasetStatistics:
    """Statistics of one split (or one slice of a split)."""

    split: str
    num_examples: int
    features: tuple[FeatureStatistics, ...] = ()
    weighted_num_examples: float | None = None
    slice: SliceKey | None = None

    @property
    def name(self) -> str:
        if self.slice is None:
            return self.split
        return f"{self.split}/{self.slice.column}={self.slice.value}"

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def feature(self, name: str) -> FeatureStatistics:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(
            f"Dataset '{self.name}' has no feature '{name}'. Features: {', '.join(self.feature_names)}"
        )

    def __contains__(self, name: object) -> bool:
        return any(f.name == name for f in self.features)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "split": self.split,
            "slice": self.slice.to_dict() if self.slice else None,
            "num_examples": self.num_examples,
            "weighted_num_examples": self.weighted_num_examples,
            "features": [f.to_dict() for f in self.features],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DatasetStatistics:
        return cls(
            split=d["split"],
            num_examples=int(d["num_examples"]),
            weighted_num_examples=d.get("weighted_num_examples"),
            slice=SliceKey.from_dict(d["slice"]) if d.get("slice") else None,
            features=tuple(FeatureStatistics.from_dict(f) for f in d.get("features") or ()),
        )


@dataclass(frozen=True)
class StatisticsSet:
    """Statistics of several datasets (splits and slices): TFDV's DatasetFeatureStatisticsList."""

    datasets: tuple[DatasetStatistics, ...] = field(default_factory=tuple)

    @property
    def split_names(self) -> list[str]:
        """The splits, in order, without slices."""
        return [d.split for d in self.datasets if d.slice is None]

    def dataset(self, split: str, slice: SliceKey | None = None) -> DatasetStatistics:  # noqa: A002
        for d in self.datasets:
            if d.split == split and d.slice == slice:
                return d
        names = ", ".join(d.name for d in self.datasets) or "(none)"
        raise KeyError(f"No statistics for split '{split}' slice {slice}. Datasets: {names}")

    def slices(self, split: str) -> list[DatasetStatistics]:
        return [d for d in self.datasets if d.split == split and d.slice is not None]

    def __getitem__(self, split: str) -> DatasetStatistics:
        return self.dataset(split)

    def __iter__(self):  # noqa: ANN204
        return iter(self.datasets)

    def __len__(self) -> int:
        return len(self.datasets)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "datasets": [d.to_dict() for d in self.datasets],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StatisticsSet:
        version = d.get("version", FORMAT_VERSION)
        if d.get("format", FORMAT_NAME) != FORMAT_NAME or version > FORMAT_VERSION:
            from sluiceway.errors import DataError

            raise DataError(
                f"Not a Sluiceway statistics document this version can read: format "
                f"{d.get('format')!r} version {version!r} (expected {FORMAT_NAME!r} <= {FORMAT_VERSION})."
            )
        return cls(datasets=tuple(DatasetStatistics.from_dict(x) for x in d.get("datasets") or ()))

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 1) -> str:
        """Return the JSON text; also write it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, path_or_text: str | Path) -> StatisticsSet:
        """Read from a file path, or parse JSON text (a string starting with ``{``)."""
        if isinstance(path_or_text, str) and path_or_text.lstrip().startswith("{"):
            text = path_or_text
        else:
            p = Path(path_or_text)
            if p.is_dir():
                p = p / "statistics.json"
            try:
                text = p.read_text(encoding="utf-8")
            except FileNotFoundError as exc:
                from sluiceway.errors import DataError

                raise DataError(f"Statistics file not found: {p}") from exc
        return cls.from_dict(json.loads(text))



# ================================================================================================
# Computation: one streaming pass with mergeable accumulators
# ================================================================================================
_HASH_SEED = 0x5E1CE  # fixed so hashes agree across batches, threads and (same-version) workers
_SAMPLE_ROWS = 16_384
_STATS_BATCH_ROWS = 1 << 19  # 512K-row windows: as fast as whole 1M-row groups, ~50 MB less peak memory
_APPROX_RANK_BUCKETS = 50  # rank-histogram values listed when the value counts are approximate


@dataclass(frozen=True)
class StatisticsOptions:
    """How statistics are computed (every field has a TFDV-like default)."""

    slice_by: tuple[str, ...] = ()
    weight_column: str | None = None
    top_k: int = 20
    # values listed in the rank histogram while the counts are exact (TFDV lists up to 1000): schema
    # inference reads complete value lists from it to infer domains; once a feature has too many
    # distinct values to count exactly, at most _APPROX_RANK_BUCKETS (approximate) values are listed
    num_rank_histogram_buckets: int = 1000
    num_histogram_buckets: int = 10
    num_quantiles: int = 10  # quantiles at ranks 0, 1/n, ..., 1 (n + 1 values)
    exact_cap: int = 16_384  # numeric features keep exact value counts up to this many values
    hll_p: int = 16

    def __post_init__(self) -> None:
        for name in ("top_k", "num_rank_histogram_buckets", "num_histogram_buckets", "num_quantiles", "exact_cap"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"The '{name}' parameter of compute_statistics must be an int >= 1. Got {value!r} instead."
                )


def _arrow_feature_type(dtype: Any) -> tuple[FeatureType, FeatureType]:
    """(type, value_type) of an Arrow data type."""
    import pyarrow as pa

    t = pa.types
    if t.is_dictionary(dtype):
        return _arrow_feature_type(dtype.value_type)
    if t.is_boolean(dtype):
        return FeatureType.BOOL, FeatureType.BOOL
    if t.is_integer(dtype):
        return FeatureType.INT, FeatureType.INT
    if t.is_floating(dtype) or t.is_decimal(dtype):
        return FeatureType.FLOAT, FeatureType.FLOAT
    if t.is_string(dtype) or t.is_large_string(dtype) or getattr(t, "is_string_view", lambda _: False)(dtype):
        return FeatureType.STRING, FeatureType.STRING
    if t.is_binary(dtype) or t.is_large_binary(dtype) or t.is_fixed_size_binary(dtype):
        return FeatureType.BYTES, FeatureType.BYTES
    if t.is_temporal(dtype):
        return FeatureType.DATETIME, FeatureType.DATETIME
    if t.is_list(dtype) or t.is_large_list(dtype) or t.is_fixed_size_list(dtype):
        inner, _ = _arrow_feature_type(dtype.value_type)
        if inner in (FeatureType.LIST, FeatureType.STRUCT):
            inner = FeatureType.STRING  # nested lists: values are summarised as text
        return FeatureType.LIST, inner
    if t.is_struct(dtype):
        return FeatureType.STRUCT, FeatureType.STRUCT
    if t.is_null(dtype):
        return FeatureType.NULL, FeatureType.NULL
    return FeatureType.STRING, FeatureType.STRING


def _plan_features(schema: Any, exclude: Sequence[str] = ()) -> list[tuple[str, tuple[str, ...], FeatureType, FeatureType]]:
    """(feature name, path of struct fields, type, value_type) for every feature; structs flattened."""
    out: list[tuple[str, tuple[str, ...], FeatureType, FeatureType]] = []

    def visit(name: str, path: tuple[str, ...], dtype: Any) -> None:
        ftype, vtype = _arrow_feature_type(dtype)
        out.append((name, path, ftype, vtype))
        if ftype is FeatureType.STRUCT:
            for i in range(dtype.num_fields):
                child = dtype.field(i)
                visit(f"{name}.{child.name}", (*path, child.name), child.type)

    for fld in schema:
        if fld.name in exclude:
            continue
        visit(fld.name, (fld.name,), fld.type)
    return out


class _FeatureAccumulator:
    """Everything known about one feature of one dataset so far; mergeable, picklable."""

    def __init__(self, ftype: FeatureType, vtype: FeatureType, options: StatisticsOptions, weighted: bool) -> None:
        from sluiceway.data.sketches import DistinctCounter, FrequentValues, Moments, QuantileAccumulator

        self.type, self.value_type = ftype, vtype
        self.count = 0
        self.missing = 0
        self.w_count = 0.0
        self.w_missing = 0.0
        self.moments = self.quantiles = self.w_quantiles = None
        self.freq = self.w_freq = self.distinct = None
        self.len_min = math.inf
        self.len_max = -math.inf
        self.len_sum = 0
        self.len_n = 0
        self.list_min = math.inf
        self.list_max = -math.inf
        self.list_total = 0
        self.list_n = 0
        if vtype.is_numeric:
            self.moments = Moments()
            self.quantiles = QuantileAccumulator(exact_cap=options.exact_cap)
            if weighted:
                self.w_quantiles = QuantileAccumulator(exact_cap=options.exact_cap)
        elif vtype.is_string:
            self.freq = FrequentValues()
            self.distinct = DistinctCounter(options.hll_p)
            if weighted:
                self.w_freq = FrequentValues()

    def merge(self, other: _FeatureAccumulator) -> _FeatureAccumulator:
        if other.type != self.type or other.value_type != self.value_type:
            numeric = {FeatureType.INT, FeatureType.FLOAT}
            if {self.value_type, other.value_type} <= numeric:
                self.value_type = FeatureType.FLOAT
                if self.type in numeric:
                    self.type = FeatureType.FLOAT
            elif other.type is FeatureType.NULL:
                pass
            elif self.type is FeatureType.NULL:
                other.count, other.missing = other.count + self.count, other.missing + self.missing
                other.w_count, other.w_missing = other.w_count + self.w_count, other.w_missing + self.w_missing
                self.__dict__.update(other.__dict__)
                return self
            else:
                from sluiceway.errors import DataError

                raise DataError(
                    f"A feature has type {self.type.value} in one file and {other.type.value} in "
                    f"another; statistics need one type per feature within a split."
                )
        self.count += other.count
        self.missing += other.missing
        self.w_count += other.w_count
        self.w_missing += other.w_missing
        for name in ("moments", "quantiles", "w_quantiles", "freq", "w_freq", "distinct"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs is not None:
                if mine is None:
                    setattr(self, name, theirs)
                else:
                    mine.merge(theirs)
        self.len_min = min(self.len_min, other.len_min)
        self.len_max = max(self.len_max, other.len_max)
        self.len_sum += other.len_sum
        self.len_n += other.len_n
        self.list_min = min(self.list_min, other.list_min)
        self.list_max = max(self.list_max, other.list_max)
        self.list_total += other.list_total
        self.list_n += other.list_n
        return self

    # -- batch updates ------------------------------------------------------------------------
    def update(self, s: Any, w: Any | None, options: StatisticsOptions) -> None:
        """Fold in one batch of this feature (a Polars Series) and the weights (a Series or None)."""
        import polars as pl

        n = s.len()
        nulls = s.null_count()
        self.count += n - nulls
        self.missing += nulls
        if w is not None:
            w = w.fill_null(0.0).cast(pl.Float64)
            valid = s.is_not_null()
            wc = float(w.filter(valid).sum()) if nulls else float(w.sum())
            self.w_count += wc
            self.w_missing += float(w.sum()) - wc
        if n == nulls:
            return
        if nulls:
            if w is not None:
                w = w.filter(s.is_not_null())
            s = s.drop_nulls()
        if self.type is FeatureType.LIST:
            lengths = s.list.len()
            self.list_min = min(self.list_min, int(lengths.min()))
            self.list_max = max(self.list_max, int(lengths.max()))
            self.list_total += int(lengths.sum())
            self.list_n += lengths.len()
            s = s.explode().drop_nulls()
            w = None  # weights are not spread over list elements
            if s.len() == 0:
                return
            if self.value_type is FeatureType.STRING and s.dtype != pl.String:
                s = s.cast(pl.String)
        if self.value_type.is_numeric:
            self._update_numeric(s, w, options)
        elif self.value_type.is_string:
            self._update_string(s, w, options)

    def _update_numeric(self, s: Any, w: Any | None, options: StatisticsOptions) -> None:
        import numpy as np
        import polars as pl

        if s.dtype == pl.Boolean:
            s = s.cast(pl.Int8)
        elif s.dtype.is_temporal():
            s = s.to_physical()
        elif s.dtype.is_decimal():
            s = s.cast(pl.Float64)
        is_float = s.dtype.is_float()
        col = pl.col("v")
        frame = s.alias("v").to_frame()
        if is_float:
            finite = col.filter(col.is_finite())
            row = frame.select(
                finite.len().alias("count"),
                finite.mean().alias("mean"),
                finite.var(ddof=0).alias("var"),
                col.filter(col.is_not_nan()).min().alias("min"),
                col.filter(col.is_not_nan()).max().alias("max"),
                (col == 0).sum().alias("zeros"),
                col.is_nan().sum().alias("nan"),
                col.is_infinite().sum().alias("inf"),
            ).row(0)
        else:
            row = frame.select(
                col.len().alias("count"),
                col.cast(pl.Float64).mean().alias("mean"),
                col.cast(pl.Float64).var(ddof=0).alias("var"),
                col.min().cast(pl.Float64).alias("min"),
                col.max().cast(pl.Float64).alias("max"),
                (col == 0).sum().alias("zeros"),
            ).row(0) + (0, 0)
        count, mean, var, vmin, vmax, zeros, nan, inf = row
        count = int(count)
        self.moments.update_summary(
            num_values=s.len(),
            count=count,
            mean=float(mean) if count else 0.0,
            m2=float(var) * count if count and var is not None else 0.0,
            min=float(vmin) if vmin is not None else math.inf,
            max=float(vmax) if vmax is not None else -math.inf,
            num_zeros=int(zeros),
            num_nan=int(nan),
            num_inf=int(inf),
        )
        if nan:
            keep = s.is_not_nan()
            s = s.filter(keep)
            if w is not None:
                w = w.filter(keep)
        if s.len() == 0:
            return
        values = None
        q = self.quantiles
        if q.wants_counts():
            sample = s.head(_SAMPLE_ROWS)
            if sample.len() >= _SAMPLE_ROWS and sample.n_unique() > options.exact_cap // 2:
                q.to_sketch()
            else:
                vc = s.value_counts(name="count")
                if vc.height <= options.exact_cap:
                    q.update_counts(vc.to_series(0).cast(pl.Float64).to_numpy(), vc.get_column("count").to_numpy())
                else:
                    q.to_sketch()
        if not q.wants_counts():
            values = np.require(s.cast(pl.Float64).to_numpy(), dtype=np.float64, requirements=["C", "W"])
            q.update(values)
        if w is not None:
            x = values if values is not None else s.cast(pl.Float64).to_numpy()
            wv = w.to_numpy()
            self.moments.merge(_weighted_moments(x, wv))
            self.w_quantiles.update_weighted(x, wv)

    def _update_string(self, s: Any, w: Any | None, options: StatisticsOptions) -> None:
        import numpy as np
        import polars as pl

        if s.dtype == pl.Binary:
            lengths = s.bin.size()
        else:
            if s.dtype != pl.String:
                s = s.cast(pl.String)
            lengths = s.str.len_bytes()
        self.len_min = min(self.len_min, int(lengths.min()))
        self.len_max = max(self.len_max, int(lengths.max()))
        self.len_sum += int(lengths.sum())
        self.len_n += lengths.len()
        freq = self.freq
        sample = s.head(_SAMPLE_ROWS)
        low_cardinality = sample.n_unique() <= freq.capacity // 2
        if low_cardinality:
            vc = s.value_counts(name="count")
            labels_s = vc.get_column(s.name)
            counts = vc.get_column("count").to_numpy()
            self.distinct.update_hashes(labels_s.hash(_HASH_SEED).to_numpy())
            keep, reduced_by = freq.reduce_counts(counts, freq.capacity)
            if not keep.all():
                labels_s, counts = labels_s.filter(pl.Series(keep)), counts[keep] - reduced_by
            freq.update_counts(_labels(labels_s), counts, reduced_by=reduced_by)
        else:
            hashes = s.hash(_HASH_SEED)
            # count by sorting the hashes (cheaper than a hash group-by when most values are unique)
            sorted_h = np.sort(hashes.to_numpy())
            starts = np.concatenate([[0], np.flatnonzero(sorted_h[1:] != sorted_h[:-1]) + 1])
            hh = sorted_h[starts]
            counts = np.diff(np.append(starts, len(sorted_h)))
            self.distinct.update_sorted_hashes(hh)
            keep, reduced_by = freq.reduce_counts(counts, freq.capacity)
            if keep.any():
                kept = pl.Series("h", hh[keep])
                kept_counts = counts[keep] - reduced_by
                frame = pl.DataFrame({"v": s, "h": hashes})
                reps = frame.filter(pl.col("h").is_in(kept.implode())).unique("h", keep="any")
                label_of = dict(zip(reps.get_column("h").to_list(), _labels(reps.get_column("v"))))
                freq.update_counts([label_of[h] for h in kept.to_list()], kept_counts, reduced_by=reduced_by)
            else:
                freq.update_counts([], np.empty(0), reduced_by=reduced_by)
        freq.add_total(s.len())
        if w is not None and self.w_freq is not None:
            frame = pl.DataFrame({"v": s, "w": w})
            agg = frame.group_by("v").agg(pl.col("w").sum())
            wsum = agg.get_column("w").to_numpy() * _WEIGHT_SCALE
            keep, reduced_by = self.w_freq.reduce_counts(wsum, self.w_freq.capacity)
            lab = agg.get_column("v").filter(pl.Series(keep)) if not keep.all() else agg.get_column("v")
            self.w_freq.update_counts(_labels(lab), wsum[keep] - reduced_by, reduced_by=reduced_by)

    # -- results ------------------------------------------------------------------------------
    def finish(self, name: str, options: StatisticsOptions, weighted: bool) -> FeatureStatistics:
        numeric = string = lst = None
        if self.type is FeatureType.LIST and self.list_n:
            lst = ListStats(
                min_num_values=int(self.list_min),
                max_num_values=int(self.list_max),
                avg_num_values=self.list_total / self.list_n,
                total_num_values=self.list_total,
            )
        if self.moments is not None and self.moments.num_values:
            numeric = self._finish_numeric(options, weighted)
        if self.freq is not None and self.len_n:
            string = self._finish_string(options, weighted)
        return FeatureStatistics(
            name=name,
            type=self.type,
            value_type=self.value_type,
            count=self.count,
            missing=self.missing,
            weighted_count=self.w_count if weighted else None,
            weighted_missing=self.w_missing if weighted else None,
            numeric=numeric,
            string=string,
            list=lst,
        )

    def _finish_numeric(self, options: StatisticsOptions, weighted: bool) -> NumericStats:
        m, q = self.moments, self.quantiles
        ranks = [i / options.num_quantiles for i in range(options.num_quantiles + 1)]

        def parts(acc: Any) -> tuple[tuple[Quantile, ...], float | None, Histogram | None, Histogram | None]:
            if acc is None or acc.n == 0:
                return (), None, None, None
            qs = acc.quantiles(ranks)
            median = acc.quantiles([0.5])[0]
            lo, hi = qs[0], qs[-1]
            hist = Histogram("standard", tuple(Bucket(*b) for b in acc.histogram(lo, hi, options.num_histogram_buckets)))
            qhist = Histogram("quantiles", tuple(Bucket(*b) for b in acc.quantile_histogram(options.num_histogram_buckets)))
            return tuple(Quantile(r, v) for r, v in zip(ranks, qs)), median, hist, qhist

        quantiles, median, hist, qhist = parts(q)
        w_stats = None
        if weighted and self.w_quantiles is not None:
            wq, wmedian, whist, wqhist = parts(self.w_quantiles)
            w_stats = WeightedNumericStats(
                mean=m.w_mean if m.w_sum > 0 else None,
                std=m.weighted_std,
                median=wmedian,
                quantiles=wq,
                histogram=whist,
                quantile_histogram=wqhist,
            )
        has_values = m.num_values > m.num_nan
        return NumericStats(
            mean=m.mean if m.count else None,
            std=m.std,
            min=m.min if has_values else None,
            median=median,
            max=m.max if has_values else None,
            num_zeros=m.num_zeros,
            num_nan=m.num_nan,
            num_inf=m.num_inf,
            quantiles=quantiles,
            histogram=hist,
            quantile_histogram=qhist,
            exact=q.is_exact,
            rank_error=q.rank_error,
            weighted=w_stats,
        )

    def _finish_string(self, options: StatisticsOptions, weighted: bool) -> StringStats:
        freq = self.freq
        exact = freq.is_exact
        if exact:
            unique = freq.num_active
        else:
            unique = max(int(round(self.distinct.estimate())), 1)
        top = freq.top(max(options.top_k, _rank_buckets(options, exact)))
        w_stats = None
        if weighted and self.w_freq is not None:
            w_buckets = _rank_buckets(options, self.w_freq.is_exact)
            wtop = [(v, c / _WEIGHT_SCALE) for v, c in self.w_freq.top(max(options.top_k, w_buckets))]
            w_stats = WeightedStringStats(
                top_values=tuple(ValueCount(v, c) for v, c in wtop[: options.top_k]),
                rank_histogram=tuple(RankBucket(i, i, v, c) for i, (v, c) in enumerate(wtop[:w_buckets])),
            )
        return StringStats(
            unique=unique,
            unique_exact=exact,
            top_values=tuple(ValueCount(v, c) for v, c in top[: options.top_k]),
            top_values_exact=exact,
            rank_histogram=tuple(
                RankBucket(i, i, v, c) for i, (v, c) in enumerate(top[: _rank_buckets(options, exact)])
            ),
            avg_length=self.len_sum / self.len_n if self.len_n else None,
            min_length=int(self.len_min) if self.len_n else None,
            max_length=int(self.len_max) if self.len_n else None,
            weighted=w_stats,
        )


def _rank_buckets(options: StatisticsOptions, exact: bool) -> int:
    """How many values the rank histogram lists: all up to the option while counts are exact."""
    n = options.num_rank_histogram_buckets
    return n if exact else min(n, _APPROX_RANK_BUCKETS)


_WEIGHT_SCALE = 1000.0  # weighted top-value counts are kept as integers in thousandths


def _labels(series: Any) -> list[str]:
    """Python strings for a Polars String or Binary series (bytes decoded with backslash escapes)."""
    values = series.to_list()
    if values and isinstance(values[0], (bytes, bytearray)):
        return [v.decode("utf-8", "backslashreplace") for v in values]
    return values


def _weighted_moments(x: Any, w: Any) -> Any:
    import numpy as np

    from sluiceway.data.sketches import Moments

    finite = np.isfinite(x)
    if not finite.all():
        x, w = x[finite], w[finite]
    out = Moments()
    w_sum = float(w.sum())
    if w_sum > 0:
        out.w_sum = w_sum
        out.w_mean = float((w * x).sum() / w_sum)
        out.w_m2 = float((w * (x - out.w_mean) ** 2).sum())
    return out


class _DatasetAccumulator:
    def __init__(self) -> None:
        self.num_examples = 0
        self.w_num_examples = 0.0
        self.features: dict[str, _FeatureAccumulator] = {}

    def merge(self, other: _DatasetAccumulator) -> _DatasetAccumulator:
        self.num_examples += other.num_examples
        self.w_num_examples += other.w_num_examples
        for name, acc in other.features.items():
            mine = self.features.get(name)
            if mine is None:
                self.features[name] = acc
            else:
                try:
                    mine.merge(acc)
                except Exception as exc:
                    from sluiceway.errors import DataError

                    raise DataError(f"Feature '{name}': {exc}") from exc
        return self


# key: (split, slice column or None, slice value or None)
_Key = tuple[str, Any, Any]


def _merge_results(a: dict[_Key, _DatasetAccumulator], b: dict[_Key, _DatasetAccumulator]) -> dict[_Key, _DatasetAccumulator]:
    for key, acc in b.items():
        if key in a:
            a[key].merge(acc)
        else:
            a[key] = acc
    return a


def _slice_text(value: Any) -> str | None:
    """A slice value as text: None for null, ``true``/``false`` for booleans, else ``str``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _polars_frames(batches: Any) -> Any:
    """Polars DataFrames from batches that are Polars frames or Arrow record batches."""
    import polars as pl

    for batch in batches:
        if isinstance(batch, pl.DataFrame):
            yield batch
            continue
        df = pl.from_arrow(batch, rechunk=False)
        yield df.to_frame() if isinstance(df, pl.Series) else df  # one column can come back as a Series


def _canonical_windows(frames: Any, rows: int) -> Any:
    """The rows of ``frames`` re-cut into windows of exactly ``rows`` rows (the last one shorter),
    each stored as one contiguous chunk per column.

    Why: per-window sums and sketch updates round differently when a column is cut differently, so
    statistics are computed over windows that depend only on the data, not on the engine's batch
    size or on how a reader chunked its arrays. At least one (maybe empty) window is yielded when
    there was any frame, so an empty file still lists its features."""
    import polars as pl

    held: list[Any] = []
    held_rows = 0
    seen = False
    for df in frames:
        if not seen and df.height == 0:
            held.append(df)
        seen = True
        while df.height:
            take = min(rows - held_rows, df.height)
            held.append(df.slice(0, take))
            held_rows += take
            df = df.slice(take)
            if held_rows == rows:
                yield pl.concat(held, rechunk=True) if len(held) > 1 else held[0].rechunk()
                held, held_rows = [], 0
    if held_rows or (seen and held):
        yield pl.concat(held, rechunk=True) if len(held) > 1 else held[0].rechunk()


class StatisticsMapper:
    """The map function of a statistics pass: a fragment's batches → accumulators (picklable)."""

    def __init__(self, options: StatisticsOptions) -> None:
        self.options = options

    def __call__(self, fragment: Any, batches: Any) -> dict[_Key, _DatasetAccumulator]:
        return self.map_batches(batches, split=fragment.tag, count_rows=fragment.column_group == 0)

    def map_batches(self, batches: Any, *, split: str, count_rows: bool = True) -> dict[_Key, _DatasetAccumulator]:
        opts = self.options
        out: dict[_Key, _DatasetAccumulator] = {}
        plan = None
        for df in _canonical_windows(_polars_frames(batches), _STATS_BATCH_ROWS):
            if plan is None:
                exclude = [opts.weight_column] if opts.weight_column else []
                schema = df.head(0).to_arrow().schema
                plan = _plan_features(schema, exclude)
                missing = [c for c in (*opts.slice_by, *exclude) if c not in schema.names]
                if missing:
                    from sluiceway.errors import DataError

                    raise DataError(
                        f"Column(s) {', '.join(map(repr, missing))} not found in split '{split}'. "
                        f"Columns: {', '.join(schema.names)}"
                    )
            self._update(out, (split, None, None), df, plan, count_rows)
            for col in opts.slice_by:
                for key, part in df.partition_by(col, as_dict=True, maintain_order=True).items():
                    value = key[0] if isinstance(key, tuple) else key
                    self._update(out, (split, col, _slice_text(value)), part, plan, count_rows)
        if plan is None:
            out[(split, None, None)] = _DatasetAccumulator()
        return out

    def _update(self, out: dict[_Key, _DatasetAccumulator], key: _Key, df: Any, plan: Any, count_rows: bool) -> None:
        opts = self.options
        acc = out.get(key)
        if acc is None:
            acc = out[key] = _DatasetAccumulator()
        w = df.get_column(opts.weight_column) if opts.weight_column else None
        weighted = w is not None
        if count_rows:
            acc.num_examples += df.height
            if weighted:
                acc.w_num_examples += float(w.fill_null(0.0).sum())
        columnar: list[tuple[str, _FeatureAccumulator]] = []
        for name, path, ftype, vtype in plan:
            if path[0] not in df.columns:
                continue
            fa = acc.features.get(name)
            if fa is None:
                fa = acc.features[name] = _FeatureAccumulator(ftype, vtype, opts, weighted)
            if not weighted and len(path) == 1 and ftype.is_numeric:
                columnar.append((path[0], fa))  # done below for all such columns at once
                continue
            s = df.get_column(path[0])
            for field_name in path[1:]:
                s = s.struct.field(field_name)
            fa.update(s.alias(name.replace(".", "_")), w, opts)
        if columnar:
            _update_numeric_columns(df, columnar, opts)


def _numeric_expr(dtype: Any, col: Any) -> Any:
    """``col`` as a numeric Polars expression (booleans 0/1, datetimes in their epoch unit)."""
    import polars as pl

    if dtype == pl.Boolean:
        return col.cast(pl.Int8)
    if dtype.is_temporal():
        return col.to_physical()
    if dtype.is_decimal():
        return col.cast(pl.Float64)
    return col


def _update_numeric_columns(df: Any, items: Sequence[tuple[str, _FeatureAccumulator]], options: StatisticsOptions) -> None:
    """Fold one batch of several plain numeric columns (no weights) into their accumulators.

    Few Polars queries per batch for all the columns together, not a few per column: one select
    for counts, moments, min/max, zeros, NaN and inf of every column; one ``collect_all`` of the
    value counts of the columns in the exact phase; then, column by column (one float64 copy in
    memory at a time), the values of the columns in the sketch phase, which numpy sorts (without
    the GIL) before they go to their KLL sketch in one call: sorted input halves the time the KLL
    update (which holds the GIL) takes. Polars runs the queries on its thread pool without the GIL.
    Same results as ``_FeatureAccumulator.update``."""
    import numpy as np
    import polars as pl

    schema = df.schema
    exprs = []
    prepared: list[tuple[str, _FeatureAccumulator, Any, bool]] = []
    for i, (c, fa) in enumerate(items):
        dtype = schema[c]
        x = _numeric_expr(dtype, pl.col(c))
        is_float = dtype.is_float() or dtype.is_decimal()
        # no Float64 cast of integers: Polars' integer mean/var accumulate in float64 already (same
        # results), and a cast would materialise a copy of every column at once
        exprs += [
            x.null_count().alias(f"{i}n"),
            x.count().alias(f"{i}c"),
            x.mean().alias(f"{i}m"),
            x.var(ddof=0).alias(f"{i}v"),
            x.min().alias(f"{i}lo"),  # Polars' min/max skip NaN
            x.max().alias(f"{i}hi"),
            (x == 0).sum().alias(f"{i}z"),
        ]
        if is_float:
            exprs += [x.is_nan().sum().alias(f"{i}nan"), x.is_infinite().sum().alias(f"{i}inf")]
        if fa.quantiles.wants_counts():
            # head before drop_nulls: no copy of the whole column
            exprs.append(x.head(_SAMPLE_ROWS).drop_nulls().n_unique().alias(f"{i}u"))
        prepared.append((c, fa, x, is_float))
    row = df.select(exprs).row(0, named=True)

    counted: list[tuple[int, Any]] = []  # exact phase: (item, value-count query)
    for i, (c, fa, x, is_float) in enumerate(prepared):
        nulls, n = int(row[f"{i}n"]), int(row[f"{i}c"])
        fa.count += n
        fa.missing += nulls
        if n == 0:
            continue
        nan = int(row.get(f"{i}nan") or 0)
        inf = int(row.get(f"{i}inf") or 0)
        count, mean, var, lo, hi = n - nan - inf, row[f"{i}m"], row[f"{i}v"], row[f"{i}lo"], row[f"{i}hi"]
        if nan or inf:  # mean/var over finite values only, min/max over non-NaN values
            xf = x.cast(pl.Float64)
            fin = xf.filter(xf.is_finite())
            notnan = xf.filter(xf.is_not_nan())
            count, mean, var, lo, hi = df.select(
                fin.len().alias("n"),
                fin.mean().alias("m"),
                fin.var(ddof=0).alias("v"),
                notnan.min().alias("lo"),
                notnan.max().alias("hi"),
            ).row(0)
            count = int(count)
        lo = math.inf if lo is None or math.isnan(lo) else float(lo)
        hi = -math.inf if hi is None or math.isnan(hi) else float(hi)
        fa.moments.update_summary(
            num_values=n,
            count=count,
            mean=float(mean) if count else 0.0,
            m2=float(var) * count if count and var is not None else 0.0,
            min=lo,
            max=hi,
            num_zeros=int(row[f"{i}z"]),
            num_nan=nan,
            num_inf=inf,
        )
        if n == nan:
            continue
        q = fa.quantiles
        if q.wants_counts():
            if df.height >= _SAMPLE_ROWS and int(row[f"{i}u"]) > options.exact_cap // 2:
                q.to_sketch()
            else:
                # counts of every value, null and NaN included (dropped from the small result, not
                # from the column: no copy of the column)
                vc = x.value_counts(sort=False, name="count").alias("vc")
                counted.append((i, df.lazy().select(vc).unnest("vc")))
    if counted:
        for (i, _), vc in zip(counted, pl.collect_all([lf for _, lf in counted])):
            q = prepared[i][1].quantiles
            values = vc.to_series(0)
            if values.has_nulls() or prepared[i][3]:
                keep = values.is_not_null()
                if prepared[i][3]:
                    keep = keep & values.is_not_nan()
                vc = vc.filter(keep)
            if vc.height <= options.exact_cap:
                q.update_counts(vc.to_series(0).cast(pl.Float64).to_numpy(), vc.get_column("count").to_numpy())
            else:
                q.to_sketch()

    sketched: list[tuple[int, Any]] = []  # sketch phase: (item, values query)
    for i, (c, fa, x, is_float) in enumerate(prepared):
        if fa.quantiles.wants_counts() or int(row[f"{i}c"]) == 0:
            continue
        vals = x.drop_nulls().cast(pl.Float64)
        if is_float and int(row.get(f"{i}nan") or 0):
            vals = vals.filter(vals.is_not_nan())
            if int(row[f"{i}c"]) == int(row[f"{i}nan"]):
                continue
        sketched.append((i, vals))
    for i, vals in sketched:  # one column at a time: a float64 copy of one column in memory at once
        values = np.require(df.select(vals).to_series(0).to_numpy(), dtype=np.float64, requirements=["C", "W"])
        values.sort()  # numpy sorts without the GIL; KLL then takes sorted input in half the time
        prepared[i][1].quantiles.update(values)
        del values


def _finish(results: dict[_Key, _DatasetAccumulator], split_order: Sequence[str], options: StatisticsOptions, feature_order: dict[str, int]) -> StatisticsSet:
    weighted = options.weight_column is not None
    datasets = []

    def sort_key(key: _Key) -> tuple[int, int, str, str]:
        split, col, value = key
        return (
            split_order.index(split) if split in split_order else len(split_order),
            0 if col is None else 1 + (options.slice_by.index(col) if col in options.slice_by else 0),
            "" if value is None else str(value),
            "",
        )

    for key in sorted(results, key=sort_key):
        split, col, value = key
        acc = results[key]
        names = sorted(acc.features, key=lambda n: (feature_order.get(n, len(feature_order)), n))
        feats = tuple(acc.features[n].finish(n, options, weighted) for n in names)
        datasets.append(
            DatasetStatistics(
                split=split,
                num_examples=acc.num_examples,
                features=feats,
                weighted_num_examples=acc.w_num_examples if weighted else None,
                slice=SliceKey(col, value) if col is not None else None,
            )
        )
    return StatisticsSet(tuple(datasets))


def _resolve_splits(data: Any, split_names: Sequence[str] | None, default_split: str) -> dict[str, Any]:
    """Map split name → list of Parquet files, or → an in-memory Arrow table."""
    from sluiceway.data.engine import list_parquet_files
    from sluiceway.errors import DataError

    if hasattr(data, "uri") and not isinstance(data, (str, Path)):
        data = data.uri
    splits: dict[str, Any] = {}
    if isinstance(data, Mapping):
        for name, value in data.items():
            splits[str(name)] = _resolve_one(value)
    elif isinstance(data, (str, Path)):
        p = Path(data)
        split_dirs = sorted(d for d in p.glob("Split-*") if d.is_dir()) if p.is_dir() else []
        if split_dirs:
            for d in split_dirs:
                splits[d.name[len("Split-"):]] = list_parquet_files(d)
        else:
            splits[default_split] = list_parquet_files(p)
    else:
        splits[default_split] = _resolve_one(data)
    if split_names is not None:
        unknown = [s for s in split_names if s not in splits]
        if unknown:
            raise DataError(
                f"Split(s) {', '.join(map(repr, unknown))} not found. Available: {', '.join(splits) or '(none)'}"
            )
        splits = {s: splits[s] for s in split_names}
    return splits


def _resolve_one(value: Any) -> Any:
    from sluiceway.data.engine import list_parquet_files

    if isinstance(value, (str, Path)):
        return list_parquet_files(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, Path)) for v in value):
        files: list[str] = []
        for v in value:
            files.extend(list_parquet_files(v))
        return files
    return _to_arrow(value)


def _to_arrow(value: Any) -> Any:
    import pyarrow as pa

    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    module = type(value).__module__
    if module.startswith("polars"):
        return value.to_arrow()
    if module.startswith("pandas"):
        return pa.Table.from_pandas(value, preserve_index=False)
    raise TypeError(
        "compute_statistics needs a Parquet path, an Examples artifact, a pyarrow Table, a Polars or pandas "
        f"DataFrame, or a mapping of split name to one of those. Got {type(value).__name__} instead."
    )




def _column_costs(path: str, schema: Any) -> dict[str, float]:
    """Relative work per column, to balance column groups between workers: a fixed part plus a part
    in the column's compressed bytes per row (high-cardinality columns go to sketches and cost more).
    Fitted on the taxi-like data: a small int ≈ 20 ms per million rows, a high-cardinality float ≈ 75
    ms, a unique string id ≈ 170 ms."""
    import pyarrow.parquet as pq

    sizes: dict[str, int] = {}
    rows = 0
    try:
        md = pq.ParquetFile(path).metadata
        rows = md.num_rows
        for i in range(md.num_row_groups):
            rg = md.row_group(i)
            for j in range(rg.num_columns):
                col = rg.column(j)
                top = col.path_in_schema.split(".")[0]
                sizes[top] = sizes.get(top, 0) + col.total_compressed_size
    except Exception:  # costs are a hint: equal costs if the metadata cannot be read
        pass
    costs = {}
    for f in schema:
        string = _arrow_feature_type(f.type)[1].is_string
        per_row = sizes.get(f.name, 0) / rows if rows else 0.0
        costs[f.name] = (5.0 + 0.6 * per_row) if string else (2.0 + per_row)
    return costs


def compute_statistics(
    data: Any,
    *,
    split_names: Sequence[str] | None = None,
    slice_by: str | Sequence[str] | None = None,
    weight_column: str | None = None,
    columns: Sequence[str] | None = None,
    engine: Any = None,
    default_split: str = "all",
    top_k: int = 20,
    num_rank_histogram_buckets: int = 1000,
    num_histogram_buckets: int = 10,
    num_quantiles: int = 10,
    exact_cap: int = 16_384,
) -> StatisticsSet:
    """Statistics of every feature of every split, in one streaming pass.

    ``data``: an ``Examples`` artifact (or its URI: splits from ``Split-{name}/`` folders), a Parquet
    file or folder (one dataset named ``default_split``), an in-memory pyarrow Table / Polars / pandas
    DataFrame, or a mapping ``{split: any of those}``. ``slice_by`` adds one dataset per value of each
    given column (per split); ``weight_column`` adds weighted statistics (and is not a feature).
    ``engine``: ``None``/``"local"`` (threads over row groups) or an ``Engine``.
    ``top_k`` values are listed in ``top_values``; the rank histogram lists up to
    ``num_rank_histogram_buckets`` values while a string feature's counts are exact (up to 3072
    distinct values), so schema inference sees complete value lists (at most 50 approximate values
    otherwise).
    """
    from sluiceway.data.engine import InProcessEngine, default_engine, plan_fragments

    if isinstance(slice_by, str):
        slice_by = (slice_by,)
    options = StatisticsOptions(
        slice_by=tuple(slice_by or ()),
        weight_column=weight_column,
        top_k=top_k,
        num_rank_histogram_buckets=num_rank_histogram_buckets,
        num_histogram_buckets=num_histogram_buckets,
        num_quantiles=num_quantiles,
        exact_cap=exact_cap,
    )
    splits = _resolve_splits(data, split_names, default_split)
    mapper = StatisticsMapper(options)
    results: dict[_Key, _DatasetAccumulator] = {}
    feature_order: dict[str, int] = {}
    eng = None
    always = [c for c in (*options.slice_by, weight_column) if c]
    for split, source in splits.items():
        if isinstance(source, list):
            import pyarrow.parquet as pq

            schema = pq.read_schema(source[0])
            cols = list(columns) if columns is not None else schema.names
            missing = [c for c in (*cols, *always) if c not in schema.names]
            if missing:
                from sluiceway.errors import DataError

                raise DataError(
                    f"Column(s) {', '.join(map(repr, missing))} not found in split '{split}' "
                    f"({source[0]}). Columns: {', '.join(schema.names)}"
                )
            for name, *_ in _plan_features(schema, [weight_column] if weight_column else []):
                feature_order.setdefault(name, len(feature_order))
            if eng is None:
                # larger batches than the engine default: the Polars reader decodes a whole fragment
                # at once anyway, so small batches only repeat the per-batch work
                eng = InProcessEngine(batch_rows=_STATS_BATCH_ROWS) if engine in (None, "local") else default_engine(engine)
            costs = _column_costs(source[0], schema)
            fragments = plan_fragments(
                source,
                columns=cols,
                always_columns=always,
                parallelism=getattr(eng, "parallelism", 1),
                column_costs=costs,
                tag=split,
            )
            part = eng.map_reduce(fragments, mapper, _merge_results, batch_format="polars")
            if not part:
                part = {(split, None, None): _DatasetAccumulator()}
        else:
            table = source.select(list(dict.fromkeys([*columns, *always]))) if columns is not None else source
            for name, *_ in _plan_features(table.schema, [weight_column] if weight_column else []):
                feature_order.setdefault(name, len(feature_order))
            part = mapper.map_batches(iter(table.to_batches(max_chunksize=256 * 1024)), split=split)
        _merge_results(results, part)
    return _finish(results, list(splits), options, feature_order)

__all__ = [
    "Bucket",
    "StatisticsMapper",
    "StatisticsOptions",
    "compute_statistics",
    "DatasetStatistics",
    "FeatureStatistics",
    "FeatureType",
    "Histogram",
    "ListStats",
    "NumericStats",
    "Quantile",
    "RankBucket",
    "SliceKey",
    "StatisticsSet",
    "StringStats",
    "ValueCount",
    "WeightedNumericStats",
    "WeightedStringStats",
]


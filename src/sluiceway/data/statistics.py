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

Numeric statistics of NaN-containing float columns are over the finite values plus inf (NaN is
counted in ``num_nan`` and excluded from mean/std/quantiles). ``min``/``max``/``mean`` are exact;
``std`` uses Chan's parallel merge of Welford accumulators (exact to floating-point rounding).
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
    """Statistics of a string (or bytes, shown as hex-free latin-1 text) feature's values.

    ``unique`` is exact when ``unique_exact`` (few distinct values), else an HLL estimate.
    ``top_values`` are sorted by count, descending; exact when ``top_values_exact``.
    Lengths are in characters (bytes for ``bytes`` features).
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


__all__ = [
    "Bucket",
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


"""The statistics data model and its JSON form (pydantic, like the schema and the anomalies).

A ``StatisticsSet`` holds one ``DatasetStatistics`` per split (and per slice of a split when
slicing); each dataset holds one ``FeatureStatistics`` per feature. Every type is a frozen pydantic
model: ``StatisticsSet.to_json(path)`` writes the documented JSON (see ``sluiceway.data.statistics``)
and ``load_statistics(path)`` reads it back, raising ``DataError`` that names the file and what is
wrong when a file is not a statistics document. Strict JSON cannot hold NaN or ±inf, so those travel
as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.

Models are built with keywords (``Bucket(low=0.0, high=1.0, count=5.0)``); ``StatisticsSet((dataset,))``
also takes its datasets positionally, as the dataclass it replaces did.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, ValidationError, model_validator

from sluiceway.errors import DataError

FORMAT_NAME = "sluiceway.statistics"
# 1: the first documented format (read as is: every later field has a default)
# 2: numeric quantiles as one list of values, ``quantile_values``, at the even ranks 0, 1/n, ..., 1
#    instead of a list of {"rank", "value"} objects (version 1's ``quantiles`` is still read)
FORMAT_VERSION = 2


class FeatureKind(str, Enum):
    """The kind of values a feature holds, as statistics saw them in the data (Arrow's type family).

    Not the schema's ``FeatureType`` (what a curated schema declares): this one also tells lists,
    structs and all-null columns apart."""

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
        return self in (FeatureKind.INT, FeatureKind.FLOAT, FeatureKind.BOOL, FeatureKind.DATETIME)

    @property
    def is_string(self) -> bool:
        return self in (FeatureKind.STRING, FeatureKind.BYTES)


def _float_out(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


# a float written as a JSON number, or as "NaN"/"Infinity"/"-Infinity" (which pydantic's float
# validation reads back natively: no Python call per value when reading or building statistics)
JsonFloat = Annotated[float, PlainSerializer(_float_out, when_used="json")]


class _Record(BaseModel):
    """Frozen; unknown keys are ignored, so a field added by a later minor version does not break
    an older reader."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    def to_dict(self) -> dict[str, Any]:
        """This part of the JSON form as Python objects (NaN/inf as strings)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, document: Any) -> Any:
        """Read this part of the JSON form (pydantic's ``ValidationError`` on a bad document;
        ``load_statistics`` turns that into a ``DataError`` naming the file)."""
        return cls.model_validate(document)


class Bucket(_Record):
    """One histogram bucket: ``count`` values in [low, high) ([low, high] for the last bucket)."""

    low: JsonFloat
    high: JsonFloat
    count: float


class Histogram(_Record):
    """An equi-width (``kind="standard"``) or equal-count (``kind="quantiles"``) histogram."""

    kind: str
    buckets: tuple[Bucket, ...] = ()


class Quantile(_Record):
    """The value at normalised rank ``rank`` (0 = min, 0.5 = median, 1 = max)."""

    rank: float
    value: JsonFloat


class _QuantileSummary(_Record):
    """Quantiles stored as one tuple of floats, ``quantile_values``, at the even ranks 0, 1/n, ..., 1.

    Why not a tuple of ``Quantile`` models: a model object costs ~500 bytes, so 101 quantiles a numeric
    feature (the default, for the drift check) took ~50 KB a feature, most of the memory of the
    statistics of a wide table (2.4 GB at 50,000 columns). ``quantiles`` still gives ``Quantile``
    objects, made when asked; version 1's ``quantiles`` list (and ``quantiles=`` in the constructor)
    is read into ``quantile_values``. The subclasses declare the field (where it goes in the JSON)."""

    if TYPE_CHECKING:
        quantile_values: tuple[float, ...]

    @model_validator(mode="before")
    @classmethod
    def _read_quantile_objects(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "quantiles" not in data:
            return data
        data = dict(data)
        items = data.pop("quantiles") or ()
        pairs = [(q.rank, q.value) if isinstance(q, Quantile) else (q["rank"], q["value"]) for q in items]
        if "quantile_values" not in data:
            for i, (rank, _value) in enumerate(pairs):
                if not math.isclose(float(rank), _even_rank(i, len(pairs)), rel_tol=0.0, abs_tol=1e-12):
                    raise ValueError(
                        f"quantile {i} has rank {rank!r}, expected {_even_rank(i, len(pairs))!r}: quantiles "
                        "must be at the even ranks 0, 1/n, ..., 1"
                    )
            data["quantile_values"] = [value for _rank, value in pairs]
        return data

    @property
    def quantiles(self) -> tuple[Quantile, ...]:
        """The quantiles with their ranks (built on each call: keep the result when reading it often)."""
        n = len(self.quantile_values)
        return tuple(
            Quantile.model_construct(rank=_even_rank(i, n), value=v) for i, v in enumerate(self.quantile_values)
        )


def _even_rank(i: int, count: int) -> float:
    """The rank of the ``i``-th of ``count`` quantiles at even ranks (the same float the statistics
    pass computes: ``i / num_quantiles``)."""
    return i / (count - 1) if count > 1 else 0.0


class WeightedNumericStats(_QuantileSummary):
    """Numeric statistics where each example counts with its weight."""

    mean: JsonFloat | None = None
    std: JsonFloat | None = None
    median: JsonFloat | None = None
    quantile_values: tuple[JsonFloat, ...] = ()
    histogram: Histogram | None = None
    quantile_histogram: Histogram | None = None


class NumericStats(_QuantileSummary):
    """Statistics of a numeric feature's (non-null) values. Mean/std/min/max are over non-NaN values."""

    mean: JsonFloat | None = None
    std: JsonFloat | None = None
    min: JsonFloat | None = None
    median: JsonFloat | None = None
    max: JsonFloat | None = None
    num_zeros: int = 0
    num_nan: int = 0
    num_inf: int = 0
    quantile_values: tuple[JsonFloat, ...] = ()  # at ranks 0, 1/n, ..., 1; ``quantiles`` gives them with ranks
    histogram: Histogram | None = None
    quantile_histogram: Histogram | None = None
    exact: bool = False
    rank_error: float = 0.0
    weighted: WeightedNumericStats | None = None


class TopValue(_Record):
    """A frequent value of a string feature and how often it occurs (a weighted sum with weights)."""

    value: str
    count: float


class RankBucket(_Record):
    """A rank-histogram bucket (TFDV's ``RankHistogram.Bucket``): values ranked low_rank..high_rank."""

    low_rank: int
    high_rank: int
    label: str
    count: float


class WeightedStringStats(_Record):
    """Top values and rank histogram where each example counts with its weight."""

    top_values: tuple[TopValue, ...] = ()
    rank_histogram: tuple[RankBucket, ...] = ()


class StringStats(_Record):
    """Statistics of a string (or bytes, shown UTF-8 decoded with backslash escapes) feature's values.

    ``unique`` is exact when ``unique_exact`` (few distinct values), else an HLL estimate.
    ``top_values`` are sorted by count, descending; exact when ``top_values_exact``.
    Lengths are in bytes (UTF-8 bytes for strings), like TFDV's ``avg_length``.
    """

    unique: int
    unique_exact: bool = True
    top_values: tuple[TopValue, ...] = ()
    top_values_exact: bool = True
    rank_histogram: tuple[RankBucket, ...] = ()
    avg_length: JsonFloat | None = None
    min_length: int | None = None
    max_length: int | None = None
    weighted: WeightedStringStats | None = None


class ListStats(_Record):
    """Number of values per example of a list-valued feature (over non-null examples)."""

    min_num_values: int
    max_num_values: int
    avg_num_values: float
    total_num_values: int


class FeatureStatistics(_Record):
    """Statistics of one feature (column; struct fields flattened as ``"a.b"``) of one dataset."""

    name: str
    type: FeatureKind
    value_type: FeatureKind  # element kind of a list; same as ``type`` otherwise (the default)
    count: int
    missing: int
    weighted_count: float | None = None
    weighted_missing: float | None = None
    numeric: NumericStats | None = None
    string: StringStats | None = None
    list: ListStats | None = None  # last: the name shadows the builtin inside this class body

    @model_validator(mode="before")
    @classmethod
    def _value_type_defaults_to_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("value_type") is None and "type" in data:
            data = {**data, "value_type": data["type"]}
        return data

    @property
    def num_examples(self) -> int:
        return self.count + self.missing

    @property
    def presence(self) -> float:
        """Fraction of examples where the feature is present (1.0 for an empty dataset)."""
        total = self.count + self.missing
        return self.count / total if total else 1.0


class SliceKey(_Record):
    """Which slice of a split a dataset is: rows where ``column == value`` (value as text)."""

    column: str
    value: str | None  # None: the rows where the slice column is null


class DatasetStatistics(_Record):
    """Statistics of one split (or one slice of a split)."""

    # field order is the JSON's key order (``name``, derived from split and slice, is written first)
    split: str
    slice: SliceKey | None = None
    num_examples: int
    weighted_num_examples: float | None = None
    features: tuple[FeatureStatistics, ...] = ()

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


class StatisticsSet(_Record):
    """Statistics of several datasets (splits and slices): TFDV's DatasetFeatureStatisticsList."""

    datasets: tuple[DatasetStatistics, ...] = ()

    def __init__(self, datasets: tuple[DatasetStatistics, ...] | list[DatasetStatistics] = (), **kwargs: Any) -> None:
        # ``StatisticsSet((train, eval))`` as with the dataclass this model replaces. Only here: an
        # ``__init__`` of its own makes pydantic build a model through Python, so the many nested
        # models (buckets, quantiles) keep pydantic's native constructor.
        super().__init__(**{"datasets": datasets, **kwargs})

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

    def __iter__(self) -> Iterator[DatasetStatistics]:  # type: ignore[override]
        return iter(self.datasets)

    def __len__(self) -> int:
        return len(self.datasets)

    # -- JSON -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The documented JSON form as Python objects (NaN/inf as strings)."""
        body = self.model_dump(mode="json")
        for dataset, source in zip(body["datasets"], self.datasets, strict=True):
            dataset_out = {"name": source.name}
            dataset_out.update(dataset)
            dataset.clear()
            dataset.update(dataset_out)
        return {"format": FORMAT_NAME, "version": FORMAT_VERSION, **body}

    @classmethod
    def from_dict(cls, document: Any, *, source: str = "statistics document") -> StatisticsSet:
        """Read the JSON form; ``DataError`` naming ``source`` and the problem when it is not one."""
        if not isinstance(document, dict):
            raise DataError(
                f"{source} is not a Sluiceway statistics document: expected a JSON object with "
                f"\"format\": {FORMAT_NAME!r}, got {type(document).__name__}."
            )
        fmt, version = document.get("format", FORMAT_NAME), document.get("version", FORMAT_VERSION)
        if fmt != FORMAT_NAME or not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
            raise DataError(
                f"{source} is not a Sluiceway statistics document this version can read: format "
                f"{fmt!r} version {version!r} (expected {FORMAT_NAME!r}, version <= {FORMAT_VERSION}). "
                "Write it with StatisticsGen or `sluiceway stats --json`, or upgrade Sluiceway."
            )
        try:
            return cls.model_validate({"datasets": document.get("datasets") or ()})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "/".join(str(p) for p in first.get("loc", ()))
            raise DataError(
                f"{source} is not a valid Sluiceway statistics document: at {where or 'the top level'}: "
                f"{first.get('msg', exc)} ({exc.error_count()} problem(s) in all). "
                "Recompute it with StatisticsGen or `sluiceway stats --json`."
            ) from None

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 1) -> str:
        """Return the JSON text; also write it to ``path`` when given (``write_json`` writes
        without holding the whole text in memory)."""
        text = "".join(self.iter_json()) if indent == 1 else json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def write_json(self, path: str | Path) -> Path:
        """Write the JSON form to ``path``, one feature at a time: on a table of 50,000 columns the
        whole document as Python objects and text took over a gigabyte."""
        p = Path(path)
        with p.open("w", encoding="utf-8") as out:
            out.writelines(self.iter_json())
        return p

    def iter_json(self) -> Iterator[str]:
        """The JSON text (the same bytes as ``json.dumps(self.to_dict(), indent=1)``) in pieces of
        one feature each."""
        yield f'{{\n "format": {json.dumps(FORMAT_NAME)},\n "version": {FORMAT_VERSION},\n "datasets": ['
        for i, dataset in enumerate(self.datasets):
            head = {"name": dataset.name, **dataset.model_dump(mode="json", exclude={"features"})}
            head_text = _dumps_nested(head, 2)[:-1].rstrip()  # without the closing brace
            yield ("," if i else "") + "\n  " + head_text + ',\n   "features": ['
            for j, feature in enumerate(dataset.features):
                yield ("," if j else "") + "\n    " + _dumps_nested(feature.model_dump(mode="json"), 4)
            yield ("\n   ]" if dataset.features else "]") + "\n  }"
        yield ("\n ]" if self.datasets else "]") + "\n}"

    @classmethod
    def from_json(cls, path_or_text: str | Path) -> StatisticsSet:
        """Read from a file path (a folder: its statistics file), or parse JSON text (starting with ``{``)."""
        if isinstance(path_or_text, str) and path_or_text.lstrip().startswith("{"):
            return cls.from_dict(_parse(path_or_text, "statistics JSON text"), source="statistics JSON text")
        return load_statistics(path_or_text)

    def _repr_html_(self) -> str:
        """The HTML report, shown inline by Jupyter."""
        from sluiceway.reports.statistics_html import render_statistics_html

        return render_statistics_html(self, title="Statistics", standalone=False)


def _dumps_nested(value: Any, depth: int) -> str:
    """``json.dumps(value, indent=1)`` as it appears ``depth`` levels deep in a larger document.
    (JSON strings never hold a raw newline, so every newline starts a line to indent.)"""
    return json.dumps(value, indent=1, allow_nan=False).replace("\n", "\n" + " " * depth)


def _parse(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. "
            "A statistics file is written by StatisticsGen or `sluiceway stats --json`."
        ) from None


def load_statistics(path: str | Path) -> StatisticsSet:
    """Read statistics written by StatisticsGen (its artifact folder or the JSON file itself).

    Raises ``DataError`` naming the file when it is missing, unreadable or not a statistics document."""
    from sluiceway.artifacts import ExampleStatistics

    p = Path(path)
    if p.is_dir():
        p = p / ExampleStatistics.FILENAME
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(
            f"Statistics file not found: {p}. Give a statistics JSON file or an ExampleStatistics folder."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"Cannot read the statistics file {p}: {exc}.") from None
    return StatisticsSet.from_dict(_parse(text, f"The statistics file {p}"), source=f"The statistics file {p}")


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
    "StatisticsSet",
    "StringStats",
    "TopValue",
    "WeightedNumericStats",
    "WeightedStringStats",
    "load_statistics",
]

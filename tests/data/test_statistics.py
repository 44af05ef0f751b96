"""Statistics against exact computation (numpy/Polars), on generated and real (penguins) data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import palmerpenguins
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluiceway.data.engine import InProcessEngine
from sluiceway.data.statistics import (
    FeatureKind,
    SliceKey,
    StatisticsSet,
    compute_statistics,
)
from sluiceway.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    rng = np.random.default_rng(11)
    n = 120_000
    fare = rng.lognormal(2, 1, n)
    fare[rng.random(n) < 0.01] = np.nan
    fare[:3] = [np.inf, 0.0, 0.0]
    zipf = rng.zipf(1.6, n) % 300
    return pl.DataFrame(
        {
            "fare": fare,
            "hour": rng.integers(0, 24, n),
            "ts": rng.integers(1_300_000_000, 1_500_000_000, n),
            "flag": rng.random(n) < 0.3,
            # top values with clearly separated frequencies: 'v0' > 'v1' > ...
            "category": pl.Series([f"v{z}" for z in zipf]),
            "user": pl.Series([f"user-{i}" for i in rng.permutation(n)]),
            "weight": rng.uniform(0.5, 2.0, n),
        }
    ).with_columns(
        pl.when(pl.col("hour") == 3).then(None).otherwise(pl.col("category")).alias("category"),
    )


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory: pytest.TempPathFactory, frame: pl.DataFrame) -> Path:
    d = tmp_path_factory.mktemp("examples")
    half = frame.height // 2
    for name, part in (("train", frame.slice(0, half)), ("eval", frame.slice(half))):
        (d / f"Split-{name}").mkdir()
        for i, chunk in enumerate((part.slice(0, 20_000), part.slice(20_000))):
            pq.write_table(chunk.to_arrow(), d / f"Split-{name}" / f"part-{i:05d}.parquet", row_group_size=15_000)
    return d


def test_examples_layout_gives_one_dataset_per_split(parquet_dir: Path) -> None:
    stats = compute_statistics(parquet_dir, engine=InProcessEngine(2, batch_rows=7_000))
    assert stats.split_names == ["eval", "train"]
    assert stats["train"].num_examples == 60_000


def test_numeric_statistics_match_exact_computation(frame: pl.DataFrame, parquet_dir: Path) -> None:
    engine = InProcessEngine(2, batch_rows=7_000)
    stats = compute_statistics(parquet_dir / "Split-train", default_split="train", engine=engine)
    train = frame.slice(0, 60_000)
    ds = stats["train"]
    f = ds.feature("fare")
    x = train["fare"].to_numpy()
    finite = x[np.isfinite(x)]
    notnan = x[~np.isnan(x)]
    assert f.type is FeatureKind.FLOAT and f.count == 60_000 and f.missing == 0
    n = f.numeric
    assert n.num_nan == int(np.isnan(x).sum()) and n.num_inf == 1 and n.num_zeros == 2
    assert n.mean == pytest.approx(finite.mean(), rel=1e-9)
    assert n.std == pytest.approx(finite.std(), rel=1e-9)
    assert n.min == notnan.min() and n.max == np.inf
    # quantiles: within the KLL rank error (or exact)
    xs = np.sort(notnan)
    eps = max(n.rank_error, 1e-12)
    for q in n.quantiles:
        if 0 < q.rank < 1:
            lo = np.searchsorted(xs, q.value, side="left") / xs.size
            hi = np.searchsorted(xs, q.value, side="right") / xs.size
            assert lo - eps <= q.rank <= hi + eps
    assert sum(b.count for b in n.quantile_histogram.buckets) == pytest.approx(xs.size)

    h = ds.feature("hour")
    hours = train["hour"].to_numpy()
    assert h.type is FeatureKind.INT and h.numeric.exact
    assert h.numeric.median == np.quantile(hours, 0.5, method="inverted_cdf")
    assert h.numeric.mean == pytest.approx(hours.mean(), rel=1e-9)
    assert h.numeric.std == pytest.approx(hours.std(), rel=1e-9)
    edges = np.linspace(0, 23, 11)
    assert [b.count for b in h.numeric.histogram.buckets] == list(np.histogram(hours, bins=edges)[0].astype(float))

    ts = ds.feature("ts").numeric
    assert ts.mean == pytest.approx(train["ts"].mean(), rel=1e-9)
    assert ts.std == pytest.approx(train["ts"].std(ddof=0), rel=1e-9)
    assert ds.feature("flag").type is FeatureKind.BOOL
    assert ds.feature("flag").numeric.mean == pytest.approx(train["flag"].mean(), rel=1e-9)


def test_string_statistics_match_exact_computation(frame: pl.DataFrame, parquet_dir: Path) -> None:
    stats = compute_statistics(parquet_dir, split_names=["train"], engine=InProcessEngine(2, batch_rows=7_000))
    train = frame.slice(0, 60_000)
    cat = stats["train"].feature("category")
    exact = train["category"].drop_nulls().value_counts(sort=True)
    assert cat.missing == train["category"].null_count()
    assert cat.string.unique == exact.height and cat.string.unique_exact
    assert cat.string.top_values_exact
    top = [(v.value, v.count) for v in cat.string.top_values[:5]]
    assert top == [(r[0], float(r[1])) for r in exact.head(5).iter_rows()]
    lengths = train["category"].drop_nulls().str.len_bytes()
    assert cat.string.avg_length == pytest.approx(lengths.mean(), rel=1e-9)
    assert (cat.string.min_length, cat.string.max_length) == (lengths.min(), lengths.max())

    user = stats["train"].feature("user")
    assert not user.string.unique_exact
    assert user.string.unique == pytest.approx(60_000, rel=0.02)
    assert len(user.string.rank_histogram) <= 50  # approximate counts: a short list only


def test_slicing_and_weights(frame: pl.DataFrame) -> None:
    small = frame.slice(0, 20_000)
    stats = compute_statistics(small, slice_by="flag", weight_column="weight", default_split="train")
    assert [d.name for d in stats] == ["train", "train/flag=false", "train/flag=true"]
    sliced = stats.dataset("train", SliceKey(column="flag", value="true"))
    assert sliced.num_examples == int(small["flag"].sum())
    ds = stats["train"]
    assert "weight" not in ds
    assert ds.weighted_num_examples == pytest.approx(small["weight"].sum(), rel=1e-9)
    h = small["hour"].to_numpy().astype(float)
    w = small["weight"].to_numpy()
    wn = ds.feature("hour").numeric.weighted
    mean = np.average(h, weights=w)
    assert wn.mean == pytest.approx(mean, rel=1e-9)
    assert wn.std == pytest.approx(math.sqrt(np.average((h - mean) ** 2, weights=w)), rel=1e-9)
    top = ds.feature("category").string.weighted.top_values[0]
    exact = small.drop_nulls("category").group_by("category").agg(pl.col("weight").sum()).sort("weight").row(-1)
    assert top.value == exact[0] and top.count == pytest.approx(exact[1], abs=1e-2)


def test_lists_structs_and_all_null_columns() -> None:
    table = pa.table(
        {
            "tags": pa.array([["a", "b"], [], None, ["a"]], pa.list_(pa.string())),
            "scores": pa.array([[1.0, 2.0, 3.0], [4.0], [5.0], None], pa.list_(pa.float64())),
            "point": pa.array([{"x": 1, "y": "p"}, {"x": 2, "y": "q"}, None, {"x": 4, "y": "p"}]),
            "empty": pa.array([None] * 4, pa.null()),
        }
    )
    ds = compute_statistics(table)["all"]
    tags = ds.feature("tags")
    assert (tags.type, tags.value_type) == (FeatureKind.LIST, FeatureKind.STRING)
    assert (tags.count, tags.missing) == (3, 1)
    assert (tags.list.min_num_values, tags.list.max_num_values, tags.list.total_num_values) == (0, 2, 3)
    assert tags.string.top_values[0].value == "a" and tags.string.top_values[0].count == 2
    scores = ds.feature("scores")
    assert scores.numeric.mean == pytest.approx(3.0) and scores.list.avg_num_values == pytest.approx(5 / 3)
    assert ds.feature("point").type is FeatureKind.STRUCT
    assert ds.feature("point.x").numeric.max == 4 and ds.feature("point.x").missing == 1
    assert ds.feature("point.y").string.unique == 2
    assert ds.feature("empty").type is FeatureKind.NULL and ds.feature("empty").missing == 4


def test_penguins_real_data_and_json_round_trip(tmp_path: Path) -> None:
    df = palmerpenguins.load_penguins()
    stats = compute_statistics({"train": df.iloc[:250], "eval": df.iloc[250:]})
    train = stats["train"]
    mass = train.feature("body_mass_g")
    exact = df.iloc[:250]["body_mass_g"]
    assert mass.missing == int(exact.isna().sum())
    assert mass.numeric.mean == pytest.approx(exact.mean(), rel=1e-9)
    assert mass.numeric.std == pytest.approx(exact.std(ddof=0), rel=1e-9)
    assert mass.numeric.median == np.quantile(exact.dropna(), 0.5, method="inverted_cdf")
    species = train.feature("species").string
    assert [(v.value, v.count) for v in species.top_values] == [
        (k, float(c)) for k, c in df.iloc[:250]["species"].value_counts().items()
    ]
    path = tmp_path / "statistics.json"
    stats.to_json(path)
    again = StatisticsSet.from_json(path)
    assert again == stats
    assert StatisticsSet.from_json(tmp_path) == stats
    assert again.to_dict()["format"] == "sluiceway.statistics"


def test_results_do_not_depend_on_threads_or_batch_size(parquet_dir: Path) -> None:
    a = compute_statistics(parquet_dir, engine=InProcessEngine(1, batch_rows=100_000))
    b = compute_statistics(parquet_dir, engine=InProcessEngine(2, batch_rows=3_000))
    assert a.to_json() == b.to_json()  # every value, to the last bit
    assert not a["train"].feature("fare").numeric.exact  # the sketch path is part of it


def test_bad_inputs_raise_clear_errors(tmp_path: Path, parquet_dir: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        compute_statistics(tmp_path / "missing.parquet")
    with pytest.raises(DataError, match="Split.*'test'.*Available"):
        compute_statistics(parquet_dir, split_names=["test"])
    with pytest.raises(DataError, match="'nope' not found"):
        compute_statistics(parquet_dir, slice_by="nope")
    with pytest.raises(DataError, match="'data' parameter of compute_statistics must be .* Got int instead"):
        compute_statistics(42)
    with pytest.raises(ConfigError, match=r"'top_k' .* must be an int in the range \[1, inf\)\. Got 0 instead"):
        compute_statistics(parquet_dir, top_k=0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_quantiles": 2.5}, r"'num_quantiles' .* must be an int in the range \[1, inf\)\. Got 2\.5 instead"),
        ({"exact_cap": True}, r"'exact_cap' .* Got True instead"),
        ({"slice_by": 3}, r"'slice_by' .* column name or a list of column names .* Got 3 instead"),
        ({"slice_by": ["a", ""]}, r"'slice_by'"),
        ({"weight_column": ["w"]}, r"'weight_column' .* Got \['w'\] instead"),
        ({"weight_column": "w", "slice_by": "w"}, r"either the example weight or a slice key"),
        ({"columns": "fare"}, r"'columns' .* list of column names or None\. Got 'fare' instead"),
        ({"engine": "spark"}, r"'engine' parameter must be an Engine, 'local' or 'ray'\. Got 'spark' instead"),
    ],
)
def test_wrong_options_are_config_errors_in_scikit_learn_style(parquet_dir: Path, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        compute_statistics(parquet_dir, **options)


def test_engine_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"'max_workers' parameter of InProcessEngine must be an int >= 1 or None"):
        InProcessEngine(0)
    with pytest.raises(ConfigError, match=r"'batch_rows' .* Got 1\.5 instead"):
        InProcessEngine(batch_rows=1.5)  # type: ignore[arg-type]


def test_tfdv_export(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow_metadata", reason="needs the tfx extra: pip install 'sluiceway[tfx]'")
    from tensorflow_metadata.proto.v0 import statistics_pb2

    from sluiceway.data.tfdv import to_tfdv_proto, write_tfdv_statistics

    stats = compute_statistics({"train": palmerpenguins.load_penguins()})
    proto = to_tfdv_proto(stats)
    assert proto.datasets[0].name == "train" and proto.datasets[0].num_examples == 344
    by_name = {".".join(f.path.step): f for f in proto.datasets[0].features}
    assert by_name["bill_length_mm"].type == statistics_pb2.FeatureNameStatistics.FLOAT
    assert by_name["bill_length_mm"].num_stats.common_stats.num_missing == 2
    assert by_name["species"].string_stats.unique == 3
    path = write_tfdv_statistics(stats, tmp_path)
    again = statistics_pb2.DatasetFeatureStatisticsList.FromString(path.read_bytes())
    assert again == proto


def test_rank_histogram_lists_every_value_while_counts_are_exact(tmp_path: Path) -> None:
    # 300 distinct values, each at least twice, over several row groups read by two threads
    rng = np.random.default_rng(5)
    labels = [f"code-{i:03d}" for i in range(300)]
    counts = 2 + rng.integers(0, 40, 300)
    values = np.repeat(labels, counts)
    rng.shuffle(values)
    table = pa.table({"code": values, "x": np.arange(len(values))})
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=1_500)
    stats = compute_statistics(tmp_path / "d.parquet", engine=InProcessEngine(2, batch_rows=1_000))
    s = stats["all"].feature("code").string
    assert s.top_values_exact and s.unique == 300
    assert len(s.top_values) == 20
    assert len(s.rank_histogram) == 300
    expected = dict(zip(labels, counts.astype(float), strict=True))
    assert {b.label: b.count for b in s.rank_histogram} == expected
    assert [b.low_rank for b in s.rank_histogram] == list(range(300))
    assert [b.count for b in s.rank_histogram] == sorted(expected.values(), reverse=True)
    # the option bounds the list; schema inference can now infer domains beyond 50 values
    small = compute_statistics(tmp_path / "d.parquet", num_rank_histogram_buckets=120)["all"].feature("code").string
    assert len(small.rank_histogram) == 120
    from sluiceway.data.schema import infer_schema

    stats = compute_statistics(tmp_path / "d.parquet")
    assert infer_schema(stats, max_domain_size=300).feature("code").domain == labels
    with pytest.raises(ConfigError, match="'num_rank_histogram_buckets' parameter"):
        compute_statistics(tmp_path / "d.parquet", num_rank_histogram_buckets=0)


def test_a_split_without_rows_still_lists_its_columns(tmp_path: Path) -> None:
    empty = pa.table({"a": pa.array([], pa.int64()), "s": pa.array([], pa.string())})
    pq.write_table(empty, tmp_path / "empty.parquet")
    for source in (tmp_path / "empty.parquet", empty):
        ds = compute_statistics(source)["all"]
        assert ds.num_examples == 0
        assert [(f.name, f.type, f.count, f.missing) for f in ds.features] == [
            ("a", FeatureKind.INT, 0, 0),
            ("s", FeatureKind.STRING, 0, 0),
        ]

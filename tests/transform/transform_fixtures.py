"""Helpers of the Transform tests (a module with a unique name: conftest modules of other folders would shadow it)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import polars as pl

import sluiceway.transform as T

from sluiceway.transform.fit import column_kinds, fit, trace
from sluiceway.transform.graph import FittedTransform

PENGUINS_CSV = Path(find_spec("palmerpenguins").submodule_search_locations[0]) / "data" / "penguins.csv"


def penguins_frame() -> pl.DataFrame:
    return pl.read_csv(PENGUINS_CSV, null_values="NA")


def fit_fn(fn: Callable[[Any], Any], files: list[str], **options: Any) -> FittedTransform:
    """Trace and fit ``fn`` on ``files`` (what the Transform component does on the analyze splits)."""
    return fit(trace(fn, column_kinds(files)), files, **options)


def every_op(inputs):
    """One output per analyzer-backed op and per kind of plain expression."""
    return {
        "z": T.scale_to_z_score(inputs["bill_length_mm"]),
        "unit": T.scale_to_0_1(inputs["body_mass_g"]),
        "range": T.scale_by_min_max(inputs["flipper_length_mm"], output_min=-1.0, output_max=1.0),
        "island": T.compute_and_apply_vocabulary(inputs["island"], top_k=2, num_oov_buckets=2),
        "island_default": T.apply_vocabulary(inputs["island"], T.vocabulary(inputs["island"], frequency_threshold=60)),
        "year_id": T.compute_and_apply_vocabulary(inputs["year"]),
        "mass_bucket": T.bucketize(inputs["body_mass_g"], num_buckets=5),
        "depth_bucket": T.apply_buckets(inputs["bill_depth_mm"], [15.0, 18.0]),
        "sex_hash": T.hash_strings(inputs["sex"], 5),
        "species_tfidf": T.tfidf(inputs["species"], top_k=3),
        "filled": T.fill_missing(inputs["bill_depth_mm"], T.mean(inputs["bill_depth_mm"])),
        "ratio": T.log1p(inputs["flipper_length_mm"] / inputs["bill_length_mm"]) - T.sqrt(T.var(inputs["year"])),
        "centered": inputs["body_mass_g"] - T.mean(inputs["body_mass_g"]),
        "rows": inputs["year"] * 0 + T.count(inputs["sex"]),
        "low": abs(-inputs["bill_depth_mm"]) ** 2 + T.min(inputs["bill_depth_mm"]) - T.max(inputs["bill_depth_mm"]),
        "exp": T.exp(inputs["bill_depth_mm"] / 100),
        "species": inputs["species"],
    }

"""Feature engineering with full-pass analyzers and one fitted graph for training and serving.

tf.Transform's job without TensorFlow, on Polars and Arrow::

    import sluiceway.transform as T

    def preprocessing_fn(inputs):
        return {
            "bill_length_z": T.scale_to_z_score(inputs["bill_length_mm"]),
            "island_id": T.compute_and_apply_vocabulary(inputs["island"], top_k=100, num_oov_buckets=1),
            "mass_bucket": T.bucketize(inputs["body_mass_g"], num_buckets=5),
            "flipper_ratio": inputs["flipper_length_mm"] / inputs["bill_length_mm"],
        }

``preprocessing_fn`` is traced once on column placeholders into a declarative graph (``expressions``);
the analyzers are computed in one pass over the analyze splits (``fit``); the fitted graph is a versioned
JSON document (``graph``) that ``load_transform(uri).transform(rows)`` applies to dicts, pandas, Polars or
Arrow, the same code the Transform component runs on every split.
"""

from __future__ import annotations

from sluiceway.transform.expressions import Expr
from sluiceway.transform.graph import FORMAT_VERSION, FittedTransform, load_transform
from sluiceway.transform.ops import (
    apply_buckets,
    apply_vocabulary,
    bucketize,
    compute_and_apply_vocabulary,
    count,
    exp,
    fill_missing,
    hash_strings,
    log1p,
    max,
    mean,
    min,
    quantiles,
    scale_by_min_max,
    scale_to_0_1,
    scale_to_z_score,
    sqrt,
    tfidf,
    var,
    vocabulary,
)

__all__ = [
    "FORMAT_VERSION",
    "Expr",
    "FittedTransform",
    "apply_buckets",
    "apply_vocabulary",
    "bucketize",
    "compute_and_apply_vocabulary",
    "count",
    "exp",
    "fill_missing",
    "hash_strings",
    "load_transform",
    "log1p",
    "max",
    "mean",
    "min",
    "quantiles",
    "scale_by_min_max",
    "scale_to_0_1",
    "scale_to_z_score",
    "sqrt",
    "tfidf",
    "var",
    "vocabulary",
]

"""The penguin example's feature engineering: a ``preprocessing_fn`` for the Transform component.

Fitted once on the train split (z-score, vocabulary and quantile boundaries computed in one pass), then
applied to every split; the fitted graph (``sw.load_transform``) applies the same transform to raw
rows at serving time, so training and serving cannot drift apart.
"""

from __future__ import annotations

import sluiceway.transform as T

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def preprocessing_fn(inputs):  # noqa: ANN001, ANN201 - the inputs dict of column placeholders
    outputs = {f"{name}_z": T.scale_to_z_score(T.fill_missing(inputs[name], T.mean(inputs[name]))) for name in NUMERIC}
    outputs["island_id"] = T.compute_and_apply_vocabulary(inputs["island"], top_k=100, num_oov_buckets=1)
    outputs["sex_id"] = T.compute_and_apply_vocabulary(T.fill_missing(inputs["sex"], "unknown"), num_oov_buckets=1)
    outputs["mass_bucket"] = T.bucketize(inputs["body_mass_g"], num_buckets=5)
    outputs["flipper_ratio"] = inputs["flipper_length_mm"] / inputs["bill_length_mm"]
    outputs["species"] = inputs["species"]
    return outputs

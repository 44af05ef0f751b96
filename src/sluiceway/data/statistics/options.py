"""How statistics are computed: ``StatisticsOptions`` (checked when made) and the pass's constants."""

from __future__ import annotations

from dataclasses import dataclass

from sluiceway.errors import ConfigError

HASH_SEED = 0x5E1CE  # fixed so hashes agree across batches, threads and (same-version) workers
SAMPLE_ROWS = 16_384  # rows looked at to guess whether a batch's values fit the exact path
# rows per statistics window: every batch is re-cut to windows of this size, so results do not
# depend on the engine's batch size (512K: as fast as whole 1M-row groups, ~50 MB less peak memory)
WINDOW_ROWS = 1 << 19
APPROX_RANK_BUCKETS = 50  # rank-histogram values listed when the value counts are approximate
WEIGHT_SCALE = 1000.0  # weighted top-value counts are kept as integers in thousandths

_POSITIVE_INTS = ("top_k", "num_rank_histogram_buckets", "num_histogram_buckets", "num_quantiles", "exact_cap")


@dataclass(frozen=True)
class StatisticsOptions:
    """How statistics are computed (every field has a TFDV-like default).

    Wrong values raise ``ConfigError`` saying which parameter, what is allowed and what was given."""

    slice_by: tuple[str, ...] = ()
    weight_column: str | None = None
    top_k: int = 20
    # values listed in the rank histogram while the counts are exact (TFDV lists up to 1000): schema
    # inference reads complete value lists from it to infer domains; once a feature has too many
    # distinct values to count exactly, at most APPROX_RANK_BUCKETS (approximate) values are listed
    num_rank_histogram_buckets: int = 1000
    num_histogram_buckets: int = 10
    # quantiles at ranks 0, 1/n, ..., 1 (n + 1 values); 100 so drift can be judged from them (data/validation/drift.py)
    num_quantiles: int = 100
    exact_cap: int = 16_384  # numeric features keep exact value counts up to this many values
    hll_p: int = 16  # HyperLogLog precision: 2**p registers, standard error 1.04 / sqrt(2**p)

    def __post_init__(self) -> None:
        for name in _POSITIVE_INTS:
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ConfigError(
                    f"The '{name}' parameter of compute_statistics must be an int in the range [1, inf). "
                    f"Got {value!r} instead."
                )
        if not _is_int(self.hll_p) or not 4 <= self.hll_p <= 18:
            raise ConfigError(
                "The 'hll_p' parameter of compute_statistics must be an int in the range [4, 18]. "
                f"Got {self.hll_p!r} instead."
            )
        if not isinstance(self.slice_by, tuple) or not all(isinstance(c, str) and c for c in self.slice_by):
            raise ConfigError(
                "The 'slice_by' parameter of compute_statistics must be a column name or a list of column "
                f"names (non-empty strings). Got {self.slice_by!r} instead."
            )
        if self.weight_column is not None and not (isinstance(self.weight_column, str) and self.weight_column):
            raise ConfigError(
                "The 'weight_column' parameter of compute_statistics must be a column name (a non-empty "
                f"string) or None. Got {self.weight_column!r} instead."
            )
        if self.weight_column is not None and self.weight_column in self.slice_by:
            raise ConfigError(
                f"The 'weight_column' parameter of compute_statistics names {self.weight_column!r}, which is "
                "also in 'slice_by'. A column is either the example weight or a slice key: pick one."
            )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = ["StatisticsOptions"]

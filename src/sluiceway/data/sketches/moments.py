"""Exact running moments (Chan et al.'s parallel merge), min/max, zeros, NaN and inf counts."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Moments:
    """Exact running moments of a numeric feature (NaN excluded; ±inf only in min/max/num_inf)."""

    count: int = 0  # finite values in mean/M2
    mean: float = 0.0
    m2: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    num_values: int = 0  # non-null values incl. NaN/inf
    num_zeros: int = 0
    num_nan: int = 0
    num_inf: int = 0
    w_sum: float = 0.0
    w_mean: float = 0.0
    w_m2: float = 0.0

    def update_summary(
        self,
        *,
        num_values: int,
        count: int,
        mean: float,
        m2: float,
        min: float,  # noqa: A002
        max: float,  # noqa: A002
        num_zeros: int,
        num_nan: int,
        num_inf: int,
        w_sum: float = 0.0,
        w_mean: float = 0.0,
        w_m2: float = 0.0,
    ) -> None:
        """Fold in a batch already summarised (by Polars or numpy)."""
        self.merge(
            Moments(count, mean, m2, min, max, num_values, num_zeros, num_nan, num_inf, w_sum, w_mean, w_m2)
        )

    def update(self, values: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Fold in an array of non-null values (float64); ``weights`` aligned with it."""
        v = np.asarray(values, dtype=np.float64)
        nan = np.isnan(v)
        inf = np.isinf(v)
        finite_mask = ~(nan | inf)
        f = v[finite_mask] if not finite_mask.all() else v
        notnan = v[~nan] if nan.any() else v
        n = int(f.size)
        mean = float(f.mean()) if n else 0.0
        m2 = float(((f - mean) ** 2).sum()) if n else 0.0
        w_sum = w_mean = w_m2 = 0.0
        if weights is not None and n:
            w = np.asarray(weights, dtype=np.float64)
            w = w[finite_mask] if not finite_mask.all() else w
            w_sum = float(w.sum())
            if w_sum > 0:
                w_mean = float((w * f).sum() / w_sum)
                w_m2 = float((w * (f - w_mean) ** 2).sum())
        self.update_summary(
            num_values=int(v.size),
            count=n,
            mean=mean,
            m2=m2,
            min=float(notnan.min()) if notnan.size else math.inf,
            max=float(notnan.max()) if notnan.size else -math.inf,
            num_zeros=int((v == 0).sum()),
            num_nan=int(nan.sum()),
            num_inf=int(inf.sum()),
            w_sum=w_sum,
            w_mean=w_mean,
            w_m2=w_m2,
        )

    def merge(self, other: Moments) -> Moments:
        """Chan et al.'s pairwise update; returns self."""
        n_a, n_b = self.count, other.count
        if n_b:
            n = n_a + n_b
            delta = other.mean - self.mean
            self.mean = self.mean + delta * n_b / n
            self.m2 = self.m2 + other.m2 + delta * delta * n_a * n_b / n
            self.count = n
        w_a, w_b = self.w_sum, other.w_sum
        if w_b > 0:
            w = w_a + w_b
            delta = other.w_mean - self.w_mean
            self.w_mean = self.w_mean + delta * w_b / w
            self.w_m2 = self.w_m2 + other.w_m2 + delta * delta * w_a * w_b / w
            self.w_sum = w
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.num_values += other.num_values
        self.num_zeros += other.num_zeros
        self.num_nan += other.num_nan
        self.num_inf += other.num_inf
        return self

    @property
    def std(self) -> float | None:
        return math.sqrt(self.m2 / self.count) if self.count else None

    @property
    def weighted_std(self) -> float | None:
        return math.sqrt(self.w_m2 / self.w_sum) if self.w_sum > 0 else None


__all__ = ["Moments"]

"""Distribution distances between two datasets' statistics, with a bound on their sampling noise.

Drift (span vs previous span) and skew (training vs serving) are judged from statistics alone, so every
distance here is computed from the summaries ``statistics.json`` stores: a numeric feature's quantile
summary (``num_quantiles + 1`` values, 101 by default) and a categorical feature's value counts.

A distance alone cannot tell drift from chance: two 30-row samples of one distribution differ by as much
as a 30 % change of scale does between two million-row ones. So every verdict has two numbers:

* ``score`` — the distance, an *effect size* that does not grow with the number of rows;
* ``noise_bound`` — the largest score two i.i.d. samples of these sizes reach by chance with probability
  ``1 - ALPHA`` (plus the summaries' own approximation error).

A comparison fails (drift) only when the score is above **both** the threshold and the noise bound. When
it is above the threshold but within the noise, the verdict is ``too_few_rows``: reported, not blocking.

Methods
-------
``ks_distance`` (numeric default): the Kolmogorov–Smirnov distance, the largest difference between the
two cumulative distributions, in [0, 1]. Each CDF is read from the quantile summary by linear
interpolation between consecutive quantiles (ties make jumps); NaN is a point mass beyond +inf, so a
change in the NaN fraction counts too. It is invariant to any monotone transform of the values, so a
heavy tail or one outlier cannot stretch or squash it (TFDV's min–max buckets and Evidently's
std-normalised Wasserstein both can). Noise bound: the two-sample KS critical value
``c(ALPHA) * sqrt((n + m) / (n m))`` with ``c = sqrt(-ln(ALPHA / 2) / 2)``, plus the KLL rank error of
each approximate summary.

``infinity_norm`` (categorical default): the largest absolute difference between value frequencies.
Noise bound per value: a two-proportion z bound ``z * sqrt(p (1 - p) (1/n + 1/m))`` at ``ALPHA``
Bonferroni-divided over the values compared; a value fails only when its difference is above the
threshold and its own bound.

``jensen_shannon_divergence`` (only when a schema asks for it, e.g. imported from TFDV): base 2, in
[0, 1], over bins cut at the reference's quantiles (``NUM_JSD_BINS`` equal-mass bins, open-ended at both
ends, plus a NaN bin). JSD grows with the *square* of a shift — a 30 % change of scale of a lognormal
column scores about 0.01 — so it needs far smaller thresholds than L-infinity or KS. Noise bound: under
the same distribution ``8 ln 2 * n m / (n + m) * JSD`` is approximately chi-square with ``bins - 1``
degrees of freedom.

The defaults were calibrated on synthetic data (tests/data/test_drift_calibration.py; figures in the
README, "Drift and skew").
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sluiceway.data.statistics import FeatureStatistics

ALPHA = 0.001  # chance that one comparison of i.i.d. samples exceeds its noise bound
DEFAULT_KS_THRESHOLD = 0.05
DEFAULT_INFINITY_NORM_THRESHOLD = 0.1
DEFAULT_JSD_THRESHOLD = 0.1
NUM_JSD_BINS = 20
OTHER_VALUES = "<other values>"


@dataclass(frozen=True)
class Distance:
    """A computed distance: the score, its noise bound, where it is largest and how it was binned."""

    score: float
    noise_bound: float
    binning: str
    num_reference: int
    num_current: int
    value: str | None = None  # infinity_norm: the value with the largest difference
    reference_frequency: float | None = None
    current_frequency: float | None = None
    significant: bool | None = None  # infinity_norm: some value above both threshold and its own bound


# ------------------------------------------------------------------------------------------------------
# Sample sizes and noise bounds
# ------------------------------------------------------------------------------------------------------


def num_values(stats: FeatureStatistics) -> int:
    """Values the feature's distribution summarises: every value of a list feature, else one per example
    where present (NaN included: it is part of the compared distribution)."""
    return int(stats.list.total_num_values if stats.list is not None else stats.count)


def ks_noise_bound(n: int, m: int, alpha: float = ALPHA) -> float:
    """The two-sample Kolmogorov–Smirnov critical value at ``alpha`` (asymptotic form), capped at 1."""
    if n <= 0 or m <= 0:
        return 1.0
    c = math.sqrt(-math.log(alpha / 2) / 2)
    return min(1.0, c * math.sqrt((n + m) / (n * m)))


def proportion_noise_bound(p: float, n: int, m: int, alpha: float) -> float:
    """The largest |difference| of one value's frequency between two samples of one distribution
    (normal approximation of the two-proportion test, two-sided at ``alpha``)."""
    if n <= 0 or m <= 0:
        return 1.0
    z = NormalDist().inv_cdf(1 - alpha / 2)
    p = min(max(p, 0.0), 1.0)
    # A floor of one value's worth of frequency: p (1 - p) is 0 at a value seen in neither sample.
    spread = math.sqrt(max(p * (1 - p), 1.0 / (n + m)) * (1 / n + 1 / m))
    return min(1.0, z * spread)


def jsd_noise_bound(n: int, m: int, bins: int, alpha: float = ALPHA) -> float:
    """The JSD (bits) two i.i.d. samples of sizes n and m exceed with probability ``alpha`` over ``bins``
    bins: ``chi2_{bins-1}(1 - alpha) * (n + m) / (8 ln 2 * n m)`` (Wilson–Hilferty chi-square quantile)."""
    if n <= 0 or m <= 0:
        return 1.0
    dof = max(bins - 1, 1)
    z = NormalDist().inv_cdf(1 - alpha)
    chi2 = dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3
    return min(1.0, chi2 * (n + m) / (8 * math.log(2) * n * m))


# ------------------------------------------------------------------------------------------------------
# A numeric feature's distribution, from its quantile summary
# ------------------------------------------------------------------------------------------------------


class QuantileCdf:
    """The cumulative distribution a quantile summary describes, over NaN-extended reals.

    Points (value, rank) come from the summary's quantiles (or, for statistics without quantiles, from a
    histogram's bucket edges); the CDF is linear between consecutive points and jumps where several ranks
    share a value. NaN values are a point mass after +inf: the CDF of the non-NaN values is scaled by the
    non-NaN fraction. Plain Python: a summary has ~100 points, where numpy's per-call overhead dominates."""

    __slots__ = ("nan_fraction", "points", "source", "values")

    def __init__(self, points: list[tuple[float, float]], nan_fraction: float, source: str) -> None:
        points = sorted(points)
        self.points = points
        self.values = [v for v, _ in points]
        self.nan_fraction = nan_fraction
        self.source = source

    @classmethod
    def of(cls, stats: FeatureStatistics) -> QuantileCdf | None:
        """The feature's CDF, or ``None`` when its statistics hold no numeric summary."""
        numeric = stats.numeric
        if numeric is None:
            return None
        n = num_values(stats)
        nan_fraction = numeric.num_nan / n if n > 0 else 0.0
        finite = [(q.value, q.rank) for q in numeric.quantiles if not math.isnan(q.value)]
        if len(finite) >= 2:
            return cls(finite, nan_fraction, f"{len(finite)} quantiles")
        for histogram in (numeric.quantile_histogram, numeric.histogram):
            buckets = [b for b in (histogram.buckets if histogram else ()) if b.count > 0]
            total = sum(b.count for b in buckets)
            if total > 0:
                points = [(buckets[0].low, 0.0)]
                cumulative = 0.0
                for bucket in buckets:
                    cumulative += bucket.count
                    points.append((bucket.high, cumulative / total))
                return cls(points, nan_fraction, f"{histogram.kind} histogram of {len(buckets)} buckets")  # type: ignore[union-attr]
        if nan_fraction > 0:  # only NaN values
            return cls([], nan_fraction, "NaN only")
        return None

    def at(self, x: float, *, left: bool = False) -> float:
        """P(X <= x) (``left``: P(X < x)); ``x = inf`` counts +inf values but not NaN."""
        values, points = self.values, self.points
        if not points:
            return 0.0
        k = bisect.bisect_left(values, x) if left else bisect.bisect_right(values, x)
        if k == 0:
            rank = 0.0
        elif k == len(points):
            rank = points[-1][1]
        else:
            (v0, r0), (v1, r1) = points[k - 1], points[k]
            if math.isinf(v0) or math.isinf(v1) or v1 <= v0:
                rank = r0  # mass at an infinite end cannot be spread over the line
            else:
                rank = r0 + (r1 - r0) * (x - v0) / (v1 - v0)
        return rank * (1.0 - self.nan_fraction)

    def quantile(self, rank: float) -> float:
        """The value at ``rank`` of the non-NaN values (inverse of the interpolated CDF)."""
        points = self.points
        ranks = [r for _, r in points]
        k = bisect.bisect_left(ranks, rank)
        if k <= 0:
            return points[0][0]
        if k >= len(points):
            return points[-1][0]
        (v0, r0), (v1, r1) = points[k - 1], points[k]
        if r1 <= r0 or math.isinf(v0) or math.isinf(v1):
            return v1
        return v0 + (v1 - v0) * (rank - r0) / (r1 - r0)


def _rank_error(stats: FeatureStatistics) -> float:
    numeric = stats.numeric
    return 0.0 if numeric is None or numeric.exact else float(numeric.rank_error)


def ks_distance(reference: FeatureStatistics, current: FeatureStatistics) -> Distance | None:
    """Kolmogorov–Smirnov distance of two numeric features from their quantile summaries (see the module
    docstring), or ``None`` when either has no numeric summary."""
    a, b = QuantileCdf.of(reference), QuantileCdf.of(current)
    if a is None or b is None:
        return None
    n, m = num_values(reference), num_values(current)
    score, where = 0.0, math.nan
    # Both CDFs are linear between their points, so the largest gap is at a point of one of them (from the
    # left or the right); +inf holds the NaN fractions' difference.
    for x in sorted({*a.values, *b.values, math.inf}):
        for left in (False, True):
            gap = abs(a.at(x, left=left) - b.at(x, left=left))
            if gap > score:
                score, where = gap, x
    bound = ks_noise_bound(n, m) + _rank_error(reference) + _rank_error(current)
    binning = (
        f"CDFs interpolated from the reference's {a.source} and the current data's {b.source}; largest gap "
        f"at {_fmt(where)}; NaN counted beyond +inf"
    )
    return Distance(min(score, 1.0), min(bound, 1.0), binning, n, m, value=_fmt(where))


def jensen_shannon_divergence(reference: FeatureStatistics, current: FeatureStatistics) -> Distance | None:
    """Jensen–Shannon divergence (base 2) over ``NUM_JSD_BINS`` bins cut at the reference's quantiles, or
    ``None`` when either feature has no numeric summary."""
    a, b = QuantileCdf.of(reference), QuantileCdf.of(current)
    if a is None or b is None or not a.points:
        return None
    edges: list[float] = []
    for i in range(1, NUM_JSD_BINS):
        value = a.quantile(i / NUM_JSD_BINS)
        if math.isfinite(value) and (not edges or value > edges[-1]):
            edges.append(value)
    p, q = _binned(a, edges), _binned(b, edges)
    score = 0.0
    for pi, qi in zip(p, q, strict=True):
        mid = (pi + qi) / 2
        if pi > 0:
            score += 0.5 * pi * math.log2(pi / mid)
        if qi > 0:
            score += 0.5 * qi * math.log2(qi / mid)
    bins = sum(1 for pi, qi in zip(p, q, strict=True) if pi > 0 or qi > 0)
    n, m = num_values(reference), num_values(current)
    bound = jsd_noise_bound(n, m, bins)
    edge_text = f" ({_fmt(edges[0])} .. {_fmt(edges[-1])})" if edges else ""
    binning = (
        f"{len(edges) + 1} bins cut at the reference's quantiles{edge_text}, from its {a.source}, open-ended at "
        "both ends, plus a NaN bin"
    )
    return Distance(min(max(score, 0.0), 1.0), bound, binning, n, m)


def _binned(cdf: QuantileCdf, edges: list[float]) -> list[float]:
    """Mass in (-inf, e0], (e0, e1], ..., (e_last, inf], and NaN — summing to 1."""
    cumulative = [0.0, *(cdf.at(e) for e in edges), cdf.at(math.inf), 1.0]
    return [max(hi - lo, 0.0) for lo, hi in zip(cumulative, cumulative[1:], strict=False)]


# ------------------------------------------------------------------------------------------------------
# Categorical features
# ------------------------------------------------------------------------------------------------------


def value_frequencies(stats: FeatureStatistics) -> dict[str, float] | None:
    """Value → fraction of the feature's non-missing values; values beyond those the statistics list are
    pooled as ``OTHER_VALUES``. Bool features: the fractions of true and false (from their mean)."""
    from sluiceway.data.schema import listed_values

    value_type = str(getattr(stats.value_type, "value", stats.value_type))
    if value_type == "bool" and stats.numeric is not None and stats.numeric.mean is not None:
        p = float(stats.numeric.mean)
        return {"true": p, "false": 1.0 - p}
    strings = stats.string
    total = num_values(stats)
    if strings is None or total <= 0:
        return None
    freqs = {value: count / total for value, count in listed_values(strings)}
    rest = 1.0 - sum(freqs.values())
    if rest > 1e-12:
        freqs[OTHER_VALUES] = rest
    return freqs


def infinity_norm(
    reference: FeatureStatistics, current: FeatureStatistics, threshold: float = DEFAULT_INFINITY_NORM_THRESHOLD
) -> Distance | None:
    """L-infinity distance between two features' value frequencies, or ``None`` when either has none.

    ``significant`` says whether some value's difference is above both ``threshold`` and its own noise
    bound; ``noise_bound`` is the bound at the value with the largest difference."""
    a, b = value_frequencies(reference), value_frequencies(current)
    if a is None or b is None:
        return None
    n, m = num_values(reference), num_values(current)
    values = sorted(a.keys() | b.keys())
    alpha = ALPHA / max(len(values), 1)  # Bonferroni over the values compared
    best: tuple[float, str, float, float, float] | None = None
    significant = False
    for value in values:
        pa, pb = a.get(value, 0.0), b.get(value, 0.0)
        gap = abs(pa - pb)
        bound = proportion_noise_bound((pa * n + pb * m) / (n + m), n, m, alpha)
        if gap > threshold and gap > bound:
            significant = True
        if best is None or gap > best[0]:
            best = (gap, value, pa, pb, bound)
    if best is None:
        return None
    gap, value, pa, pb, bound = best
    binning = "value frequencies over non-missing values; values beyond those listed pooled as " + OTHER_VALUES
    return Distance(gap, bound, binning, n, m, value=value, reference_frequency=pa, current_frequency=pb,
                    significant=significant)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


__all__ = [
    "ALPHA",
    "DEFAULT_INFINITY_NORM_THRESHOLD",
    "DEFAULT_JSD_THRESHOLD",
    "DEFAULT_KS_THRESHOLD",
    "NUM_JSD_BINS",
    "Distance",
    "QuantileCdf",
    "infinity_norm",
    "jensen_shannon_divergence",
    "jsd_noise_bound",
    "ks_distance",
    "ks_noise_bound",
    "proportion_noise_bound",
    "value_frequencies",
]

"""Export statistics to TFDV's ``DatasetFeatureStatisticsList`` protobuf (Facets, TFDV tools).

Needs the ``tfx`` extra (``pip install 'sluiceway[tfx]'``, which installs ``tensorflow-metadata``;
it co-installs with pyarrow ≥ 18 and polars, pulling protobuf). ``ExampleStatistics`` stores the
serialised message as ``{uri}/statistics.pb`` (``ExampleStatistics.TFDV_FILENAME``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sluiceway.data.statistics import FeatureStatistics, FeatureKind, Histogram, StatisticsSet
from sluiceway.errors import require

_FEATURE = "TFDV statistics export"


def _pb() -> Any:
    return require("tensorflow_metadata.proto.v0.statistics_pb2", feature=_FEATURE, extra="tfx")


def _fill_histogram(target: Any, hist: Histogram | None, pb: Any) -> None:
    if hist is None:
        return
    h = target.add()
    h.type = pb.Histogram.QUANTILES if hist.kind == "quantiles" else pb.Histogram.STANDARD
    for b in hist.buckets:
        bucket = h.buckets.add()
        bucket.low_value, bucket.high_value, bucket.sample_count = b.low, b.high, b.count


def _tfdv_type(f: FeatureStatistics, pb: Any) -> int:
    t = pb.FeatureNameStatistics
    vt = f.value_type or f.type
    if vt in (FeatureKind.FLOAT,):
        return t.FLOAT
    if vt in (FeatureKind.INT, FeatureKind.BOOL, FeatureKind.DATETIME):
        return t.INT
    if vt is FeatureKind.BYTES:
        return t.BYTES
    if vt is FeatureKind.STRUCT:
        return t.STRUCT
    return t.STRING


def _common(common: Any, f: FeatureStatistics) -> None:
    common.num_non_missing = f.count
    common.num_missing = f.missing
    if f.list is not None:
        common.min_num_values = f.list.min_num_values
        common.max_num_values = f.list.max_num_values
        common.avg_num_values = f.list.avg_num_values
        common.tot_num_values = f.list.total_num_values
    elif f.count:
        common.min_num_values = common.max_num_values = 1
        common.avg_num_values = 1.0
        common.tot_num_values = f.count
    if f.weighted_count is not None:
        common.weighted_common_stats.num_non_missing = f.weighted_count
        common.weighted_common_stats.num_missing = f.weighted_missing or 0.0
        common.weighted_common_stats.avg_num_values = 1.0
        common.weighted_common_stats.tot_num_values = f.weighted_count


def to_tfdv_proto(stats: StatisticsSet) -> Any:
    """The statistics as a ``tensorflow_metadata`` ``DatasetFeatureStatisticsList`` message.

    Dataset names are the split (``train``) or ``split/column=value`` for slices; struct fields
    become TFDV feature paths (``a.b`` → ``path { step: "a" step: "b" }``)."""
    pb = _pb()
    out = pb.DatasetFeatureStatisticsList()
    for ds in stats.datasets:
        d = out.datasets.add()
        d.name = ds.name
        d.num_examples = ds.num_examples
        if ds.weighted_num_examples is not None:
            d.weighted_num_examples = ds.weighted_num_examples
        for f in ds.features:
            if f.type is FeatureKind.NULL:
                continue
            fs = d.features.add()
            fs.path.step.extend(f.name.split("."))
            fs.type = _tfdv_type(f, pb)
            if f.type is FeatureKind.STRUCT:
                _common(fs.struct_stats.common_stats, f)
            elif f.numeric is not None:
                n = f.numeric
                ns = fs.num_stats
                _common(ns.common_stats, f)
                summary = (("mean", n.mean), ("std_dev", n.std), ("min", n.min), ("median", n.median), ("max", n.max))
                for attr, value in summary:
                    if value is not None and not math.isnan(value):
                        setattr(ns, attr, value)
                ns.num_zeros = n.num_zeros
                _fill_histogram(ns.histograms, n.histogram, pb)
                _fill_histogram(ns.histograms, n.quantile_histogram, pb)
                if n.histogram is not None and (n.num_nan or n.num_inf):
                    ns.histograms[0].num_nan = n.num_nan
                if n.weighted is not None:
                    w = n.weighted
                    for attr, value in (("mean", w.mean), ("std_dev", w.std), ("median", w.median)):
                        if value is not None:
                            setattr(ns.weighted_numeric_stats, attr, value)
                    _fill_histogram(ns.weighted_numeric_stats.histograms, w.histogram, pb)
                    _fill_histogram(ns.weighted_numeric_stats.histograms, w.quantile_histogram, pb)
            elif f.string is not None:
                s = f.string
                ss = fs.string_stats
                _common(ss.common_stats, f)
                ss.unique = s.unique
                if s.avg_length is not None:
                    ss.avg_length = s.avg_length
                for v in s.top_values:
                    tv = ss.top_values.add()
                    tv.value, tv.frequency = v.value, v.count
                for b in s.rank_histogram:
                    rb = ss.rank_histogram.buckets.add()
                    rb.low_rank, rb.high_rank, rb.label, rb.sample_count = b.low_rank, b.high_rank, b.label, b.count
                if s.weighted is not None:
                    for v in s.weighted.top_values:
                        tv = ss.weighted_string_stats.top_values.add()
                        tv.value, tv.frequency = v.value, v.count
                    for b in s.weighted.rank_histogram:
                        rb = ss.weighted_string_stats.rank_histogram.buckets.add()
                        rb.low_rank, rb.high_rank, rb.label, rb.sample_count = b.low_rank, b.high_rank, b.label, b.count
            else:
                _common(fs.string_stats.common_stats, f)
    return out


def write_tfdv_statistics(stats: StatisticsSet, path: str | Path) -> Path:
    """Write the binary ``DatasetFeatureStatisticsList`` (what ``tfdv.load_stats_binary`` reads)."""
    from sluiceway.artifacts import ExampleStatistics

    p = Path(path)
    if p.is_dir():
        p = p / ExampleStatistics.TFDV_FILENAME
    p.write_bytes(to_tfdv_proto(stats).SerializeToString())
    return p


__all__ = ["to_tfdv_proto", "write_tfdv_statistics"]

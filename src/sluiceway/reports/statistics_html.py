"""A static HTML report of statistics: one row per feature, the splits side by side.

Self-contained (inline CSS and SVG, no JavaScript, nothing fetched): it opens from the artifact folder
(``{uri}/report.html`` of ``ExampleStatistics``) without a server or network. Numeric features show
their equi-width histogram, string features a bar chart of their top values; each split's chart shares
the feature's scale so train and eval compare at a glance.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Sequence

from sluiceway.data.statistics import DatasetStatistics, FeatureStatistics, StatisticsSet

_COLORS = ("#4C78A8", "#F58518", "#54A24B", "#B279A2", "#E45756", "#72B7B2")
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #e3e3e3;padding:6px 8px;
vertical-align:top;text-align:left;font-size:13px}th{background:#f6f6f6;position:sticky;top:0}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}.feat{font-weight:600}.type{color:#666;font-size:12px}
.warn{color:#b00020}.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:10px;
height:10px;margin-right:4px}.small{color:#666;font-size:12px}svg text{font-size:10px;fill:#444}
"""


def _fmt(x: float | int | None) -> str:
    if x is None:
        return "–"
    if isinstance(x, int):
        return f"{x:,}"
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.4g}"
    return f"{x:,.4f}".rstrip("0").rstrip(".")


def _esc(s: str) -> str:
    return html.escape(s, quote=True)


def _bars_svg(series: list[list[float]], labels: Sequence[str], title: str, width: int = 320, height: int = 110) -> str:
    """Grouped bars: one group per label, one bar per dataset (fractions of each dataset's total)."""
    if not labels:
        return ""
    n_groups, n_sets = len(labels), len(series)
    peak = max((v for s in series for v in s), default=0.0) or 1.0
    plot_h = height - 22
    gw = width / n_groups
    bw = max(gw / (n_sets + 0.5), 1.0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
             f"<title>{_esc(title)}</title>"]
    for gi, label in enumerate(labels):
        for si, values in enumerate(series):
            v = values[gi] if gi < len(values) else 0.0
            h = plot_h * v / peak
            x = gi * gw + si * bw + bw * 0.25
            parts.append(
                f'<rect x="{x:.1f}" y="{plot_h - h:.1f}" width="{bw * 0.9:.1f}" height="{h:.1f}" '
                f'fill="{_COLORS[si % len(_COLORS)]}"><title>{_esc(label)}: {v:.2%}</title></rect>'
            )
    parts.append(f'<line x1="0" y1="{plot_h}" x2="{width}" y2="{plot_h}" stroke="#999"/>')
    first, last = labels[0], labels[-1]
    parts.append(f'<text x="0" y="{height - 8}">{_esc(first[:24])}</text>')
    if n_groups > 1:
        parts.append(f'<text x="{width}" y="{height - 8}" text-anchor="end">{_esc(last[:24])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _numeric_chart(name: str, feats: list[FeatureStatistics | None]) -> str:
    """Histograms of every dataset on the common range [min of mins, max of maxes]."""
    present = [f for f in feats if f is not None and f.numeric is not None and f.numeric.histogram]
    if not present:
        return ""
    lo = min(f.numeric.histogram.buckets[0].low for f in present)
    hi = max(f.numeric.histogram.buckets[-1].high for f in present)
    nb = 20
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    edges = [lo + (hi - lo) * i / nb for i in range(nb + 1)] if hi > lo else [lo, lo]
    series = []
    for f in feats:
        values = [0.0] * (len(edges) - 1)
        if f is not None and f.numeric is not None and f.numeric.histogram:
            total = sum(b.count for b in f.numeric.histogram.buckets) or 1.0
            for b in f.numeric.histogram.buckets:
                # spread each bucket's count over the common bins it overlaps
                width = b.high - b.low
                for i in range(len(values)):
                    a, c = edges[i], edges[i + 1]
                    if width <= 0:
                        if a <= b.low <= c:
                            values[i] += b.count / total
                            break
                        continue
                    overlap = max(0.0, min(b.high, c) - max(b.low, a))
                    values[i] += b.count / total * overlap / width
        series.append(values)
    labels = [f"[{_fmt(edges[i])}, {_fmt(edges[i + 1])}]" for i in range(len(edges) - 1)]
    labels[0] = _fmt(lo)
    labels[-1] = _fmt(hi) if len(labels) > 1 else labels[-1]
    return _bars_svg(series, labels, f"Histogram of {name}")


def _string_chart(name: str, feats: list[FeatureStatistics | None], k: int = 10) -> str:
    order: list[str] = []
    for f in feats:
        if f is not None and f.string is not None:
            for v in f.string.top_values[:k]:
                if v.value not in order:
                    order.append(v.value)
    order = order[:k]
    if not order:
        return ""
    series = []
    for f in feats:
        values = [0.0] * len(order)
        if f is not None and f.string is not None and f.count:
            counts = {v.value: v.count for v in f.string.top_values}
            values = [counts.get(label, 0.0) / f.count for label in order]
        series.append(values)
    return _bars_svg(series, order, f"Top values of {name}")


def _cell(f: FeatureStatistics | None, ds: DatasetStatistics) -> str:
    if f is None:
        return '<td class="warn">absent</td>'
    total = f.count + f.missing
    miss = f.missing / total if total else 0.0
    lines = [f"count {_fmt(f.count)}", f'<span class="{"warn" if miss > 0 else ""}">missing {miss:.1%}</span>']
    if f.numeric is not None:
        n = f.numeric
        lines += [f"mean {_fmt(n.mean)} · std {_fmt(n.std)}", f"min {_fmt(n.min)} · median {_fmt(n.median)} · max {_fmt(n.max)}",
                  f"zeros {n.num_zeros / f.count:.1%}" if f.count else ""]
        if n.num_nan or n.num_inf:
            lines.append(f'<span class="warn">NaN {_fmt(n.num_nan)} · inf {_fmt(n.num_inf)}</span>')
    if f.string is not None:
        s = f.string
        approx = "" if s.unique_exact else "≈"
        lines += [f"unique {approx}{_fmt(s.unique)}", f"avg length {_fmt(s.avg_length)}"]
        top = ", ".join(f"{_esc(v.value[:20])} ({_fmt(v.count / f.count if f.count else 0.0)})" for v in s.top_values[:3])
        if top:
            lines.append(f'<span class="small">top: {top}</span>')
    if f.list is not None:
        lines.append(f"values/example {f.list.min_num_values}–{f.list.max_num_values} (avg {_fmt(f.list.avg_num_values)})")
    return '<td class="num">' + "<br>".join(x for x in lines if x) + "</td>"


def render_statistics_html(stats: StatisticsSet, *, title: str = "Statistics", datasets: Sequence[str] | None = None) -> str:
    """The report as one HTML string. ``datasets``: names to show (default: every split, no slices)."""
    chosen = [d for d in stats.datasets if (d.name in datasets if datasets is not None else d.slice is None)]
    names: list[str] = []
    for d in chosen:
        for n in d.feature_names:
            if n not in names:
                names.append(n)
    out = ["<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
           f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>", f"<h1>{_esc(title)}</h1>"]
    legend = "".join(
        f'<span><i class="sw" style="background:{_COLORS[i % len(_COLORS)]}"></i>{_esc(d.name)} '
        f"({_fmt(d.num_examples)} examples)</span>"
        for i, d in enumerate(chosen)
    )
    out.append(f'<p class="legend">{legend}</p>')
    out.append("<table><thead><tr><th>feature</th>")
    out += [f"<th>{_esc(d.name)}</th>" for d in chosen]
    out.append("<th>distribution</th></tr></thead><tbody>")
    for name in names:
        feats = [d.feature(name) if name in d else None for d in chosen]
        first = next(f for f in feats if f is not None)
        type_label = first.type.value if first.type == first.value_type else f"{first.type.value}<{first.value_type.value}>"
        chart = _numeric_chart(name, feats) if first.numeric is not None else _string_chart(name, feats)
        out.append(f'<tr><td><div class="feat">{_esc(name)}</div><div class="type">{_esc(type_label)}</div></td>')
        out += [_cell(f, d) for f, d in zip(feats, chosen)]
        out.append(f"<td>{chart}</td></tr>")
    out.append("</tbody></table>")
    slices = [d for d in stats.datasets if d.slice is not None]
    if slices and datasets is None:
        out.append("<h2>Slices</h2><table><thead><tr><th>dataset</th><th>examples</th></tr></thead><tbody>")
        out += [f"<tr><td>{_esc(d.name)}</td><td class=num>{_fmt(d.num_examples)}</td></tr>" for d in slices]
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "".join(out)


def write_statistics_html(stats: StatisticsSet, path: str | Path, **kwargs: object) -> Path:
    """Write the report; ``path`` may be the artifact folder (then ``report.html`` inside it)."""
    p = Path(path)
    if p.is_dir():
        p = p / "report.html"
    p.write_text(render_statistics_html(stats, **kwargs), encoding="utf-8")  # type: ignore[arg-type]
    return p


__all__ = ["render_statistics_html", "write_statistics_html"]

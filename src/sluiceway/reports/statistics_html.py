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
# every rule is scoped to the report's root element, so the report embedded in a notebook
# (``StatisticsSet._repr_html_``) does not restyle the page around it
_CSS = """
.sw-stats{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#222}
.sw-stats h1{font-size:20px}.sw-stats h2{font-size:16px;margin-top:28px}
.sw-stats table{border-collapse:collapse;width:100%}.sw-stats th,.sw-stats td{border-bottom:1px solid #e3e3e3;
padding:6px 8px;vertical-align:top;text-align:left;font-size:13px}.sw-stats th{background:#f6f6f6;position:sticky;top:0}
.sw-stats td.num{font-variant-numeric:tabular-nums;white-space:nowrap}.sw-stats .feat{font-weight:600}
.sw-stats .type{color:#666;font-size:12px}.sw-stats .warn{color:#b00020}
.sw-stats .legend span{display:inline-block;margin-right:14px}.sw-stats .sw{display:inline-block;width:10px;
height:10px;margin-right:4px}.sw-stats .small{color:#666;font-size:12px}.sw-stats svg text{font-size:10px;fill:#444}
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
    """Grouped bars: one group per label, one bar per dataset (fractions of each dataset's total),
    the share axis labelled with the tallest bar's share."""
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
    parts.append(f'<text x="{width}" y="10" text-anchor="end">max {peak:.1%} of examples</text>')
    first, last = labels[0], labels[-1]
    parts.append(f'<text x="0" y="{height - 8}">{_esc(first[:24])}</text>')
    if n_groups > 1:
        parts.append(f'<text x="{width}" y="{height - 8}" text-anchor="end">{_esc(last[:24])}</text>')
    parts.append("</svg>")
    return "".join(parts)


# layout of a histogram chart: one panel per dataset, all on the feature's common value axis
_HIST_WIDTH = 320
_HIST_LEFT = 44  # room for the count axis labels
_HIST_PANEL = 56
_HIST_AXIS = 26  # value-axis labels under the last panel


def _numeric_chart(name: str, feats: list[FeatureStatistics | None]) -> str:
    """Each dataset's equi-width histogram exactly as computed: one bar per bucket, placed at the
    bucket's [low, high] on a value axis shared by the datasets, its height the bucket's count
    (each panel's count axis is labelled with its largest count). Every bar carries its range and
    count (``<title>`` and ``data-`` attributes)."""
    hists = [f.numeric.histogram if f is not None and f.numeric is not None else None for f in feats]
    drawn = [h for h in hists if h is not None and h.buckets]
    if not drawn:
        return ""
    lo = min(h.buckets[0].low for h in drawn)
    hi = max(h.buckets[-1].high for h in drawn)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    plot_w = _HIST_WIDTH - _HIST_LEFT - 4
    span = hi - lo

    def x_of(value: float) -> float:
        return _HIST_LEFT + (plot_w * (value - lo) / span if span > 0 else 0.0)

    height = _HIST_PANEL * len(hists) + _HIST_AXIS
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_HIST_WIDTH}" height="{height}" role="img">',
             f"<title>Histogram of {_esc(name)}</title>"]
    for panel, hist in enumerate(hists):
        top = panel * _HIST_PANEL + 4
        base = top + _HIST_PANEL - 10
        parts.append(f'<line x1="{_HIST_LEFT}" y1="{base}" x2="{_HIST_WIDTH - 4}" y2="{base}" stroke="#999"/>')
        if hist is None or not hist.buckets:
            continue
        peak = max(b.count for b in hist.buckets) or 1.0
        parts.append(f'<text x="{_HIST_LEFT - 4}" y="{top + 8}" text-anchor="end">{_esc(_fmt(peak))}</text>')
        parts.append(f'<text x="{_HIST_LEFT - 4}" y="{base}" text-anchor="end">0</text>')
        color = _COLORS[panel % len(_COLORS)]
        for b in hist.buckets:
            x0 = x_of(b.low)
            w = max(x_of(b.high) - x0, 0.0) if span > 0 else plot_w
            h = (base - top - 8) * b.count / peak
            label = f"[{_fmt(b.low)}, {_fmt(b.high)}]: {_fmt(b.count)}"
            parts.append(
                f'<rect x="{x0:.2f}" y="{base - h:.2f}" width="{max(w - 0.5, 0.5):.2f}" height="{h:.2f}" '
                f'fill="{color}" data-low="{b.low!r}" data-high="{b.high!r}" data-count="{b.count!r}">'
                f"<title>{_esc(label)}</title></rect>"
            )
    axis_y = _HIST_PANEL * len(hists) + 14
    ticks = [(lo, "start"), ((lo + hi) / 2, "middle"), (hi, "end")] if span > 0 else [(lo, "start")]
    for value, anchor in ticks:
        parts.append(f'<text x="{x_of(value):.1f}" y="{axis_y}" text-anchor="{anchor}">{_esc(_fmt(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


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
        lines += [f"mean {_fmt(n.mean)} · std {_fmt(n.std)}",
                  f"min {_fmt(n.min)} · median {_fmt(n.median)} · max {_fmt(n.max)}",
                  f"zeros {n.num_zeros / f.count:.1%}" if f.count else ""]
        if n.num_nan or n.num_inf:
            lines.append(f'<span class="warn">NaN {_fmt(n.num_nan)} · inf {_fmt(n.num_inf)}</span>')
    if f.string is not None:
        s = f.string
        approx = "" if s.unique_exact else "≈"
        lines += [f"unique {approx}{_fmt(s.unique)}", f"avg length {_fmt(s.avg_length)}"]
        top = ", ".join(
            f"{_esc(v.value[:20])} ({_fmt(v.count / f.count if f.count else 0.0)})" for v in s.top_values[:3]
        )
        if top:
            lines.append(f'<span class="small">top: {top}</span>')
    if f.list is not None:
        lst = f.list
        lines.append(f"values/example {lst.min_num_values}–{lst.max_num_values} (avg {_fmt(lst.avg_num_values)})")
    return '<td class="num">' + "<br>".join(x for x in lines if x) + "</td>"


def render_statistics_html(
    stats: StatisticsSet,
    *,
    title: str = "Statistics",
    datasets: Sequence[str] | None = None,
    standalone: bool = True,
) -> str:
    """The report as one HTML string. ``datasets``: names to show (default: every split, no slices).

    ``standalone=False`` gives a fragment (one ``<div>`` with its scoped style) for embedding, as
    Jupyter does with ``StatisticsSet._repr_html_``."""
    chosen = [d for d in stats.datasets if (d.name in datasets if datasets is not None else d.slice is None)]
    names: list[str] = []
    for d in chosen:
        for n in d.feature_names:
            if n not in names:
                names.append(n)
    if standalone:
        out = ["<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
               f"<title>{_esc(title)}</title><style>body{{margin:24px}}{_CSS}</style></head><body>",
               f'<div class="sw-stats"><h1>{_esc(title)}</h1>']
    else:
        out = [f'<div class="sw-stats"><style>{_CSS}</style><h1>{_esc(title)}</h1>']
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
        kind, element = first.type.value, first.value_type.value
        type_label = kind if kind == element else f"{kind}<{element}>"
        chart = _numeric_chart(name, feats) if first.numeric is not None else _string_chart(name, feats)
        out.append(f'<tr><td><div class="feat">{_esc(name)}</div><div class="type">{_esc(type_label)}</div></td>')
        out += [_cell(f, d) for f, d in zip(feats, chosen, strict=True)]
        out.append(f"<td>{chart}</td></tr>")
    out.append("</tbody></table>")
    slices = [d for d in stats.datasets if d.slice is not None]
    if slices and datasets is None:
        out.append("<h2>Slices</h2><table><thead><tr><th>dataset</th><th>examples</th></tr></thead><tbody>")
        out += [f"<tr><td>{_esc(d.name)}</td><td class=num>{_fmt(d.num_examples)}</td></tr>" for d in slices]
        out.append("</tbody></table>")
    out.append("</div></body></html>" if standalone else "</div>")
    return "".join(out)


def write_statistics_html(stats: StatisticsSet, path: str | Path, **kwargs: object) -> Path:
    """Write the report; ``path`` may be the artifact folder (then ``report.html`` inside it)."""
    from sluiceway.artifacts import ExampleStatistics

    p = Path(path)
    if p.is_dir():
        p = p / ExampleStatistics.REPORT_FILENAME
    p.write_text(render_statistics_html(stats, **kwargs), encoding="utf-8")  # type: ignore[arg-type]
    return p


__all__ = ["render_statistics_html", "write_statistics_html"]

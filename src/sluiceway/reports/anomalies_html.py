"""A static HTML report of anomalies: one self-contained file (inline CSS, no JavaScript, nothing fetched).

``ExampleValidator`` writes it as ``ExampleAnomalies.report_file`` beside ``.file``; it opens from disk in any
browser. It lists the anomalies (blocking errors first), then every drift/skew comparison with its method,
score, threshold, sampling-noise bound, sizes and binning, and its verdict — tools disagree on the same
shift, so the numbers are shown, not only a verdict. All text that comes from the data is escaped.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sluiceway.data.validation import Anomalies, Anomaly, Comparison

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1200px;
padding:0 1rem;color:#1f2328}
h1{font-size:1.5rem;margin-bottom:.25rem}h2{font-size:1.15rem;margin-top:2rem}
.meta{color:#59636e}
.summary{display:flex;gap:.75rem;margin:1rem 0}
.card{border:1px solid #d1d9e0;border-radius:6px;padding:.5rem 1rem;min-width:8rem}
.card b{display:block;font-size:1.4rem}
.ok b{color:#1a7f37}.bad b{color:#cf222e}.warn b{color:#9a6700}
table{border-collapse:collapse;width:100%;margin-top:.5rem}
th,td{border-bottom:1px solid #d1d9e0;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:1px 4px;border-radius:4px}
.sev{font-weight:600;font-size:12px;border-radius:10px;padding:1px 8px;white-space:nowrap}
.sev.error{background:#ffebe9;color:#cf222e}.sev.warning{background:#fff8c5;color:#9a6700}
.sev.pass{background:#dafbe1;color:#1a7f37}.sev.skipped{background:#eaeef2;color:#59636e}
.bar{position:relative;background:#eaeef2;height:8px;border-radius:4px;width:10rem}
.bar span{position:absolute;left:0;top:0;bottom:0;border-radius:4px}
.bar i{position:absolute;left:50%;top:-3px;bottom:-3px;border-left:2px solid #1f2328}
.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.small{font-size:12px;color:#59636e}
.empty{padding:1rem;border:1px dashed #d1d9e0;border-radius:6px;color:#1a7f37}
"""


def _cell(value: object) -> str:
    return "" if value is None else escape(str(value))


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _anomaly_row(anomaly: Anomaly) -> str:
    details = []
    if anomaly.unexpected_values:
        shown = ", ".join(f"<code>{escape(v)}</code>" for v in anomaly.unexpected_values)
        details.append(f"unexpected values: {shown}")
    if anomaly.unexpected_fraction is not None:
        details.append(f"unexpected fraction: {anomaly.unexpected_fraction:.2%}")
    if anomaly.comparison is not None:
        c = anomaly.comparison
        details.append(
            f"{escape(c.method)}: score {_number(c.score)} &gt; threshold {c.threshold:g} and noise bound "
            f"{_number(c.noise_bound)} ({c.num_reference} vs {c.num_current} values)"
        )
    elif anomaly.expected is not None or anomaly.actual is not None:
        details.append(f"expected {_cell(anomaly.expected)}, actual {_cell(anomaly.actual)}")
    return (
        "<tr>"
        f'<td><span class="sev {anomaly.severity}">{anomaly.severity}</span></td>'
        f"<td>{_cell(anomaly.split)}</td>"
        f"<td>{'<i>dataset</i>' if anomaly.feature is None else f'<code>{escape(anomaly.feature)}</code>'}</td>"
        f"<td><b>{_cell(anomaly.short_description)}</b><br><code>{_cell(anomaly.kind)}</code></td>"
        f"<td>{_cell(anomaly.description)}</td>"
        f'<td class="small">{"<br>".join(details)}</td>'
        "</tr>"
    )


_METHODS = {
    "infinity_norm": "L-infinity",
    "ks_distance": "Kolmogorov–Smirnov",
    "jensen_shannon_divergence": "Jensen–Shannon divergence",
}
_VERDICTS = {
    "passed": '<span class="sev pass">pass</span>',
    "drifted": '<span class="sev error">fail</span>',
    "too_few_rows": '<span class="sev warning">too few rows</span>',
}


def _sizes(c: Comparison) -> str:
    if c.num_reference is None or c.num_current is None:
        return ""
    return f"{c.num_reference:,} vs {c.num_current:,}"


def _comparison_row(c: Comparison) -> str:
    if c.score is None:
        verdict = '<span class="sev skipped">skipped</span>'
        bar = ""
    else:
        verdict = _VERDICTS.get(c.verdict, '<span class="sev pass">pass</span>')
        # The tick in the middle is the threshold; the bar fills to score / (2 × threshold).
        fill = 100.0 if c.threshold <= 0 else min(c.score / (2 * c.threshold), 1.0) * 100
        colour = "#1a7f37" if c.passed else "#cf222e"
        bar = (
            f'<div class="bar" title="score {c.score:.4g}, threshold {c.threshold:g}">'
            f'<span style="width:{fill:.1f}%;background:{colour}"></span><i></i></div>'
        )
    method = _METHODS.get(c.method, c.method)
    notes = " ".join(_cell(x) for x in (c.binning, c.note) if x)
    if c.value is not None:
        notes = f"largest difference at <code>{escape(c.value)}</code>. {notes}"
    return (
        "<tr>"
        f"<td>{verdict}</td>"
        f"<td>{_cell(c.split)}</td>"
        f"<td><code>{escape(c.feature)}</code></td>"
        f"<td>{escape(c.kind)}</td>"
        f"<td>{method}</td>"
        f'<td class="num">{_number(c.score)}</td>'
        f'<td class="num">{c.threshold:g} <span class="small">({escape(c.threshold_source)})</span></td>'
        f'<td class="num">{_number(c.noise_bound)}<br><span class="small">{_sizes(c)}</span></td>'
        f"<td>{bar}</td>"
        f'<td class="small">{notes}</td>'
        "</tr>"
    )


def render_anomalies_html(
    anomalies: Anomalies, *, title: str = "Data validation", path: str | Path | None = None
) -> str:
    """The report as one HTML string; also written to ``path`` (e.g. ``{uri}/report.html``) when given."""
    errors = [a for a in anomalies.anomalies if a.blocking]
    warnings = [a for a in anomalies.anomalies if not a.blocking]
    failed = [c for c in anomalies.comparisons if not c.passed]
    meta = []
    if anomalies.splits:
        meta.append("splits: " + ", ".join(escape(s) for s in anomalies.splits))
    meta.append(f"environment: {escape(anomalies.environment) if anomalies.environment else 'all features expected'}")

    def card(label: str, value: int, good: bool, warn: bool = False) -> str:
        cls = "ok" if good else ("warn" if warn else "bad")
        return f'<div class="card {cls}"><b>{value}</b>{label}</div>'

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{" · ".join(meta)}</p>',
        '<div class="summary">',
        card("blocking anomalies", len(errors), not errors),
        card("warnings", len(warnings), not warnings, warn=True),
        card(f"of {len(anomalies.comparisons)} comparisons failed", len(failed), not failed),
        "</div>",
        "<h2>Anomalies</h2>",
    ]
    if anomalies.anomalies:
        rows = "".join(_anomaly_row(a) for a in errors + warnings)
        parts.append(
            "<table><thead><tr><th>severity</th><th>split</th><th>feature</th><th>anomaly</th>"
            f"<th>description</th><th>details</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    else:
        parts.append('<p class="empty">No anomalies found: the data matches the schema.</p>')
    if anomalies.comparisons:
        ordered = sorted(anomalies.comparisons, key=lambda c: (c.passed, c.score is None, -(c.score or 0)))
        rows = "".join(_comparison_row(c) for c in ordered)
        parts.append(
            "<h2>Drift and skew comparisons</h2>"
            '<p class="small">Every comparison made, failed first. L-infinity: the largest difference between '
            "value frequencies (categorical). Kolmogorov–Smirnov: the largest difference between the cumulative "
            "distributions, read from the quantile summaries (numeric). Jensen–Shannon divergence: base 2, over "
            "bins cut at the reference's quantiles (numeric, when the schema asks for it). A comparison fails "
            "only when its score is above the threshold and the sampling-noise bound of the two sizes; above "
            "the threshold but within the noise it is reported as <i>too few rows</i>. The bar's tick marks the "
            "threshold.</p>"
            "<table><thead><tr><th>verdict</th><th>split</th><th>feature</th><th>kind</th><th>method</th>"
            "<th>score</th><th>threshold</th><th>noise bound<br>(values)</th><th></th><th>binning / note</th>"
            "</tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    parts.append("</body></html>\n")
    html = "\n".join(parts)
    if path is not None:
        Path(path).write_text(html, encoding="utf-8")
    return html


__all__ = ["render_anomalies_html"]

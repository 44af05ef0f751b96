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

from sluiceway.reports.page import page_head

if TYPE_CHECKING:
    from sluiceway.data.validation import Anomalies, Anomaly, Comparison

_CSS = """
.bar{position:relative;background:#eaeef2;height:8px;border-radius:4px;width:10rem}
.bar span{position:absolute;left:0;top:0;bottom:0;border-radius:4px}
.bar i{position:absolute;left:50%;top:-3px;bottom:-3px;border-left:2px solid #1f2328}
.empty{padding:1rem;border:1px dashed #d1d9e0;border-radius:6px;color:#1a7f37}
"""  # on top of reports.page.BASE_CSS


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
        *page_head(title, meta, _CSS),
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

"""A static HTML report of a model evaluation: one self-contained file (inline CSS, no JavaScript).

The ``Evaluator`` writes it as ``ModelEvaluation.report_file`` beside ``.file``. It shows the blessing and
every threshold check, the metrics of each slice (candidate beside the baseline, with the change), the
fairness rates per group and their gaps, the permutation feature importance, and the confusion matrix
of the overall slice. Every text that comes from data or configuration (slice values, class names,
feature names, URIs) is escaped.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from sluiceway.evaluation.accumulate import NULL_KEY
from sluiceway.reports.page import page_head

_CSS = """
.better{color:#1a7f37}.worse{color:#cf222e}
.bar{display:inline-block;height:8px;background:#4C78A8;border-radius:4px;vertical-align:middle}
.empty{padding:1rem;border:1px dashed #d1d9e0;border-radius:6px;color:#59636e}
"""  # on top of reports.page.BASE_CSS


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.4g}" if isinstance(value, (int, float)) else escape(str(value))


def _change(metric: str, value: float | None, before: float | None, higher: bool | None) -> str:
    if value is None or before is None:
        return ""
    delta = value - before
    if delta == 0:
        return '<span class="small">±0</span>'
    better = (delta > 0) == bool(higher)
    return f'<span class="{"better" if better else "worse"}">{delta:+.4g}</span>'


def _checks(evaluation: dict[str, Any]) -> str:
    checks = evaluation.get("thresholds") or []
    if not checks:
        return '<p class="empty">No thresholds configured: every model is blessed.</p>'
    rows = []
    for check in sorted(checks, key=lambda c: c["passed"]):
        verdict = '<span class="sev pass">pass</span>' if check["passed"] else '<span class="sev error">fail</span>'
        rows.append(
            f"<tr><td>{verdict}</td><td><code>{escape(check['metric'])}</code></td><td>{escape(check['slice'])}</td>"
            f"<td>{escape(check['bound'])} {_number(check['limit'])}</td><td class='num'>{_number(check['value'])}</td>"
            f"<td class='num'>{_number(check['baseline'])}</td>"
            f"<td class='small'>{'' if check['passed'] else escape(check['message'])}</td></tr>"
        )
    return (
        "<table><thead><tr><th>verdict</th><th>metric</th><th>slice</th><th>bound</th><th>candidate</th>"
        f"<th>baseline</th><th>why</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _slices(evaluation: dict[str, Any]) -> str:
    from sluiceway.evaluation.config import CLASSIFICATION_METRICS, REGRESSION_METRICS

    directions = {**CLASSIFICATION_METRICS, **REGRESSION_METRICS}
    metrics = list(evaluation.get("metrics") or [])
    baseline = {s["name"]: s for s in (evaluation.get("baseline") or {}).get("slices", [])}
    head = "".join(f"<th>{escape(m)}</th>" for m in metrics)
    rows = []
    slices = evaluation["candidate"]["slices"]
    for entry in slices:
        previous = baseline.get(entry["name"])
        cells = []
        for metric in metrics:
            value = entry["metrics"].get(metric)
            cell = _number(value)
            interval = (entry.get("intervals") or {}).get(metric)
            if interval:
                cell += f'<br><span class="small">[{interval["low"]:.4g}, {interval["high"]:.4g}]</span>'
            if previous is not None:
                before = previous["metrics"].get(metric)
                cell += (f'<br><span class="small">base {_number(before)}</span> '
                         f'{_change(metric, value, before, directions.get(metric, True))}')
            cells.append(f'<td class="num">{cell}</td>')
        gated = "" if entry["gated"] else ' <span class="sev skipped">not gated</span>'
        rows.append(
            f"<tr><td>{escape(entry['name'])}{gated}</td><td class='num'>{_number(entry['count'])}</td>"
            f"{''.join(cells)}</tr>"
        )
    note = (
        f"Slices with fewer than {evaluation['min_slice_size']} rows are reported but not gated. "
        + ("Under each value: the baseline's and the change (green: better). " if baseline else "")
        + ("Brackets: bootstrap confidence interval. " if any("intervals" in s for s in slices) else "")
        + (escape(f"AUC: {evaluation['auc_method']}.") if evaluation.get("auc_method") else "")
    )
    return (
        f'<p class="small">{note}</p><table><thead><tr><th>slice</th><th>rows</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


_SMALL = ' <span class="sev skipped">small</span>'


def _fairness(evaluation: dict[str, Any]) -> str:
    parts = []
    for entry in evaluation.get("fairness") or []:
        rows = "".join(
            f"<tr><td>{escape(NULL_KEY if g['group'] is None else str(g['group']))}{'' if g['gated'] else _SMALL}</td>"
            f"<td class='num'>{_number(g['count'])}</td><td class='num'>{_number(g['selection_rate'])}</td>"
            f"<td class='num'>{_number(g['true_positive_rate'])}</td>"
            f"<td class='num'>{_number(g['false_positive_rate'])}</td></tr>"
            for g in entry["groups"]
        )
        gaps = " · ".join(
            f"<code>{escape(name)}</code> {_number(value)}"
            + (f" (baseline {_number(entry['baseline'].get(name))})" if entry.get("baseline") else "")
            for name, value in entry["gated_gaps"].items()
        )
        parts.append(
            f"<h3>{escape(entry['feature'])}</h3><p>{gaps}</p>"
            "<table><thead><tr><th>group</th><th>rows</th><th>selection rate</th><th>true positive rate</th>"
            f"<th>false positive rate</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    if not parts:
        return ""
    positive = escape(str(evaluation.get("positive_class")))
    return (
        f'<h2>Fairness</h2><p class="small">Positive class: <code>{positive}</code>. Gaps as Fairlearn defines them '
        "(difference: largest minus smallest rate; equalized odds: the larger of the true and false positive rate "
        "differences), over the groups with enough rows to be gated.</p>" + "".join(parts)
    )


def _importance(evaluation: dict[str, Any]) -> str:
    found = evaluation.get("feature_importance")
    if not found or not found.get("features"):
        return ""
    peak = max((abs(f["importance"]) for f in found["features"]), default=0.0) or 1.0
    rows = "".join(
        f"<tr><td><code>{escape(f['feature'])}</code></td><td class='num'>{f['importance']:.4g} ± {f['std']:.2g}</td>"
        f"<td><span class='bar' style='width:{max(abs(f['importance']) / peak, 0) * 12:.2f}rem'></span></td></tr>"
        for f in found["features"]
    )
    return (
        f'<h2>Feature importance</h2><p class="small">Permutation importance: the loss of {escape(found["metric"])} '
        f"when one raw feature is shuffled ({found['rows']:,} sampled rows, {found.get('repeats', 0)} seeded repeats; "
        f"unshuffled {found['metric']} {_number(found.get('score'))}).</p>"
        f"<table><thead><tr><th>feature</th><th>importance</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _confusion(evaluation: dict[str, Any]) -> str:
    overall = next((s for s in evaluation["candidate"]["slices"] if not s["spec"]), None)
    if overall is None or "confusion_matrix" not in overall:
        return ""
    classes = [escape(str(c)) for c in evaluation.get("classes") or []]
    head = "".join(f"<th>predicted {c}</th>" for c in classes)
    rows = "".join(
        f"<tr><th>actual {name}</th>{''.join(f'<td class=num>{_number(v)}</td>' for v in row)}</tr>"
        for name, row in zip(classes, overall["confusion_matrix"], strict=True)
    )
    return (
        f"<h2>Confusion matrix (overall)</h2><table><thead><tr><th></th>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def render_evaluation_html(evaluation: dict[str, Any], *, title: str = "Model evaluation",
                           path: str | Path | None = None) -> str:
    """The report as one HTML string; also written to ``path`` (``ModelEvaluation.report_file``) when given."""
    blessed = evaluation.get("blessed")
    failed = [c for c in evaluation.get("thresholds") or [] if not c["passed"]]
    baseline = evaluation.get("baseline")
    meta = [
        f"model <code>{escape(evaluation['candidate']['model_uri'])}</code>",
        f"baseline <code>{escape(baseline['model_uri'])}</code>" if baseline else "no baseline (value bounds only)",
        f"split <code>{escape(evaluation['split'])}</code>",
        f"label <code>{escape(str(evaluation['label']))}</code> ({escape(evaluation['task'])})",
    ]
    verdict = "blessed" if blessed else "NOT blessed"
    parts = [
        *page_head(title, meta, _CSS),
        '<div class="summary">',
        f'<div class="card {"ok" if blessed else "bad"}"><b>{verdict}</b>blessing</div>',
        f'<div class="card {"bad" if failed else "ok"}"><b>{len(failed)}</b>failed checks</div>',
        f'<div class="card ok"><b>{evaluation["rows"]:,}</b>rows evaluated</div>',
        "</div>",
        "<h2>Thresholds</h2>",
        _checks(evaluation),
        "<h2>Metrics per slice</h2>",
        _slices(evaluation),
        _fairness(evaluation),
        _importance(evaluation),
        _confusion(evaluation),
        "</body></html>\n",
    ]
    html = "\n".join(p for p in parts if p)
    if path is not None:
        Path(path).write_text(html, encoding="utf-8")
    return html


__all__ = ["render_evaluation_html"]

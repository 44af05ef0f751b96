"""The static anomalies report: self-contained, escaped, showing every anomaly and comparison."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from sluiceway.data.validation import Anomalies, Anomaly, Comparison
from sluiceway.reports.anomalies_html import render_anomalies_html


def _comparison(feature: str, score: float | None, threshold: float = 0.1, **kw) -> Comparison:
    return Comparison(
        feature=feature, split="train", kind=kw.pop("kind", "drift"),
        method=kw.pop("method", "jensen_shannon_divergence"),
        score=score, threshold=threshold, threshold_source=kw.pop("source", "default"),
        passed=score is None or score <= threshold, **kw,
    )


@pytest.fixture()
def anomalies() -> Anomalies:
    drift = _comparison("body_mass_g", 0.52, binning="10 bins between the baseline's deciles")
    return Anomalies(
        splits=["train", "eval"],
        environment="TRAINING",
        anomalies=[
            Anomaly(
                kind="ENUM_TYPE_UNEXPECTED_STRING_VALUES", feature="island", split="eval",
                short_description="Unexpected string values",
                description="Examples contain values missing from the schema: 'Anvers' (~2.91% of the values).",
                unexpected_values=["Anvers", "<script>alert(1)</script>"], unexpected_fraction=0.0291,
            ),
            Anomaly(
                kind="COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", feature="body_mass_g", split="train",
                short_description="High approximate Jensen-Shannon divergence between current and previous",
                description="The approximate Jensen-Shannon divergence between current and previous is 0.52.",
                comparison=drift, expected=0.1, actual=0.52,
            ),
            Anomaly(
                kind="SCHEMA_NEW_COLUMN", feature="ring_id", split="train", severity="warning",
                short_description="New column", description="New column (column in data but not in schema).",
            ),
            Anomaly(
                kind="DATASET_LOW_NUM_EXAMPLES", split="eval", short_description="Low num examples in dataset",
                description="The dataset has 3 examples, fewer than the minimum of 10.", expected=10, actual=3,
            ),
        ],
        comparisons=[
            _comparison("island", 0.03, method="infinity_norm", value="Biscoe", binning="value frequencies"),
            drift,
            _comparison("species", None, kind="skew", method="infinity_norm", note="not in the serving data"),
        ],
    )


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(attrs)
        if tag not in ("meta", "br", "i", "input"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in ("i",):
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()


def test_report_is_self_contained_and_well_formed(tmp_path, anomalies):
    html = render_anomalies_html(anomalies, path=tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == html
    parser = _Collector()
    parser.feed(html)
    assert parser.stack == [], parser.stack
    assert "script" not in parser.tags and "link" not in parser.tags and "img" not in parser.tags
    assert not re.search(r"https?://|//cdn|src=", html)
    assert not any(name in ("src", "href") for name, _ in parser.attributes)


def test_report_shows_every_anomaly_blocking_first(anomalies):
    html = render_anomalies_html(anomalies, title="penguins span 3")
    assert "<title>penguins span 3</title>" in html
    for anomaly in anomalies.anomalies:
        assert anomaly.kind in html and anomaly.short_description in html
    assert html.index("ENUM_TYPE_UNEXPECTED_STRING_VALUES") < html.index("SCHEMA_NEW_COLUMN")
    assert html.index("DATASET_LOW_NUM_EXAMPLES") < html.index("SCHEMA_NEW_COLUMN")  # errors before warnings
    assert "<b>3</b>blocking anomalies" in html and "<b>1</b>warnings" in html
    assert "unexpected fraction: 2.91%" in html and "<code>Anvers</code>" in html
    assert "splits: train, eval" in html and "environment: TRAINING" in html
    assert "<i>dataset</i>" in html  # the dataset-level anomaly has no feature


def test_report_escapes_data_values(anomalies):
    html = render_anomalies_html(anomalies)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#x27;Anvers&#x27;" in html


def test_comparisons_show_method_score_threshold_and_binning(anomalies):
    html = render_anomalies_html(anomalies)
    table = html[html.index("Drift and skew comparisons"):]
    assert "<b>1</b>of 3 comparisons failed" in html
    assert table.index("body_mass_g") < table.index("island") < table.index("species")  # failed first
    assert "Jensen–Shannon divergence" in table and "L-infinity" in table
    assert '<td class="num">0.52</td>' in table and "0.1 <span" in table and "(default)" in table
    assert "10 bins between the baseline&#x27;s deciles" in table
    assert "largest difference at <code>Biscoe</code>" in table
    assert "skipped" in table and "not in the serving data" in table


def test_clean_report(tmp_path):
    html = render_anomalies_html(Anomalies(splits=["train"]))
    assert "No anomalies found" in html and "<b>0</b>blocking anomalies" in html
    assert "Drift and skew comparisons" not in html


def test_report_of_a_real_validation(tmp_path):
    from palmerpenguins import load_penguins

    from sluiceway.data.schema import infer_schema
    from sluiceway.data.statistics import compute_statistics
    from sluiceway.data.validation import validate_statistics

    penguins = load_penguins()
    baseline = compute_statistics(penguins, default_split="train")
    shifted = penguins.assign(body_mass_g=penguins["body_mass_g"] + 1500).drop(columns=["sex"])
    anomalies = validate_statistics(
        compute_statistics(shifted, default_split="train"), infer_schema(baseline), baseline=baseline
    )
    html = render_anomalies_html(anomalies, path=tmp_path / "report.html")
    assert "SCHEMA_MISSING_COLUMN" in html and "COMPARATOR_KS_DISTANCE_HIGH" in html
    passed = [c for c in anomalies.comparisons if c.verdict == "passed" and c.score is not None]
    assert html.count('<span class="sev pass">pass</span>') == len(passed)

"""The static statistics report: self-contained HTML with the splits side by side."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import palmerpenguins
import pyarrow as pa

from sluiceway.data.statistics import compute_statistics
from sluiceway.reports.statistics_html import _fmt, render_statistics_html, write_statistics_html


def test_report_shows_every_feature_for_train_and_eval_without_external_resources(tmp_path: Path) -> None:
    df = palmerpenguins.load_penguins()
    stats = compute_statistics({"train": df.iloc[:230], "eval": df.iloc[230:]}, slice_by="island")
    page = render_statistics_html(stats, title="Penguins <stats>")
    assert page.startswith("<!DOCTYPE html>")
    assert "Penguins &lt;stats&gt;" in page
    for name in df.columns:
        assert f'<div class="feat">{name}</div>' in page
    assert "<th>train</th><th>eval</th>" in page
    assert page.count("<svg") >= len(df.columns)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "<script" not in page
    assert "train/island=Biscoe" in page  # slices listed
    path = write_statistics_html(stats, tmp_path, title="Penguins <stats>")
    assert path == tmp_path / "report.html" and path.read_text(encoding="utf-8") == page


class _Svg(HTMLParser):
    """Collects each histogram chart's bars (their data- attributes) and text labels."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict[str, list]] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.charts.append({"bars": [], "texts": [], "title": []})
        elif tag == "rect" and "data-low" in a:
            keys = ("data-low", "data-high", "data-count", "x", "width", "height")
            self.charts[-1]["bars"].append(tuple(float(a[k] or "nan") for k in keys))
        elif tag == "text":
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "text" and self._text is not None:
            self.charts[-1]["texts"].append("".join(self._text))
            self._text = None


def test_histograms_draw_exactly_the_computed_buckets_with_axis_labels() -> None:
    rng = np.random.default_rng(3)
    skewed = rng.exponential(10.0, 5_000)  # buckets of very different counts: no smoothing hides it
    stats = compute_statistics({"train": pa.table({"x": skewed}), "eval": pa.table({"x": skewed[:1_000] * 2})})
    parser = _Svg()
    parser.feed(render_statistics_html(stats))
    (chart,) = [c for c in parser.charts if c["bars"]]
    for split, bars in zip(["train", "eval"], (chart["bars"][:10], chart["bars"][10:]), strict=True):
        buckets = stats[split].feature("x").numeric.histogram.buckets
        assert len(buckets) == 10 and len(bars) == 10
        assert [(b.low, b.high, b.count) for b in buckets] == [bar[:3] for bar in bars]
        heights = [bar[5] for bar in bars]
        counts = [b.count for b in buckets]
        # heights in proportion to the counts (the tallest bar is the largest count)
        assert heights.index(max(heights)) == counts.index(max(counts))
        assert [round(h / max(heights), 3) for h in heights] == [round(c / max(counts), 3) for c in counts]
        # bars sit at their buckets' places on the shared value axis, left to right, not overlapping
        xs = [bar[3] for bar in bars]
        assert xs == sorted(xs) and all(a[3] + a[4] <= b[3] + 1e-6 for a, b in zip(bars, bars[1:], strict=False))
    # value axis: both ends and the middle of the shared range; count axis: each panel's largest count
    lo = min(stats[s].feature("x").numeric.histogram.buckets[0].low for s in ("train", "eval"))
    hi = max(stats[s].feature("x").numeric.histogram.buckets[-1].high for s in ("train", "eval"))
    texts = chart["texts"]
    assert _fmt(lo) in texts and _fmt(hi) in texts and _fmt((lo + hi) / 2) in texts
    for split in ("train", "eval"):
        assert _fmt(max(b.count for b in stats[split].feature("x").numeric.histogram.buckets)) in texts


def test_data_text_is_escaped_everywhere() -> None:
    hostile = "<script>alert(1)</script>"
    table = pa.table({hostile: [1.0, 2.0, 3.0], "city": [hostile, "a&b", "[bold]x[/bold]"]})
    stats = compute_statistics({hostile: table})
    page = render_statistics_html(stats, title=hostile)
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a&amp;b" in page
    parser = _Svg()
    parser.feed(page)  # well-formed enough for a parser: every chart found
    assert len(parser.charts) == 2
    assert "max 33.3% of examples" in parser.charts[1]["texts"]  # three values, a third each

"""The static statistics report: self-contained HTML with the splits side by side."""

from __future__ import annotations

from pathlib import Path

import palmerpenguins

from sluiceway.data.statistics import compute_statistics
from sluiceway.reports.statistics_html import render_statistics_html, write_statistics_html


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

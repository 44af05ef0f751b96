"""What the static reports share: the base stylesheet and the page head (title, heading, meta line).

Each report adds only its own rules (``extra_css``); the look stays one across reports.
"""

from __future__ import annotations

from html import escape

BASE_CSS = """
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
.num{font-variant-numeric:tabular-nums;white-space:nowrap}
.small{font-size:12px;color:#59636e}
"""


def page_head(title: str, meta: list[str], extra_css: str = "") -> list[str]:
    """The opening of a report page up to its meta line; ``meta`` items are HTML the caller escaped."""
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{BASE_CSS}{extra_css}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{" · ".join(meta)}</p>',
    ]

"""The report's stylesheet and script, and the page shell around them.

Self-contained on purpose: plotly.js is inlined once and every figure is a
JSON blob that BOOT_JS feeds to Plotly.newPlot, so a page opens offline with
nothing fetched (report.html and the capacity report share this shell).
"""

from __future__ import annotations

import html

import plotly.offline

CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#1d232a;margin:0;background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.verdict{display:inline-block;font-weight:700;letter-spacing:.04em;padding:3px 12px;
 border-radius:4px;color:#fff;margin-right:10px}
.PASS{background:#2e7d32}.FAIL{background:#c62828}.INCOMPLETE{background:#b26a00}
.reason{font-size:15px}
.meta{display:flex;flex-wrap:wrap;gap:4px 22px;margin:10px 0 0;color:#4a5561}
.meta b{color:#1d232a;font-weight:600}
table{border-collapse:collapse;background:#fff;width:100%;font-size:13px}
th,td{border:1px solid #dde1e6;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600;position:sticky;top:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.text{max-width:320px;overflow-wrap:anywhere}
tr.bad td{background:#fdecea}tr.nodata td{background:#fff4e5}
td.over{color:#c62828;font-weight:600}
.pass{color:#2e7d32;font-weight:600}.fail{color:#c62828;font-weight:600}
.nodata-label{color:#b26a00;font-weight:600}
.muted{color:#6b7682}.small{font-size:12px}
.chart{background:#fff;border:1px solid #dde1e6;margin:0 0 14px;min-height:60px}
.scroll{max-height:640px;overflow:auto;border:1px solid #dde1e6}
.scroll table{border:0}
details{margin-top:8px}pre{background:#fff;border:1px solid #dde1e6;padding:8px;overflow:auto}
.glance{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:10px;
 margin:14px 0}
.glance>div{background:#fff;border:1px solid #dde1e6;border-left:4px solid #4c72b0;padding:8px 12px}
.glance .k{color:#4a5561;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.glance .v{font-size:20px;font-weight:700}.glance .d{font-size:12px;color:#4a5561}
.glance .badv{color:#c62828}.glance>div.bad{border-left-color:#c62828}
.glance>div.good{border-left-color:#2e7d32}
del{background:#fdecea;color:#c62828}ins{background:#e8f5e9;color:#1b5e20;text-decoration:none;
 font-weight:600}
.call{background:#fff;border:1px solid #dde1e6;padding:4px 12px 10px;margin:0 0 12px}
.call h3{font-size:15px;margin:8px 0}.audio{margin:4px 0 8px;display:flex;gap:12px;flex-wrap:wrap}
.player{margin:0}.player figcaption{font-size:12px;color:#4a5561}
.wf{min-width:220px}.wf .track{position:relative;height:14px;background:#f1f3f5}
.wf .seg{position:absolute;top:0;height:14px}
.wf .zero{position:absolute;top:-2px;height:18px;width:1px;background:#111}
.key{display:inline-block;width:10px;height:10px;margin:0 3px 0 4px;vertical-align:baseline}
td.wfcell{width:260px}
"""

BOOT_JS = """
document.querySelectorAll('script[type="application/json"][data-plot]').forEach(function(s){
  var fig = JSON.parse(s.textContent);
  var div = document.getElementById(s.getAttribute('data-plot'));
  Plotly.newPlot(div, fig.data, fig.layout || {}, {displaylogo: false, responsive: true});
});
"""


def page(title: str, body: str, blobs: str) -> str:
    """A whole self-contained HTML page: `body` inside <main>, then the figures' JSON blobs,
    plotly.js and BOOT_JS. `title` is escaped here."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title, quote=True)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main>"
        f"{blobs}"
        f"<script>{plotly.offline.get_plotlyjs()}</script>"
        f"<script>{BOOT_JS}</script>"
        "</body></html>\n"
    )

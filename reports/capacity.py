"""report.html for a `voxsim capacity` output directory: a simulated deployment.

Why its own page: a capacity directory has no calls, turns or audio, only
what the model predicted (capacity.json, load.jsonl, capacity_timeline.jsonl).
It shows, with the same offline plotly and styles as a run's report:
- a level: the verdict, P50/P95/P99, per stage queue wait vs service and
  utilisation, and the time series (latency, queue wait per stage,
  instances per stage, hang-ups / lost calls / crashes per bucket);
- a breakpoint search: every level and the load curve (reports/load.py);
- a plan: the search's steps, the deployment found, and the comparison of
  balancers x fixed/autoscaled at that size, then the found deployment's
  time series.
Every number is a row of those files; nothing is recomputed here.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import plotly.colors
import plotly.graph_objects as go
import plotly.offline

from reports import load as load_curve
from reports.assets import BOOT_JS, CSS
from reports.figures import figure_blocks, layout
from reports.html import REPORT_HTML
from reports.rundir import read_jsonl, write_atomic
from simulator.rows import LoadStepRow

CAPACITY_JSON = "capacity.json"
TIMELINE_JSONL = "capacity_timeline.jsonl"
LOAD_JSONL = "load.jsonl"

Row = dict[str, Any]
PALETTE = plotly.colors.qualitative.Plotly


def is_capacity_dir(path: Path) -> bool:
    """True for a directory `voxsim capacity --out` wrote."""
    return (Path(path) / CAPACITY_JSON).is_file()


def write_capacity_report(out_dir: Path) -> Path:
    """Render out_dir/report.html from the capacity files; return its path."""
    out_dir = Path(out_dir)
    try:
        result = json.loads((out_dir / CAPACITY_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{out_dir / CAPACITY_JSON}: unreadable ({exc})") from None
    if not isinstance(result, dict):
        raise ValueError(f"{out_dir / CAPACITY_JSON}: not a JSON object")
    page = render(result, read_jsonl(out_dir / TIMELINE_JSONL), read_jsonl(out_dir / LOAD_JSONL))
    return write_atomic(out_dir / REPORT_HTML, page.encode("utf-8"))


def render(result: Row, series: Sequence[Row], steps: Sequence[Row]) -> str:
    """The whole page as one HTML string."""
    kind = result.get("kind") or ("breakpoint" if result.get("breakpoint") else "level")
    slo = (result.get("slo") or {}).get("latency_p95_ms")
    parts: list[str] = [_header(result, kind, slo)]
    figures: list[go.Figure] = []
    if kind == "plan":
        parts.append(_plan_section(result))
    else:
        levels = result.get("levels") or []
        parts.append(_levels_table(levels, result.get("unit", "callers")))
        if kind == "level" and levels:
            parts.append(_stages_table(levels[0].get("stages") or {}))
        elif kind == "breakpoint":
            # the model's predicted steps carry a load step's fields (reports/load.py)
            fig = load_curve.load_figure(cast("Sequence[LoadStepRow]", steps or levels), slo)
            if fig is not None:
                figures.append(fig)
    figures += series_figures(series, slo)
    divs, blobs = figure_blocks(figures, "cap")
    if series:
        parts.append("<h2>Over time</h2>")
        if kind == "plan":
            parts.append(
                '<p class="muted small">The found deployment, fixed, under the file\'s '
                "balancer (capacity_timeline.jsonl).</p>"
            )
    parts.append("".join(divs))
    title = f"voxsim capacity — {result.get('name', '')}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(parts)}</main>{''.join(blobs)}"
        f"<script>{plotly.offline.get_plotlyjs()}</script><script>{BOOT_JS}</script>"
        "</body></html>\n"
    )


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _n(x: Any, nd: int = 1) -> str:
    return "–" if x is None else f"{x:.{nd}f}" if isinstance(x, float) else _e(x)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_n(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _header(result: Row, kind: str, slo: float | None) -> str:
    what = {"plan": "plan", "breakpoint": "breakpoint search", "level": "one load level"}[kind]
    if kind == "plan":
        verdict = "MET" if result.get("met") else "NOT MET"
    elif kind == "breakpoint":
        verdict = f"breakpoint {result.get('breakpoint')} {result.get('unit', '')}"
    else:
        levels = result.get("levels") or [{}]
        verdict = "PASS" if levels[0].get("slo_passed") else "FAIL"
    cal = result.get("calibration") or {}
    return (
        f"<h1>Capacity: {_e(result.get('name', ''))} — {_e(verdict)}</h1>"
        f'<p class="muted">Simulated in virtual time ({_e(what)}), seed {_e(result.get("seed"))}, '
        f"SLO P95 ≤ {_n(slo, 0)} ms; {_n(result.get('cpu_s'), 2)} s of CPU."
        + (f" Calibrated from {_e(cal.get('run'))}." if cal.get("run") else "")
        + "</p>"
    )


def _levels_table(levels: Sequence[Row], unit: str) -> str:
    rows = [
        [
            r.get("level"),
            r.get("concurrency"),
            r.get("n"),
            r.get("latency_p50_ms"),
            r.get("latency_p95_ms"),
            r.get("latency_p99_ms"),
            f"{(r.get('hangup_rate') or 0.0):.1%}",
            r.get("calls_lost", 0),
            "pass" if r.get("slo_passed") else r.get("slo_reason"),
        ]
        for r in levels
    ]
    head = [unit, "in call", "n", "P50 ms", "P95 ms", "P99 ms", "hang-ups", "calls lost", "SLO"]
    return "<h2>Levels</h2>" + _table(head, rows)


def _stages_table(stages: Row) -> str:
    rows = []
    for name, s in stages.items():
        pool = "unlimited" if s.get("servers") is None else f"{s['servers']}x{s['slots']}"
        util = s.get("utilisation")
        rows.append(
            [
                name,
                pool,
                s.get("balancer") or "–",
                s["wait_ms"].get("p50"),
                s["wait_ms"].get("p95"),
                s["service_ms"].get("p50"),
                s["service_ms"].get("p95"),
                "–" if util is None else f"{util:.0%}",
            ]
        )
    head = ["stage", "pool", "balancer", "wait P50", "wait P95", "svc P50", "svc P95", "util"]
    return (
        "<h2>Where the time went</h2>"
        '<p class="muted small">Per stage, ms. A P95 that is mostly wait says add instances '
        "(or cores: CPU contention counts as wait); mostly service says a faster stage.</p>"
        + _table(head, rows)
    )


def _plan_section(result: Row) -> str:
    dep = result.get("deployment") or {}
    found = ", ".join(f"{_e(k)}: {_e(v)}" for k, v in dep.items())
    calls, slo = result.get("calls"), (result.get("slo") or {}).get("latency_p95_ms")
    intro = (
        f"<p><b>Smallest deployment for {_e(calls)} calls at P95 ≤ {_n(slo, 0)} ms: {found}</b></p>"
        if result.get("met")
        else f"<p><b>No deployment found: {_e(result.get('reason'))}</b></p>"
    )
    steps = [
        [
            k,
            " ".join(f"{n}={c}" for n, c in s.get("deployment", {}).items()),
            s.get("latency_p95_ms"),
            f"{(s.get('hangup_rate') or 0.0):.1%}",
            "pass" if s.get("slo_passed") else "miss",
        ]
        for k, s in enumerate(result.get("steps") or [])
    ]
    comparison = [
        [
            f"{r.get('balancer')}{' (the file’s)' if r.get('file_choice') else ''}",
            r.get("scaling"),
            r.get("instances"),
            r.get("latency_p50_ms"),
            r.get("latency_p95_ms"),
            r.get("latency_p99_ms"),
            f"{(r.get('hangup_rate') or 0.0):.1%}",
            r.get("calls_lost"),
            "pass" if r.get("slo_passed") else r.get("slo_reason"),
        ]
        for r in result.get("comparison") or []
    ]
    head = ["balancer", "scaling", "instances (mean)", "P50 ms", "P95 ms", "P99 ms"]
    return (
        "<h2>Plan</h2>"
        + intro
        + (
            "<h3>Balancers and autoscaling at that size</h3>"
            + _table([*head, "hang-ups", "calls lost", "SLO"], comparison)
            if comparison
            else ""
        )
        + "<h3>Search</h3>"
        + _table(["step", "deployment", "P95 ms", "hang-ups", "SLO"], steps)
    )


def series_figures(series: Sequence[Row], slo: float | None) -> list[go.Figure]:
    """Latency, queue wait per stage, instances per stage, hang-ups/lost/crashes over time."""
    if not series:
        return []
    x = [r.get("at_s") for r in series]
    figures = []
    lat = go.Figure()
    for key, label in (("latency_p50_ms", "P50"), ("latency_p95_ms", "P95")):
        lat.add_trace(go.Scatter(x=x, y=[r.get(key) for r in series], name=label, mode="lines"))
    if slo is not None:
        lat.add_hline(y=slo, line={"dash": "dot", "color": "#c62828"}, annotation_text="SLO")
    layout(lat, "Voice-to-voice latency per time bucket", "virtual time (s)", "ms")
    figures.append(lat)
    figures.append(_per_stage(series, x, "wait_ms", "Mean queue wait per stage", "ms"))
    if any(r.get("instances") for r in series):
        figures.append(
            _per_stage(series, x, "instances", "Instances serving per stage", "instances")
        )
    events = go.Figure()
    for key, label in (("hangups", "hang-ups"), ("lost", "turns lost"), ("crashes", "crashes")):
        events.add_trace(go.Bar(x=x, y=[r.get(key, 0) for r in series], name=label))
    layout(events, "Hang-ups, lost turns and crashes per bucket", "virtual time (s)", "count")
    figures.append(events)
    return figures


def _per_stage(series: Sequence[Row], x: list[Any], key: str, title: str, unit: str) -> go.Figure:
    """One line per stage; a stage keeps its colour from figure to figure."""
    fig = go.Figure()
    every: list[str] = []
    for r in series:
        for k in ("wait_ms", "instances"):
            every += [n for n in (r.get(k) or {}) if n not in every]
    for name in every:
        y = [(r.get(key) or {}).get(name) for r in series]
        if all(v is None for v in y):
            continue
        colour = PALETTE[every.index(name) % len(PALETTE)]
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines", line={"color": colour}))
    layout(fig, title, "virtual time (s)", unit)
    return fig

"""Load curve: latency and errors against concurrency, with the breakpoint marked.

Rendered when the run directory has `load.jsonl` (written by load runs; rows
documented in docs/metrics.md, "Load runs"): one row per concurrency step,
    {"concurrency": 8, "n": 240, "latency_p50_ms": 410.2, "latency_p95_ms": 690.0,
     "error_rate": 0.004, "breakpoint": false}
The breakpoint is what the run judged: the first step a row marks with
`"breakpoint": true`, or none when the rows carry the field and none is
marked (simulator/load/result.py, the capacity search). Only rows without
the field (an older run directory) are judged here: the first step whose
error rate exceeds 1 % or whose P95 exceeds `p95_limit_ms` (the run's P95
SLO, when set).

A soak's rows (`"phase": "soak"`, one per time window at one concurrency)
are also drawn against time (`soak_figure`): latency and the agent's memory
per window, where drift and leaks show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from simulator.metrics.stats import as_number
from simulator.rows import LoadStepRow

ERROR_RATE_BREAK = 0.01


def steps(rows: Sequence[LoadStepRow]) -> list[LoadStepRow]:
    """Rows with a numeric concurrency, in increasing concurrency."""
    ok = [r for r in rows if as_number(r.get("concurrency")) is not None]
    return sorted(ok, key=lambda r: as_number(r.get("concurrency")) or 0.0)


def breakpoint_step(rows: Sequence[LoadStepRow], p95_limit_ms: float | None) -> LoadStepRow | None:
    """The step where the agent broke (see module doc), or None."""
    ordered = steps(rows)
    if any("breakpoint" in row for row in ordered):  # the run's own verdict
        return next((row for row in ordered if row.get("breakpoint") is True), None)
    for row in ordered:
        err = as_number(row.get("error_rate"))
        p95 = as_number(row.get("latency_p95_ms"))
        if (err is not None and err > ERROR_RATE_BREAK) or (
            p95 is not None and p95_limit_ms is not None and p95 > p95_limit_ms
        ):
            return row
    return None


def arrivals_note(rows: Sequence[LoadStepRow]) -> str:
    """How the run's callers joined (load.jsonl `arrivals_s`): spread out, as independent
    callers, or all at once, a synchronised burst (docs/load.md, "Arrivals"); "" if unknown."""
    spreads = [as_number(r.get("arrivals_s")) for r in rows if "arrivals_s" in r]
    known = [s for s in spreads if s is not None]
    if not known:
        return ""  # a run from before arrivals were recorded
    if max(known) == 0:
        return "New callers joined all at once (--stagger-s 0): their turns came in bursts."
    lo, hi = min(s for s in known if s > 0), max(known)
    span = f"{lo:.1f} s" if round(lo, 1) == round(hi, 1) else f"{lo:.1f}-{hi:.1f} s"
    return f"Each step's new callers joined spread over {span} (one call's length)."


def cooldown_note(rows: Sequence[LoadStepRow]) -> str:
    """Which levels started from an idle agent after a missed SLO (load.jsonl `cooled_s`,
    docs/load.md "Cool-down"); "" if none did."""
    cooled = [r for r in rows if as_number(r.get("cooled_s"))]
    if not cooled:
        return ""
    levels = ", ".join(str(r.get("concurrency")) for r in cooled)
    secs = [as_number(r.get("cooled_s")) or 0.0 for r in cooled]
    return (
        f"Levels measured after a missed SLO ({levels}) started from an idle agent "
        f"(no callers for {min(secs):.0f}-{max(secs):.0f} s first)."
    )


def load_figure(rows: Sequence[LoadStepRow], p95_limit_ms: float | None) -> go.Figure | None:
    """P50/P95 latency (left axis) and error rate (right axis) vs concurrency; None if no rows."""
    ordered = steps(rows)
    if not ordered:
        return None
    x = [as_number(r.get("concurrency")) for r in ordered]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    _add_latency(fig, x, ordered, "concurrency %{x}")
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[as_number(r.get("error_rate")) for r in ordered],
            name="error rate",
            mode="lines+markers",
            line={"color": "#c62828"},
            hovertemplate="concurrency %{x}: %{y:.1%} errors<extra></extra>",
        ),
        secondary_y=True,
    )
    brk = breakpoint_step(rows, p95_limit_ms)
    if brk is not None:
        fig.add_vline(
            x=as_number(brk.get("concurrency")),
            line={"dash": "dash", "color": "#c62828", "width": 2},
            annotation_text=f"breakpoint: {brk.get('concurrency')} concurrent calls",
            annotation_position="top left",
        )
    if p95_limit_ms is not None:
        fig.add_hline(
            y=p95_limit_ms,
            line={"dash": "dash", "color": "#888", "width": 1},
            annotation_text=f"P95 limit {p95_limit_ms:g} ms",
        )
    _style(fig, "Latency and errors vs concurrency", 360, "concurrent calls")
    fig.update_yaxes(
        title_text="error rate", tickformat=".0%", secondary_y=True, rangemode="tozero"
    )
    return fig


def _add_latency(fig: go.Figure, x: list[Any], rows: Sequence[LoadStepRow], at: str) -> None:
    """P50 (dotted) and P95 latency traces on the left axis, hover naming `at` and n."""
    for key, name, dash in (("latency_p50_ms", "P50", "dot"), ("latency_p95_ms", "P95", "solid")):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[as_number(r.get(key)) for r in rows],
                name=f"latency {name} (ms)",
                mode="lines+markers",
                line={"dash": dash, "color": "#4c72b0"},
                customdata=[r.get("n") for r in rows],
                hovertemplate=at + ": %{y:.1f} ms (n=%{customdata})<extra></extra>",
            ),
            secondary_y=False,
        )


def _style(fig: go.Figure, title: str, height: int, xaxis_title: str) -> None:
    """The load section's common layout; latency on the left axis from zero."""
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 60, "t": 44, "b": 48},
        legend={"orientation": "h", "y": -0.2},
        xaxis_title=xaxis_title,
        font={"family": "system-ui, sans-serif", "size": 12},
    )
    fig.update_yaxes(title_text="latency (ms)", secondary_y=False, rangemode="tozero")


def soak_windows(rows: Sequence[LoadStepRow]) -> list[LoadStepRow]:
    """Soak window rows with a start time, in time order."""
    ok = [r for r in rows if r.get("phase") == "soak" and as_number(r.get("started_s")) is not None]
    return sorted(ok, key=lambda r: as_number(r.get("started_s")) or 0.0)


def soak_figure(rows: Sequence[LoadStepRow]) -> go.Figure | None:
    """P50/P95 latency (left) and agent RSS (right) per soak window vs time; None if < 2."""
    windows = soak_windows(rows)
    if len(windows) < 2:
        return None
    x = [(as_number(r.get("started_s")) or 0.0) / 60.0 for r in windows]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    _add_latency(fig, x, windows, "%{x:.1f} min")
    rss = [as_number(r.get("agent_rss_mb")) for r in windows]
    if any(v is not None for v in rss):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=rss,
                name="agent RSS (MB)",
                mode="lines+markers",
                line={"color": "#2e7d32"},
                hovertemplate="%{x:.1f} min: %{y:.1f} MB<extra></extra>",
            ),
            secondary_y=True,
        )
    level = windows[0].get("concurrency")
    _style(fig, f"Soak at {level} concurrent calls", 340, "minutes into the soak (window start)")
    fig.update_yaxes(title_text="agent RSS (MB)", secondary_y=True, rangemode="tozero")
    return fig

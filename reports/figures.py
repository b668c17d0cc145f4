"""The report's plotly figures, built from turn rows, and how a page embeds them.

Every figure is computed from turns.jsonl rows that are also in the report's
tables, so each number can be traced back to the run directory. Hover text is
escaped: plotly renders it as HTML-like markup and agent text is untrusted.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from reports.stats import format_number
from simulator.metrics.stats import Summary, as_number, summary
from simulator.metrics.summary import is_caller_turn
from simulator.rows import TurnRow

#: Agent pipeline stages stacked in the waterfall, in pipeline order. Other
#: keys in `stages` may overlap these (totals, sub-spans), so they are not stacked.
STAGES: tuple[tuple[str, str], ...] = (
    ("endpoint_ms", "endpointing"),
    ("stt_ms", "STT"),
    ("llm_ttft_ms", "LLM first token"),
    ("tts_ms", "TTS first audio"),
)
STAGE_COLORS = ("#8da0cb", "#66c2a5", "#fc8d62", "#e78ac3")
REMAINDER_COLOR = "#bbbbbb"
PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")


def script_json(text: str) -> str:
    """Make JSON safe inside <script>: "<" only occurs in strings, where \\u003c is equal."""
    return text.replace("<", "\\u003c")


def figure_blocks(figures: Sequence[go.Figure], prefix: str) -> tuple[list[str], list[str]]:
    """Chart divs and their JSON blobs (rendered by BOOT_JS) for `figures`."""
    divs, blobs = [], []
    for n, fig in enumerate(figures):
        div_id = f"{prefix}-{n}"
        divs.append(f'<div class="chart" id="{div_id}"></div>')
        blobs.append(
            f'<script type="application/json" data-plot="{div_id}">'
            f"{script_json(fig.to_json())}</script>"
        )
    return divs, blobs


def layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> None:
    """The report's common figure layout: title, white template, 360 px high, legend below."""
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        template="plotly_white",
        height=360,
        margin={"l": 60, "r": 20, "t": 44, "b": 48},
        legend={"orientation": "h", "y": -0.18},
        xaxis_title=x_title,
        yaxis_title=y_title,
        font={"family": "system-ui, sans-serif", "size": 12},
    )


def hover_rows(points: Sequence[tuple[int, TurnRow]]) -> list[list[str]]:
    """Escaped per-point hover data: plotly renders hover text as HTML-like markup."""
    return [
        [
            html.escape(str(row.get("call_id"))),
            html.escape(str(row.get("turn"))),
            html.escape(str(row.get("caller_text") or "")[:80]),
        ]
        for _, row in points
    ]


HOVER = "#%{x} call %{customdata[0]} turn %{customdata[1]}<br>%{customdata[2]}<br>"


def latency_figures(
    ordered: Sequence[TurnRow], limits: dict[str, dict[str, float]]
) -> list[go.Figure]:
    """Latency per turn (bars, or markers past 300 turns) and its ECDF, coloured by scenario,
    with the P50/P95/P99 lines and each scenario's P95 limit (`limits`: scenario -> SLOs)."""
    points = [
        (i, row)
        for i, row in enumerate(ordered, start=1)
        if as_number(row.get("latency_ms")) is not None and is_caller_turn(row)
    ]
    if not points:
        return []
    overall = summary(as_number(row.get("latency_ms")) for _, row in points)
    scenarios = sorted({str(row.get("scenario")) for _, row in points})
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(scenarios)}
    p95_limits = sorted(
        {
            lim["latency_p95_ms"]
            for name, lim in limits.items()
            if "latency_p95_ms" in lim and name in scenarios
        }
    )
    return [
        _per_turn_figure(points, colors, overall, p95_limits),
        _ecdf_figure(points, colors, overall),
    ]


def _per_turn_figure(
    points: Sequence[tuple[int, TurnRow]],
    colors: dict[str, str],
    overall: Summary,
    p95_limits: Sequence[float],
) -> go.Figure:
    per_turn = go.Figure()
    for name, color in colors.items():
        mine = [(i, row) for i, row in points if str(row.get("scenario")) == name]
        trace_kw: dict[str, Any] = {
            "x": [i for i, _ in mine],
            "y": [as_number(row.get("latency_ms")) for _, row in mine],
            "name": html.escape(name),
            "customdata": hover_rows(mine),
            "hovertemplate": HOVER + "latency %{y:.1f} ms<extra></extra>",
            "marker": {"color": color},
        }
        if len(points) <= 300:
            per_turn.add_trace(go.Bar(**trace_kw))
        else:
            per_turn.add_trace(go.Scatter(mode="markers", **trace_kw))
    for label, value, dash in (("P50", overall["p50"], "dot"), ("P95", overall["p95"], "dash")):
        per_turn.add_hline(
            y=value,
            line={"dash": dash, "color": "#333", "width": 1},
            annotation_text=f"{label} {format_number(value)} ms (n={overall['n']})",
            annotation_position="top left",
        )
    for limit in p95_limits:
        per_turn.add_hline(
            y=limit,
            line={"dash": "dash", "color": "#c62828", "width": 1},
            annotation_text=f"P95 limit {format_number(limit)} ms",
            annotation_position="top right",
        )
    layout(per_turn, "Latency per turn", "turn # (see the Turns table)", "latency (ms)")
    per_turn.update_layout(bargap=0.15)
    return per_turn


def _ecdf_figure(
    points: Sequence[tuple[int, TurnRow]], colors: dict[str, str], overall: Summary
) -> go.Figure:
    ecdf = go.Figure()
    for name, color in colors.items():
        values = sorted(
            v
            for _, row in points
            if str(row.get("scenario")) == name
            for v in [as_number(row.get("latency_ms"))]
            if v is not None
        )
        n = len(values)
        ecdf.add_trace(
            go.Scatter(
                x=values,
                y=[(k + 1) / n for k in range(n)],
                mode="lines+markers" if n <= 50 else "lines",
                line={"shape": "hv", "color": color},
                marker={"size": 4},
                name=f"{html.escape(name)} (n={n})",
                hovertemplate="%{x:.1f} ms: %{y:.1%} of turns at or below<extra></extra>",
            )
        )
    for label, value in (("P50", overall["p50"]), ("P95", overall["p95"]), ("P99", overall["p99"])):
        ecdf.add_vline(
            x=value,
            line={"dash": "dot", "color": "#333", "width": 1},
            annotation_text=f"{label} {format_number(value)}",
            annotation_position="bottom right",
        )
    layout(ecdf, "Latency ECDF (share of turns at or below)", "latency (ms)", "share of turns")
    ecdf.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return ecdf


def stage_figure(ordered: Sequence[TurnRow]) -> go.Figure | None:
    """Agent stages stacked per turn with the unexplained remainder and the measured latency;
    None when no turn reports its stages."""
    points = [
        (i, row)
        for i, row in enumerate(ordered, start=1)
        if as_number(row.get("latency_ms")) is not None
        and isinstance(row.get("stages"), dict)
        and any(as_number(row["stages"].get(k)) is not None for k, _ in STAGES)
    ]
    if not points:
        return None
    xs = [i for i, _ in points]
    custom = hover_rows(points)
    fig = go.Figure()
    sums = [0.0] * len(points)
    for (key, label), color in zip(STAGES, STAGE_COLORS, strict=True):
        ys = [max(0.0, as_number(row["stages"].get(key)) or 0.0) for _, row in points]
        sums = [a + b for a, b in zip(sums, ys, strict=True)]
        fig.add_trace(
            go.Bar(
                x=xs,
                y=ys,
                name=label,
                marker={"color": color},
                customdata=custom,
                hovertemplate=HOVER + f"{label} %{{y:.1f}} ms<extra></extra>",
            )
        )
    latencies = [as_number(row.get("latency_ms")) or 0.0 for _, row in points]
    remainder = [max(0.0, lat - s) for lat, s in zip(latencies, sums, strict=True)]
    fig.add_trace(
        go.Bar(
            x=xs,
            y=remainder,
            name="unexplained remainder",
            marker={"color": REMAINDER_COLOR},
            customdata=custom,
            hovertemplate=HOVER + "unexplained %{y:.1f} ms<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=latencies,
            mode="markers",
            name="measured latency",
            marker={"symbol": "line-ew-open", "size": 16, "color": "#111", "line": {"width": 2}},
            customdata=custom,
            hovertemplate=HOVER + "measured %{y:.1f} ms<extra></extra>",
        )
    )
    layout(
        fig,
        "Where the time went: agent stages per turn (remainder = measured − stages, ≥ 0)",
        "turn # (see the Turns table)",
        "ms",
    )
    fig.update_layout(barmode="stack", bargap=0.15)
    return fig

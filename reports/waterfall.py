"""Per-turn latency waterfalls: where the time between "caller stopped" and "agent spoke" went.

Time zero of every turn is the ground-truth end of the caller's speech. The
caller's speech ends there; the agent's stages follow in pipeline order (from
turns.jsonl `stages`, or from spans.jsonl when the agent sent spans); what the
stages do not explain up to the measured onset is the *network/unexplained
remainder*, always drawn; the agent's speech starts at the measured latency.
The measured latency (from the audio) is the truth; the stages only explain it.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from reports.stats import format_number
from simulator.metrics.stats import as_number
from simulator.rows import CallRow, SpanRow, TurnRow
from simulator.tracing import turn_leaf_spans

#: (stages key, label, colour), in pipeline order
STAGES: tuple[tuple[str, str, str], ...] = (
    ("endpoint_ms", "endpointing", "#8da0cb"),
    ("stt_ms", "STT", "#66c2a5"),
    ("llm_ttft_ms", "LLM first token", "#fc8d62"),
    ("tts_ms", "TTS first audio", "#e78ac3"),
)
CALLER = ("caller speech", "#a9bfe0")
AGENT = ("agent speech", "#a5d6a7")
REMAINDER = ("network/unexplained", "#9e9e9e")
SPAN_COLORS = ("#8da0cb", "#66c2a5", "#fc8d62", "#e78ac3", "#a6d854", "#ffd92f", "#e5c494")
#: how much of each side's speech the waterfall shows around the gap (ms)
SHOW_CALLER_MS = 600.0
SHOW_AGENT_MS = 600.0


@dataclass(frozen=True)
class Segment:
    """One bar of a waterfall, in ms relative to the end of the caller's speech."""

    label: str
    start_ms: float
    end_ms: float
    color: str

    @property
    def ms(self) -> float:
        """Duration in ms."""
        return self.end_ms - self.start_ms


def _f(row: Mapping[str, Any], key: str) -> float | None:
    return as_number(row.get(key))


#: The agent's stage spans of each turn, by (call_id, turn): `spans_by_turn`.
TurnSpans = dict[tuple[str, int], list[SpanRow]]


def spans_by_turn(
    calls: Sequence[CallRow], turns: Sequence[TurnRow], spans: Sequence[SpanRow]
) -> TurnSpans:
    """Each turn's leaf agent spans, joined as the turn rows were (`tracing.turn_leaf_spans`:
    same trace, starting inside the turn), placed by the call's `wall_t0_ns`."""
    by_trace: dict[str, list[SpanRow]] = defaultdict(list)
    for span in spans:
        if span.get("source") == "agent" and span.get("trace_id"):
            by_trace[span["trace_id"]].append(span)
    by_call: dict[str, list[TurnRow]] = defaultdict(list)
    for row in turns:
        by_call[str(row.get("call_id"))].append(row)
    out: TurnSpans = {}
    for call in calls:
        call_id, t0 = str(call.get("call_id")), call.get("wall_t0_ns")
        mine = by_trace.get(str(call.get("trace_id")))
        rows = sorted(by_call.get(call_id, []), key=lambda r: r.get("turn", 0))
        if not mine or t0 is None or not rows:
            continue
        for row, leaves in zip(rows, turn_leaf_spans(rows, mine, int(t0)), strict=True):
            if leaves and row.get("turn") is not None:
                out[(call_id, row["turn"])] = leaves
    return out


def turn_segments(row: TurnRow, spans: TurnSpans | None = None) -> list[Segment]:
    """The waterfall of one turn; [] when the turn has no measured latency.

    With spans for the turn (`spans_by_turn`), they replace the `stages`
    dict: the first span is placed at the caller's speech end and the others
    keep their offsets from it (span clocks are the agent's, so only durations
    and order are trusted).
    """
    latency = _f(row, "latency_ms")
    if latency is None:
        return []
    segments: list[Segment] = []
    start, end = _f(row, "speech_start_s"), _f(row, "speech_end_s")
    if start is not None and end is not None and end > start:
        segments.append(Segment(CALLER[0], -1000 * (end - start), 0.0, CALLER[1]))
    leaves = (spans or {}).get((str(row.get("call_id")), row.get("turn", -1)), [])
    cursor = 0.0
    if leaves:
        t0 = leaves[0]["start_ns"]
        colors: dict[str, str] = {}
        for span in leaves:
            name = str(span.get("name") or "span")
            color = colors.setdefault(name, SPAN_COLORS[len(colors) % len(SPAN_COLORS)])
            s = (span["start_ns"] - t0) / 1e6
            e = (span["end_ns"] - t0) / 1e6
            segments.append(Segment(name, s, e, color))
            cursor = max(cursor, e)
    else:
        stages = row.get("stages") if isinstance(row.get("stages"), dict) else {}
        for key, label, color in STAGES:
            value = as_number(stages.get(key)) if stages else None
            if value is not None and value > 0:
                segments.append(Segment(label, cursor, cursor + value, color))
                cursor += value
    if latency > cursor:
        segments.append(Segment(REMAINDER[0], cursor, latency, REMAINDER[1]))
    onset, agent_end = _f(row, "agent_onset_s"), _f(row, "agent_end_s")
    speech = 1000 * (agent_end - onset) if onset is not None and agent_end is not None else 0.0
    segments.append(Segment(AGENT[0], latency, latency + max(speech, 1.0), AGENT[1]))
    return segments


def slowest(turns: Sequence[TurnRow], k: int) -> list[TurnRow]:
    """The k reply turns with the largest measured latency, slowest first."""
    said = [t for t in turns if t.get("kind", "say") == "say" and _f(t, "latency_ms") is not None]
    return sorted(said, key=lambda t: -(_f(t, "latency_ms") or 0.0))[:k]


def dominant_stage(
    turns: Sequence[TurnRow], spans: TurnSpans | None = None
) -> tuple[str, float, int, float] | None:
    """(label, mean share of latency, n, latency floor) over the slowest 10 % of reply turns.

    Caller and agent speech are not part of the latency and are left out; the
    remainder counts (it is often what dominates). None without stage data.
    """
    said = slowest(turns, len(turns))
    if not said:
        return None
    n = max(1, round(len(said) * 0.10))
    top = said[:n]
    shares: dict[str, float] = defaultdict(float)
    explained = 0
    for row in top:
        latency = _f(row, "latency_ms") or 0.0
        segs = [s for s in turn_segments(row, spans) if s.label not in (CALLER[0], AGENT[0])]
        if latency <= 0 or not any(s.label != REMAINDER[0] for s in segs):
            continue
        explained += 1
        for seg in segs:
            shares[seg.label] += min(seg.ms, latency) / latency
    if not explained:
        return None
    label, total = max(shares.items(), key=lambda kv: kv[1])
    return label, total / explained, n, _f(top[-1], "latency_ms") or 0.0


def turn_label(row: TurnRow) -> str:
    """Axis label of a turn: "call-000 t2 · 912 ms"."""
    return f"{row.get('call_id')} t{row.get('turn')} · {format_number(_f(row, 'latency_ms'))} ms"


def waterfall_figure(
    turns: Sequence[TurnRow],
    spans: TurnSpans | None = None,
    k: int = 10,
) -> go.Figure | None:
    """Horizontal waterfall of the k slowest turns (slowest on top); None without latencies."""
    rows = slowest(turns, k)
    if not rows:
        return None
    labels = [html.escape(turn_label(r)) for r in rows]
    by_label: dict[str, dict[str, list[Any]]] = {}
    colors: dict[str, str] = {}
    for row, y in zip(rows, labels, strict=True):
        for seg in turn_segments(row, spans):
            trace = by_label.setdefault(seg.label, {"y": [], "base": [], "x": [], "full": []})
            colors[seg.label] = seg.color
            shown_start = max(seg.start_ms, -SHOW_CALLER_MS)
            shown_end = seg.end_ms
            if seg.label == AGENT[0]:
                shown_end = min(seg.end_ms, seg.start_ms + SHOW_AGENT_MS)
            trace["y"].append(y)
            trace["base"].append(round(shown_start, 1))
            trace["x"].append(round(max(shown_end - shown_start, 0.5), 1))
            trace["full"].append([round(seg.start_ms, 1), round(seg.end_ms, 1), round(seg.ms, 1)])
    fig = go.Figure()
    for label, data in by_label.items():
        fig.add_trace(
            go.Bar(
                orientation="h",
                y=data["y"],
                x=data["x"],
                base=data["base"],
                name=html.escape(label),
                marker={"color": colors[label]},
                customdata=data["full"],
                hovertemplate=(
                    f"{html.escape(label)}: %{{customdata[2]:.1f}} ms<br>"
                    "from %{customdata[0]:.1f} to %{customdata[1]:.1f} ms<extra>%{y}</extra>"
                ),
            )
        )
    fig.add_vline(x=0, line={"color": "#111", "width": 1})
    fig.update_layout(
        title={
            "text": f"Waterfall of the {len(rows)} slowest turns "
            "(0 = caller stops speaking; speech clipped to 600 ms)",
            "x": 0.01,
            "font": {"size": 15},
        },
        template="plotly_white",
        barmode="overlay",
        height=140 + 30 * len(rows),
        margin={"l": 190, "r": 20, "t": 44, "b": 48},
        legend={"orientation": "h", "y": -0.12 - 2.0 / (len(rows) + 4)},
        xaxis_title="ms relative to the end of the caller's speech",
        yaxis={"autorange": "reversed"},
        font={"family": "system-ui, sans-serif", "size": 12},
    )
    return fig


def waterfall_html(
    row: TurnRow,
    spans: TurnSpans | None,
    scale_ms: float | None = None,
) -> str:
    """A no-JavaScript waterfall of one caller turn (positioned <span>s), or "".

    `scale_ms` (the run's largest latency) gives every turn the same scale, so
    a longer bar is a longer time across the whole report.
    """
    if row.get("kind", "say") != "say":
        return ""
    segs = turn_segments(row, spans)
    if not segs:
        return ""
    lo = -SHOW_CALLER_MS
    latency = max(s.start_ms for s in segs if s.label == AGENT[0])
    hi = max(latency, scale_ms or 0.0) + SHOW_AGENT_MS
    width = hi - lo
    bars = []
    for seg in segs:
        left = (max(seg.start_ms, lo) - lo) / width * 100
        right = (min(seg.end_ms, hi) - lo) / width * 100
        title = html.escape(f"{seg.label}: {format_number(seg.ms)} ms", quote=True)
        bars.append(
            f'<span class="seg" title="{title}" style="left:{left:.2f}%;'
            f'width:{max(right - left, 0.3):.2f}%;background:{seg.color}"></span>'
        )
    zero = (0 - lo) / width * 100
    legend = " · ".join(
        f'<span class="key" style="background:{s.color}"></span>{html.escape(s.label)} '
        f"{format_number(s.ms)}"
        for s in segs
        if s.label not in (CALLER[0], AGENT[0])
    )
    turn_id = html.escape(f"{row.get('call_id')}-{row.get('turn')}", quote=True)
    return (
        f'<div class="wf" data-turn="{turn_id}"><div class="track">{"".join(bars)}'
        f'<span class="zero" style="left:{zero:.2f}%"></span></div>'
        f'<div class="small muted">{legend} ms</div></div>'
    )

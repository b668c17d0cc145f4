"""Accent x noise: WER and latency per matrix cell, from calls' `matrix` values.

A scenario's `matrix` expands into calls; each call row carries the values it
ran with (e.g. {"caller.voice": "en-gb-scotland", "caller.noise.snr_db": 5}).
The accent axis is the first matrix key naming a voice or accent, the noise
axis the first naming noise or SNR. WER per cell is corpus WER (all word
edits over all reference words of the cell's turns), computed by
simulator.metrics.wer.aggregate, as the SLO verdict computes it.
Runs without such keys get no heatmap (the section is hidden).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from reports.stats import format_number
from simulator.metrics.stats import as_number, summary
from simulator.metrics.summary import reply_latencies
from simulator.metrics.wer import aggregate
from simulator.rows import CallRow, TurnRow

#: a cell's matrix values, (key, value label) per matrix key
Values = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Cell:
    """One matrix cell: its values, corpus WER over its caller turns, their latencies."""

    values: Values
    wer: float | None  # None without reference words
    words: int  # reference words scored
    turns: int  # caller turns scored for WER
    latencies: tuple[float, ...]  # measured latencies of the cell's caller turns

    @property
    def accent(self) -> str:
        """The first axis' value (the heatmap's row)."""
        return self.values[0][1]

    @property
    def noise(self) -> str:
        """The second axis' value (the heatmap's column)."""
        return self.values[1][1]

    @property
    def replies(self) -> int:
        """Caller turns the agent answered (a turn with no reply scores every word lost)."""
        return len(self.latencies)


def group_cells(
    turns: Sequence[TurnRow],
    cell_of: Callable[[TurnRow], Values | None],
    order: Iterable[Values] = (),
) -> list[Cell]:
    """The cells `cell_of` puts turns in (None leaves a turn out), each with its corpus WER
    (simulator.metrics.wer.aggregate, as the SLO verdict) and latencies; the cells in
    `order` first, even without turns, then in order of first appearance."""
    grouped: dict[Values, list[TurnRow]] = {key: [] for key in order}
    for row in turns:
        key = cell_of(row)
        if key is not None:
            grouped.setdefault(key, []).append(row)
    out = []
    for key, rows in grouped.items():
        corpus = aggregate(rows, "wer")
        out.append(
            Cell(
                key,
                as_number(corpus["wer"]),
                int(corpus["ref_words"] or 0),
                int(corpus["n"] or 0),
                tuple(reply_latencies(rows)),
            )
        )
    return out


def _axis_key(keys: Sequence[str], needles: tuple[str, ...]) -> str | None:
    for key in keys:
        if any(n in key.lower() for n in needles):
            return key
    return None


def _matrix_of(row: Mapping[str, Any], by_call: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    own = row.get("matrix")
    if isinstance(own, dict) and own:
        return own
    return dict(by_call.get(str(row.get("call_id")), {}))


def axes(calls: Sequence[CallRow], turns: Sequence[TurnRow]) -> tuple[str, str] | None:
    """(accent key, noise key) found in the run's matrix values; None without either."""
    keys: list[str] = []
    for row in (*calls, *turns):
        m = row.get("matrix")
        if isinstance(m, dict):
            keys += [str(k) for k in m if str(k) not in keys]
    accent = _axis_key(keys, ("voice", "accent"))
    noise = _axis_key(keys, ("noise", "snr"))
    if accent is None and noise is None:
        return None
    return accent or "(accent)", noise or "(noise)"


def cells(calls: Sequence[CallRow], turns: Sequence[TurnRow]) -> list[Cell]:
    """Every accent x noise cell with its WER counts and latencies; [] without matrix axes."""
    found = axes(calls, turns)
    if found is None:
        return []
    accent_key, noise_key = found
    by_call = {
        str(c.get("call_id")): c["matrix"] for c in calls if isinstance(c.get("matrix"), dict)
    }

    def cell_of(row: TurnRow) -> Values | None:
        if row.get("kind", "say") != "say":
            return None
        m = _matrix_of(row, by_call)
        return ((accent_key, str(m.get(accent_key, "—"))), (noise_key, str(m.get(noise_key, "—"))))

    return sorted(group_cells(turns, cell_of), key=lambda c: (c.accent, c.noise))


def _sort_key(value: str) -> tuple[int, float, str]:
    number = None
    try:
        number = float(value)
    except ValueError:
        pass
    return (0, -number, "") if number is not None else (1, 0.0, value)


def heatmap_figure(cs: Sequence[Cell], axis_names: tuple[str, str]) -> go.Figure | None:
    """WER heatmap, accents as rows, noise as columns (cleanest first); None without WER."""
    if not any(c.wer is not None for c in cs):
        return None
    accents = sorted({c.accent for c in cs})
    noises = sorted({c.noise for c in cs}, key=_sort_key)
    lookup = {(c.accent, c.noise): c for c in cs}
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    for a in accents:
        z_row, t_row = [], []
        for n in noises:
            cell = lookup.get((a, n))
            wer = cell.wer if cell else None
            z_row.append(None if wer is None else round(wer * 100, 1))
            words = cell.words if cell else 0
            t_row.append("—" if wer is None else f"{wer * 100:.1f}%<br>{words} words")
        z.append(z_row)
        text.append(t_row)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[html.escape(n) for n in noises],
            y=[html.escape(a) for a in accents],
            text=text,
            texttemplate="%{text}",
            colorscale="Reds",
            zmin=0,
            colorbar={"title": {"text": "WER %"}},
            hovertemplate="%{y} × %{x}: WER %{z:.1f}%<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": "Agent STT WER by accent × noise", "x": 0.01, "font": {"size": 15}},
        template="plotly_white",
        height=160 + 44 * len(accents),
        margin={"l": 140, "r": 20, "t": 44, "b": 48},
        xaxis_title=html.escape(axis_names[1]),
        yaxis_title=html.escape(axis_names[0]),
        xaxis={"type": "category"},
        yaxis={"type": "category", "autorange": "reversed"},
        font={"family": "system-ui, sans-serif", "size": 12},
    )
    return fig


def worst_cells(cs: Sequence[Cell], k: int = 3) -> list[Cell]:
    """The k cells with the highest WER (ties: more words first)."""
    scored = [c for c in cs if c.wer is not None]
    return sorted(scored, key=lambda c: (-(c.wer or 0.0), -c.words))[:k]


def cells_table(cs: Sequence[Cell], axis_names: tuple[str, str]) -> str:
    """Plain-HTML table of every cell, worst WER first: WER, words, latency n/P50/P95."""
    rows = []
    for c in sorted(cs, key=lambda c: (-(c.wer if c.wer is not None else -1), c.accent)):
        s = summary(c.latencies)
        wer = "—" if c.wer is None else f"{c.wer * 100:.1f}%"
        rows.append(
            f"<tr><td>{html.escape(c.accent)}</td><td>{html.escape(c.noise)}</td>"
            f'<td class="num">{wer}</td><td class="num">{c.words}</td>'
            f'<td class="num">{s["n"]}</td><td class="num">{format_number(s["p50"])}</td>'
            f'<td class="num">{format_number(s["p95"])}</td></tr>'
        )
    a, n = (html.escape(x) for x in axis_names)
    return (
        f'<table><thead><tr><th>{a}</th><th>{n}</th><th class="num">WER</th>'
        '<th class="num">ref words</th><th class="num">turns n</th>'
        '<th class="num">P50 ms</th><th class="num">P95 ms</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )

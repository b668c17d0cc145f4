"""WER per matrix cell (e.g. accent x noise x SNR): a table and a heatmap.

Cells are the distinct `matrix` values of a run's calls; a cell's WER is
corpus WER over its `say` turns (total errors / total reference words, each
turn already scored with voxsim's normalisation), with n turns and words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go


@dataclass(frozen=True)
class Cell:
    """One matrix cell's WER and how much data it rests on."""

    values: tuple[tuple[str, str], ...]
    wer: float | None
    turns: int
    words: int
    replies: int = 0  # turns the agent answered (a turn with no reply scores every word lost)


def label(value: Any) -> str:
    """A short text for a matrix value (mappings as k=v,...)."""
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def wer_cells(calls: Sequence[dict[str, Any]], turns: Sequence[dict[str, Any]]) -> list[Cell]:
    """Corpus WER of every matrix cell, in the order the cells first appear."""
    cell_of: dict[str, tuple[tuple[str, str], ...]] = {}
    for call in calls:
        matrix = call.get("matrix") or {}
        cell_of[str(call.get("call_id"))] = tuple((k, label(v)) for k, v in matrix.items())
    sums: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for key in cell_of.values():
        sums.setdefault(key, [0, 0, 0, 0])
    for row in turns:
        found = cell_of.get(str(row.get("call_id")))
        if found is None or row.get("kind") != "say" or row.get("wer") is None:
            continue
        errors = int(row.get("wer_subs", 0)) + int(row.get("wer_dels", 0))
        errors += int(row.get("wer_ins", 0))
        acc = sums[found]
        acc[0] += errors
        acc[1] += int(row.get("wer_ref_words") or 0)
        acc[2] += 1
        acc[3] += row.get("latency_ms") is not None
    return [Cell(key, (e / w) if w else None, n, w, r) for key, (e, w, n, r) in sums.items()]


def markdown_table(cells: Sequence[Cell]) -> str:
    """The cells as a Markdown table (one column per matrix key)."""
    if not cells:
        return ""
    keys = [k for k, _ in cells[0].values]
    head = "| " + " | ".join([*keys, "WER", "n turns", "words", "replies"]) + " |"
    rule = "|" + "---|" * (len(keys) + 4)
    rows = []
    for c in cells:
        wer = "-" if c.wer is None else f"{c.wer:.1%}"
        row = [*(v for _, v in c.values), wer, str(c.turns), str(c.words), str(c.replies)]
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join([head, rule, *rows])


def heatmap(cells: Sequence[Cell]) -> go.Figure | None:
    """Rows: the first matrix key; columns: the other keys combined. None without a matrix."""
    if len(cells) < 2 or not cells[0].values:
        return None
    rows: list[str] = []
    cols: list[str] = []
    for c in cells:
        r, col = c.values[0][1], " / ".join(v for _, v in c.values[1:]) or "all"
        rows += [r] if r not in rows else []
        cols += [col] if col not in cols else []
    z: list[list[float | None]] = [[None] * len(cols) for _ in rows]
    text: list[list[str]] = [[""] * len(cols) for _ in rows]
    for c in cells:
        i = rows.index(c.values[0][1])
        j = cols.index(" / ".join(v for _, v in c.values[1:]) or "all")
        z[i][j] = None if c.wer is None else round(100 * c.wer, 1)
        text[i][j] = "-" if c.wer is None else f"{100 * c.wer:.0f}% (n={c.turns})"
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=cols,
            y=rows,
            text=text,
            texttemplate="%{text}",
            colorscale="Reds",
            zmin=0,
            zmax=100,
            colorbar={"title": "WER %"},
        )
    )
    keys = [k for k, _ in cells[0].values]
    fig.update_layout(
        title="WER of the agent's STT per matrix cell",
        xaxis_title=" / ".join(keys[1:]) or "",
        yaxis_title=keys[0],
        template="plotly_white",
        height=140 + 40 * len(rows),
    )
    return fig


def matrix_section(
    calls: Sequence[dict[str, Any]], turns: Sequence[dict[str, Any]]
) -> tuple[str, str]:
    """(HTML, JSON script block) of the WER-by-cell heatmap; empty without a matrix."""
    fig = heatmap(wer_cells(calls, turns))
    if fig is None:
        return "", ""
    from reports.html import _script_json

    div = '<h2>WER by matrix cell</h2><div class="chart" id="fig-matrix"></div>'
    blob = (
        '<script type="application/json" data-plot="fig-matrix">'
        f"{_script_json(fig.to_json())}</script>"
    )
    return div, blob

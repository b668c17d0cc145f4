"""WER per matrix cell over every matrix key (accent x noise x SNR x channel): a table.

The report's two-axis heatmap is reports/matrix.py; this n-dimensional table
is what benchmarks/accents_x_noise.py prints into BENCHMARKS.md.

Cells are the distinct `matrix` values of a run's calls; a cell's WER is
corpus WER over its `say` turns (total errors / total reference words, each
turn already scored with voxsim's normalisation), with n turns and words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


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

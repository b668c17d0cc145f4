"""WER per matrix cell over every matrix key (accent x noise x SNR x channel): a table.

The report's two-axis heatmap is reports/matrix.py; this n-dimensional table
is what benchmarks/accents_x_noise.py prints into BENCHMARKS.md.

Cells are the distinct `matrix` values of a run's calls; a cell's WER is
corpus WER over its `say` turns (total errors / total reference words, each
turn already scored with voxsim's normalisation), with n turns and words:
the same `Cell` and the same computation as the heatmap's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reports.matrix import Cell, Values, group_cells
from simulator.rows import CallRow, TurnRow


def label(value: Any) -> str:
    """A short text for a matrix value (mappings as k=v,...)."""
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def wer_cells(calls: Sequence[CallRow], turns: Sequence[TurnRow]) -> list[Cell]:
    """Corpus WER of every matrix cell, in the order the cells first appear."""
    cell_of_call: dict[str, Values] = {}
    for call in calls:
        matrix = call.get("matrix") or {}
        cell_of_call[str(call.get("call_id"))] = tuple((k, label(v)) for k, v in matrix.items())

    def cell_of(row: TurnRow) -> Values | None:
        if row.get("kind") != "say" or row.get("wer") is None:
            return None
        return cell_of_call.get(str(row.get("call_id")))

    return group_cells(turns, cell_of, cell_of_call.values())


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

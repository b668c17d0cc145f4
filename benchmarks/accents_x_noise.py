"""Benchmark: WER of the bundled agent's STT by accent x noise kind x SNR x channel.

Runs `voxsim run scenarios/accents_x_noise.yaml` (the bundled pipeline agent,
one call per matrix cell) unless --run-dir points at a finished run, then
prints one Markdown row per cell (corpus WER, n turns, words) and writes
benchmarks/results/accents_x_noise.json.

    .venv/bin/python benchmarks/accents_x_noise.py [--run-dir runs/accents]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.rundir import RunData


@dataclass(frozen=True)
class Cell:
    """One matrix cell's WER and how much data it rests on."""

    values: tuple[tuple[str, str], ...]
    wer: float | None
    turns: int
    words: int


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
        sums.setdefault(key, [0, 0, 0])
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
    return [Cell(key, (e / w) if w else None, n, w) for key, (e, w, n) in sums.items()]


def markdown_table(cells: Sequence[Cell]) -> str:
    """The cells as a Markdown table (one column per matrix key)."""
    if not cells:
        return ""
    keys = [k for k, _ in cells[0].values]
    head = "| " + " | ".join([*keys, "WER", "n turns", "words"]) + " |"
    rule = "|" + "---|" * (len(keys) + 3)
    rows = []
    for c in cells:
        wer = "-" if c.wer is None else f"{c.wer:.1%}"
        rows.append(
            "| " + " | ".join([*(v for _, v in c.values), wer, str(c.turns), str(c.words)]) + " |"
        )
    return "\n".join([head, rule, *rows])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", type=Path, default=None, help="reuse a finished run")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/accents_x_noise.json"))
    args = ap.parse_args()
    run_dir = args.run_dir
    if run_dir is None:
        run_dir = Path("runs/bench-accents-x-noise")
        cmd = [sys.executable, "-m", "simulator.cli", "run", "scenarios/accents_x_noise.yaml"]
        subprocess.run([*cmd, "--out", str(run_dir)], check=False)
    data = RunData.load(run_dir)
    cells = wer_cells(data.calls, data.turns)
    print(markdown_table(cells))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {"cell": dict(c.values), "wer": c.wer, "turns": c.turns, "words": c.words} for c in cells
    ]
    args.out.write_text(json.dumps({"run_dir": str(run_dir), "cells": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()

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
from pathlib import Path

from reports.matrix_wer import markdown_table, wer_cells
from reports.rundir import RunData


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

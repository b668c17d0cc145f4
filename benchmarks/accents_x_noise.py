"""Benchmark: WER of the bundled agent's STT by accent x noise kind x SNR x channel.

Runs `voxsim run scenarios/accents_x_noise.yaml` (the bundled pipeline agent,
one call per matrix cell) unless --run-dir points at a finished run, then
prints one Markdown row per cell (corpus WER, n turns, words) and writes
benchmarks/results/accents_x_noise.json.

    .venv/bin/python benchmarks/accents_x_noise.py [--continuous] [--run-dir runs/accents]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from reports.matrix_wer import markdown_table, wer_cells
from reports.rundir import RunData


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-dir", type=Path, default=None, help="reuse a finished run")
    ap.add_argument(
        "--continuous", action="store_true", help="noise also between turns (the default in voxsim)"
    )
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/accents_x_noise.json"))
    args = ap.parse_args()
    run_dir = args.run_dir
    if run_dir is None:
        scenario = Path("scenarios/accents_x_noise.yaml")
        run_dir = Path("runs/bench-accents-x-noise")
        if args.continuous:
            text = scenario.read_text().replace("continuous: false", "continuous: true")
            scenario = Path(tempfile.mkdtemp()) / "accents_x_noise.yaml"
            scenario.write_text(text)
            run_dir = Path("runs/bench-accents-x-noise-continuous")
        cmd = [sys.executable, "-m", "simulator.cli", "run", str(scenario)]
        subprocess.run([*cmd, "--out", str(run_dir)], check=False)
    data = RunData.load(run_dir)
    cells = wer_cells(data.calls, data.turns)
    print(markdown_table(cells))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "cell": dict(c.values),
            "wer": c.wer,
            "turns": c.turns,
            "words": c.words,
            "replies": c.replies,
        }
        for c in cells
    ]
    args.out.write_text(json.dumps({"run_dir": str(run_dir), "cells": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()

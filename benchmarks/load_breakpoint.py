"""Benchmark: the bundled pipeline agent's breakpoint (P95 800 ms) on this machine.

Runs `voxsim load scenarios/load.yaml --profile breakpoint` (start 1, x2 per
step, then bisection) through the same code as the CLI, and prints one
markdown row per step: n turns, calls, P50/P95 latency, error rate, and the
load generator's own lateness (the worst frame-send delay per call: max over
the step's calls and the median call), so a reader can tell when the
generator, not the agent, was the limit. Appends the run to
benchmarks/results/load_breakpoint.json.

    .venv/bin/python benchmarks/load_breakpoint.py [--workers 0] [--step-s 30] [--max 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from reports.rundir import read_jsonl
from simulator.load.config import LoadConfig
from simulator.load.run import run_load


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="scenarios/load.yaml")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--step-s", type=float, default=30.0)
    ap.add_argument("--settle-s", type=float, default=5.0)
    ap.add_argument("--start", type=int, default=1)
    ap.add_argument("--max", type=int, default=32)
    ap.add_argument("--p95-ms", type=float, default=800.0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--results", type=Path, default=Path("benchmarks/results/load_breakpoint.json"))
    args = ap.parse_args()

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = args.out or Path("runs") / f"bench-breakpoint-w{args.workers}-{stamp}"
    cfg = LoadConfig(
        scenario=args.scenario,
        out_dir=str(out),
        profile="breakpoint",
        start=args.start,
        max_concurrency=args.max,
        step_s=args.step_s,
        settle_s=args.settle_s,
        p95_limit_ms=args.p95_ms,
        workers=args.workers,
    )
    outcome = asyncio.run(run_load(cfg))
    rows = read_jsonl(out / "load.jsonl")
    machine = f"{platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}"
    print(f"machine: {machine}; workers: {args.workers}; out: {out}")
    print(
        "| step | calls at once | n turns | calls | P50 ms | P95 ms | errors | "
        "lateness max / median call ms | saturated | SLO |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['step']} {r['phase']} | {r['concurrency']} | {r['n']} | {r['calls']} | "
            f"{r['latency_p50_ms']} | {r['latency_p95_ms']} | {r['error_rate']} | "
            f"{r['generator_lateness_ms']} / {r['generator_lateness_p50_ms']} | "
            f"{'yes' if r['generator_saturated'] else 'no'} | "
            f"{'pass' if r['slo_passed'] else r['slo_reason']} |"
        )
    s = outcome.summary
    print(f"last passing: {s['last_passing']}, breakpoint: {s['breakpoint']}")
    record = {
        "date": stamp,
        "machine": machine,
        "workers": args.workers,
        "step_s": args.step_s,
        "last_passing": s["last_passing"],
        "breakpoint": s["breakpoint"],
        "rows": rows,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(args.results.read_text()) if args.results.exists() else []
    args.results.write_text(json.dumps([*history, record], indent=1))


if __name__ == "__main__":
    main()

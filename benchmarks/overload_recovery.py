"""Benchmark: does the bundled agent come back after an overload without being left idle?

One bundled agent (a fleet of 1 behind HAProxy, as capacity_vs_measured.py's
breakpoint runs), scenarios/load.yaml's callers under `voxsim load --profile ramp`:

1. fresh: LEVEL callers for two steps (the agent starts idle);
2. straight after an overload: OVER callers for one step, then LEVEL for three
   steps in the same run (callers above LEVEL stop, the rest go on calling);
3. after an idle gap: OVER for one step, the run ends, GAP_S without calls, then
   a new run at LEVEL for two steps (callers join spread over a call again).

Per step: P50/P95 of the caller turns' voice-to-voice latency, the agent
process's cores (/proc), its threads. An agent that holds LEVEL fresh and after
the gap but not straight after the overload is metastable: the overload leaves
it in a slower state that the same load then keeps it in (voxsim load's
breakpoint search cools down after a missed SLO because of this: docs/load.md).
The box is shared: run it alone.

    .venv/bin/python benchmarks/overload_recovery.py [--level 33] [--over 64] [--gap-s 20]
        [--step-s 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from capacity_vs_measured import CpuSeries

from reference_agent.fleet import Fleet
from reports.rundir import read_jsonl
from simulator.load.config import LoadConfig
from simulator.load.run import run_load


def threads(pid: int | None) -> int | None:
    """The process's thread count (Linux /proc); None when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


async def count_threads(pid: int | None, counts: list[tuple[float, int | None]]) -> None:
    """Append (time, threads) every second until cancelled."""
    while True:
        counts.append((time.time(), threads(pid)))
        await asyncio.sleep(1.0)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--level", type=int, default=33)
    ap.add_argument("--over", type=int, default=64)
    ap.add_argument("--gap-s", type=float, default=20.0)
    ap.add_argument("--step-s", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/overload_recovery.json"))
    args = ap.parse_args()
    base = Path("runs") / f"bench-overload-recovery-{time.strftime('%Y%m%d-%H%M%S')}"
    cases = [
        ("fresh", [[args.level] * 2]),
        ("after overload", [[args.over] + [args.level] * 3]),
        (f"after {args.gap_s:g} s idle", [[args.over], [args.level] * 2]),
    ]
    results: list[dict[str, Any]] = []
    print("| case | step | callers | P50 ms | P95 ms | agent cores | threads |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, runs in cases:
        fleet = Fleet(1, balancer="least-conn")  # a fresh agent per case
        url = await fleet.start()
        pid = fleet.instances[0].pid
        cpu = CpuSeries()
        counts: list[tuple[float, int | None]] = []

        samplers = [
            asyncio.ensure_future(cpu.sample([pid])),
            asyncio.ensure_future(count_threads(pid, counts)),
        ]
        step = 0
        try:
            for i, levels in enumerate(runs):
                if i:
                    await asyncio.sleep(args.gap_s)
                out = base / f"{name.replace(' ', '-')}-{i}"
                cfg = LoadConfig(
                    scenario="scenarios/load.yaml",
                    out_dir=str(out),
                    profile="ramp",
                    levels=levels,
                    step_s=args.step_s,
                    p95_limit_ms=800.0,
                )
                await run_load(cfg, agent=url)
                for r in read_jsonl(out / "load.jsonl"):
                    w = r["window"]
                    n = [c for t, c in counts if w[0] <= t <= w[1] and c is not None]
                    row = {
                        "case": name,
                        "step": step,
                        "callers": r["concurrency"],
                        "p50_ms": r.get("latency_p50_ms"),
                        "p95_ms": r.get("latency_p95_ms"),
                        "agent_cores": (cpu.cores(*w) or [None])[0],
                        "threads": [min(n), max(n)] if n else None,
                    }
                    results.append(row)
                    step += 1
                    print(
                        f"| {name} | {row['step']} | {row['callers']} | {row['p50_ms']} | "
                        f"{row['p95_ms']} | {row['agent_cores']} | {row['threads']} |",
                        flush=True,
                    )
        finally:
            for s in samplers:
                s.cancel()
            await fleet.close()
    args.out.write_text(
        json.dumps({"args": vars(args) | {"out": str(args.out)}, "steps": results}, indent=1)
    )
    print(f"wrote {args.out} (runs under {base})")


if __name__ == "__main__":
    asyncio.run(main())

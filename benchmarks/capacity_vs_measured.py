"""Benchmark: the capacity simulator's prediction against a measured run of the bundled agent.

1. One call of --cal-turns caller turns against the bundled pipeline agent
   (its own process, loopback WebSocket): its turns become the simulator's
   service times (`voxsim capacity --from-run`, simulator/capacity/calibrate.py).
2. C calls of --turns turns at once (benchmarks/concurrency.py's measurement)
   for each C in --levels: measured P50/P95.
3. The simulator at C callers, the agent modelled as one process (every
   stage a pool of 1 server x 1 slot), callers starting together as in (2).

The gap is what the model leaves out: the agent and the simulated callers
share this machine's 2 cores (CPU contention between stages and with the
load generator), which no queue of the model represents.

    .venv/bin/python benchmarks/capacity_vs_measured.py [--levels 1 4] [--turns 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from concurrency import level, scenario_text

from reference_agent.bundle import AgentProcess
from simulator.capacity.calibrate import apply, measure
from simulator.capacity.config import parse_capacity
from simulator.capacity.engine import simulate
from simulator.capacity.summary import summarise
from simulator.runner import run_call
from simulator.scenario import parse_scenario
from simulator.transports.websocket import WebSocketTransport

ONE_PROCESS = """\
name: bundled-agent-one-process
seed: 1
traffic: {callers: 1, turns_per_call: %d, ramp_s: 0,
          speak_ms: {dist: fixed, ms: 1}, listen_ms: {dist: fixed, ms: 1}}
stages:
  - {name: endpoint, service_ms: {dist: fixed, ms: 1}}
  - {name: stt, servers: 1, service_ms: {dist: fixed, ms: 1}}
  - {name: llm, servers: 1, service_ms: {dist: fixed, ms: 1}}
  - {name: tool, servers: 1, service_ms: {dist: fixed, ms: 1}}
  - {name: tts, servers: 1, service_ms: {dist: fixed, ms: 1}}
  - {name: network, service_ms: {dist: fixed, ms: 1}}
slo: {latency_p95_ms: 800}
window: {warmup_s: 0, duration_s: 3600}
"""


async def calibration_run(url: str, turns: int, out: Path) -> Path:
    """One call; its caller turns written as turns.jsonl (as `voxsim run` writes them)."""
    row = await run_call(parse_scenario(scenario_text(turns, 11)), WebSocketTransport(url), "cal")
    return write_turns(out, row["turns"])


def write_turns(out: Path, turns: list[dict[str, Any]]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "turns.jsonl").write_text("".join(json.dumps(t) + "\n" for t in turns))
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--turns", type=int, default=6)
    ap.add_argument("--cal-turns", type=int, default=24)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/capacity.json"))
    args = ap.parse_args()

    agent = AgentProcess("pipeline", [])
    url = await agent.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cal = measure(await calibration_run(url, args.cal_turns, Path(tmp)))
        measured = [await level(url, c, args.turns) for c in args.levels]
    finally:
        await agent.stop()
    cfg, notes = apply(parse_capacity(ONE_PROCESS % args.turns), cal)
    results: list[dict[str, Any]] = []
    for m in measured:
        t0 = time.process_time()
        p = summarise(simulate(cfg, float(m["calls"])), cfg)
        cpu = time.process_time() - t0
        results.append({"measured": m, "predicted": p, "cpu_s": round(cpu, 3)})
        print(
            f"| {m['calls']} | {m['n']} | {m['p50_ms']:.0f} | {m['p95_ms']:.0f} | "
            f"{p['n']} | {p['latency_p50_ms']:.0f} | {p['latency_p95_ms']:.0f} | "
            f"{p['latency_p95_ms'] - m['p95_ms']:+.0f} | {cpu:.2f} |"
        )
    args.out.write_text(json.dumps({"calibration": notes, "levels": results}, indent=1))


if __name__ == "__main__":
    asyncio.run(main())

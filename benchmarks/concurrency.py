"""Benchmark: V2V latency of the bundled pipeline agent at 1, 4, 16 concurrent calls.

The agent runs in its own process (as `voxsim run` starts it, with its tools
on SQLite); C calls of T turns each run at once over loopback WebSocket from
this process. Prints, per concurrency, P50/P95/P99 with n and the median of
each stage the agent reports per reply (the same figures its OpenTelemetry
spans carry: vad.endpoint_ms, stt, llm.ttft_ms, tool, tts time to first
audio), and the first concurrency whose P95 passes 800 ms. Writes
benchmarks/results/concurrency.json. With a real LLM (`--agent-args "--llm
smollm2"`) the LLM columns matter: time to first token and to the first
whole sentence (what TTS waits for), with their P95 as load queues calls on
the one model.

    .venv/bin/python benchmarks/concurrency.py [--levels 1 4 16] [--turns 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from reference_agent.bundle import AgentProcess
from simulator.runner import run_call
from simulator.scenario import parse_scenario
from simulator.transports.websocket import WebSocketTransport

STAGES = ("endpoint_ms", "stt_ms", "llm_ttft_ms", "llm_sentence_ms", "tool_ms", "tts_ms")
PHRASES = [
    "where is my order one two three four",
    "i would like to book an appointment for tuesday at three pm",
    "make it wednesday instead",
    "can i get a refund for my order",
    "what time is my appointment",
    "thank you",
]


def scenario_text(turns: int, seed: int) -> str:
    lines = "\n".join(f'  - say: "{PHRASES[i % len(PHRASES)]}"' for i in range(turns))
    return f"name: bench-conc\nseed: {seed}\nturns:\n  - wait: true\n{lines}\n"


async def level(url: str, calls: int, turns: int) -> dict[str, Any]:
    scenario = parse_scenario(scenario_text(turns, 11))
    rows = await asyncio.gather(
        *(run_call(scenario, WebSocketTransport(url), f"c{calls}-{i:03d}") for i in range(calls))
    )
    said = [
        t
        for row in rows
        for t in row["turns"]
        if t["kind"] == "say" and t["latency_ms"] is not None
    ]
    lat = [t["latency_ms"] for t in said]
    return {
        "calls": calls,
        "n": len(lat),
        "failed_calls": sum(1 for r in rows if r["status"] != "ok"),
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)),
        "stage_medians_ms": {
            s: statistics.median([t["stages"].get(s, 0.0) for t in said]) for s in STAGES
        },
        "stage_p95_ms": {
            s: float(np.percentile([t["stages"].get(s, 0.0) for t in said], 95)) for s in STAGES
        },
        "max_send_lateness_ms": max(r["max_send_lateness_ms"] for r in rows),
        # Per reply of the call (1st, 2nd, ...): how TTFT moves as the context grows.
        "llm_ttft_ms_by_turn": [
            statistics.median(t["stages"].get("llm_ttft_ms", 0.0) for t in said if t["turn"] == k)
            for k in sorted({t["turn"] for t in said})
        ],
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--turns", type=int, default=6)
    ap.add_argument("--agent-args", default="", help="extra `voxsim agent serve` flags")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/concurrency.json"))
    args = ap.parse_args()

    agent = AgentProcess("pipeline", args.agent_args.split())
    url = await agent.start()
    results = []
    try:
        for calls in args.levels:
            results.append(await level(url, calls, args.turns))
    finally:
        await agent.stop()
    machine = f"{platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    run = {"machine": machine, "agent_args": args.agent_args, "levels": results}
    args.out.write_text(json.dumps(run, indent=1))
    for r in results:
        st = r["stage_medians_ms"]
        print(
            f"| {r['calls']} | {r['n']} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | "
            f"{r['p99_ms']:.0f} | " + " | ".join(f"{st[s]:.0f}" for s in STAGES) + " | "
            f"{r['failed_calls']} | {r['max_send_lateness_ms']:.0f} |"
        )
    for r in results:
        p95 = r["stage_p95_ms"]
        print(
            f"{r['calls']} calls: LLM TTFT P95 {p95['llm_ttft_ms']:.0f} ms, "
            f"first sentence P95 {p95['llm_sentence_ms']:.0f} ms; TTFT by reply "
            + " ".join(f"{v:.0f}" for v in r["llm_ttft_ms_by_turn"])
        )
    over = [r["calls"] for r in results if r["p95_ms"] > 800]
    print(f"first concurrency with P95 > 800 ms: {over[0] if over else 'none measured'}")


if __name__ == "__main__":
    asyncio.run(main())

"""Benchmark: voice-to-voice latency of the bundled pipeline agent over loopback WebSocket.

One call, N caller turns (default 30), the agent in its own process exactly as
`voxsim run` starts it. Prints P50/P95/P99 with n, the median of each agent
stage, and the unexplained remainder (measured latency minus the stage sum:
VAD tail, frame packetisation, transport, scheduling). Writes the rows to
benchmarks/results/v2v_latency.json.

    .venv/bin/python benchmarks/v2v_latency.py [--turns 30] [--hangover-ms 140] [--stt whisper]

`--stt` picks the agent's recognizer (`voxsim agent serve --stt`); with
whisper, `stt_ms` includes Whisper's pass over the whole utterance.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
from pathlib import Path

import numpy as np

from reference_agent.bundle import AgentProcess
from reference_agent.domain import CALLER_PHRASES
from reference_agent.pipeline.stt import DEFAULT_STT, STT_CHOICES
from reference_agent.pipeline.vad import DEFAULT_HANGOVER_MS
from simulator.runner import run_call
from simulator.scenario import parse_scenario
from simulator.transports.websocket import WebSocketTransport

STAGES = ("endpoint_ms", "stt_ms", "llm_ttft_ms", "tts_ms")


def scenario_text(turns: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    phrases = [p for p in CALLER_PHRASES if 4 <= len(p.split()) <= 10]
    picked = [phrases[i] for i in rng.choice(len(phrases), size=turns, replace=False)]
    lines = "\n".join(f'  - say: "{p}"' for p in picked)
    return f"name: bench-v2v\nseed: {seed}\nturns:\n  - wait: true\n{lines}\n"


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=30)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--hangover-ms", type=int, default=DEFAULT_HANGOVER_MS)
    ap.add_argument("--stt", choices=STT_CHOICES, default=DEFAULT_STT)
    ap.add_argument("--out", type=Path, default=None, help="default results/v2v_latency[_STT].json")
    args = ap.parse_args()
    suffix = "" if args.stt == "domain" else f"_{args.stt}"
    out = args.out or Path(f"benchmarks/results/v2v_latency{suffix}.json")

    flags = ["--hangover-ms", str(args.hangover_ms), "--stt", args.stt]
    agent = AgentProcess("pipeline", flags)
    url = await agent.start()
    try:
        scenario = parse_scenario(scenario_text(args.turns, args.seed))
        call = await run_call(scenario, WebSocketTransport(url), "bench-000")
    finally:
        await agent.stop()
    said = [t for t in call["turns"] if t["kind"] == "say" and t["latency_ms"] is not None]
    lat = [t["latency_ms"] for t in said]
    result: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}",
        "hangover_ms": args.hangover_ms,
        "stt": args.stt,
        "n": len(lat),
        "missing": args.turns - len(lat),
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)),
        "stage_medians_ms": {
            s: statistics.median(t["stages"][s] for t in said if s in t["stages"]) for s in STAGES
        },
        "remainder_median_ms": statistics.median(
            t["latency_ms"] - sum(t["stages"].get(s, 0.0) for s in STAGES) for t in said
        ),
        "max_send_lateness_ms": call["max_send_lateness_ms"],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": result, "turns": call["turns"]}, indent=1))
    print(json.dumps(result, indent=1))
    st = result["stage_medians_ms"]
    assert isinstance(st, dict)
    print(
        f"| pipeline, --stt {args.stt}, loopback WS, hangover {args.hangover_ms} ms | "
        f"{result['n']} | "
        f"{result['p50_ms']:.0f} | {result['p95_ms']:.0f} | {result['p99_ms']:.0f} | "
        + " | ".join(f"{st[s]:.0f}" for s in STAGES)
        + f" | {result['remainder_median_ms']:.0f} |"
    )


if __name__ == "__main__":
    asyncio.run(main())

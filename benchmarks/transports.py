"""Benchmark: what each transport adds to voice-to-voice latency, and what it costs the harness.

1. Latency: the bundled pipeline agent, one agent process serving every
   transport, called round-robin (in-process, websocket, twilio, realtime,
   webrtc) so load drifts hit all alike; per transport P50/P95 over turns and
   the median added vs in-process.
2. Harness CPU per call: `--concurrency` calls at once on one transport;
   CPU seconds of this process (all threads: aiortc's codecs included) per
   second of wall time, divided by the number of calls.
3. Pipeline vs e2e agent V2V, side by side, alternating calls, native WebSocket.

    .venv/bin/python benchmarks/transports.py [--rounds 3] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from reference_agent.bundle import AgentProcess, start_pipeline
from reference_agent.server import route_urls as urls
from simulator.runner import run_call
from simulator.scenario import parse_scenario
from simulator.transports.base import Transport
from simulator.transports.inprocess import InProcessTransport
from simulator.transports.registry import transport_for

TRANSPORTS = ("inprocess", "websocket", "twilio", "realtime", "webrtc")
SCENARIO = """
name: bench-transports
seed: 9
turns:
  - say: "I would like to book an appointment for Tuesday at three pm"
  - say: "Where is my order one two three four"
  - say: "Can I get a refund for my order"
  - say: "Make it Wednesday instead"
"""


def latencies(call: dict[str, Any]) -> list[float]:
    return [t["latency_ms"] for t in call["turns"] if t["latency_ms"] is not None]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": float(np.percentile(values, 50)) if values else float("nan"),
        "p95": float(np.percentile(values, 95)) if values else float("nan"),
    }


async def main(rounds: int, concurrency: int) -> dict[str, Any]:
    scenario = parse_scenario(SCENARIO)
    agent = AgentProcess("pipeline")
    ws_url = await agent.start()
    inproc = await start_pipeline()  # the in-process baseline: same agent code, no sockets
    e2e = AgentProcess("e2e")
    e2e_url = await e2e.start()
    by_url = urls(ws_url)
    results: dict[str, Any] = {"latency": {}, "cpu": {}, "agents": {}}

    def make(name: str) -> Transport:
        if name == "inprocess":
            return InProcessTransport(inproc.agent.handle)
        return transport_for(by_url[name])

    try:
        lat: dict[str, list[float]] = {name: [] for name in TRANSPORTS}
        for r in range(rounds):
            for name in TRANSPORTS:
                call = await run_call(scenario, make(name), f"{name}-{r}")
                assert call["status"] == "ok", call["error"]
                lat[name].extend(latencies(call))
        base = statistics.median(lat["inprocess"])
        for name in TRANSPORTS:
            s = summary(lat[name])
            s["added_p50"] = s["p50"] - base
            results["latency"][name] = s

        for name in TRANSPORTS[1:]:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            calls = await asyncio.gather(
                *(run_call(scenario, make(name), f"cpu-{name}-{k}") for k in range(concurrency))
            )
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            ok = sum(c["status"] == "ok" for c in calls)
            results["cpu"][name] = {
                "calls": concurrency,
                "ok": ok,
                "core_pct_per_call": 100 * cpu / wall / concurrency,
            }

        agents: dict[str, list[float]] = {"pipeline": [], "e2e": []}
        for r in range(rounds):
            for kind, url in (("pipeline", ws_url), ("e2e", e2e_url)):
                call = await run_call(scenario, transport_for(url), f"{kind}-v2v-{r}")
                assert call["status"] == "ok", call["error"]
                agents[kind].extend(latencies(call))
        results["agents"] = {k: summary(v) for k, v in agents.items()}
    finally:
        await agent.stop()
        await e2e.stop()
        await inproc.close()
    return results


def print_markdown(results: dict[str, Any]) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}")
    print("\n| transport | n turns | P50 ms | P95 ms | added P50 vs in-process ms |")
    print("| --- | --- | --- | --- | --- |")
    for name, s in results["latency"].items():
        print(f"| {name} | {s['n']} | {s['p50']:.0f} | {s['p95']:.0f} | {s['added_p50']:+.0f} |")
    print("\n| transport | concurrent calls | ok | harness CPU per call (% of a core) |")
    print("| --- | --- | --- | --- |")
    for name, c in results["cpu"].items():
        print(f"| {name} | {c['calls']} | {c['ok']} | {c['core_pct_per_call']:.1f} |")
    print("\n| agent (native WebSocket) | n turns | P50 ms | P95 ms |")
    print("| --- | --- | --- | --- |")
    for kind, s in results["agents"].items():
        print(f"| {kind} | {s['n']} | {s['p50']:.0f} | {s['p95']:.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    out = asyncio.run(main(args.rounds, args.concurrency))
    Path("benchmarks/results").mkdir(parents=True, exist_ok=True)
    Path("benchmarks/results/transports.json").write_text(json.dumps(out, indent=2))
    print_markdown(out)

"""Benchmark: round-robin vs least-connections on long, uneven calls (a real fleet).

Two fleets side by side (`voxsim agent serve --instances K`: K pipeline
agents behind HAProxy, sessions in redis-server), each agent an inference
server with `--slots` LLM slots and `--llm-ms` of LLM time per reply. Callers
arrive alternately long (a greeting and `--turns` questions) and very short
(connect, hang up at once); each arrival waits until HAProxy counts the
previous ones, so both balancers see the same sequence. Prints, per
balancer, where the long calls landed and P50/P95/max of their questions'
latency with n, over `--repeats` rounds; writes
benchmarks/results/fleet_balancers.json. What the test
(tests/reference_agent/test_fleet_balancer.py) checks, with more calls.

    .venv/bin/python benchmarks/fleet_balancers.py [--long 4] [--turns 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
from collections import Counter
from pathlib import Path
from typing import Any

from reference_agent.fleet import Fleet
from simulator.call import new_traceparent, run_call
from simulator.metrics.stats import percentile
from simulator.scenario import parse_scenario
from simulator.transports.base import StartInfo
from simulator.transports.registry import transport_for

QUESTIONS = [
    "I would like to book an appointment",
    "Tuesday at three pm please",
    "What is the status of my order",
    "Can I get a refund for my order",
]


def long_call(turns: int) -> str:
    """The long call: a greeting, then `turns` questions (with a generous reply timeout)."""
    says = "".join(
        f'  - say: "{QUESTIONS[i % len(QUESTIONS)]}"\n    reply_timeout_ms: 60000\n'
        for i in range(turns)
    )
    return f"name: long\nturns:\n  - wait: true\n{says}"


async def one_round(fleet: Fleet, n_long: int, turns: int, tag: str) -> list[dict[str, Any]]:
    """Long, short, long, ...: the long calls' rows."""
    scenario = parse_scenario(long_call(turns))
    tasks: list[asyncio.Future[Any]] = []
    for i in range(n_long):
        call = run_call(scenario, transport_for(fleet.url), f"{tag}-L{i}", None, measure=False)
        tasks.append(asyncio.ensure_future(call))
        await fleet.wait_live_calls(i + 1)
        if i < n_long - 1:
            short = transport_for(fleet.url)
            await short.connect(StartInfo(call_id=f"{tag}-S{i}", traceparent=new_traceparent()))
            await short.close()
            await fleet.wait_live_calls(i + 1)
    return list(await asyncio.gather(*tasks))


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instances", type=int, default=2)
    ap.add_argument("--long", type=int, default=4, help="long calls per round")
    ap.add_argument("--turns", type=int, default=1, help="questions per long call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--slots", type=int, default=1, help="LLM slots per instance")
    ap.add_argument("--llm-ms", type=int, default=2500, help="LLM time per reply")
    args = ap.parse_args()
    agent = ["--llm-concurrency", str(args.slots), "--llm-latency-ms", str(args.llm_ms)]
    fleets = {b: Fleet(args.instances, b, agent) for b in ("round-robin", "least-conn")}
    results: dict[str, Any] = {}
    try:
        await asyncio.gather(*(f.start() for f in fleets.values()))
        rows: dict[str, list[dict[str, Any]]] = {b: [] for b in fleets}
        for r in range(args.repeats):
            done = await asyncio.gather(
                *(one_round(f, args.long, args.turns, f"{b}-{r}") for b, f in fleets.items())
            )
            for b, got in zip(fleets, done, strict=True):
                rows[b] += got
    finally:
        await asyncio.gather(*(f.close() for f in fleets.values()))
    for b, calls in rows.items():
        lat = [
            float(t["latency_ms"])
            for c in calls
            for t in c["turns"]
            if t["kind"] == "say" and t["latency_ms"] is not None
        ]
        results[b] = {
            "n": len(lat),
            "p50_ms": percentile(lat, 50),
            "p95_ms": percentile(lat, 95),
            "max_ms": max(lat) if lat else None,
            "failed_calls": sum(1 for c in calls if c["status"] != "ok"),
            "long_calls_per_instance": dict(
                Counter((c.get("agent_instances") or ["?"])[0] for c in calls)
            ),
        }
        res = results[b]
        print(
            f"{b:12s} n={res['n']:3d} P50 {res['p50_ms']:7.0f} ms  P95 {res['p95_ms']:7.0f} ms  "
            f"max {res['max_ms']:7.0f} ms  failed {res['failed_calls']}  "
            f"long calls per instance {res['long_calls_per_instance']}"
        )
    out = Path(__file__).parent / "results" / "fleet_balancers.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps({"args": vars(args), "machine": platform.node(), **results}, indent=1)
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main())

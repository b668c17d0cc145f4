"""Least-connections beats round-robin on P95 with long, uneven calls (a real fleet run).

Two fleets side by side, each two pipeline agents behind HAProxy, each agent
an inference server with one LLM slot and 2.5 s of LLM time per reply
(`--llm-concurrency 1 --llm-latency-ms 2500`). Callers arrive alternately
long (a greeting and a question) and very short (connect, hang up at once).
Round-robin counts connections, not how long they stay: every long call lands
on the same instance, whose one slot then serves four callers who ask within
a second or so of each other (the last reply waits for three others);
least-connections sees the long calls still connected and puts two on each
instance (a reply waits for one other at most). The gap is seconds, set by
the slot waits (sleeps), not by CPU, so a busy box moves both sides alike.
"""

from __future__ import annotations

import asyncio
from typing import Any

from reference_agent.fleet import Fleet
from simulator.call import new_traceparent, run_call
from simulator.metrics.stats import percentile
from simulator.scenario import parse_scenario
from simulator.transports.base import StartInfo
from simulator.transports.registry import transport_for

LONG = """
name: long
turns:
  - wait: true
  - say: "I would like to book an appointment"
    reply_timeout_ms: 30000
"""
LLM_MS = 2500


async def _run(fleet: Fleet) -> tuple[list[float], list[dict[str, Any]]]:
    """Long, short, long, ... (four long calls); the long calls' say-turn latencies.

    Each arrival waits until HAProxy counts the previous ones (a long call
    connected, a short one gone), so both balancers see the same sequence."""
    scenario = parse_scenario(LONG)
    tasks: list[asyncio.Future[Any]] = []
    for i in range(4):
        call = run_call(scenario, transport_for(fleet.url), f"L{i}", None, measure=False)
        tasks.append(asyncio.ensure_future(call))
        await fleet.wait_live_calls(i + 1)
        if i < 3:
            short = transport_for(fleet.url)
            await short.connect(StartInfo(call_id=f"S{i}", traceparent=new_traceparent()))
            await short.close()  # a caller who hangs up at once
            await fleet.wait_live_calls(i + 1)
    rows = await asyncio.gather(*tasks)
    lat = [
        float(t["latency_ms"])
        for r in rows
        for t in r["turns"]
        if t["kind"] == "say" and t["latency_ms"] is not None
    ]
    return lat, rows


async def test_least_connections_beats_round_robin_on_p95_with_long_uneven_calls() -> None:
    args = ["--llm-concurrency", "1", "--llm-latency-ms", str(LLM_MS)]
    rr, lc = Fleet(2, "round-robin", args), Fleet(2, "least-conn", args)
    try:
        await asyncio.gather(rr.start(), lc.start())
        (rr_lat, rr_rows), (lc_lat, lc_rows) = await asyncio.gather(_run(rr), _run(lc))
    finally:
        await asyncio.gather(rr.close(), lc.close())

    for rows in (rr_rows, lc_rows):
        assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
    assert len(rr_lat) == len(lc_lat) == 4  # every long call's question got a reply
    # Round-robin put every long call on one instance, least-connections two on each.
    rr_where = sorted(r["agent_instances"][0] for r in rr_rows)
    lc_where = sorted(r["agent_instances"][0] for r in lc_rows)
    assert len(set(rr_where)) == 1, rr_where
    assert lc_where == ["a1", "a1", "a2", "a2"], lc_where
    rr_p95, lc_p95 = percentile(rr_lat, 95), percentile(lc_lat, 95)
    assert rr_p95 is not None and lc_p95 is not None
    # Queued behind two more 2.5 s replies under round-robin than least-connections.
    assert rr_p95 - lc_p95 > LLM_MS, (rr_lat, lc_lat)

"""Chaos on a real fleet: two pipeline agents behind HAProxy, sessions in redis-server.

Killing one instance mid-call loses at most the calls on it, the other
instance's call goes on, and a caller that reconnects (caller.reconnect) goes
on on the other instance from its Redis state: the instance dies while it is
answering the caller's request to book (the turn is in Redis, the reply is
not), the new instance answers that turn without greeting again, and the
day and time the caller gives next complete the booking.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from reference_agent.fleet import Fleet
from reference_agent.state.stores import RedisStore
from reports.rundir import read_jsonl
from simulator.load.chaos import CHAOS_JSONL, ChaosRunner, fleet_request, parse
from simulator.runner import run_call
from simulator.scenario import parse_scenario
from simulator.transports.registry import transport_for

PLAN = """
name: {name}
agent: {agent}
caller: {caller}
turns:
  - wait: true
  - say: "I would like to book an appointment"
  - say: "Tuesday at three pm please"
"""
#: The mover's replies take this long to start (injected LLM time): the kill lands inside it.
LLM_MS = 2500


class _Rows:
    """The part of a RunStore run_call writes to; calls `on_turn` for every turn row."""

    def __init__(self, on_turn: Any = None) -> None:
        self.turns: list[dict[str, Any]] = []
        self.on_turn = on_turn

    def add_turn(self, row: dict[str, Any]) -> None:
        self.turns.append(row)
        if self.on_turn is not None:
            self.on_turn(row)

    def add_call(self, row: dict[str, Any]) -> None:
        pass

    def write_audio(self, *_: Any) -> str:
        return ""


async def _request_saved(redis_url: str, call_id: str, saved: asyncio.Event) -> None:
    """Set `saved` once the call's session in Redis ends with the caller's request."""
    client = aioredis.from_url(redis_url)
    try:
        while True:
            raw = await client.get(RedisStore.key(call_id))
            history = json.loads(raw)["history"] if raw else []
            if history and history[-1]["role"] == "user" and "book" in history[-1]["content"]:
                saved.set()
                return
            await asyncio.sleep(0.02)
    finally:
        await client.aclose()


@pytest.fixture
async def fleet() -> AsyncIterator[Fleet]:
    f = Fleet(2, "round-robin")
    await f.start()
    try:
        yield f
    finally:
        await f.close()


async def test_killing_an_instance_loses_only_its_calls_and_a_reconnecting_caller_resumes(
    fleet: Fleet, tmp_path: Path
) -> None:
    slow = f"{{faults: {{llm: {{latency_ms: {LLM_MS}}}}}}}"
    mover = parse_scenario(
        PLAN.format(name="mover", agent=slow, caller="{reconnect: {attempts: 5}}")
    )
    plain = parse_scenario(PLAN.format(name="plain", agent="{}", caller="{}"))
    # `voxsim load --chaos kill-instance@0`, its clock started once the instance has
    # saved the mover's request to book in Redis and is waiting for the LLM's reply.
    asked = asyncio.Event()
    runner = ChaosRunner(parse(["kill-instance@0"]), fleet.url, tmp_path)
    chaos = asyncio.ensure_future(runner.run(started=asked))
    watch = asyncio.ensure_future(_request_saved(str(fleet.redis_url), "mover-1", asked))

    async def call(scenario: Any, call_id: str, store: Any, after_s: float) -> dict[str, Any]:
        await asyncio.sleep(after_s)
        return await run_call(scenario, transport_for(fleet.url), call_id, store, measure=False)

    # Round-robin: the mover and `same` land on one instance, `other` on the other.
    rows = _Rows()
    try:
        mover_row, other_row, same_row = await asyncio.gather(
            call(mover, "mover-1", rows, 0.0),
            call(plain, "other-1", None, 0.3),
            call(plain, "same-1", None, 0.6),
        )
        await chaos
    finally:
        watch.cancel()
    (kill,) = read_jsonl(tmp_path / CHAOS_JSONL)
    assert kill["action"] == "kill" and "error" not in kill
    victim = kill["instance"]
    assert mover_row["agent_instances"][0] == victim == same_row["agent_instances"][0]
    assert other_row["agent_instances"] == [o := other_row["agent_instances"][0]] and o != victim
    assert kill["live_calls"] == 2  # the mover and `same`

    # The other instance's call went on to its end; the one on the dead instance is lost.
    assert other_row["status"] == "ok", other_row["error"]
    assert same_row["status"] == "failed"
    # The mover reconnected, landed on the surviving instance and resumed its session.
    assert mover_row["status"] == "ok", mover_row["error"]
    assert mover_row["link_drops"] == 1 and mover_row["reconnects"] == 1
    assert mover_row["agent_instances"] == [victim, o] and mover_row["resumed"] is True
    replies = {r["turn"]: r.get("agent_reply_text") or "" for r in rows.turns}
    # The request the dead instance heard but never answered is answered by the new
    # one (the caller waited through the outage), without a second greeting.
    assert rows.turns[1]["latency_ms"] > LLM_MS and replies[1], rows.turns[1]
    assert all("thanks for calling" not in replies[t] for t in (1, 2)), replies
    # What it had asked the dead instance for (a booking) is known to the new one.
    assert replies[2].startswith("Sure. I have booked you for Tuesday"), replies
    status = await fleet.status()
    assert [i["up"] for i in status["instances"] if i["name"] == victim] == [False]

    # `restart-instance`: the dead instance serves again, on its port, and HAProxy sees it.
    back = await fleet_request(fleet.url, "POST", "restart")
    assert back["instance"] == victim and back["pid"] != kill["pid"] and back["killed"] is None
    await fleet.wait_up(victim)

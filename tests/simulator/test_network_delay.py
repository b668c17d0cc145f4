"""Injected network delay comes back out of the latency measured in the audio."""

from __future__ import annotations

import statistics

import pytest

from simulator.runner import run_call
from simulator.scenario import parse_scenario
from simulator.transports.websocket import WebSocketTransport

TURNS = """
  - say: "I would like to book an appointment for Tuesday at three pm"
  - say: "Where is my order one two three four"
  - say: "Can I get a refund for my order"
  - say: "Make it Wednesday instead"
  - say: "Thank you goodbye"
"""


def _scenario(network: str) -> object:
    return parse_scenario(f"name: net-delay\nseed: 5\nnetwork: {network}\nturns:{TURNS}")


def _median(call: dict) -> float:
    return statistics.median(t["latency_ms"] for t in call["turns"] if t["kind"] == "say")


async def test_50_plus_50_ms_one_way_delay_moves_median_latency_by_100_ms_on_websocket(
    pipeline_agent_url: str,
) -> None:
    base = await run_call(_scenario("{}"), WebSocketTransport(pipeline_agent_url), "net-0")
    slow = await run_call(
        _scenario("{uplink: {delay_ms: 50}, downlink: {delay_ms: 50}}"),
        WebSocketTransport(pipeline_agent_url),
        "net-100",
    )
    assert base["status"] == slow["status"] == "ok", (base["error"], slow["error"])
    shift = _median(slow) - _median(base)
    print(f"50+50 ms one-way delay moved the median latency by {shift:.1f} ms")
    assert shift == pytest.approx(100, abs=15)

"""WebRTC: a full call to the bundled pipeline agent, and injected delay coming back out."""

from __future__ import annotations

import statistics

import pytest

from simulator.runner import run_call
from simulator.scenario import parse_scenario
from simulator.transports.webrtc import WebRtcTransport
from tests.simulator.transports.conftest import routes

TURNS = """
  - say: "I would like to book an appointment for Tuesday at three pm"
  - say: "Where is my order one two three four"
  - say: "Can I get a refund for my order"
  - say: "Make it Wednesday instead"
  - say: "Thank you goodbye"
"""


def _scenario(network: str):
    return parse_scenario(f"name: rtc\nseed: 5\nnetwork: {network}\nturns:{TURNS}")


def _median(call: dict) -> float:
    return statistics.median(t["latency_ms"] for t in call["turns"] if t["kind"] == "say")


async def test_50_plus_50_ms_one_way_delay_moves_median_latency_by_100_ms_on_webrtc(
    pipeline_agent_url: str,
) -> None:
    url = routes(pipeline_agent_url)["webrtc"]
    base = await run_call(_scenario("{}"), WebRtcTransport(url), "rtc-0")
    slow = await run_call(
        _scenario("{uplink: {delay_ms: 50}, downlink: {delay_ms: 50}}"),
        WebRtcTransport(url),
        "rtc-100",
    )
    assert base["status"] == slow["status"] == "ok", (base["error"], slow["error"])
    said = [t for t in base["turns"] if t["kind"] == "say"]
    assert "tuesday" in (said[0]["agent_heard_text"] or "")  # Opus both ways, still heard
    shift = _median(slow) - _median(base)
    print(f"50+50 ms one-way delay moved the median latency by {shift:.1f} ms")
    assert shift == pytest.approx(100, abs=15)

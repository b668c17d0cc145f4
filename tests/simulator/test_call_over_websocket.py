"""A real call over WebSocket on loopback to the real bundled pipeline agent."""

from __future__ import annotations

import statistics

import pytest

from simulator.metrics.wer import score_corpus
from simulator.runner import run_call
from simulator.scenario import parse_scenario
from simulator.transports.websocket import WebSocketTransport

SMOKE_TURNS = """
  - wait: true
  - say: "I would like to book an appointment for Tuesday at three pm"
  - say: "Where is my order one two three four"
  - say: "Can I get a refund for my order"
  - say: "Make it Wednesday instead"
  - say: "Thank you goodbye"
"""


def _scenario(llm_latency_ms: float = 0):
    return parse_scenario(
        f"""
name: ws-call
seed: 3
agent: {{kind: pipeline, faults: {{llm: {{latency_ms: {llm_latency_ms}}}}}}}
turns:{SMOKE_TURNS}"""
    )


async def test_agent_hears_the_caller_and_every_turn_has_a_latency(pipeline_agent_url: str) -> None:
    call = await run_call(_scenario(), WebSocketTransport(pipeline_agent_url), "ws-call-0")
    assert call["status"] == "ok", call["error"]
    said = [t for t in call["turns"] if t["kind"] == "say"]
    assert len(said) == 5
    assert all(t["latency_ms"] is not None and t["latency_ms"] > 0 for t in said)
    wer = score_corpus(
        [t["caller_text"] for t in said], [t["agent_heard_text"] or "" for t in said]
    )
    assert wer.wer <= 0.5
    greeting = call["turns"][0]
    assert greeting["kind"] == "wait" and greeting["agent_reply_text"]


async def test_injected_llm_delay_moves_median_latency_by_that_amount(
    pipeline_agent_url: str,
) -> None:
    base = await run_call(_scenario(0), WebSocketTransport(pipeline_agent_url), "delay-0")
    slow = await run_call(_scenario(300), WebSocketTransport(pipeline_agent_url), "delay-300")

    def median(call: dict) -> float:
        return statistics.median(t["latency_ms"] for t in call["turns"] if t["kind"] == "say")

    assert base["status"] == slow["status"] == "ok"
    assert median(slow) - median(base) == pytest.approx(300, abs=15)

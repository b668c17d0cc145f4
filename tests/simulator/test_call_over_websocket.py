"""A real call over WebSocket on loopback to the real bundled pipeline agent."""

from __future__ import annotations

import pytest

from simulator.metrics.wer import score_corpus
from simulator.runner import run_call
from simulator.scenario import parse_scenario
from simulator.transports.websocket import WebSocketTransport
from tests.delay_shift import measure_shift

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
    *_, shift = await measure_shift(
        lambda: WebSocketTransport(pipeline_agent_url),
        "llm-delay",
        "agent: {kind: pipeline, faults: {llm: {latency_ms: 0}}}",
        "agent: {kind: pipeline, faults: {llm: {latency_ms: 300}}}",
    )
    assert shift == pytest.approx(300, abs=15)

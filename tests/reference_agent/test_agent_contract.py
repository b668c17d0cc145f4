"""The agent contract: the pipeline and the e2e agent are one `Agent` to whatever serves them.

`simulator.transports.base.Agent` is `handle(link)` per call and `close()`; the
servers and the in-process transport take any agent. Each bundled agent, run
in this process (the pipeline agent with its real LLM server):

- is an `Agent` (checked at run time here and by mypy where the bundle holds one);
- answers a call: it greets, hears the caller (its STT's text in a `transcript`
  event), and replies in audio with what it meant to say, measured by the
  harness's own session over the in-process transport;
- ends its call when the caller hangs up (`recv` gives None), even mid-greeting;
- closes after its calls.

A new agent is added by passing this contract: add its name to `KINDS` and a
branch to the `agent` fixture that builds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reference_agent.e2e.agent import E2EAgent, E2ESettings
from reference_agent.faults import FaultPlan
from reference_agent.llm_server import LlmServer
from reference_agent.pipeline.agent import AgentSettings, PipelineAgent
from simulator.audio import FRAME_SAMPLES, Pcm
from simulator.call import new_traceparent, run_call
from simulator.scenario import parse_scenario
from simulator.transports.base import Agent, StartInfo
from simulator.transports.inprocess import InProcessTransport

KINDS = ("pipeline", "e2e")

CALL = """
name: agent-contract
seed: 2
turns:
  - wait: true
  - say: "Where is my order one two three four"
"""


@pytest.fixture(params=KINDS)
async def agent(
    request: pytest.FixtureRequest, llm: LlmServer, tmp_path: Path
) -> AsyncIterator[Agent]:
    """A bundled agent of each kind, in this process."""
    built: Agent
    if request.param == "pipeline":
        settings = AgentSettings(
            llm_base_url=llm.base_url, tools_db=tmp_path / "tools.db", faults=FaultPlan()
        )
        built = PipelineAgent(settings)
    else:
        built = E2EAgent(E2ESettings(faults=FaultPlan()))
    try:
        yield built
    finally:
        await built.close()


def test_every_bundled_agent_is_an_agent(agent: Agent) -> None:
    assert isinstance(agent, Agent)


async def test_the_agent_greets_hears_the_caller_and_answers(agent: Agent) -> None:
    call = await run_call(parse_scenario(CALL), InProcessTransport(agent.handle), "contract-0")
    assert call["status"] == "ok", call["error"]
    greeting, ask = call["turns"]
    assert greeting["latency_ms"] is not None  # it spoke first
    assert ask["latency_ms"] is not None and ask["latency_ms"] > 0
    assert "order" in (ask["agent_heard_text"] or "")
    assert "order" in (ask["agent_reply_text"] or "").lower()


class _HangingUpCaller:
    """An AgentLink whose caller sends `start`, 200 ms of silence, then hangs up (None)."""

    def __init__(self) -> None:
        start = StartInfo("contract-1", new_traceparent()).event()
        silence = [np.zeros(FRAME_SAMPLES, dtype=np.int16) for _ in range(10)]
        self.inbox: list[Pcm | dict[str, Any] | None] = [start, *silence, None]
        self.sent: list[Pcm | dict[str, Any]] = []

    async def recv(self) -> Pcm | dict[str, Any] | None:
        if not self.inbox:  # asked again after the hang-up: still hung up
            return None
        await asyncio.sleep(0)
        return self.inbox.pop(0)

    async def send_audio(self, pcm: Pcm) -> None:
        self.sent.append(pcm)

    async def send_event(self, event: dict[str, Any]) -> None:
        self.sent.append(event)


async def test_the_callers_hang_up_ends_the_call(agent: Agent) -> None:
    link = _HangingUpCaller()
    async with asyncio.timeout(20):  # a bound on a busy box: the call ends, not hangs
        await agent.handle(link)
    assert not link.inbox

"""Fixtures: the real pipeline agent in this process, with its real LLM server and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI

from reference_agent.faults import FaultPlan
from reference_agent.llm_server import LlmServer, start_llm_server
from reference_agent.pipeline.agent import AgentSettings, PipelineAgent
from simulator.call import new_traceparent
from simulator.caller.render import render_call
from simulator.scenario import parse_scenario
from simulator.session import CallRecord, Session
from simulator.transports.base import StartInfo
from simulator.transports.inprocess import InProcessTransport

Call = Callable[..., Awaitable[CallRecord]]


@pytest.fixture
async def llm() -> AsyncIterator[LlmServer]:
    server = await start_llm_server(port=0)
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def client(server: LlmServer) -> AsyncIterator[AsyncOpenAI]:
    """An `openai` client of the test module's own `server` fixture (an LLM server)."""
    c = AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def agent(llm: LlmServer, tmp_path: Path) -> AsyncIterator[PipelineAgent]:
    """The pipeline agent with its tools on a fresh SQLite file."""
    pipeline = PipelineAgent(
        AgentSettings(llm_base_url=llm.base_url, tools_db=tmp_path / "tools.db", faults=FaultPlan())
    )
    try:
        yield pipeline
    finally:
        await pipeline.close()


@pytest.fixture
def call(agent: PipelineAgent) -> Call:
    """Play a scenario (YAML text) against `agent`; returns the full call record."""

    async def play(yaml_text: str, call_id: str = "t-000", **config: Any) -> CallRecord:
        scenario = parse_scenario(yaml_text)
        config = {"faults": scenario.agent.faults.model_dump(), "seed": scenario.seed, **config}
        start = StartInfo(call_id=call_id, traceparent=new_traceparent(), config=config)
        turns = await render_call(scenario)
        session = Session(InProcessTransport(agent.handle), turns, start, scenario=scenario.name)
        return await session.run()

    return play

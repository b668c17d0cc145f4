"""With Redis, an agent instance holds no call state: a live call moves to another one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from reference_agent.llm_server import LlmServer
from reference_agent.pipeline.agent import AgentSettings, PipelineAgent
from reference_agent.state.stores import RedisStore, SqliteArchive
from reference_agent.tools.store import ToolStore
from simulator.audio import Pcm
from simulator.call import new_traceparent
from simulator.caller.render import render_call
from simulator.scenario import parse_scenario
from simulator.session import Session
from simulator.transports.base import AudioIn, EventIn, Incoming, StartInfo, Transport

PLAN = """
name: handover
turns:
  - wait: true
  - say: "I would like to book an appointment"
  - say: "Tuesday at three pm please"
  - say: "Thank you goodbye"
"""


class _Link:
    """Agent side of an in-process link whose caller can drop it without hanging up."""

    def __init__(self, to_caller: asyncio.Queue[Any]) -> None:
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        self.to_caller = to_caller
        self.dropped = False

    async def recv(self) -> Pcm | dict[str, Any] | None:
        item: Pcm | dict[str, Any] | None = await self.inbox.get()
        return item

    async def send_audio(self, pcm: Pcm) -> None:
        if not self.dropped:
            self.to_caller.put_nowait(AudioIn(pcm.copy(), asyncio.get_running_loop().time()))

    async def send_event(self, event: dict[str, Any]) -> None:
        if not self.dropped:
            self.to_caller.put_nowait(EventIn(dict(event), asyncio.get_running_loop().time()))


class _Handover(Transport):
    """One call, first answered by agent `a`; `move()` drops it there and reconnects to `b`."""

    def __init__(self, a: PipelineAgent, b: PipelineAgent) -> None:
        self.agents = [a, b]
        self.to_caller: asyncio.Queue[Any] = asyncio.Queue()
        self.links: list[_Link] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.start: StartInfo | None = None

    def _attach(self, agent: PipelineAgent) -> None:
        assert self.start is not None
        link = _Link(self.to_caller)
        link.inbox.put_nowait(self.start.event())
        self.links.append(link)
        self.tasks.append(asyncio.create_task(agent.handle(link)))

    async def connect(self, start: StartInfo) -> None:
        self.start = start
        self._attach(self.agents[0])

    def move(self) -> None:
        old = self.links[-1]
        old.dropped = True
        old.inbox.put_nowait(None)  # the link is gone; no hang-up was said
        self._attach(self.agents[1])

    async def send_audio(self, pcm: Pcm) -> None:
        self.links[-1].inbox.put_nowait(pcm.copy())

    async def send_event(self, event: dict[str, Any]) -> None:
        self.links[-1].inbox.put_nowait(dict(event))

    async def receive(self) -> AsyncIterator[Incoming]:
        while True:
            item = await self.to_caller.get()
            if item is None:
                return
            yield item

    async def close(self) -> None:
        self.links[-1].inbox.put_nowait({"type": "stop"})
        self.links[-1].inbox.put_nowait(None)
        await asyncio.wait_for(asyncio.gather(*self.tasks), 10)


async def test_a_live_call_moves_between_instances_and_is_archived_after(
    redis_url: str, llm: LlmServer, tmp_path: Path
) -> None:
    settings = AgentSettings(llm_base_url=llm.base_url, tools_db=tmp_path / "tools.db")
    archive = SqliteArchive(tmp_path / "sessions.db")
    a = PipelineAgent(settings, sessions=RedisStore(redis_url), archive=archive)
    b = PipelineAgent(settings, sessions=RedisStore(redis_url), archive=archive)
    probe = aioredis.from_url(redis_url)
    transport = _Handover(a, b)
    live: dict[str, Any] = {}

    def on_turn(row: dict[str, Any]) -> None:
        if row["turn"] == 1:  # the caller asked to book; the day and time come after the move
            transport.move()
            live["key_exists"] = asyncio.ensure_future(probe.exists(RedisStore.key("move-1")))

    scenario = parse_scenario(PLAN)
    start = StartInfo(call_id="move-1", traceparent=new_traceparent(), config={})
    session = Session(
        transport, await render_call(scenario), start, scenario="handover", on_turn=on_turn
    )
    try:
        record = await session.run()
        info = await probe.info("server")
    finally:
        await probe.aclose()
        for agent in (a, b):
            await agent.sessions.close()
            await agent.close()

    assert record.ok, record.error
    assert info["redis_version"] and info["tcp_port"] == int(redis_url.rsplit(":", 1)[1][:-2])
    assert await live["key_exists"] == 1  # the state was in Redis while the call was live
    # Instance b knew what the caller had asked instance a for: it books the slot.
    assert record.turns[2]["agent_reply_text"].startswith("Sure. I have booked you for Tuesday")
    assert [r["day"] for r in ToolStore(tmp_path / "tools.db").rows("appointments")] == ["tuesday"]
    # Instance b did not greet again.
    said = [e["text"] for e in record.events if e["type"] == "transcript" and e["role"] != "user"]
    assert said.count("Hello, thanks for calling. How can I help you today?") == 1
    # After the hang-up the whole session is in SQLite.
    stored = await archive.load("move-1")
    assert stored is not None and stored["ended"] is True
    users = [m["content"] for m in stored["history"] if m["role"] == "user"]
    assert len(users) == 3 and users[0].startswith("i would like to book")
    assert [t["name"] for t in stored["tool_calls"]] == ["book_appointment"]

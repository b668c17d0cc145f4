"""The agent's `clear` drops the agent audio still waiting in the caller's playout buffer."""

from __future__ import annotations

import asyncio

import numpy as np

from simulator.audio import SPEECH_THRESHOLD, frames
from simulator.session import PlannedTurn, Session
from simulator.transports.base import AgentLink, StartInfo
from simulator.transports.inprocess import InProcessTransport


async def _agent(link: AgentLink, clear: bool) -> None:
    await link.recv()  # start
    tone = (8000 * np.sin(np.arange(32000) * 2 * np.pi * 200 / 16000)).astype(np.int16)
    for frame in frames(tone):  # 2 s of audio sent at once: it queues in the playout
        await link.send_audio(frame)
    await asyncio.sleep(0.5)
    if clear:
        await link.send_event({"type": "clear"})
    while await link.recv() is not None:
        pass


async def _loud_seconds(clear: bool) -> float:
    transport = InProcessTransport(lambda link: _agent(link, clear))
    turns = [PlannedTurn(index=0, kind="silence", silence_ms=2500)]
    record = await Session(transport, turns, StartInfo("clear", "")).run()
    loud = np.flatnonzero(np.abs(record.agent.astype(np.int32)) > SPEECH_THRESHOLD)
    return (loud[-1] - loud[0]) / 16000 if len(loud) else 0.0


async def test_clear_drops_queued_agent_audio_and_keeps_what_was_already_heard() -> None:
    kept, cleared = await asyncio.gather(_loud_seconds(False), _loud_seconds(True))
    assert kept > 1.9
    assert 0.4 < cleared < 0.65  # what had played when `clear` came, 0.5 s in

"""No failure vanishes (issue 15, item 17): a remote agent's non-numeric `metrics.stages`
is a protocol error, a Twilio mark echo that fails surfaces, and the pipeline agent's
STT feed work that fails ends the call with an error instead of being dropped."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest

from reference_agent.pipeline import agent as agent_mod
from reference_agent.pipeline.agent import AgentSettings, PipelineAgent
from simulator.audio import FRAME_SAMPLES
from simulator.caller.tts import synthesize
from simulator.errors import ProtocolError, TransportError
from simulator.session import PlannedTurn, Session
from simulator.transports.base import EventIn, Incoming, StartInfo, Transport
from simulator.transports.inprocess import InProcessTransport
from simulator.transports.twilio import TwilioTransport
from tests.simulator.transports.hostile import FakeWs

START = StartInfo(call_id="futures-000", traceparent="00-" + "3" * 32 + "-" + "4" * 16 + "-01")


class _Events(Transport):
    """Yields the given agent events, then waits (like an agent that says nothing more)."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    async def connect(self, start: StartInfo) -> None:
        pass

    async def send_audio(self, pcm: Any) -> None:
        pass

    async def send_event(self, event: dict[str, Any]) -> None:
        pass

    async def receive(self):  # type: ignore[no-untyped-def]
        for event in self.events:
            yield EventIn(event, asyncio.get_running_loop().time())

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "stages",
    [{"llm_ms": "fast"}, {"llm_ms": None}, {"llm_ms": [1]}, {"llm_ms": float("nan")}, [1, 2]],
)
async def test_non_numeric_metrics_stages_are_a_protocol_error(stages: Any) -> None:
    session = Session(_Events([{"type": "metrics", "stages": stages}]), [], START)
    session.turn_rows.current = session.turn_rows.new_row(PlannedTurn(index=0, kind="say"))
    with pytest.raises(ProtocolError) as caught:
        await session.line.receive_loop()
    assert "metrics.stages" in caught.value.one_line()


async def test_numeric_metrics_stages_are_kept() -> None:
    session = Session(_Events([{"type": "metrics", "stages": {"llm_ms": 12, "n": 3.5}}]), [], START)
    row = session.turn_rows.current = session.turn_rows.new_row(PlannedTurn(index=0, kind="say"))
    with pytest.raises(TransportError):  # the agent closed after its event
        await session.line.receive_loop()
    assert row["stages"] == {"llm_ms": 12.0, "n": 3.5}


def _twilio(event: str, **fields: Any) -> str:
    return json.dumps({"event": event, "streamSid": "MZ", **fields})


async def test_a_twilio_mark_echo_that_fails_surfaces() -> None:
    transport = TwilioTransport("twilio+ws://fake/x")
    fake = FakeWs([_twilio("mark", mark={"name": "m1"}), _twilio("clear")], fail_on='"mark"')
    fake.gap_s = 0.05  # the echo (due at once: nothing queued to play) is sent in the gap
    transport._ws = fake  # type: ignore[assignment]
    with pytest.raises(TransportError) as caught:
        async with asyncio.timeout(5):
            async for _ in transport.receive():
                pass
    assert "mark" in caught.value.one_line()
    await transport.close()


async def test_a_twilio_mark_echo_is_sent_before_the_stop() -> None:
    transport = TwilioTransport("twilio+ws://fake/x")
    fake = FakeWs([_twilio("mark", mark={"name": "m1"})])
    transport._ws = fake  # type: ignore[assignment]
    async for _ in transport.receive():
        pass  # the echo is due at once; close right after must not drop it
    await transport.close()
    kinds = [json.loads(m)["event"] for m in fake.sent if isinstance(m, str)]
    assert kinds == ["mark", "stop"], kinds


class _BrokenFeed:
    """A recognizer whose streaming `feed` fails (a decoder that broke mid-utterance)."""

    speculative = False

    def start(self) -> None:
        pass

    def feed(self, _: Any) -> str:
        raise RuntimeError("decoder broke")

    def finish(self) -> str:
        return ""

    def discard(self) -> None:
        pass


async def test_the_pipeline_agent_surfaces_a_failing_stt_feed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(agent_mod, "make_recognizer", lambda *_: _BrokenFeed())
    agent = PipelineAgent(AgentSettings(llm_base_url="http://127.0.0.1:9/v1", greeting=False))
    transport = InProcessTransport(agent.handle)
    speech = synthesize("where is my order one two three four", "en-us").pcm
    pcm = np.concatenate([np.zeros(8000, np.int16), speech, np.zeros(16000, np.int16)])
    await transport.connect(START)
    for k in range(0, len(pcm) - FRAME_SAMPLES, FRAME_SAMPLES):
        await transport.send_audio(pcm[k : k + FRAME_SAMPLES])
    errors: list[Incoming] = []
    try:
        async with asyncio.timeout(10):
            async for item in transport.receive():
                if isinstance(item, EventIn) and item.event.get("type") == "error":
                    errors.append(item)
                    break
    finally:
        await transport.close()
        await agent.close()
    assert errors, "the STT failure vanished"
    message = errors[0].event["message"]  # type: ignore[union-attr]
    assert "stt" in message and "decoder broke" in message, message

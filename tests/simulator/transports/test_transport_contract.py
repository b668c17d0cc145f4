"""The transport contract: every transport, caller side and agent side, behaves alike.

A transport (`simulator.transports.base.Transport`) is the caller's end of a
call and an agent link (`simulator.transports.base.AgentLink`) the agent's;
each protocol is one pair, so one contract checks both over a real server on
127.0.0.1 (`reference_agent.server.serve`, every route) running a small echo
agent. Each implementation, on every behaviour:

- start event: the agent's first item is the `start` event with the call id,
  traceparent and config the caller connected with;
- audio round trip: a tone the caller sends reaches the agent as PCM, and the
  agent's echo of it comes back to the caller with its pitch intact (through
  mu-law at 8 kHz, 24 kHz PCM, Opus);
- end on hang-up: the caller's `close` ends the agent's call (a `stop`, then
  `recv` None; the agent may still speak then without an error), and the
  agent returning ends the caller's `receive` without an error;
- close twice: the second `close` is a no-op;
- send after close: never reaches the agent and raises TransportError (the
  reconnecting wrapper counts the frame lost instead: to it a failed send
  is a dropped line);
- connect timeout honoured: a server that accepts and never answers fails
  `connect` with TransportError within the `connect_timeout_s` given, not
  the library's default (implementations that open a connection).

A new implementation is added by passing this contract: add its name to
`KINDS` and a branch to `make_transport` (and to `CONNECTING` with a branch
in `silent_url` if it opens a connection); an agent link is added by serving
it on a route of `reference_agent.server.make_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from reference_agent.server import RunningServer, serve
from simulator.audio import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE, Pcm
from simulator.errors import TransportError
from simulator.scenario import Reconnect
from simulator.transports.base import AgentLink, AudioIn, Incoming, StartInfo, Transport
from simulator.transports.inprocess import InProcessTransport
from simulator.transports.reconnect import ReconnectingTransport
from simulator.transports.registry import transport_for
from tests.simulator.transports.hostile import url as hostile_url

#: Every transport: the four the registry reaches by URL, in-process, and the reconnecting
#: wrapper (around the native WebSocket, the one it can reconnect).
KINDS = ("inprocess", "websocket", "twilio", "realtime", "webrtc", "reconnecting")
#: The transports that open a connection (and so take `connect_timeout_s`).
CONNECTING = ("websocket", "twilio", "realtime", "webrtc", "reconnecting")

START = StartInfo(
    call_id="contract-000",
    traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
    config={"voice": "en-us", "n": 3},
)
TONE_HZ = 440
#: Generous: a bound on a busy 2-core box, not a latency claim.
BOUND_S = 20.0


def tone(seconds: float) -> Pcm:
    n = int(seconds * SAMPLE_RATE)
    return (8000 * np.sin(np.arange(n) * 2 * np.pi * TONE_HZ / SAMPLE_RATE)).astype(np.int16)


def peak_hz(pcm: Pcm) -> float:
    """The strongest frequency in `pcm` (16 kHz)."""
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.fft.rfftfreq(len(pcm), 1 / SAMPLE_RATE)[int(np.argmax(spectrum[1:])) + 1])


@dataclass
class EchoAgent:
    """An agent that records what it is given and echoes caller audio back; it hangs up
    (returns) after `hang_up_after` frames when that is set."""

    hang_up_after: int | None = None
    items: list[Pcm | dict[str, Any]] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    heard: asyncio.Event = field(default_factory=asyncio.Event)  # some caller audio came
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # recv gave None
    frames: int = 0
    late_send_error: BaseException | None = None  # from speaking after the caller hung up

    async def __call__(self, link: AgentLink) -> None:
        while True:
            item = await link.recv()
            if item is None:
                try:  # an agent finishing its sentence after the hang-up is not an error
                    await link.send_audio(tone(FRAME_SECONDS))
                    await link.send_event(
                        {"type": "transcript", "role": "assistant", "text": "bye"}
                    )
                except Exception as exc:  # noqa: BLE001 - recorded for the test to show
                    self.late_send_error = exc
                self.ended.set()
                return
            self.items.append(item)
            if isinstance(item, dict):
                if item.get("type") == "start":
                    self.started.set()
                continue
            self.frames += 1
            if np.abs(item.astype(np.int32)).max(initial=0) > 2000:
                self.heard.set()
            await link.send_audio(item)
            if self.hang_up_after is not None and self.frames >= self.hang_up_after:
                return

    def audio(self) -> Pcm:
        return np.concatenate([i for i in self.items if not isinstance(i, dict)] or [tone(0)])


def make_transport(
    kind: str, agent: EchoAgent, server: RunningServer, connect_timeout_s: float | None = None
) -> Transport:
    """A new transport of `kind` to `agent` (served by `server`, or in-process)."""
    if kind == "inprocess":
        return InProcessTransport(agent)
    if kind == "reconnecting":
        inner = transport_for(server.url_for("websocket"), connect_timeout_s)
        return ReconnectingTransport(inner, Reconnect(attempts=1, backoff_ms=50))
    return transport_for(server.url_for(kind), connect_timeout_s)


@pytest.fixture
async def echo() -> AsyncIterator[tuple[EchoAgent, RunningServer]]:
    """An echo agent served on every route at 127.0.0.1 (and callable in-process)."""
    agent = EchoAgent()
    server = await serve(agent)
    try:
        yield agent, server
    finally:
        await server.close()


async def _speak(transport: Transport, seconds: float) -> None:
    """Send `seconds` of tone in 20 ms frames, paced against the loop's clock."""
    loop = asyncio.get_running_loop()
    pcm = tone(seconds)
    t0 = loop.time()
    for k in range(0, len(pcm) // FRAME_SAMPLES):
        await transport.send_audio(pcm[k * FRAME_SAMPLES : (k + 1) * FRAME_SAMPLES])
        await asyncio.sleep(max(0.0, t0 + (k + 1) * FRAME_SECONDS - loop.time()))


class Listener:
    """The caller's `receive` loop as a task: what it yielded, and `enough` set once
    `want` samples of agent audio have come."""

    def __init__(self, transport: Transport, want: int = 0) -> None:
        self.got: list[Incoming] = []
        self.want = want
        self.enough = asyncio.Event()
        self.task = asyncio.create_task(self._run(transport), name="contract-receive")

    async def _run(self, transport: Transport) -> None:
        async for item in transport.receive():
            self.got.append(item)
            if len(self.audio()) >= self.want:
                self.enough.set()

    def audio(self) -> Pcm:
        return np.concatenate([i.pcm for i in self.got if isinstance(i, AudioIn)] or [tone(0)])


async def connected(
    kind: str, echo: tuple[EchoAgent, RunningServer]
) -> tuple[EchoAgent, Transport]:
    """A transport of `kind` connected to the echo agent with START."""
    agent, server = echo
    transport = make_transport(kind, agent, server)
    await transport.connect(START)
    return agent, transport


@pytest.mark.parametrize("kind", KINDS)
async def test_the_agent_first_gets_the_start_event_the_caller_connected_with(
    kind: str, echo: tuple[EchoAgent, RunningServer]
) -> None:
    agent, transport = await connected(kind, echo)
    try:
        async with asyncio.timeout(BOUND_S):
            await agent.started.wait()
    finally:
        await transport.close()
    first = agent.items[0]
    assert isinstance(first, dict) and first["type"] == "start", first
    assert first["call_id"] == START.call_id
    assert first["traceparent"] == START.traceparent
    assert first["config"] == START.config


@pytest.mark.parametrize("kind", KINDS)
async def test_caller_audio_reaches_the_agent_and_its_echo_comes_back_in_tune(
    kind: str, echo: tuple[EchoAgent, RunningServer]
) -> None:
    agent, transport = await connected(kind, echo)
    listener = Listener(transport, want=SAMPLE_RATE // 2)
    try:
        async with asyncio.timeout(BOUND_S):
            await _speak(transport, 1.0)
            await listener.enough.wait()
    finally:
        await transport.close()
        async with asyncio.timeout(BOUND_S):
            await listener.task
    heard = agent.audio()
    assert heard.dtype == np.int16
    assert agent.heard.is_set()
    assert peak_hz(heard) == pytest.approx(TONE_HZ, abs=10)
    back = listener.audio()
    assert np.abs(back.astype(np.int32)).max() > 2000
    assert peak_hz(back) == pytest.approx(TONE_HZ, abs=10)
    assert all(isinstance(i.at, float) for i in listener.got)


@pytest.mark.parametrize("kind", KINDS)
async def test_the_callers_close_ends_the_agents_call(
    kind: str, echo: tuple[EchoAgent, RunningServer]
) -> None:
    agent, transport = await connected(kind, echo)
    listener = Listener(transport)
    async with asyncio.timeout(BOUND_S):
        await agent.started.wait()
        await _speak(transport, 0.2)
        await transport.close()
        await agent.ended.wait()
        await listener.task  # receive ends, without an error
    stops = [i for i in agent.items if isinstance(i, dict) and i.get("type") == "stop"]
    assert len(stops) <= 1
    assert agent.late_send_error is None, repr(agent.late_send_error)


#: WebRTC has no hang-up message: the agent closing its peer connection reaches the
#: caller as a closed connection, which `WebRtcTransport.receive` raises as a TransportError.
@pytest.mark.parametrize("kind", KINDS)
async def test_the_agent_hanging_up_ends_the_callers_receive(
    kind: str, echo: tuple[EchoAgent, RunningServer]
) -> None:
    echo[0].hang_up_after = 5
    agent, transport = await connected(kind, echo)
    listener = Listener(transport)
    speaker = asyncio.create_task(_speak(transport, 5.0), name="contract-speak")
    try:
        async with asyncio.timeout(BOUND_S):
            await listener.task  # ends without an error, before the caller stops talking
        assert not speaker.done()
    finally:
        speaker.cancel()
        with contextlib.suppress(asyncio.CancelledError, TransportError):
            await speaker
        await transport.close()
    assert agent.frames == 5


@pytest.mark.parametrize("kind", KINDS)
async def test_closing_twice_is_harmless(kind: str, echo: tuple[EchoAgent, RunningServer]) -> None:
    agent, transport = await connected(kind, echo)
    async with asyncio.timeout(BOUND_S):
        await agent.started.wait()
        await transport.close()
        await transport.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_audio_sent_after_close_never_reaches_the_agent(
    kind: str, echo: tuple[EchoAgent, RunningServer]
) -> None:
    agent, transport = await connected(kind, echo)
    async with asyncio.timeout(BOUND_S):
        await agent.started.wait()
        await transport.close()
        await agent.ended.wait()
        if isinstance(transport, ReconnectingTransport):
            await transport.send_audio(tone(FRAME_SECONDS))
            assert transport.frames_lost == 1
        else:
            with pytest.raises(TransportError):
                await transport.send_audio(tone(FRAME_SECONDS))
    assert agent.frames == 0


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A TCP server that accepts and never answers (no HTTP upgrade, no offer answer)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def silent_url(kind: str, port: int) -> str:
    """The agent URL of `kind` on the silent server."""
    if kind == "webrtc":
        return f"webrtc+http://127.0.0.1:{port}/offer"
    return hostile_url("websocket" if kind == "reconnecting" else kind, port)


@pytest.mark.parametrize("kind", CONNECTING)
async def test_connect_timeout_bounds_a_server_that_never_answers(
    kind: str, silent_port: int
) -> None:
    transport = transport_for(silent_url(kind, silent_port), connect_timeout_s=0.5)
    if kind == "reconnecting":
        transport = ReconnectingTransport(transport, Reconnect(attempts=1, backoff_ms=50))
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        async with asyncio.timeout(15):  # aiohttp's own default would wait 300 s
            await transport.connect(START)
    took = time.monotonic() - started
    assert took < 10, took  # direction: bounded by the setting, not aiohttp's default
    if kind != "webrtc":  # the WebSocket transports name the setting
        assert "0.5 s" in caught.value.one_line(), caught.value.one_line()

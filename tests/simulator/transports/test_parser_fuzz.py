"""Fuzz each WebSocket transport's parser as a hostile agent would (issue 15).

Random bytes, random text, JSON shaped like the protocol's own messages with random
values, and mutations of valid messages go through the transport's `receive()` and the
session's handling of what it yields, with no socket (tests/simulator/transports/
hostile.py FakeWs), so hundreds of messages take a second or two. Whatever arrives, the
call ends with an AgentError (a protocol or transport error: one line in calls.jsonl),
never another exception and never a hang. A few mutated messages also go over a real
loopback socket through `run_call`. Seeded (derandomize) and bounded (max_examples,
deadline).
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time

import pytest
from aiohttp import web
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simulator.errors import AgentError
from simulator.runner import run_call
from simulator.scenario import parse_scenario
from simulator.session import PlannedTurn, Session
from simulator.transports.base import StartInfo, Transport
from simulator.transports.realtime import (
    AUDIO_DELTA,
    SERVER_EVENTS,
    TRANSCRIPT_DONE,
    RealtimeTransport,
)
from simulator.transports.registry import transport_for
from simulator.transports.twilio import AGENT_EVENTS, TwilioTransport
from simulator.transports.websocket import WebSocketTransport
from tests.simulator.transports.hostile import FakeWs, serve_app, url

START = StartInfo(call_id="fuzz-000", traceparent="00-" + "5" * 32 + "-" + "6" * 16 + "-01")
FUZZ = settings(
    max_examples=200,
    deadline=1000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_pcm = st.binary(max_size=400)
_b64 = st.one_of(_pcm.map(lambda b: base64.b64encode(b).decode()), st.text(max_size=40))
_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30), _b64
)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)

NATIVE_EVENTS = ["transcript", "metrics", "clear", "tool_call", "error", "session", "dance"]
NATIVE_FIELDS = ["role", "text", "final", "stages", "message", "name", "arguments", "id"]
TWILIO_FIELDS = ["media", "mark", "streamSid", "sequenceNumber"]
#: Realtime server events whose fields voxsim reads.
REALTIME_HOT = [
    *sorted(AUDIO_DELTA | TRANSCRIPT_DONE),
    "error",
    "response.done",
    "input_audio_buffer.speech_started",
    "output_audio_buffer.cleared",
    "conversation.item.input_audio_transcription.completed",
]
REALTIME_FIELDS = ["delta", "item_id", "transcript", "error", "response", "event_id"]


def _shaped(
    kind_key: str, hot: list[str], kinds: list[str], fields: list[str]
) -> st.SearchStrategy[str]:
    """JSON objects with the protocol's event key and field names, random values (and
    now and then a nested object under a known field, e.g. media.payload). `hot` are the
    events whose fields the parser reads: drawn as often as all the others together."""
    nested = st.fixed_dictionaries(
        {}, optional={"payload": _b64, "name": _json, "status": _json, "message": _json}
    )
    values = st.one_of(nested, _json, st.lists(_scalar, max_size=2))
    return st.builds(
        lambda kind, extra: json.dumps({kind_key: kind, **extra}),
        st.one_of(st.sampled_from(hot), st.sampled_from(kinds), _json),
        st.dictionaries(st.sampled_from(fields), values, max_size=4),
    )


def _valid(protocol: str, rng: random.Random) -> str | bytes:
    """One valid message of `protocol` (the seed a mutation starts from)."""
    audio = bytes(rng.randrange(256) for _ in range(2 * rng.randrange(1, 80)))
    payload = base64.b64encode(audio).decode()
    if protocol == "websocket":
        return rng.choice(
            [
                audio,
                json.dumps({"type": "transcript", "role": "user", "text": "hello", "final": True}),
                json.dumps({"type": "metrics", "stages": {"llm_ms": 12.5, "tts_ms": 3}}),
                json.dumps({"type": "clear"}),
            ]
        )
    if protocol == "twilio":
        return rng.choice(
            [
                json.dumps({"event": "media", "streamSid": "MZ", "media": {"payload": payload}}),
                json.dumps({"event": "mark", "streamSid": "MZ", "mark": {"name": "m"}}),
                json.dumps({"event": "clear", "streamSid": "MZ"}),
            ]
        )
    return rng.choice(
        [
            json.dumps({"type": "response.output_audio.delta", "item_id": "i", "delta": payload}),
            json.dumps({"type": "response.output_audio_transcript.done", "transcript": "hi"}),
            json.dumps({"type": "input_audio_buffer.speech_started"}),
            json.dumps({"type": "response.done", "response": {"status": "cancelled"}}),
            json.dumps({"type": "error", "error": {"message": "nope"}}),
        ]
    )


def _mutate(message: str | bytes, rng: random.Random) -> str | bytes:
    """Flip, drop, duplicate or insert bytes/characters; cut; or swap a JSON value."""
    data = bytearray(message if isinstance(message, bytes) else message.encode())
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(5)
        i = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(i, len(data) - 1)] = rng.randrange(256)
        elif op == 1:
            del data[i : i + rng.randrange(1, 8)]
        elif op == 2:
            data[i:i] = data[i : i + rng.randrange(1, 8)]
        elif op == 3:
            data[i:i] = rng.choice([b"{", b"}", b'"', b"[", b"null", b"1e999", b"-", b"\xff"])
        else:
            data = data[:i]
    if isinstance(message, bytes):
        return bytes(data)
    return data.decode("utf-8", errors="replace")


def _mutated(protocol: str) -> st.SearchStrategy[str | bytes]:
    return st.randoms(use_true_random=False).map(
        lambda rng: _mutate(_valid(protocol, rng), rng)  # type: ignore[arg-type]
    )


def _frames(protocol: str) -> st.SearchStrategy[list[str | bytes]]:
    kind_key, hot, kinds, fields = {
        "websocket": ("type", NATIVE_EVENTS, NATIVE_EVENTS, NATIVE_FIELDS),
        "twilio": ("event", sorted(AGENT_EVENTS), ["start", "dance"], TWILIO_FIELDS),
        "realtime": ("type", REALTIME_HOT, sorted(SERVER_EVENTS) + ["dance"], REALTIME_FIELDS),
    }[protocol]
    shaped = _shaped(kind_key, hot, kinds, fields)
    frame = st.one_of(
        st.binary(max_size=200),
        st.text(max_size=60),
        shaped,
        shaped,  # the shape that reaches deepest into the parser, drawn more often
        shaped,
        _mutated(protocol),
        st.randoms(use_true_random=False).map(lambda rng: _valid(protocol, rng)),  # type: ignore[arg-type]
    )
    return st.lists(frame, min_size=1, max_size=6)


def _transport(protocol: str, fake: FakeWs) -> Transport:
    transport: WebSocketTransport | TwilioTransport | RealtimeTransport
    if protocol == "websocket":
        transport = WebSocketTransport("ws://fake/ws")
    elif protocol == "twilio":
        transport = TwilioTransport("twilio+ws://fake/twilio")
    else:
        transport = RealtimeTransport("realtime+ws://fake/realtime")
    transport._ws = fake  # type: ignore[assignment]
    return transport


async def _one_call(protocol: str, frames: list[str | bytes]) -> AgentError:
    """What the session's receive loop ends with when the agent sends `frames` and closes."""
    transport = _transport(protocol, FakeWs(frames))
    session = Session(transport, [], START)
    session.line.t0 = asyncio.get_running_loop().time()
    session.turn_rows.current = session.turn_rows.new_row(
        PlannedTurn(index=0, kind="say", text="hello")
    )
    try:
        async with asyncio.timeout(5):
            await session.line.receive_loop()
    except AgentError as exc:  # any other exception fails the test with its traceback
        return exc
    finally:
        await transport.close()
    raise AssertionError("the receive loop ended without an error")


def _check(protocol: str, frames: list[str | bytes]) -> None:
    error = asyncio.run(_one_call(protocol, frames))
    line = error.one_line()
    assert line and "\n" not in line and "\r" not in line


@FUZZ
@given(frames=_frames("websocket"))
def test_native_parser_survives_a_hostile_agent(frames: list[str | bytes]) -> None:
    _check("websocket", frames)


@FUZZ
@given(frames=_frames("twilio"))
@example(frames=['{"event": []}'])  # found by this test: an unhashable event name
@example(frames=['{"event": "mark", "mark": [1]}', '{"event": "media", "media": "x"}'])
def test_twilio_parser_survives_a_hostile_agent(frames: list[str | bytes]) -> None:
    _check("twilio", frames)


@FUZZ
@given(frames=_frames("realtime"))
@example(frames=['{"type": "response.audio.delta"}'])  # found by this test: empty audio
@example(frames=['{"type": "response.done", "response": [1]}'])
def test_realtime_parser_survives_a_hostile_agent(frames: list[str | bytes]) -> None:
    _check("realtime", frames)


SCENARIO = parse_scenario("name: fuzz\nseed: 1\nturns:\n  - wait: true\n")


def _garbage(protocol: str, seed: int) -> list[str | bytes]:
    """A few mutated messages, seeded, then one that is surely broken."""
    rng = random.Random(seed)
    frames = [_mutate(_valid(protocol, rng), rng) for _ in range(3)]
    return [*frames, b"\x01\x02\x03" if protocol == "websocket" else "{not json"]


@pytest.mark.parametrize("protocol", ["websocket", "twilio", "realtime"])
async def test_mutated_messages_over_a_socket_end_the_call_with_one_line(protocol: str) -> None:
    frames = _garbage(protocol, seed=15)

    async def agent(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()  # start / connected / session.update
        for frame in frames:
            await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
        async for _ in ws:
            pass
        return ws

    server, port = await serve_app(agent)
    started = time.monotonic()
    try:
        call = await run_call(SCENARIO, transport_for(url(protocol, port)), "fuzz-sock")
    finally:
        await server.cleanup()
    assert time.monotonic() - started < 8  # the first broken message ends the call
    assert call["status"] == "failed"
    assert call["error"] and "\n" not in call["error"], call["error"]

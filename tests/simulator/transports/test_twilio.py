"""Twilio Media Streams: voxsim as Twilio against the bundled agents, and the wire format."""

from __future__ import annotations

import asyncio
import base64
import json

import numpy as np
from aiohttp import WSMsgType, web

from simulator.runner import run_call
from simulator.scenario import parse_scenario
from simulator.transports.base import AudioIn, EventIn, StartInfo
from simulator.transports.codecs import ulaw_encode
from simulator.transports.twilio import TwilioTransport, media_message
from tests.simulator.transports.conftest import routes

CALL = """
name: twilio-call
seed: 4
turns:
  - wait: true
  - say: "I would like to book an appointment for Tuesday at three pm"
  - say: "Where is my order one two three four"
"""


async def test_full_call_over_twilio_media_streams_against_the_pipeline_agent(
    pipeline_agent_url: str,
) -> None:
    url = routes(pipeline_agent_url)["twilio"]
    call = await run_call(parse_scenario(CALL), TwilioTransport(url), "twilio-0")
    assert call["status"] == "ok", call["error"]
    turns = call["turns"]
    assert [t["kind"] for t in turns] == ["wait", "say", "say"]
    assert all(t["latency_ms"] is not None and 0 < t["latency_ms"] < 3000 for t in turns)


async def _fake_agent(messages: list[dict], replies: list[str]) -> tuple[web.AppRunner, str]:
    """A Twilio app on loopback that records what voxsim sends and answers with `replies`."""

    async def route(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            messages.append(json.loads(msg.data))
            if messages[-1]["event"] == "start":
                for text in replies:
                    await ws.send_str(text)
        return ws

    app = web.Application()
    app.router.add_get("/twilio", route)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"twilio+ws://127.0.0.1:{port}/twilio"


async def test_twilio_round_trip_speaks_the_media_streams_wire_format() -> None:
    tone = (8000 * np.sin(np.arange(1600) * 2 * np.pi * 440 / 8000)).astype(np.int16)
    payload = base64.b64encode(ulaw_encode(tone)).decode()
    replies = [
        json.dumps({"event": "media", "streamSid": "x", "media": {"payload": payload}}),
        json.dumps({"event": "mark", "streamSid": "x", "mark": {"name": "reply-1"}}),
    ]
    sent: list[dict] = []
    runner, url = await _fake_agent(sent, replies)
    transport = TwilioTransport(url)
    try:
        await transport.connect(StartInfo("call-7", "00-" + "a" * 32 + "-" + "b" * 16 + "-01"))
        await transport.send_audio(np.zeros(320, dtype=np.int16))
        got = []
        async for item in transport.receive():
            got.append(item)
            if isinstance(item, EventIn):
                break
        await asyncio.sleep(0.3)  # the mark is echoed once its audio (200 ms) has played
    finally:
        await transport.close()
        await asyncio.sleep(0.05)
        await runner.cleanup()
    kinds = [m["event"] for m in sent]
    assert kinds[:3] == ["connected", "start", "media"]
    start = sent[1]["start"]
    assert start["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    assert start["customParameters"]["traceparent"].startswith("00-aaaa")
    assert len(base64.b64decode(sent[2]["media"]["payload"])) == 160  # 20 ms of 8 kHz mu-law
    assert "mark" in kinds and sent[kinds.index("mark")]["mark"]["name"] == "reply-1"
    assert kinds[-1] == "stop"
    audio = np.concatenate([i.pcm for i in got if isinstance(i, AudioIn)])
    assert len(audio) == 3200  # 200 ms at 16 kHz
    assert np.abs(audio[400:]).max() > 6000  # the tone survives mu-law and resampling


def test_media_message_is_the_text_json_dumps_gives() -> None:
    payload = base64.b64encode(ulaw_encode(np.arange(-8000, 8000, 100, dtype=np.int16))).decode()
    for sid in ["MZcall-1", 'MZ"quoted"\\ünïcode\n']:
        want = json.dumps(
            {
                "event": "media",
                "sequenceNumber": "12",
                "streamSid": sid,
                "media": {
                    "track": "inbound",
                    "chunk": "11",
                    "timestamp": "220",
                    "payload": payload,
                },
            }
        )
        assert media_message(json.dumps(sid), "12", 11, payload) == want

"""An agent that breaks its protocol ends that call with a clear error; the run goes on."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web

from simulator.runner import run_call, run_files
from simulator.scenario import parse_scenario
from simulator.transports.registry import transport_for

TONE = (8000 * np.sin(np.arange(8000) * 2 * np.pi * 300 / 16000)).astype(np.int16)  # 0.5 s

SCENARIO = """
name: broken-agent
seed: 1
turns:
  - wait: true
  - say: "Where is my order one two three four"
"""


def _audio(protocol: str, pcm: np.ndarray) -> list[str | bytes]:
    """Messages carrying `pcm` (16 kHz) in `protocol`'s format."""
    if protocol == "websocket":
        return [pcm.astype("<i2").tobytes()]
    if protocol == "twilio":
        from simulator.transports.codecs import ulaw_encode

        payload = base64.b64encode(ulaw_encode(pcm[::2])).decode()
        return [json.dumps({"event": "media", "streamSid": "s", "media": {"payload": payload}})]
    delta = base64.b64encode(np.repeat(pcm, 3)[::2].astype("<i2").tobytes()).decode()
    return [json.dumps({"type": "response.output_audio.delta", "item_id": "i", "delta": delta})]


def _breakage(protocol: str, fault: str) -> str | bytes | None:
    if fault == "bad_json":
        return "{not json"
    if fault == "unknown_event":
        return json.dumps({"event": "dance"} if protocol == "twilio" else {"type": "dance"})
    if fault == "wrong_audio_size":
        if protocol == "websocket":
            return b"\x01\x02\x03"
        if protocol == "twilio":
            return json.dumps({"event": "media", "media": {"payload": "%%%"}})
        return json.dumps(
            {"type": "response.output_audio.delta", "item_id": "i", "delta": "AAAA"}  # 3 bytes
        )
    return None  # abrupt close


async def _broken_agent(fault: str, healthy_after: int = 10**9) -> tuple[web.AppRunner, int]:
    """Greets with a tone, then breaks the protocol by `fault` (connections >= healthy_after
    behave)."""
    connections = 0

    async def route(request: web.Request) -> web.WebSocketResponse:
        nonlocal connections
        connections += 1
        protocol = request.match_info["protocol"]
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()  # start / connected / session.update
        for message in _audio(protocol, TONE):
            await (ws.send_bytes if isinstance(message, bytes) else ws.send_str)(message)
        await asyncio.sleep(2.5)  # the greeting is measured, the caller starts its turn
        if connections >= healthy_after:
            await asyncio.sleep(5)
            for message in _audio(protocol, TONE):
                await (ws.send_bytes if isinstance(message, bytes) else ws.send_str)(message)
            async for _ in ws:
                pass
            return ws
        broken = _breakage(protocol, fault)
        if broken is None:
            assert request.transport is not None
            request.transport.abort()  # no close frame: the TCP connection just drops
            return ws
        await (ws.send_bytes if isinstance(broken, bytes) else ws.send_str)(broken)
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/{protocol}", route)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def _url(protocol: str, port: int) -> str:
    scheme = {"websocket": "ws://", "twilio": "twilio+ws://", "realtime": "realtime+ws://"}
    return f"{scheme[protocol]}127.0.0.1:{port}/{protocol}"


CASES = [
    (p, f)
    for p in ("websocket", "twilio", "realtime")
    for f in ("bad_json", "unknown_event", "wrong_audio_size", "abrupt_close")
    if not (p == "websocket" and f == "unknown_event")  # native: unknown events are ignored
]


@pytest.mark.parametrize(("protocol", "fault"), CASES)
async def test_malformed_agent_message_ends_the_call_with_a_clear_error(
    protocol: str, fault: str
) -> None:
    runner, port = await _broken_agent(fault)
    try:
        call = await run_call(parse_scenario(SCENARIO), transport_for(_url(protocol, port)), "b")
    finally:
        await runner.cleanup()
    assert call["status"] == "failed"
    expected = {
        "bad_json": "invalid JSON",
        "unknown_event": "unknown",
        "wrong_audio_size": "audio" if protocol != "twilio" else "base64",
        "abrupt_close": "closed",
    }[fault]
    assert expected in call["error"], call["error"]
    assert "\n" not in call["error"]
    greeting = call["turns"][0]  # measured before the breakage, and kept
    assert greeting["kind"] == "wait" and greeting["latency_ms"] is not None


async def test_the_run_goes_on_after_a_call_breaks(tmp_path: Path) -> None:
    runner, port = await _broken_agent("bad_json", healthy_after=2)
    files = []
    for k in range(2):
        path = tmp_path / f"s{k}.yaml"
        path.write_text(SCENARIO.replace("broken-agent", f"call-{k}"))
        files.append(str(path))
    try:
        outcome = await run_files(files, tmp_path / "run", agent=_url("websocket", port))
    finally:
        await runner.cleanup()
    calls = [
        json.loads(line)
        for line in (tmp_path / "run" / "calls.jsonl").read_text().split("\n")
        if line
    ]
    assert [c["status"] for c in calls] == ["failed", "ok"]
    assert "invalid JSON" in calls[0]["error"]
    assert outcome.exit_code == 3


@pytest.mark.parametrize("fault", ["bad_json", "abrupt_close"])
async def test_malformed_webrtc_agent_ends_the_call_with_a_clear_error(fault: str) -> None:
    from reference_agent.server import serve

    async def handler(link) -> None:
        await link.recv()  # start
        await link.send_audio(TONE)
        await asyncio.sleep(2.5)
        if fault == "bad_json":
            link.channel.send("{not json")
            while await link.recv() is not None:
                pass
        # abrupt_close: returning ends the peer connection without a stop

    server = await serve(handler)
    try:
        url = server.url_for("webrtc")
        call = await run_call(parse_scenario(SCENARIO), transport_for(url), "rtc-broken")
    finally:
        await server.close()
    assert call["status"] == "failed"
    assert ("invalid JSON" if fault == "bad_json" else "closed") in call["error"], call["error"]
    assert call["turns"][0]["latency_ms"] is not None

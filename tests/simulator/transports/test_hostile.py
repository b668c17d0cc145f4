"""Hostile agents on every transport (issue 15): an agent that breaks its protocol, never
answers, hangs up, sends garbage or oversize messages, or talks without end ends that
call with one clear line (or a turn row error), the right exit code, and in bounded
time; turns measured before stay, and the run goes on with the next call."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from simulator.runner import run_call, run_files
from simulator.scenario import parse_scenario
from simulator.session import SessionOptions
from simulator.transports.registry import transport_for
from tests.simulator.transports.hostile import BEHAVIOURS, hostile_handler, serve_app, url

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

    return await serve_app(route)


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
        call = await run_call(parse_scenario(SCENARIO), transport_for(url(protocol, port)), "b")
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
        outcome = await run_files(files, tmp_path / "run", agent=url("websocket", port))
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


HOSTILE = """
name: hostile
seed: 1
turns:
  - wait: true
    reply_timeout_ms: 1000
slo:
  latency_p95_ms: 5000
"""
#: Short enough for a test; the default is 60 s.
OPTIONS = SessionOptions(max_reply_ms=2000)

#: behaviour -> (exit code, where the line is: "call" error or "turn" row error, its text)
EXPECTED: dict[str, tuple[int, str, str]] = {
    "never_answers": (1, "turn", "no reply before timeout"),  # the latency SLO has no data
    "closes_after_start": (3, "call", "closed"),
    "garbage": (3, "call", "invalid JSON"),
    "oversize": (3, "call", "too large"),
    # Cut short at the cap; a reply that never ends has no latency: the SLO has no data.
    "endless_audio": (1, "turn", "did not end within 2 s"),
    "flood": (3, "call", "ahead of real time"),
}


async def _run_hostile(tmp_path: Path, agent_url: str) -> tuple[int, dict[str, Any], float]:
    """Run HOSTILE against `agent_url`: (exit code, the call row with its turns, seconds)."""
    scenario = tmp_path / "hostile.yaml"
    scenario.write_text(HOSTILE)
    out = tmp_path / "run"
    started = time.monotonic()
    outcome = await run_files([str(scenario)], out, agent=agent_url, options=OPTIONS)
    took = time.monotonic() - started
    (call,) = [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]
    call["turns"] = [json.loads(line) for line in (out / "turns.jsonl").read_text().splitlines()]
    run = json.loads((out / "run.json").read_text())
    assert run["exit_code"] == outcome.exit_code and run["status"] == "completed", run
    return outcome.exit_code, call, took


def _check(
    behaviour: str, code: int, call: dict[str, Any], took: float, webrtc: bool = False
) -> None:
    exit_code, where, text = EXPECTED[behaviour]
    if webrtc and behaviour == "oversize":
        # The caller's SDP offers 256 KiB messages: the agent's own stack refuses to send
        # more (aiortc raises), and the agent's connection ends.
        text = "closed"
    assert code == exit_code, (code, call["error"], [t["error"] for t in call["turns"]])
    if where == "call":
        assert call["status"] == "failed" and text in call["error"], call["error"]
        assert "\n" not in call["error"]
    else:
        assert call["status"] == "ok", call["error"]
        assert text in (call["turns"][0]["error"] or ""), call["turns"][0]
    # Direction, not speed: each ends within seconds of its own timeouts (1 s reply
    # timeout, 2 s reply cap), never at a default of minutes.
    assert took < 20, took


@pytest.mark.parametrize("protocol", ["websocket", "twilio", "realtime"])
@pytest.mark.parametrize("behaviour", BEHAVIOURS)
async def test_hostile_agent(tmp_path: Path, protocol: str, behaviour: str) -> None:
    server, port = await serve_app(hostile_handler(behaviour))
    try:
        code, call, took = await _run_hostile(tmp_path, url(protocol, port))
    finally:
        await server.cleanup()
    _check(behaviour, code, call, took)


async def _webrtc_hostile(behaviour: str, link: Any) -> None:
    """The WebRTC agent side of `behaviour` (flood cannot happen: the track is paced)."""
    await link.recv()  # start
    if behaviour == "closes_after_start":
        return  # the peer connection ends without a stop
    if behaviour == "garbage":
        link.channel.send("\x00\x01garbage{")
    elif behaviour == "oversize":
        link.channel.send("x" * (10 * 2**20))
    elif behaviour == "endless_audio":
        await asyncio.sleep(0.3)
        second = TONE[np.arange(16000) % len(TONE)]
        while True:  # the link's track plays it out in real time
            await link.send_audio(second)
            await asyncio.sleep(1.0)
    while await link.recv() is not None:
        pass


@pytest.mark.parametrize("behaviour", [b for b in BEHAVIOURS if b != "flood"])
async def test_hostile_webrtc_agent(tmp_path: Path, behaviour: str) -> None:
    from reference_agent.server import serve

    server = await serve(lambda link: _webrtc_hostile(behaviour, link))
    try:
        code, call, took = await _run_hostile(tmp_path, server.url_for("webrtc"))
    finally:
        await server.close()
    _check(behaviour, code, call, took, webrtc=True)

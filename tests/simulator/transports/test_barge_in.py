"""Barge-in over every transport: the agent's audio stops, measured the same way on each."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from simulator.audio import FRAME_SAMPLES, SPEECH_THRESHOLD, frames, silence
from simulator.caller.tts import synthesize
from simulator.transports.base import AudioIn, EventIn, StartInfo, Transport
from simulator.transports.registry import transport_for
from tests.simulator.transports.conftest import routes

TRACEPARENT = "00-" + "c" * 32 + "-" + "d" * 16 + "-01"


async def barge_in(transport: Transport, after_s: float = 0.8) -> dict[str, float | bool]:
    """Speak over the agent's greeting `after_s` into it; time when its audio stops.

    Stop latency = arrival of the last loud agent frame of the greeting minus the
    moment the caller's speech started, both on the loop's clock.
    """
    loop = asyncio.get_running_loop()
    speech = await asyncio.to_thread(synthesize, "Where is my order one two three four", "en-us")
    voice = speech.pcm[speech.start :]
    loud: list[float] = []
    cleared: list[float] = []
    state: dict[str, float] = {}

    async def listen() -> None:
        async for item in transport.receive():
            if isinstance(item, AudioIn) and np.abs(item.pcm).max() > SPEECH_THRESHOLD:
                loud.append(item.at)
            elif isinstance(item, EventIn) and item.event.get("type") == "clear":
                cleared.append(item.at)

    await transport.connect(StartInfo("barge", TRACEPARENT, {"seed": 1}))
    listener = asyncio.create_task(listen())
    t0 = loop.time()
    plan = [silence(FRAME_SAMPLES)] * 400
    k = 0
    try:
        while k < len(plan):
            if loop.time() < t0 + (k + 1) * 0.02:
                await asyncio.sleep(t0 + (k + 1) * 0.02 - loop.time())
            if "speech" not in state and loud and loop.time() - loud[0] >= after_s:
                state["speech"] = loop.time()
                plan = plan[: k + 1] + frames(voice) + [silence(FRAME_SAMPLES)] * 25
            await transport.send_audio(plan[k])
            k += 1
            if "speech" in state and loop.time() - state["speech"] > 1.2:
                break
    finally:
        listener.cancel()
        await transport.close()
    speech_at = state["speech"]
    before_gap = [t for t in loud if t >= speech_at]
    stop = speech_at
    for t in before_gap:  # the greeting's frames arrive every 20 ms until it is cut
        if t - stop > 0.3:
            break
        stop = t
    return {"stop_ms": (stop - speech_at) * 1000, "cleared": bool(cleared)}


@pytest.mark.parametrize("name", ["websocket", "twilio", "realtime", "webrtc"])
async def test_barge_in_stops_the_agents_audio_on_every_transport(
    e2e_agent_url: str, name: str
) -> None:
    result = await barge_in(transport_for(routes(e2e_agent_url)[name]))
    print(f"barge-in stop latency over {name}: {result['stop_ms']:.0f} ms")  # BENCHMARKS.md
    assert result["cleared"], "the agent's audio was not cleared"
    # VAD needs 60 ms of speech; the greeting had ~2 s left: it must stop well before.
    assert 0 <= result["stop_ms"] < 500, result

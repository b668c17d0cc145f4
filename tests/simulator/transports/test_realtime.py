"""OpenAI Realtime: the official `openai` client drives the bundled e2e agent on loopback."""

from __future__ import annotations

import asyncio
import base64

import numpy as np
from openai import AsyncOpenAI

from simulator.audio import silence, to_bytes
from simulator.caller.tts import synthesize
from simulator.runner import run_call
from simulator.scenario import parse_scenario
from simulator.transports.codecs import StreamResampler
from simulator.transports.realtime import RealtimeTransport
from tests.simulator.transports.conftest import routes


async def test_official_openai_client_talks_to_the_e2e_agent(e2e_agent_url: str) -> None:
    client = AsyncOpenAI(api_key="voxsim", base_url=routes(e2e_agent_url)["http"] + "/v1")
    speech = await asyncio.to_thread(synthesize, "Where is my order one two three four", "en-us")
    pcm16 = np.concatenate([speech.pcm, silence(16000)])
    pcm24 = StreamResampler(16000, 24000)(pcm16)
    events: list = []
    audio = bytearray()
    async with client.realtime.connect(model="voxsim-e2e") as conn:
        await conn.session.update(
            session={
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad"}}},
            }
        )

        async def feed() -> None:
            for k in range(0, len(pcm24), 480):  # 20 ms at 24 kHz, in real time
                chunk = base64.b64encode(to_bytes(pcm24[k : k + 480])).decode()
                await conn.input_audio_buffer.append(audio=chunk)
                await asyncio.sleep(0.02)

        feeder = asyncio.create_task(feed())
        async with asyncio.timeout(30):
            answered = False  # the greeting comes first; keep the answer's audio only
            async for event in conn:
                events.append(event)
                answered = answered or event.type == "input_audio_buffer.speech_stopped"
                if event.type == "response.output_audio.delta" and answered:
                    audio.extend(base64.b64decode(event.delta))
                if event.type == "response.done" and audio:
                    break
        await feeder
    types = [e.type for e in events]
    assert types[0] == "session.created"
    assert "session.updated" in types
    order = ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"]
    assert all(t in types for t in order)
    assert types.index(order[0]) < types.index(order[1])
    heard = next(
        e for e in events if e.type == "conversation.item.input_audio_transcription.completed"
    )
    assert "order" in heard.transcript
    said = [e for e in events if e.type == "response.output_audio_transcript.done"]
    assert "order" in said[-1].transcript.lower()
    assert len(audio) / 2 / 24000 > 1.0  # over a second of agent speech at 24 kHz


async def test_full_call_over_realtime_against_the_e2e_agent(e2e_agent_url: str) -> None:
    scenario = parse_scenario(
        """
name: realtime-call
seed: 2
turns:
  - wait: true
  - say: "I would like to book an appointment for Tuesday at three pm"
  - say: "Where is my order one two three four"
"""
    )
    transport = RealtimeTransport(routes(e2e_agent_url)["realtime"])
    call = await run_call(scenario, transport, "realtime-0")
    assert call["status"] == "ok", call["error"]
    said = [t for t in call["turns"] if t["kind"] == "say"]
    assert all(t["latency_ms"] is not None for t in said)
    assert "tuesday" in (said[0]["agent_heard_text"] or "")
    assert "order" in (said[1]["agent_reply_text"] or "").lower()


async def test_the_pipeline_agent_is_served_behind_realtime_too(pipeline_agent_url: str) -> None:
    scenario = parse_scenario(
        "name: realtime-pipeline\nseed: 2\nturns:\n  - wait: true\n"
        '  - say: "Where is my order one two three four"\n'
    )
    transport = RealtimeTransport(routes(pipeline_agent_url)["realtime"])
    call = await run_call(scenario, transport, "realtime-pipeline-0")
    assert call["status"] == "ok", call["error"]
    turn = call["turns"][1]
    assert turn["latency_ms"] is not None
    assert "order" in (turn["agent_heard_text"] or "")
    assert "order" in (turn["agent_reply_text"] or "").lower()

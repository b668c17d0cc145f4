"""The agent's voice: eSpeak NG per sentence, leading silence trimmed.

Synthesis runs in a worker thread so the agent's loop keeps pacing frames.
"""

from __future__ import annotations

import asyncio

from simulator.audio import Pcm
from simulator.caller.tts import synthesize

AGENT_VOICE = "en-US+f2"


async def speak(
    sentence: str, voice: str = AGENT_VOICE, rate_wpm: int = 185, trim: bool = True
) -> Pcm:
    """Audio of one sentence; with `trim`, starting at its first speech sample."""
    speech = await asyncio.to_thread(synthesize, sentence, voice, rate_wpm, 50)
    return speech.pcm[speech.start :] if trim else speech.pcm

"""The agent's voice, per sentence, leading silence trimmed: eSpeak NG (fast,
robotic) or Piper (`voice="piper"`: a natural neural voice, ~0.06 x real time).

Synthesis runs in a worker thread so the agent's loop keeps pacing frames.
A natural voice matters over a telephone line: a listener's recognizer
(and voxsim's goal-driven callers' ears) hears eSpeak's formants badly once
the line cuts them to 300-3400 Hz (BENCHMARKS.md, "Caller ears").
"""

from __future__ import annotations

import asyncio

from simulator.audio import Pcm
from simulator.caller.tts import Speech, synthesize

AGENT_VOICE = "en-US+f2"
#: `voxsim agent serve --voice`: eSpeak NG's AGENT_VOICE, or Piper's joe.
VOICES = ("espeak", "piper")
DEFAULT_VOICE = "espeak"


async def speak(
    sentence: str, voice: str = AGENT_VOICE, rate_wpm: int = 185, trim: bool = True
) -> Pcm:
    """Audio of one sentence; with `trim`, starting at its first speech sample."""
    speech = await asyncio.to_thread(synthesize_sentence, sentence, voice, rate_wpm)
    return speech.pcm[speech.start :] if trim else speech.pcm


def synthesize_sentence(sentence: str, voice: str = AGENT_VOICE, rate_wpm: int = 185) -> Speech:
    """One sentence in the agent's voice: "piper" (natural), or an eSpeak NG voice name
    ("espeak" means AGENT_VOICE)."""
    if voice == "piper":
        from simulator.caller.piper_tts import synthesize_piper

        return synthesize_piper(sentence, rate_wpm)
    return synthesize(sentence, AGENT_VOICE if voice == "espeak" else voice, rate_wpm, 50)

"""The goal-driven caller's ears: what did the agent just say?

Where the protocol carries the agent's own words (the native protocol's and
OpenAI Realtime's transcript events) the caller reads them, as a person
reads nothing but hears perfectly; otherwise (Twilio Media Streams, an agent
that sends no text, or `ears: audio`) voxsim's own general-English
recognizer (Whisper tiny, simulator/conversation/whisper.py) transcribes the
audio the caller received, in a worker thread, so what the caller
understands is what a listener on that line could understand.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import numpy as np

from simulator.audio import Pcm
from simulator.conversation.policy import Heard

EarsMode = Literal["auto", "transcript", "audio"]


class Ears:
    """Turns one agent turn (its transcript events, its audio) into `Heard`."""

    def __init__(self, mode: EarsMode = "auto") -> None:
        self.mode = mode

    async def hear(self, transcripts: list[str], audio: Pcm, partial: bool = False) -> Heard:
        """What the caller understood of the agent's turn; `audio` is what it received."""
        text = " ".join(t.strip() for t in transcripts if t and t.strip())
        if self.mode == "transcript" or (self.mode == "auto" and text):
            return Heard(text=text, source="transcript" if text else "none", partial=partial)
        if len(audio) == 0:
            return Heard(text="", source="none", partial=partial)
        heard = await asyncio.to_thread(transcribe, audio)
        return Heard(text=heard, source="audio", partial=partial)


def transcribe(audio: Pcm) -> str:
    """voxsim's recognizer on received agent audio (loaded once per process)."""
    from simulator.conversation.whisper import WhisperRecognizer

    return WhisperRecognizer.shared().transcribe(np.asarray(audio, dtype=np.int16))

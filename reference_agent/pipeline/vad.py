"""Endpointing: webrtcvad per 20 ms frame plus a silence hangover.

The hangover is the latency/robustness trade-off every pipeline makes: a
shorter one answers sooner but takes the turn on a caller's mid-sentence
pause (a false takeover); a longer one adds its full length to every reply.
webrtcvad-wheels costs ~2.5 us per frame (STACK.md), so it never delays audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import webrtcvad

from simulator.audio import FRAME_MS, SAMPLE_RATE, Pcm, to_bytes


class VadEvent(Enum):
    """What a frame changed in the caller's speech state."""

    NONE = "none"
    SPEECH_START = "speech_start"
    ENDPOINT = "endpoint"


@dataclass
class Endpointer:
    """Speech start after `start_frames` voiced frames; endpoint after `hangover_ms` unvoiced."""

    hangover_ms: int = 240
    start_frames: int = 3
    mode: int = 2
    vad: str = "webrtc"  # or "silero" (benchmarks/vad_choice.py compares them)

    def __post_init__(self) -> None:
        if self.vad == "silero":
            from reference_agent.pipeline.silero import SileroVad

            self._is_speech = SileroVad().is_speech
        else:
            webrtc = webrtcvad.Vad(self.mode)
            self._is_speech = lambda frame: webrtc.is_speech(to_bytes(frame), SAMPLE_RATE)
        self.in_speech = False
        self._voiced_run = 0
        self._silent_ms = 0

    def process(self, frame: Pcm) -> VadEvent:
        """Feed exactly one 20 ms frame (320 samples)."""
        voiced = bool(self._is_speech(frame))
        if not self.in_speech:
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run >= self.start_frames:
                self.in_speech = True
                self._silent_ms = 0
                return VadEvent.SPEECH_START
            return VadEvent.NONE
        if voiced:
            self._silent_ms = 0
            return VadEvent.NONE
        self._silent_ms += FRAME_MS
        if self._silent_ms >= self.hangover_ms:
            self.in_speech = False
            self._voiced_run = 0
            return VadEvent.ENDPOINT
        return VadEvent.NONE

    @property
    def silent_ms(self) -> int:
        """Unvoiced time since the last voiced frame while in speech."""
        return self._silent_ms

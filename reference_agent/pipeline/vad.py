"""Endpointing: a VAD per 20 ms frame plus a silence hangover.

The hangover is the latency/robustness trade-off every pipeline makes: a
shorter one answers sooner but takes the turn on a caller's mid-sentence
pause (a false takeover); a longer one adds its full length to every reply.

The default is webrtcvad with a 140 ms hangover. benchmarks/vad_choice.py
measured webrtcvad's offset tail at ~113 ms and its longest gap inside an
utterance at ~81 ms (P95), so 140 ms never splits a sentence and the turn
ends ~250 ms after the caller stops. silero (ONNX, `vad="silero"`) has a
shorter tail (~67 ms) but gaps up to ~140 ms inside words, so it needs
>= 160 ms, ending turns about as soon; and it judges 32 ms windows whose
phase against the caller's 20 ms frames differs from turn to turn, so the
same audio ends a turn up to tens of ms apart. webrtcvad judges each frame
alone: the same audio gives the same endpoint, which keeps injected delays
exactly measurable. webrtcvad-wheels costs ~2.5 us per frame (STACK.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import webrtcvad

from simulator.audio import FRAME_MS, SAMPLE_RATE, Pcm, to_bytes

DEFAULT_VAD = "webrtc"
#: The VAD engines (`voxsim agent serve --vad`); their contract is
#: tests/reference_agent/pipeline/test_engine_contracts.py.
VADS = ("webrtc", "silero")
DEFAULT_HANGOVER_MS = 140


def vad_engine(name: str = DEFAULT_VAD, mode: int = 2) -> Callable[[Pcm], bool]:
    """A fresh VAD engine `name` (one of VADS): one 20 ms frame (320 samples at 16 kHz)
    in, speech or not out; `mode` is webrtcvad's aggressiveness."""
    if name == "silero":
        from reference_agent.pipeline.silero import SileroVad

        return SileroVad().is_speech
    webrtc = webrtcvad.Vad(mode)
    return lambda frame: bool(webrtc.is_speech(to_bytes(frame), SAMPLE_RATE))


class VadEvent(Enum):
    """What a frame changed in the caller's speech state."""

    NONE = "none"
    SPEECH_START = "speech_start"
    ENDPOINT = "endpoint"


@dataclass
class Endpointer:
    """Speech start after `start_frames` voiced frames; endpoint after `hangover_ms` unvoiced."""

    hangover_ms: int = DEFAULT_HANGOVER_MS
    start_frames: int = 3
    mode: int = 2  # webrtcvad's aggressiveness
    vad: str = DEFAULT_VAD  # or "silero" (benchmarks/vad_choice.py compares them)

    def __post_init__(self) -> None:
        self._is_speech = vad_engine(self.vad, self.mode)
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

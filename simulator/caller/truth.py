"""Ground truth carried through the caller chain, and the interface every stage keeps.

Each stage is `render(audio, truth, rng) -> (audio, truth)`: it may change the
audio but must keep `speech_start`/`speech_end` pointing at the speech in it
(compensating any delay it adds), so the session's latency and turn-taking
metrics stay anchored to what the caller really said.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from simulator.audio import Pcm


@dataclass(frozen=True)
class Truth:
    """Where the speech is and what it says.

    `intended_text` is what the caller meant (the scenario's words);
    `spoken_text` is what was actually said, disfluencies included.
    `pauses` are (start, end) sample spans of planned silence inside the speech.
    `notes` holds per-stage measurements (e.g. `snr_db`) recorded per call.
    """

    speech_start: int
    speech_end: int
    intended_text: str
    spoken_text: str
    pauses: tuple[tuple[int, int], ...] = ()
    notes: dict[str, float] = field(default_factory=dict)

    def noted(self, **values: float) -> Truth:
        """A copy with `values` added to the notes."""
        return replace(self, notes={**self.notes, **{k: float(v) for k, v in values.items()}})


class Stage(Protocol):
    """One step of the caller chain."""

    def render(self, audio: Pcm, truth: Truth, rng: np.random.Generator) -> tuple[Pcm, Truth]:
        """Transform `audio`, keeping `truth` consistent with it."""
        ...


def to_int16(x: np.ndarray) -> Pcm:
    """Round and saturate float samples (int16 scale) to int16."""
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)

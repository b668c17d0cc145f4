"""What a session plays: the rendered turns of the caller's plan and its timing knobs.

Apart from the session so the caller renderer and the goal-driven caller, which
produce planned turns, need none of the machinery that plays them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from simulator.audio import Pcm

TurnKind = Literal["say", "silence", "wait", "backchannel", "hangup"]


@dataclass(frozen=True)
class PlannedTurn:
    """One rendered step of the caller's plan; speech bounds are indices into `pcm`."""

    index: int
    kind: TurnKind
    text: str | None = None
    pcm: Pcm = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    speech_start: int = 0
    speech_end: int = 0
    silence_ms: int = 0
    waits_for_reply: bool = False
    reply_timeout_ms: int = 10_000
    #: What was actually said (disfluencies included); `text` is what was meant.
    spoken_text: str | None = None
    #: Planned silences inside the speech, (start, end) indices into `pcm`.
    pauses: tuple[tuple[int, int], ...] = ()
    #: Per-stage measurements of the render (e.g. snr_db), copied into the turn row.
    notes: dict[str, float] = field(default_factory=dict)
    #: Dynamics: act this many ms into the agent's reply to the previous turn
    #: (a barge-in `say`, a `backchannel`, or a `hangup`).
    at_ms: int | None = None
    #: Filler words this caller may say; removed from the transcript before WER.
    fillers: tuple[str, ...] = ()

    @property
    def in_reply(self) -> bool:
        """True when this turn acts during the agent's reply to the previous turn."""
        return self.at_ms is not None


@dataclass(frozen=True)
class SessionOptions:
    """Timing knobs of the caller's behaviour."""

    lead_in_ms: int = 200  # silence on the line before the plan starts
    reply_gap_ms: int = 900  # agent silence that ends its reply
    think_ms: int = 300  # caller's pause after the agent's reply, before the next turn
    hangup_grace_ms: int = 200
    #: A reply still going this long after the turn's reply timeout is cut short (a row
    #: error); an agent that never stops talking cannot hold the call forever.
    max_reply_ms: int = 60_000
    #: Agent audio queued ahead of real time beyond this ends the call (a protocol
    #: error): an agent flooding audio cannot exhaust the harness's memory.
    max_buffered_ms: int = 120_000

"""The whole caller chain for one utterance: words -> voice -> room -> noise -> line.

Every random choice comes from generators seeded by (call seed, turn index,
stage), so one call renders the same bytes whenever it is rendered alone
(in a fresh process, see render.py), and a different seed changes them.
"""

from __future__ import annotations

import numpy as np

from simulator.audio import Pcm
from simulator.caller.channel import ChannelStage
from simulator.caller.disfluency import plan_segments
from simulator.caller.noise import NoiseStage
from simulator.caller.room import RoomStage
from simulator.caller.speech import speak
from simulator.caller.truth import Stage, Truth
from simulator.scenario import Caller

_DISFLUENCY, _ROOM, _NOISE, _CHANNEL = 1, 2, 3, 4


def stages(caller: Caller, seed: int) -> list[tuple[int, Stage]]:
    """The caller's configured stages after speech, in order, with their stream ids."""
    out: list[tuple[int, Stage]] = []
    if caller.room is not None:
        out.append((_ROOM, RoomStage(caller.room, seed)))
    if caller.noise is not None:
        out.append((_NOISE, NoiseStage(caller.noise)))
    if caller.channel is not None:
        out.append((_CHANNEL, ChannelStage(caller.channel)))
    return out


def render_utterance(
    text: str,
    caller: Caller,
    seed: int,
    index: int,
    *,
    pause_ms: int | None = None,
    pause_after_word: int | None = None,
    disfluent: bool = True,
) -> tuple[Pcm, Truth]:
    """Render turn `index` of a call seeded `seed` through the caller's whole chain."""
    rng = np.random.default_rng([seed, index, _DISFLUENCY])
    segments = plan_segments(
        text, caller.disfluency if disfluent else None, rng, pause_ms, pause_after_word
    )
    audio, truth = speak(text, segments, caller, seed + 7919 * index)
    for stream, stage in stages(caller, seed):
        audio, truth = stage.render(audio, truth, np.random.default_rng([seed, index, stream]))
    return audio, truth

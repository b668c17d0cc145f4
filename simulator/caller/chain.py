"""The whole caller chain for one utterance: words -> voice -> room -> noise -> line.

Every random choice comes from generators seeded by (call seed, turn index,
stage), so one call renders the same bytes whenever it is rendered alone
(in a fresh process, see render.py), and a different seed changes them.
"""

from __future__ import annotations

import numpy as np

from simulator.audio import Pcm
from simulator.caller.audiofile import recorded_line
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
    return _through_line(audio, truth, caller, seed, index)


def render_recorded(
    path: str, text: str | None, caller: Caller, seed: int, index: int
) -> tuple[Pcm, Truth]:
    """Turn `index`'s recorded line (`audio:`) through the caller's room, noise and line."""
    audio, truth = recorded_line(path, text, f"turns[{index}].audio")
    return _through_line(audio, truth, caller, seed, index)


def _through_line(
    audio: Pcm, truth: Truth, caller: Caller, seed: int, index: int
) -> tuple[Pcm, Truth]:
    for stream, stage in stages(caller, seed):
        audio, truth = stage.render(audio, truth, np.random.default_rng([seed, index, stream]))
    return audio, truth


_BED_SECONDS = 10.0


def render_background(caller: Caller, seed: int, noise_rms: float) -> Pcm | None:
    """The caller's background noise for the gaps between turns, through the same line.

    Same kind and absolute level as the noise under the turns (`noise_rms`), so
    the line does not fall to digital silence when the caller stops talking.
    """
    if caller.noise is None or not caller.noise.continuous or noise_rms <= 0:
        return None
    from simulator.caller.noise import background
    from simulator.caller.truth import to_int16

    rng = np.random.default_rng([seed, 0xBED, _NOISE])
    bed = to_int16(background(caller.noise, noise_rms, _BED_SECONDS, rng))
    truth = Truth(0, 0, "", "")
    if caller.channel is not None:
        from simulator.caller.channel import ChannelStage

        bed, _ = ChannelStage(caller.channel).render(
            bed, truth, np.random.default_rng([seed, 0xBED, _CHANNEL])
        )
    return bed

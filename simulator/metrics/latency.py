"""Voice-to-voice latency measured in the audio the caller hears.

Latency of a turn = first agent sample above the speech threshold, at or
after the ground-truth end of the caller's speech, minus that end. Both are
sample indices on one timeline (the call's monotonic clock at 16 kHz), so the
resolution is one sample (62.5 us), finer than a frame.
"""

from __future__ import annotations

import numpy as np

from simulator.audio import SAMPLE_RATE, SPEECH_THRESHOLD, Pcm, first_above

#: An agent onset counts as the start of a reply only after this much agent
#: silence, so the tail of something the agent was already saying (a greeting
#: the caller talked over) is not mistaken for an instant answer.
MIN_PRECEDING_SILENCE = SAMPLE_RATE * 150 // 1000


def find_reply_onset(
    track: Pcm,
    start: int,
    threshold: int = SPEECH_THRESHOLD,
    min_silence: int = MIN_PRECEDING_SILENCE,
) -> int | None:
    """First agent onset at or after `start` preceded by `min_silence` samples of agent silence."""
    pos = max(0, start)
    while True:
        onset = first_above(track, threshold, pos)
        if onset is None:
            return None
        window = track[max(0, onset - min_silence) : onset]
        loud = np.flatnonzero(np.abs(window.astype(np.int32)) > threshold)
        if not len(loud):
            return onset
        pos = onset + 1


def latency_ms(speech_end: int, onset: int | None) -> float | None:
    """Milliseconds from the caller's speech end to the agent's onset (sample indices)."""
    if onset is None:
        return None
    return (onset - speech_end) * 1000.0 / SAMPLE_RATE


def active_between(track: Pcm, start: int, end: int, threshold: int = SPEECH_THRESHOLD) -> bool:
    """True when the agent made sound above threshold anywhere in [start, end)."""
    seg = track[max(0, start) : max(0, end)]
    return bool(len(seg)) and bool(np.any(np.abs(seg.astype(np.int32)) > threshold))

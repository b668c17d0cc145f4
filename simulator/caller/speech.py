"""The first stage: words to audio with the caller's engine, voice and disfluencies.

Segments are synthesized separately and joined around their pauses after
trimming each one's own leading/trailing silence, so a planned 600 ms pause
is 600 ms between the last speech sample and the next.
"""

from __future__ import annotations

import numpy as np

from simulator.audio import Pcm
from simulator.caller.disfluency import Segment, spoken_text
from simulator.caller.truth import Truth
from simulator.caller.tts import Speech, synthesize
from simulator.scenario import Caller


def synth_one(text: str, caller: Caller, seed: int) -> Speech:
    """One utterance with the caller's engine and voice settings."""
    if caller.engine == "piper":
        from simulator.caller.piper_tts import synthesize_piper

        return synthesize_piper(text, caller.rate_wpm)
    return synthesize(
        text,
        caller.voice,
        caller.rate_wpm,
        caller.pitch,
        seed=seed,
        pitch_range=caller.pitch_range,
        word_gap_ms=caller.word_gap_ms,
    )


def speak(intended: str, segments: list[Segment], caller: Caller, seed: int) -> tuple[Pcm, Truth]:
    """Synthesize `segments` into one utterance with exact speech bounds and pause spans."""
    parts: list[Pcm] = []
    pauses: list[tuple[int, int]] = []
    start = end = 0
    pos = 0
    speeches = [synth_one(s.text, caller, seed + k) for k, s in enumerate(segments)]
    for k, (seg, sp) in enumerate(zip(segments, speeches, strict=True)):
        first, last = k == 0, k == len(segments) - 1
        lo = 0 if first else sp.start
        hi = len(sp.pcm) if last else sp.end
        if first:
            start = sp.start
        parts.append(sp.pcm[lo:hi])
        pos += hi - lo
        if last:
            end = pos - (len(sp.pcm) - sp.end)
        elif seg.pause_ms > 0:
            n = seg.pause_ms * 16
            pauses.append((pos, pos + n))
            parts.append(np.zeros(n, dtype=np.int16))
            pos += n
    pcm = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
    truth = Truth(start, end, intended, spoken_text(segments), tuple(pauses))
    return pcm, truth

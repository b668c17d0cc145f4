"""Disfluent speech plans: fillers, word repeats, false starts and pauses, seeded.

Works on words before synthesis: the plan is a list of segments (text spoken
in one breath) with the pause after each, so pauses have exact lengths and
their positions are ground truth. The intended text stays the scenario's
sentence; the spoken text is what the segments say (docs/metrics.md: WER is
scored against the intended text, fillers removed from the transcript).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.scenario import Disfluency


@dataclass(frozen=True)
class Segment:
    """Words said without a planned pause, then `pause_ms` of silence."""

    text: str
    pause_ms: int = 0


def plan_segments(
    text: str,
    cfg: Disfluency | None,
    rng: np.random.Generator,
    pause_ms: int | None = None,
    pause_after_word: int | None = None,
) -> list[Segment]:
    """Split `text` into spoken segments, adding seeded disfluencies from `cfg`.

    `pause_ms` after word `pause_after_word` (1-based) is a planned mid-sentence
    pause from the turn itself, applied whatever `cfg` says.
    """
    words = text.split()
    segments: list[Segment] = []
    current: list[str] = []
    for i, word in enumerate(words):
        if cfg is not None:
            if rng.random() < cfg.false_start_rate and i + 1 < len(words):
                # Start the next words, break off, restart: "book a -- book a table".
                current += [*words[i : i + 1 + int(rng.integers(0, 2))]]
                current[-1] += ","
            if rng.random() < cfg.filler_rate:
                current.append(str(rng.choice(cfg.fillers)) + ",")
            if rng.random() < cfg.repeat_rate:
                current.append(word.rstrip(",.?!"))
        current.append(word)
        planned = pause_after_word is not None and i + 1 == pause_after_word
        sampled = cfg is not None and i + 1 < len(words) and rng.random() < cfg.pause_rate
        if (planned or sampled) and i + 1 < len(words):
            ms = int(pause_ms or 0) if planned else _pause_length(cfg, rng)
            segments.append(Segment(" ".join(current), ms))
            current = []
    if current:
        segments.append(Segment(" ".join(current), 0))
    return segments


def _pause_length(cfg: Disfluency | None, rng: np.random.Generator) -> int:
    assert cfg is not None
    if isinstance(cfg.pause_ms, list):
        lo, hi = sorted(cfg.pause_ms)
        return int(rng.integers(lo, hi + 1))
    return int(cfg.pause_ms)


def spoken_text(segments: list[Segment]) -> str:
    """What the caller actually says, in one string."""
    return " ".join(s.text for s in segments)

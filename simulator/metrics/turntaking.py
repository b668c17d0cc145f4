"""Turn-taking, after Full-Duplex-Bench, adapted to deployed agents.

Everything here is a pure function of the two recorded tracks (caller and
agent, int16 at 16 kHz on one timeline) and the sample times of what the
caller's plan did (a pause, a backchannel, a barge-in, a silence). The
harness made the caller audio and executed the plan, so those times are
ground truth; the agent's behaviour is read from its audio only, the way a
caller would perceive it, so any agent can be measured.

Activity: a track is "active" from a sample above SPEECH_THRESHOLD (-40 dBFS)
until the last such sample before a gap of at least `gap` samples (150 ms by
default: longer than the gaps between words of synthetic speech, shorter than
a turn-taking pause).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simulator.audio import SAMPLE_RATE, SPEECH_THRESHOLD, Pcm

#: Silence that splits activity into separate segments.
DEFAULT_GAP = SAMPLE_RATE * 150 // 1000
#: Silence that means the agent stopped talking (barge-in, backchannel): longer
#: than the gap between sentences of one reply (~250 ms for the bundled agent),
#: so a sentence break is not taken for a stop. The stop time is still exact:
#: the last loud sample before that silence.
STOP_GAP = SAMPLE_RATE * 500 // 1000
#: After a backchannel ends, the agent has this long to show that it yielded.
BACKCHANNEL_GRACE = SAMPLE_RATE * 500 // 1000
#: Longest wait for an agent to stop after a barge-in before "it did not stop".
BARGE_IN_MAX = SAMPLE_RATE * 5

Segment = tuple[int, int]  # [start, end) in samples


def segments(
    track: Pcm, threshold: int = SPEECH_THRESHOLD, gap: int = DEFAULT_GAP
) -> list[Segment]:
    """Active intervals [start, end) of a track; loud samples closer than `gap` merge."""
    loud = np.flatnonzero(np.abs(np.asarray(track, dtype=np.int32)) > threshold)
    if not len(loud):
        return []
    breaks = np.flatnonzero(np.diff(loud) >= gap)
    starts = np.concatenate(([loud[0]], loud[breaks + 1]))
    ends = np.concatenate((loud[breaks], [loud[-1]])) + 1
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


def _ms(samples: int) -> float:
    return samples * 1000.0 / SAMPLE_RATE


def _active_at(segs: Sequence[Segment], t: int) -> Segment | None:
    for s, e in segs:
        if s <= t < e:
            return (s, e)
    return None


def _first_onset(segs: Sequence[Segment], start: int, end: int | None = None) -> int | None:
    """Start of the first segment beginning in [start, end)."""
    for s, _ in segs:
        if s >= start and (end is None or s < end):
            return s
    return None


def takeover_on_pause(agent: Pcm, pause_start: int, pause_end: int) -> bool:
    """True when the agent starts speaking during a caller's mid-utterance pause.

    A false takeover: the caller had not finished (the plan paused and then
    went on), but the agent took the turn within [pause_start, pause_end).
    Agent audio already running at pause_start (e.g. a reply to something
    earlier, sentence breaks included) is not a new takeover.
    """
    return _first_onset(segments(agent, gap=STOP_GAP), pause_start, pause_end) is not None


def takeover_on_backchannel(
    agent: Pcm, bc_start: int, bc_end: int, grace: int = BACKCHANNEL_GRACE
) -> bool | None:
    """True when a caller backchannel ("uh-huh") made the agent yield; None if not scoreable.

    Scoreable only if the agent was speaking when the backchannel began. The
    agent yielded when its speech (split at silences of STOP_GAP) ends before
    bc_end + grace:
    it stopped (or paused for a turn) because of the caller. A reply that
    happens to end inside that window counts too: a scenario should place
    backchannels early in a long reply.
    """
    segs = segments(agent, gap=STOP_GAP)
    seg = _active_at(segs, bc_start)
    if seg is None:
        return None
    return seg[1] < bc_end + grace


def barge_in_stop_ms(agent: Pcm, caller_onset: int, max_wait: int = BARGE_IN_MAX) -> float | None:
    """Milliseconds from the caller's barge-in onset to the end of the agent's audio.

    The agent has stopped at its last loud sample before a silence of STOP_GAP
    (a pause between its sentences is not a stop).
    0 when the agent was already silent; None when it kept talking for more
    than `max_wait` samples (it did not stop).
    """
    seg = _active_at(segments(agent, gap=STOP_GAP), caller_onset)
    if seg is None:
        return 0.0
    stop = seg[1]
    if stop - caller_onset > max_wait:
        return None
    return _ms(stop - caller_onset)


@dataclass(frozen=True)
class Overlap:
    """Both-talking time, split by who started first."""

    total_ms: float  # samples where caller and agent are both active
    agent_talkover_ms: float  # ...inside agent segments that began while the caller spoke
    caller_overlap_ms: float  # ...inside agent segments the caller talked into (barge-ins)


def overlap(caller: Pcm, agent: Pcm) -> Overlap:
    """Time both parties talk at once, and how much of it the agent started."""
    c_segs = segments(caller)
    a_segs = segments(agent)
    total = talkover = 0
    for a0, a1 in a_segs:
        agent_started_over = _active_at(c_segs, a0) is not None
        for c0, c1 in c_segs:
            both = min(a1, c1) - max(a0, c0)
            if both > 0:
                total += both
                if agent_started_over:
                    talkover += both
    return Overlap(_ms(total), _ms(talkover), _ms(total - talkover))


def reprompt_ms(agent: Pcm, silence_start: int, silence_end: int) -> float | None:
    """Milliseconds from the start of the caller's silence to the agent's re-prompt.

    The agent must first be quiet: agent speech running at the silence start
    (sentence breaks included) must end first; a re-prompt is new speech after
    a silence of at least STOP_GAP. None when the
    agent said nothing new before the silence ended.
    """
    segs = segments(agent, gap=STOP_GAP)
    seg = _active_at(segs, silence_start)
    reference = seg[1] if seg is not None else silence_start
    onset = _first_onset(segs, reference + 1 if seg is not None else reference, silence_end)
    return None if onset is None else _ms(onset - silence_start)


def response_ms(agent: Pcm, speech_end: int, next_caller_onset: int | None = None) -> float | None:
    """Response latency after a smooth turn end; None when the turn end was not smooth.

    Smooth: the agent was silent at `speech_end` (no overlap at the hand-over).
    The response is the agent's first onset after `speech_end`, before the
    caller speaks again (`next_caller_onset`).
    """
    segs = segments(agent)
    if _active_at(segs, max(0, speech_end - 1)) is not None:
        return None
    onset = _first_onset(segs, speech_end, next_caller_onset)
    return None if onset is None else _ms(onset - speech_end)


@dataclass(frozen=True)
class Action:
    """One executed step of the caller's plan, in samples on the call timeline.

    kind: "pause" (mid-utterance pause), "backchannel", "barge_in" (start =
    caller onset), "silence" (the caller stays quiet), "turn_end" (end = the
    ground-truth end of a caller utterance that hands the turn over).
    """

    kind: str
    start: int
    end: int


def call_turn_taking(caller: Pcm, agent: Pcm, actions: Sequence[Action]) -> dict[str, object]:
    """Every turn-taking figure of one call, as counts and lists (aggregated later)."""
    pauses = [takeover_on_pause(agent, a.start, a.end) for a in actions if a.kind == "pause"]
    bcs = [
        takeover_on_backchannel(agent, a.start, a.end) for a in actions if a.kind == "backchannel"
    ]
    scored_bcs = [b for b in bcs if b is not None]
    barge = [barge_in_stop_ms(agent, a.start) for a in actions if a.kind == "barge_in"]
    silences = [reprompt_ms(agent, a.start, a.end) for a in actions if a.kind == "silence"]
    onsets = sorted(a.start for a in actions if a.kind in ("turn_end", "barge_in", "backchannel"))
    responses = []
    for a in actions:
        if a.kind == "turn_end":
            nxt = next((s for s in onsets if s > a.end), None)
            responses.append(response_ms(agent, a.end, nxt))
    ov = overlap(caller, agent)
    return {
        "pauses": len(pauses),
        "pause_takeovers": sum(pauses),
        "backchannels": len(scored_bcs),
        "backchannel_takeovers": sum(scored_bcs),
        "barge_in_stop_ms": [b for b in barge if b is not None],
        "barge_in_not_stopped": sum(b is None for b in barge),
        "silences": len(silences),
        "reprompt_ms": [r for r in silences if r is not None],
        "response_ms": [r for r in responses if r is not None],
        "overlap_ms": ov.total_ms,
        "agent_talkover_ms": ov.agent_talkover_ms,
    }

"""A noisy caller's line stays noisy between turns, at the level of the noise under speech."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.caller.render import render_all
from simulator.scenario import parse_scenario
from simulator.session import Session, SessionOptions
from simulator.transports.base import AgentLink, StartInfo
from simulator.transports.inprocess import InProcessTransport

NOISY = """\
name: noisy
caller: {noise: {kind: pink, snr_db: 10}}
turns:
  - say: Where is my order
    wait: false
  - silence_ms: 1500
  - say: Thank you
    wait: false
"""


async def _drain(link: AgentLink) -> None:
    while await link.recv() is not None:
        pass


def _db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2))))


async def test_the_gap_between_turns_carries_the_same_noise_not_digital_silence() -> None:
    sc = parse_scenario(NOISY)
    turns, bed = render_all(list(sc.turns), sc.caller, seed=4)
    assert bed is not None
    session = Session(
        InProcessTransport(_drain),
        turns,
        StartInfo("bed", "00-" + "5" * 32 + "-" + "6" * 16 + "-01"),
        options=SessionOptions(lead_in_ms=400, hangup_grace_ms=300),
        background=bed,
    )
    record = await session.run()
    assert record.error is None
    first = turns[0]
    lead = record.caller[: 400 * 16]  # before the first turn: only the bed
    start = 400 * 16
    gap = record.caller[start + len(first.pcm) : start + len(first.pcm) + 1500 * 16]
    # Turn audio is sent exactly as rendered (the bed only fills what no turn covers).
    assert record.caller[start : start + len(first.pcm)].tobytes() == first.pcm.tobytes()
    # The bed's level is the median of the noise levels mixed under the turns
    # (each turn's noise level follows its own speech level at the set SNR).
    under_speech = 20 * np.log10(np.median([t.notes["noise_rms"] for t in turns if t.notes]))
    assert np.count_nonzero(lead) > 0.99 * len(lead)
    assert _db(gap) == pytest.approx(under_speech, abs=1.0)
    assert _db(lead) == pytest.approx(under_speech, abs=1.5)


def test_a_clean_caller_has_no_background() -> None:
    sc = parse_scenario(NOISY.replace("caller: {noise: {kind: pink, snr_db: 10}}", "caller: {}"))
    assert render_all(list(sc.turns), sc.caller, seed=4)[1] is None


def test_noise_only_under_speech_when_not_continuous() -> None:
    sc = parse_scenario(NOISY.replace("snr_db: 10}", "snr_db: 10, continuous: false}"))
    assert render_all(list(sc.turns), sc.caller, seed=4)[1] is None

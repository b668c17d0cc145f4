"""Disfluencies are seeded, keep the intended text, and pauses have their exact length."""

from __future__ import annotations

import numpy as np

from simulator.caller.disfluency import plan_segments, spoken_text
from simulator.caller.speech import speak
from simulator.metrics.wer import score, score_intended
from simulator.scenario import Caller, Disfluency

TEXT = "I would like to book a table for two people tonight at seven"


def test_fillers_repeats_and_false_starts_follow_their_seeded_rates() -> None:
    cfg = Disfluency(filler_rate=0.3, repeat_rate=0.2, false_start_rate=0.1)
    words = TEXT.split() * 20
    said = spoken_text(plan_segments(" ".join(words), cfg, np.random.default_rng(1))).split()
    fillers = sum(w.rstrip(",") in cfg.fillers for w in said)
    assert abs(fillers / len(words) - 0.3) < 0.06
    assert len(said) > len(words) * 1.4
    again = spoken_text(plan_segments(" ".join(words), cfg, np.random.default_rng(1)))
    assert again == " ".join(said)


def test_no_disfluency_config_says_the_text_as_written() -> None:
    assert spoken_text(plan_segments(TEXT, None, np.random.default_rng(0))) == TEXT


def test_a_planned_pause_has_its_exact_length_between_speech_samples() -> None:
    segments = plan_segments(TEXT, None, np.random.default_rng(0), 600, 4)
    assert [s.text for s in segments] == ["I would like to", " ".join(TEXT.split()[4:])]
    pcm, truth = speak(TEXT, segments, Caller(), seed=1)
    ((a, b),) = truth.pauses
    assert b - a == 600 * 16
    loud = np.abs(pcm.astype(np.int32)) > 60
    assert not loud[a:b].any() and loud[a - 16 : a].any() and loud[b : b + 16].any()
    assert truth.intended_text == truth.spoken_text == TEXT


def test_sampled_pauses_fall_in_their_range() -> None:
    cfg = Disfluency(pause_rate=0.5, pause_ms=[100, 300])
    segments = plan_segments(TEXT, cfg, np.random.default_rng(3))
    pauses = [s.pause_ms for s in segments[:-1]]
    assert pauses and all(100 <= p <= 300 for p in pauses)


def test_wer_of_a_disfluent_caller_is_scored_on_the_intended_text_without_fillers() -> None:
    heard = "um I would like to uh like book a table"
    assert score_intended("I would like to book a table", heard).wer == 0.0
    # The shared normalisation already drops um/uh; the extra "like" is what
    # only the disfluency-aware scoring forgives.
    plain = score("I would like to book a table", heard)
    assert (plain.insertions, plain.wer) == (1, 1 / 7)
    # A "like" the caller meant is still required.
    assert score_intended("I like it", "I it").deletions == 1

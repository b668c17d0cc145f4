"""WER: exact counts on hand-made transcripts, one normalisation, corpus-level aggregation."""

from __future__ import annotations

import pytest

from simulator.metrics.wer import normalize, score, score_corpus


def test_normalisation_lowercases_strips_punctuation_and_spells_digits() -> None:
    assert normalize("Order #1234, at 3 PM!") == "order one two three four at three pm"
    assert normalize("I'd like 21") == "i'd like twenty one"


def test_known_substitution_deletion_insertion_give_the_exact_wer() -> None:
    r = score("please book an appointment for tuesday", "please cook appointment for next tuesday")
    assert (r.substitutions, r.deletions, r.insertions, r.ref_words) == (1, 1, 1, 6)
    assert r.wer == pytest.approx(3 / 6)


def test_corpus_wer_is_total_errors_over_total_words_not_a_mean() -> None:
    r = score_corpus(["one two three four", "yes"], ["one two three four", "no"])
    assert r.wer == pytest.approx(1 / 5)  # the mean of per-turn WERs would be 0.5


def test_empty_hypothesis_is_all_deletions() -> None:
    assert score("thank you goodbye", "").deletions == 3

"""WER: exact counts on hand-made transcripts, one normalisation, corpus-level aggregation."""

from __future__ import annotations

import pytest

from simulator.metrics.wer import aggregate, normalize, score, score_corpus


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


@pytest.mark.parametrize(
    "spoken",
    ["3 pm", "three p.m.", "15:00", "3:00 P.M.", "three p m", "Three PM", "3pm"],
)
def test_every_way_of_writing_three_pm_normalises_to_one_form(spoken: str) -> None:
    assert normalize(f"see you at {spoken}.") == "see you at three pm"


def test_clock_times_with_minutes_are_read_in_twelve_hour_words() -> None:
    assert normalize("15:30") == "three thirty pm"
    assert normalize("9:05 am") == "nine oh five am"
    assert normalize("at 12:00") == "at twelve pm"
    assert normalize("the 3rd of May") == "the third of may"


def test_fillers_are_dropped_but_a_backchannel_is_a_word() -> None:
    assert normalize("Uh, I um want, er, Tuesday") == "i want tuesday"
    assert normalize("uh-huh") == "uhhuh"


def test_a_time_spelled_differently_is_not_an_error() -> None:
    r = score("book me for 3 pm on the 21st", "uh book me for three p.m. on the twenty first")
    assert r.errors == 0 and r.ref_words == 9


def test_aggregate_sums_turn_counts_into_a_corpus_wer() -> None:
    rows = [
        {"wer_ref_words": 4, "wer_subs": 1, "wer_dels": 0, "wer_ins": 0},
        {"wer_ref_words": 1, "wer_subs": 0, "wer_dels": 1, "wer_ins": 1},
        {"wer_ref_words": None, "wer_subs": 0, "wer_dels": 0, "wer_ins": 0},
    ]
    agg = aggregate(rows)
    assert agg["wer"] == pytest.approx(3 / 5)
    assert (agg["n"], agg["substitutions"], agg["deletions"], agg["insertions"]) == (2, 1, 1, 1)

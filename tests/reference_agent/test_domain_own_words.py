"""The domain model understands callers who say days and times in their own words."""

from __future__ import annotations

import pytest

from reference_agent import domain
from reference_agent.domain.words import spoken_day, spoken_time


def _booking(*turns: str) -> dict[str, str] | None:
    """Play caller turns; the arguments of the book_appointment call the last turn asks for."""
    history: list[dict[str, str]] = []
    for turn in turns:
        history.append({"role": "user", "content": turn})
        history.append({"role": "assistant", "content": domain.reply(history)})
    text, action = domain.respond(history[:-1])
    if action is None or action.name != "book_appointment":
        return None
    return action.arguments()


@pytest.mark.parametrize(
    ("said", "words"),
    [
        ("10am", ["ten", "am"]),
        ("10 a.m.", ["ten", "am"]),
        ("at 3 P.M.", ["at", "three", "pm"]),
        ("10:30", ["ten", "thirty"]),
        ("9:05am", ["nine", "oh", "five", "am"]),
        ("4:45 pm", ["four", "forty", "five", "pm"]),
        ("the 15th", ["the", "fifteenth"]),
        ("the 21st", ["the", "twenty", "first"]),
        ("ten a m", ["ten", "am"]),
        ("ten o'clock", ["ten", "oclock"]),
        # Order numbers stay digit by digit, as callers read them.
        ("order 5512", ["order", "five", "five", "one", "two"]),
        ("order 0042", ["order", "zero", "zero", "four", "two"]),
        ("1234?", ["one", "two", "three", "four"]),
    ],
)
def test_normalize_speaks_numbers_as_callers_do(said: str, words: list[str]) -> None:
    assert domain.normalize(said) == words


@pytest.mark.parametrize(
    ("said", "time"),
    [
        ("ten in the morning", "ten am"),
        ("three in the afternoon", "three pm"),
        ("seven in the evening", "seven pm"),
        ("nine at night", "nine pm"),
        ("half past ten", "ten thirty"),
        ("quarter past nine in the morning", "nine fifteen am"),
        ("quarter to eleven", "ten forty five"),
        ("twenty five past three", "three twenty five"),
        ("ten o'clock", "ten"),
        ("around two thirty", "two thirty"),
        ("10 a.m.", "ten am"),
        ("10:30", "ten thirty"),
        ("nine fifteen tomorrow morning", "nine fifteen am"),
        ("midday", "noon"),
        ("at ten thirty am", "ten thirty am"),
    ],
)
def test_times_in_ordinary_words(said: str, time: str) -> None:
    assert spoken_time(domain.normalize(said)) == time


def test_digits_of_an_order_number_are_not_a_time() -> None:
    for said in ("my order is five oh five two", "two for six eight", "one two three four"):
        assert spoken_time(domain.normalize(said)) is None, said


def test_good_evening_is_a_greeting_not_pm() -> None:
    words = domain.normalize("Good evening, could I come in Monday at ten")
    assert spoken_time(words) == "ten"


@pytest.mark.parametrize(
    ("said", "day"),
    [
        ("Wednesday please", "wednesday"),
        ("Wednesdays are good", "wednesday"),
        ("on the fifteenth", "the fifteenth"),
        ("the 21st please", "the twenty first"),
        ("Thursday the 15th", "thursday the fifteenth"),
        ("is the first appointment free", None),
    ],
)
def test_days_in_ordinary_words(said: str, day: str | None) -> None:
    assert spoken_day(domain.normalize(said)) == day


def test_a_booking_in_two_natural_turns() -> None:
    args = _booking("Hi, I need to see someone on Wednesday", "Ten in the morning works")
    assert args == {"day": "wednesday", "time": "ten am"}
    args = _booking("Wednesday please", "ten in the morning")
    assert args == {"day": "wednesday", "time": "ten am"}


def test_a_bare_hour_answers_what_time() -> None:
    args = _booking("Can I book something for Friday", "ten works for me")
    assert args == {"day": "friday", "time": "ten"}
    # Without the question, a stray number word is not a time.
    assert _booking("I have one question") is None


def test_a_booking_in_one_sentence_with_digits() -> None:
    assert _booking("Could I come in on Wednesday at 10 a.m.?") == {
        "day": "wednesday",
        "time": "ten am",
    }
    reply = domain.reply([{"role": "user", "content": "Book Thursday the 15th at 2:30pm"}])
    assert reply.startswith("Sure. I have booked you for Thursday the fifteenth at two thirty pm.")


def test_seeing_someone_is_a_booking_and_talking_to_someone_a_transfer() -> None:
    _, action = domain.respond([{"role": "user", "content": "I need to see someone on Monday"}])
    assert action is None
    _, action = domain.respond([{"role": "user", "content": "let me talk to someone please"}])
    assert action is not None and action.name == "transfer_to_human"


def test_a_refund_in_ordinary_words() -> None:
    history = [{"role": "user", "content": "could I get a refund on order five five one two"}]
    _, action = domain.respond(history)
    assert action is not None
    assert (action.name, action.arguments()) == ("start_refund", {"order": "5512"})


def test_a_package_is_an_order() -> None:
    (answer,) = [domain.reply([{"role": "user", "content": "where is my package"}])]
    assert answer == "Sure. What is your order number?"


def test_held_out_sentences_are_not_in_the_phrase_list() -> None:
    from reference_agent.heldout import HELDOUT_CALLER_SENTENCES

    assert len(HELDOUT_CALLER_SENTENCES) >= 15
    assert not set(HELDOUT_CALLER_SENTENCES) & set(domain.CALLER_PHRASES)
    understood = [
        s
        for s in HELDOUT_CALLER_SENTENCES
        if domain.reply([{"role": "user", "content": s}]) != domain.SORRY
    ]
    assert understood == HELDOUT_CALLER_SENTENCES

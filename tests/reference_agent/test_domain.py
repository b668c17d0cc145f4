"""The bundled domain model: what the offline "LLM" answers, turn by turn."""

from __future__ import annotations

from pathlib import Path

import pocketsphinx

from reference_agent import domain
from tests.reference_agent.smoke_phrases import SMOKE


def _talk(*turns: str) -> list[str]:
    """Play caller turns against `domain.reply`; return the agent's replies."""
    history: list[dict[str, str]] = []
    replies: list[str] = []
    for turn in turns:
        history.append({"role": "user", "content": turn})
        answer = domain.reply(history)
        history.append({"role": "assistant", "content": answer})
        replies.append(answer)
    return replies


def test_booking_names_the_day_and_time() -> None:
    (answer,) = _talk("I would like to book an appointment for Tuesday at three pm")
    assert answer == "Sure. I have booked you for Tuesday at three pm. Is there anything else?"


def test_booking_asks_for_missing_slots_and_remembers_given_ones() -> None:
    replies = _talk("I want to book an appointment", "Friday", "At ten thirty am")
    assert replies[0] == "Sure. Which day and time would you like?"
    assert replies[1] == "Sure. What time on Friday?"
    assert "booked you for Friday at ten thirty am" in replies[2]


def test_rescheduling_changes_the_day_and_keeps_the_time() -> None:
    replies = _talk(
        "I would like to book an appointment for Tuesday at three pm",
        "Make it Wednesday instead",
    )
    assert replies[1] == (
        "Sure. I have moved your appointment to Wednesday at three pm. Is there anything else?"
    )


def test_rescheduling_the_time_keeps_the_new_day() -> None:
    replies = _talk(
        "Book me in for Tuesday at three pm",
        "Make it Wednesday instead",
        "Actually make it ten thirty am",
    )
    assert "moved your appointment to Wednesday at ten thirty am" in replies[2]


def test_cancelling_names_the_booked_appointment() -> None:
    replies = _talk("Book me in for Monday at nine am", "Please cancel my appointment")
    assert replies[1].startswith("Okay. I have cancelled your appointment on Monday at nine am.")


def test_order_status_reads_the_number_back_digit_by_digit() -> None:
    (spoken,) = _talk("Where is my order one two three four")
    (typed,) = _talk("Where is my order 1234?")
    assert spoken.startswith("Okay. Order one two three four ")
    assert typed == spoken


def test_refund_uses_the_order_number_from_an_earlier_turn() -> None:
    replies = _talk("Where is my order one two three four", "Can I get a refund for my order")
    assert replies[1] == (
        "Okay. I have started a refund for order one two three four. Is there anything else?"
    )


def test_refund_without_a_number_asks_for_it() -> None:
    replies = _talk("Can I get a refund for my order", "It is five six seven eight")
    assert replies[0] == "Sure. What is your order number?"
    assert "refund for order five six seven eight" in replies[1]


def test_stt_homophones_inside_an_order_number_count_as_digits() -> None:
    (answer,) = _talk("where is my order two for six eight")
    assert "Order two four six eight" in answer


def test_unknown_input_asks_to_repeat() -> None:
    assert _talk("purple elephants dancing") == [domain.SORRY]
    assert domain.SORRY == "Sorry, I did not catch that. Could you say it again?"


def test_small_talk() -> None:
    assert _talk("Hello")[0].startswith("Hello.")
    assert _talk("Thank you goodbye")[0].endswith("Goodbye.")
    assert _talk("No thanks")[0].endswith("Goodbye.")
    assert _talk("Yes please")[0] == "Okay. How can I help you?"


def test_no_user_turn_yet_gets_the_greeting() -> None:
    assert domain.reply([{"role": "system", "content": "be brief"}]) == domain.GREETING


def test_replies_are_short_and_start_with_a_short_sentence() -> None:
    for phrase in domain.CALLER_PHRASES:
        answer = domain.reply([{"role": "user", "content": phrase}])
        sentences = [s for s in answer.replace("?", ".").split(".") if s.strip()]
        assert 1 <= len(sentences) <= 3, answer
        assert len(sentences[0].split()) <= 8, answer


def test_content_parts_are_accepted() -> None:
    parts = [{"type": "text", "text": "where is my order"}, {"type": "text", "text": "1234"}]
    assert "one two three four" in domain.reply([{"role": "user", "content": parts}])


def test_caller_phrases_cover_the_smoke_sentences() -> None:
    assert set(SMOKE) <= set(domain.CALLER_PHRASES)
    assert 100 <= len(domain.CALLER_PHRASES) <= 300
    assert len(set(domain.CALLER_PHRASES)) == len(domain.CALLER_PHRASES)


def test_caller_phrases_are_lower_case_words_in_the_pocketsphinx_dictionary() -> None:
    path = Path(pocketsphinx.get_model_path("en-us/cmudict-en-us.dict"))
    known = {line.split(maxsplit=1)[0] for line in path.read_text().splitlines() if line}
    for phrase in domain.CALLER_PHRASES:
        assert phrase == " ".join(phrase.split())
        for word in phrase.split():
            assert word.isalpha() and word.islower(), phrase
            assert word in known, word


def test_caller_phrases_are_understood_by_the_domain() -> None:
    understood = [
        p
        for p in domain.CALLER_PHRASES
        if domain.reply([{"role": "user", "content": p}]) != domain.SORRY
    ]
    assert len(understood) >= 0.9 * len(domain.CALLER_PHRASES)


def test_a_turn_that_needs_a_tool_asks_for_it_before_answering() -> None:
    history = [{"role": "user", "content": "Book me in for Friday at noon"}]
    text, action = domain.respond(history)
    assert text == "" and action is not None
    assert (action.name, action.arguments()) == (
        "book_appointment",
        {"day": "friday", "time": "noon"},
    )
    history.append({"role": "tool", "content": '{"ok": true}'})
    assert domain.respond(history) == (domain.reply(history), None)


def test_a_failed_tool_is_owned_up_to() -> None:
    history = [
        {"role": "user", "content": "I want a refund for order one two three four"},
        {"role": "tool", "content": '{"ok": false, "reason": "no such order"}'},
    ]
    text, action = domain.respond(history)
    assert action is None and text.startswith("Sorry, I could not do that")


def test_asking_for_a_person_transfers_the_call() -> None:
    text, action = domain.respond([{"role": "user", "content": "can i speak to a person"}])
    assert action is not None and action.name == "transfer_to_human"
    assert _talk("can i speak to a person") == [domain.TRANSFER]


def test_turns_without_a_tool_answer_directly() -> None:
    assert domain.respond([{"role": "user", "content": "hello"}]) == (
        "Hello. How can I help you today?",
        None,
    )

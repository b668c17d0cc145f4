"""The rules policy as a specification: what a caller answers to what an agent says."""

from __future__ import annotations

import copy

import pytest

from simulator.conversation.policy import Heard, invented_values
from simulator.conversation.rules import RulesPolicy, first_person
from simulator.errors import ScenarioError
from simulator.scenario import Conversation, parse_scenario


def _policy(**kw: object) -> RulesPolicy:
    base: dict[str, object] = {
        "goal": "book an appointment",
        "facts": {"name": "alex smith", "day": "wednesday", "time": "ten am"},
    }
    base.update(kw)
    return RulesPolicy(Conversation.model_validate(base))


async def _say(p: RulesPolicy, text: str) -> str | None:
    return (await p.decide(Heard(text))).say


async def test_it_opens_with_its_goal_after_a_greeting() -> None:
    d = await _policy().opening(Heard("Hello, thanks for calling. How can I help you today?"))
    assert d.say == "Hi, I would like to book an appointment."


async def test_a_greeting_that_asks_is_answered_instead() -> None:
    d = await _policy().opening(Heard("Hello. Can I have your name first, please?"))
    assert d.say == "My name is alex smith, please."


async def test_it_answers_what_was_asked_in_any_order() -> None:
    p = _policy()
    assert await _say(p, "Which day and time would you like?") == "Wednesday at ten am, please."
    assert await _say(p, "And your name?") == "My name is alex smith, please."
    assert await _say(p, "What time on Wednesday?") == "Ten am, please."


async def test_verbosity_shapes_the_answer() -> None:
    assert await _say(_policy(persona={"verbosity": "terse"}), "Your name?") == "Alex smith."
    chatty = await _policy(persona={"verbosity": "chatty"}).opening(Heard("How can I help?"))
    assert chatty.say is not None and "wednesday at ten am" in chatty.say.lower()


async def test_an_unknown_fact_is_said_to_be_unknown_never_invented() -> None:
    p = _policy(facts={"day": "friday"}, unknown=["order_number"])
    line = await _say(p, "What is your order number?")
    assert line == "Sorry, I don't know my order number."
    asked = await _say(p, "What is your account number?")
    assert asked is not None and invented_values(asked, ["friday"]) == []


async def test_a_wrong_read_back_is_corrected() -> None:
    p = _policy()
    assert await _say(p, "Tuesday at ten am, is that correct?") == "No, Wednesday, please."
    assert await _say(p, "Wednesday at ten am, is that right?") == "Yes, please."


async def test_done_then_wrap_up_then_hang_up_after_goodbye() -> None:
    p = _policy()
    d = await p.decide(Heard("Sure. I have booked you for Wednesday at ten am. Anything else?"))
    assert d.say == "No, that's all. Thank you, goodbye." and not d.hang_up
    bye = await p.decide(Heard("Thank you for calling. Goodbye."))
    assert bye.hang_up and bye.outcome is not None and bye.outcome.success


async def test_goodbye_before_the_goal_is_a_failure() -> None:
    d = await _policy().decide(Heard("Goodbye."))
    assert d.hang_up and d.outcome is not None and not d.outcome.success


async def test_patience_runs_out_then_the_caller_gives_up_or_asks_for_a_human() -> None:
    p = _policy(persona={"patience": 2})
    await p.opening(Heard("How can I help?"))
    first = await p.decide(Heard("Sorry, I did not catch that."))
    assert first.say == "Hi, I would like to book an appointment." and first.outcome is None
    last = await p.decide(Heard("Sorry, I did not catch that. Could you say it again?"))
    assert last.hang_up and last.outcome is not None
    assert last.outcome.reason.startswith("gave up after 2 failed attempts")
    human = _policy(persona={"patience": 1, "when_impatient": "ask_for_human"})
    asks = await human.decide(Heard("Sorry?"))
    assert asks.say == "Can I speak to a person, please?" and not asks.hang_up
    moved = await human.decide(Heard("Okay. I am transferring you to a person now."))
    assert moved.hang_up and moved.outcome is not None and moved.outcome.success


async def test_author_rules_come_first_and_respect_their_count() -> None:
    p = _policy(when=[{"when": "promotion", "say": "No thanks, not interested."}])
    assert await _say(p, "Would you like to hear about our promotion?") == (
        "No thanks, not interested."
    )
    assert await _say(p, "Our promotion is great, which day?") == "Wednesday, please."


async def test_a_copy_decides_without_touching_the_original() -> None:
    p = _policy(persona={"patience": 2})
    fork = copy.deepcopy(p)
    await fork.decide(Heard("Sorry?"))
    assert fork.failed == 1 and p.failed == 0


async def test_a_cap_ends_the_call_as_failed() -> None:
    d = await _policy().on_limit("reached max_turns (3)")
    assert d.hang_up and d.outcome is not None and not d.outcome.success


def test_invented_values_are_value_words_the_caller_was_not_given() -> None:
    assert invented_values("Wednesday at ten am, order 4411", ["wednesday", "ten am"]) == ["4411"]
    assert invented_values("Someone please, thank you", []) == []
    assert first_person("Book a table for two") == "Hi, I would like to book a table for two."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("conversation: {goal: x, facts: {day: a}, unknown: [day]}", "both in facts and unknown"),
        ("conversation: {goal: x, persona: {patience: 0}}", "patience"),
        ("conversation: {goal: x, when: [{when: 'x', do: say}]}", "needs say"),
        ("conversation: {goal: x, when: [{when: '(', say: y}]}", "not a valid pattern"),
        ("conversation: {goal: x, facts: {Day: a}}", "facts"),
        ("conversation: {goal: x, policy: magic}", "allowed: 'rules' or 'llm'"),
        ("seed: 1", "needs turns:, a conversation:, or both"),
    ],
)
def test_bad_conversation_blocks_get_one_line(body: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario("name: bad\n" + body + "\n", source="bad.yaml")
    line = str(err.value)
    assert "\n" not in line and "bad.yaml" in line and message in line, line


def test_a_script_can_hand_over_to_the_goal() -> None:
    s = parse_scenario(
        "name: mixed\nturns: [{say: hello}]\nconversation: {goal: book an appointment}\n"
    )
    assert s.conversation is not None and len(s.turns) == 1


async def test_being_asked_again_for_the_same_fact_costs_patience() -> None:
    p = _policy(persona={"patience": 2})
    assert (await p.decide(Heard("What time?"))).outcome is None
    again = await p.decide(Heard("Sorry, what time was that?"))
    assert again.outcome is None and again.say is not None
    gone = await p.decide(Heard("And what time would you like?"))
    assert gone.hang_up and gone.outcome is not None and not gone.outcome.success


async def test_a_closing_after_the_goal_is_done_ends_the_call() -> None:
    p = _policy()
    await p.decide(Heard("I have booked you for Wednesday at ten am. Is there anything else?"))
    closing = await p.decide(Heard("Thank you for calling."))
    assert closing.hang_up and closing.outcome is not None and closing.outcome.success
    greeting = await _policy().decide(Heard("Thanks for calling. Which day would you like?"))
    assert not greeting.hang_up

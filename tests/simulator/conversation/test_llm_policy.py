"""The `llm` caller policy: real chat servers on loopback, no mock of the model.

Model faults come from a tiny real aiohttp server that speaks
/v1/chat/completions badly (empty, garbage, stalls). The model tests run the
real SmolLM2-135M behind `python -m reference_agent.llm_server --backend
smollm2` (the `llm` extra, which `make test` installs; skipped without it).
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from openai import AsyncOpenAI

from reference_agent import smollm2
from simulator.conversation import make_policy
from simulator.conversation.llm import LlmPolicy
from simulator.conversation.policy import Heard, PolicyError, invented_values
from simulator.runner import run_files
from simulator.scenario import Conversation
from tests.simulator.chat_faults import FaultServer, completion, content, fault_server

GREETING = "Hello, thanks for calling. How can I help you today?"
FACTS = {"day": "wednesday", "time": "ten am"}
needs_smollm2 = pytest.mark.skipif(
    not smollm2.available(), reason="SmolLM2 not installed: make llm"
)


def _conversation(base_url: str, **llm: Any) -> Conversation:
    return Conversation.model_validate(
        {
            "goal": "book an appointment",
            "facts": FACTS,
            "policy": "llm",
            "llm": {"base_url": base_url, "model": "smollm2-135m-instruct", **llm},
        }
    )


def _rows(out: Path, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / name).read_text().splitlines()]


# ---------------------------------------------------------------- model faults


_completion = completion
_content = content


VALID = {
    "about": "day and time",
    "say": "Wednesday at ten am works for me.",
    "end_call": False,
    "success": False,
    "reason": "the agent asked",
}
INVENTED = json.dumps(
    {"say": "Tuesday at 3 pm.", "end_call": False, "success": False, "reason": "asked"}
)
SLOW_S = 1.5
#: What each faulty server answers to every request (a web.Response, or a stall).
FAULTS: dict[str, Any] = {
    "empty-body": lambda: web.Response(body=b"", content_type="application/json"),
    "empty-content": lambda: web.json_response(_content("")),
    "garbage": lambda: web.json_response(_content("Sure! Wednesday at ten sounds lovely.")),
    "wrong-shape": lambda: web.json_response(_content('{"say": 3, "end_call": "maybe"}')),
    "refusal": lambda: web.json_response(
        _completion({"role": "assistant", "content": None, "refusal": "I can't help with that."})
    ),
    # No reading to compose from, and a day and a time nobody gave the caller.
    "invented": lambda: web.json_response(_content(INVENTED)),
    "stall": None,
}


async def _fault_reply(server: FaultServer, fault: str) -> web.StreamResponse:
    if fault == "scripted":
        return web.Response(status=500, text="script exhausted")
    if fault == "stall":
        await server.stall()
        return web.json_response(_content(json.dumps(VALID)))
    if fault == "slow":  # a valid reading, always, after a human-noticeable pause
        await asyncio.sleep(SLOW_S)
        return web.json_response(_reading("day and time", "Wednesday at ten am, please."))
    reply: web.StreamResponse = FAULTS[fault]()
    return reply


@pytest.fixture
async def faults() -> AsyncIterator[FaultServer]:
    async with fault_server(_fault_reply) as server:
        yield server


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fault", [f for f in FAULTS if f != "stall"])
async def test_a_faulty_model_is_retried_then_a_one_line_policy_error(
    faults: FaultServer, fault: str
) -> None:
    retries, timeout_s = 2, 3.0
    policy = LlmPolicy(_conversation(faults.url(fault), retries=retries, timeout_s=timeout_s))
    t0 = time.perf_counter()
    with pytest.raises(PolicyError) as err:
        await policy.decide(Heard("Which day and time would you like?"))
    elapsed = time.perf_counter() - t0
    assert elapsed < (retries + 1) * timeout_s + 5
    assert len(faults.decisions()) == retries + 1  # the first try and two retries
    message = str(err.value)
    assert "\n" not in message and "after 3 attempts" in message, message
    expected = {
        "empty-body": "JSONDecodeError",
        "empty-content": "empty content",
        "garbage": "not JSON",
        "wrong-shape": "'say' missing or not a str",
        "refusal": "refused",
        "invented": "invented tuesday, 3",
    }[fault]
    assert expected in message, message


@pytest.mark.timeout(60)
async def test_an_invented_value_is_corrected_before_the_retry(faults: FaultServer) -> None:
    policy = LlmPolicy(_conversation(faults.url("invented"), retries=1, timeout_s=3))
    with pytest.raises(PolicyError):
        await policy.decide(Heard("Which day and time would you like?"))
    first, second = faults.decisions()
    correction = second["messages"][-1]
    assert correction["role"] == "system" and "tuesday" in correction["content"]
    assert "Never invent" in correction["content"]
    # The retry shows the model its own wrong answer; the call's history is unchanged.
    assert second["messages"][:-2] == first["messages"]
    assert second["messages"][-2] == {"role": "assistant", "content": INVENTED}


@pytest.mark.timeout(60)
async def test_a_stalled_model_times_out_within_the_bound(faults: FaultServer) -> None:
    retries, timeout_s = 2, 1.0
    policy = LlmPolicy(_conversation(faults.url("stall"), retries=retries, timeout_s=timeout_s))
    t0 = time.perf_counter()
    with pytest.raises(PolicyError, match=r"no reply within"):
        await policy.decide(Heard("Which day and time would you like?"))
    elapsed = time.perf_counter() - t0
    # Never hangs: the whole decision is bounded by (retries + 1) * timeout_s.
    assert (retries + 1) * timeout_s * 0.9 <= elapsed < (retries + 1) * timeout_s + 3
    assert len(faults.decisions()) == retries + 1


@pytest.mark.timeout(60)
async def test_a_bad_reply_then_a_good_one_decides_and_records_both(
    faults: FaultServer,
) -> None:
    faults.script["garbage"] = [_content("uh"), _content(json.dumps(VALID))]
    policy = LlmPolicy(_conversation(faults.url("garbage"), retries=2, timeout_s=3))
    decision = await policy.decide(Heard("Which day and time would you like?"))
    assert decision.say == "Wednesday at ten am works for me."
    assert decision.notes["attempts"] == 2
    assert decision.notes["problems"] == ["not JSON: uh"]
    assert decision.notes["raw"] == json.dumps(VALID)
    assert decision.notes["path"] == "model" and decision.notes["about"] == "day and time"
    assert decision.notes["model_ms"] >= 0
    # The request asked for the JSON schema and offered the end_call tool.
    request = faults.decisions()[-1]
    assert request["response_format"]["type"] == "json_schema"
    assert [t["function"]["name"] for t in request["tools"]] == ["end_call"]
    assert request["temperature"] == 0 and request["seed"] == 0
    first, second = ([m["role"] for m in r["messages"]] for r in faults.decisions())
    assert first == ["system", "user"]  # the brief, then the agent's words
    assert second == [*first, "assistant", "system"]  # + its bad reply and a correction


@pytest.mark.timeout(60)
async def test_an_end_call_tool_call_hangs_up_with_the_models_verdict(
    faults: FaultServer,
) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "end_call", "arguments": '{"success": true, "reason": "booked"}'},
    }
    faults.script["garbage"] = [
        _completion({"role": "assistant", "content": None, "tool_calls": [call]})
    ]
    policy = LlmPolicy(_conversation(faults.url("garbage"), retries=0, timeout_s=3))
    decision = await policy.decide(Heard("You are booked. Goodbye."))
    assert decision.hang_up and decision.say is None
    assert decision.outcome is not None and decision.outcome.success
    assert decision.outcome.reason == "booked"
    assert decision.notes["path"] == "tool"


@pytest.mark.timeout(60)
async def test_an_invented_line_with_a_reading_is_replaced_by_the_facts(
    faults: FaultServer,
) -> None:
    answer = {**VALID, "say": "Tuesday at 3 pm, please."}
    faults.script["garbage"] = [_content(json.dumps(answer))]
    policy = LlmPolicy(_conversation(faults.url("garbage"), retries=0, timeout_s=3))
    decision = await policy.decide(Heard("Which day and time would you like?"))
    assert decision.say == "Wednesday at ten am, please."
    assert decision.notes["path"] == "composed"
    assert decision.notes["invented"] == ["tuesday", "3"]


def _reading(about: str, say: str = "", end: bool = False) -> dict[str, Any]:
    answer = {"about": about, "say": say, "end_call": end, "success": end, "reason": about}
    return _content(json.dumps(answer))


@pytest.mark.timeout(60)
async def test_the_agents_confirmation_is_done_even_when_the_model_misreads_it(
    faults: FaultServer,
) -> None:
    # What SmolLM2 does: it reads "I have booked you for Wednesday at ten am" as
    # a question about the day and time, and says a bit of it.
    faults.script["scripted"] = [
        _reading("day and time", "Wednesday at ten am."),
        _reading("day and time", "ten am"),
    ]
    policy = LlmPolicy(_conversation(faults.url("scripted"), retries=0, timeout_s=5))
    await policy.decide(Heard("Which day and time would you like?"))
    booked = "Sure. I have booked you for Wednesday at ten am. Is there anything else?"
    decision = await policy.decide(Heard(booked))
    assert decision.hang_up and decision.say == "No, that's all. Thank you, goodbye."
    assert decision.outcome is not None and decision.outcome.success
    assert decision.notes["confirmed"] and decision.notes["path"] == "composed"


@pytest.mark.timeout(60)
async def test_a_confirmation_of_another_day_is_corrected_not_done(
    faults: FaultServer,
) -> None:
    faults.script["scripted"] = [
        _reading("done", "Great, thanks. Bye.", end=True),
        _reading("goodbye", "Bye.", end=True),
    ]
    policy = LlmPolicy(_conversation(faults.url("scripted"), retries=0, timeout_s=5))
    decision = await policy.decide(Heard("I have booked you for Tuesday at ten am."))
    assert not decision.hang_up and decision.outcome is None
    assert decision.say == "No, Wednesday at ten am, please."
    assert decision.notes["wrong"] == ["tuesday"] and not policy.done
    # An agent that books the wrong day and leaves: the caller's goal was not done.
    decision = await policy.decide(Heard("I have booked you for Tuesday. Goodbye."))
    assert decision.hang_up and decision.outcome is not None
    assert not decision.outcome.success


@pytest.mark.timeout(60)
async def test_a_server_that_ignores_the_schema_gets_the_models_own_move(
    faults: FaultServer,
) -> None:
    # No "about": a server without constrained decoding; the model's fields are the move.
    said = {"say": "Wednesday at ten am.", "end_call": False, "success": False, "reason": "asked"}
    bye = {"say": "Thanks, bye.", "end_call": True, "success": True, "reason": "it is booked"}
    faults.script["scripted"] = [_content(json.dumps(said)), _content(json.dumps(bye))]
    policy = LlmPolicy(_conversation(faults.url("scripted"), retries=0, timeout_s=5))
    first = await policy.decide(Heard("Which day and time would you like?"))
    assert first.say == "Wednesday at ten am." and not first.hang_up
    assert first.notes["path"] == "model" and first.notes["about"] is None
    last = await policy.decide(Heard("You are booked."))
    assert last.hang_up and last.say == "Thanks, bye."
    assert last.outcome is not None and last.outcome.success
    assert last.outcome.reason == "it is booked"


async def test_a_speculative_copy_is_cheap_and_independent() -> None:
    conversation = _conversation("http://llm.invalid/v1")  # never asked
    policy = make_policy(conversation)
    assert isinstance(policy, LlmPolicy)
    await policy.opening(Heard(GREETING))
    fork = copy.deepcopy(policy)
    assert fork.c is policy.c and fork.system is policy.system  # shared, never copied
    fork.history.append({"role": "user", "content": "Which day?"})
    fork.given.add("day")
    assert len(policy.history) == 2 and not policy.given
    assert policy.history[-1] == {"role": "assistant", "content": policy.opening_line}


def test_the_prompt_and_schema_come_from_the_scenario() -> None:
    conversation = Conversation.model_validate(
        {
            "goal": "book an appointment",
            "facts": {"day": "wednesday", "time": "ten am"},
            "unknown": ["name"],
            "persona": {"verbosity": "terse", "patience": 2},
            "policy": "llm",
        }
    )
    policy = LlmPolicy(conversation)
    assert policy.readings[:4] == ["day and time", "day", "time", "name"]
    assert policy.schema["properties"]["about"]["enum"] == policy.readings
    system = policy.system
    for needle in ("CALLER", "book an appointment", "- day: wednesday", "- time: ten am"):
        assert needle in system
    assert "You do not know: name" in system and "after 2 failed attempts" in system
    assert "Never invent" in system and "end_call" in system


# ---------------------------------------------------------------- the real SmolLM2


async def _answer(url: str, agent: str) -> Any:
    """A fresh caller hears the greeting, opens, then hears `agent`: its decision."""
    policy = LlmPolicy(_conversation(url, timeout_s=30))
    await policy.opening(Heard(GREETING))
    return await policy.decide(Heard(agent))


@needs_smollm2
@pytest.mark.timeout(120)
async def test_smollm2_answers_in_the_asked_json_streamed_or_not(smollm2_url: str) -> None:
    schema = {
        "type": "object",
        "properties": {"about": {"type": "string", "enum": ["day", "time"]}},
        "required": ["about"],
    }
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}
    messages: Any = [{"role": "user", "content": "Which day would you like?"}]
    client = AsyncOpenAI(base_url=smollm2_url, api_key="x", max_retries=0, timeout=60)
    plain = await client.chat.completions.create(
        model=smollm2.MODEL, messages=messages, response_format=fmt, max_tokens=24, seed=1
    )
    assert json.loads(plain.choices[0].message.content or "")["about"] in ("day", "time")
    stream = await client.chat.completions.create(
        model=smollm2.MODEL, messages=messages, response_format=fmt, max_tokens=24, stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert json.loads(text)["about"] in ("day", "time")
    await client.close()


@needs_smollm2
@pytest.mark.timeout(180)
async def test_smollm2_caller_gives_the_day_and_time_it_was_asked(smollm2_url: str) -> None:
    decision = await _answer(smollm2_url, "Which day and time would you like?")
    line = (decision.say or "").lower()
    assert "wednesday" in line and "ten" in line, decision
    assert not decision.hang_up
    assert invented_values(line, list(FACTS.values())) == []
    assert decision.notes["about"] == "day and time"
    assert decision.notes["path"] in ("model", "composed")
    assert decision.notes["raw"] and decision.notes["attempts"] >= 1


@needs_smollm2
@pytest.mark.timeout(180)
async def test_smollm2_caller_hangs_up_when_the_agent_says_goodbye(smollm2_url: str) -> None:
    decision = await _answer(smollm2_url, "Thank you for calling. Goodbye.")
    assert decision.hang_up, decision
    assert decision.outcome is not None and not decision.outcome.success


@needs_smollm2
@pytest.mark.timeout(180)
async def test_smollm2_caller_at_temperature_0_says_the_same_line_twice(
    smollm2_url: str,
) -> None:
    agent = "Sure. Which day would you like at ten am?"
    first = await _answer(smollm2_url, agent)
    second = await _answer(smollm2_url, agent)
    assert first.say and first.say == second.say
    assert first.notes["raw"] == second.notes["raw"]


LLM_BOOKING = """
name: llm-book
seed: 3
conversation:
  goal: book an appointment
  facts: {{day: wednesday, time: ten am}}
  policy: llm
  llm: {{base_url: "{url}", model: smollm2-135m-instruct, timeout_s: 20}}
  end: {{max_turns: 8, max_duration_s: 120}}
expect:
  tools: [{{name: book_appointment, args: {{day: wednesday, time: ten am}}}}]
"""


@needs_smollm2
@pytest.mark.timeout(300)
async def test_smollm2_caller_books_with_the_bundled_pipeline_agent(
    tmp_path: Path, smollm2_url: str, pipeline_agent_url: str
) -> None:
    scenario = tmp_path / "llm-book.yaml"
    scenario.write_text(LLM_BOOKING.format(url=smollm2_url))
    out = tmp_path / "run"
    outcome = await run_files([str(scenario)], out, agent=pipeline_agent_url)
    call = _rows(out, "calls.jsonl")[0]
    assert call["status"] == "ok", call["error"]
    conversation = call["conversation"]
    assert call["task"]["passed"], (call["task"], conversation)
    assert conversation["success"] and conversation["policy"] == "llm", conversation
    assert conversation["ended_by"] == "caller" and conversation["errors"] == []
    decisions = [t["decision"] for t in _rows(out, "turns.jsonl") if t.get("decision")]
    asked = [d for d in decisions if d["notes"].get("path") in ("model", "composed")]
    assert asked, decisions  # the model decided, not only the scripted opening
    for d in decisions:
        assert d["policy"] == "llm"
        assert invented_values(d["say"] or "", list(FACTS.values()) + ["book an appointment"]) == []
    assert outcome.exit_code == 0


@pytest.mark.timeout(300)
async def test_a_broken_model_ends_the_call_as_a_caller_error_and_the_run_goes_on(
    tmp_path: Path, faults: FaultServer, pipeline_agent_url: str
) -> None:
    scenario = tmp_path / "broken.yaml"
    scenario.write_text(
        f"""
name: llm-broken
seed: 4
conversation:
  goal: book an appointment
  facts: {{day: wednesday, time: ten am}}
  policy: llm
  llm: {{base_url: "{faults.url("garbage")}", timeout_s: 2, retries: 1}}
  end: {{max_turns: 6, max_duration_s: 60}}
"""
    )
    out = tmp_path / "run"
    outcome = await run_files([str(scenario)], out, agent=pipeline_agent_url)
    call = _rows(out, "calls.jsonl")[0]
    conversation = call["conversation"]
    assert conversation["ended_by"] == "caller_error", conversation
    assert not conversation["success"]
    assert len(conversation["errors"]) == 1 and "not JSON" in conversation["errors"][0]
    assert call["task"]["passed"] is False
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "completed", run["status"]
    assert outcome.exit_code == 0  # no SLO asked: the run itself went fine


@pytest.mark.timeout(300)
async def test_a_slow_brain_is_marked_late_and_never_counted_against_the_agent(
    tmp_path: Path, faults: FaultServer, pipeline_agent_url: str
) -> None:
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(
        f"""
name: llm-slow
seed: 9
conversation:
  goal: book an appointment
  facts: {{day: wednesday, time: ten am}}
  policy: llm
  llm: {{base_url: "{faults.url("slow")}", timeout_s: 10}}
  persona: {{response_gap: {{dist: fixed, median_ms: 600, min_ms: 600}}}}
  end: {{max_turns: 6, max_duration_s: 90}}
"""
    )
    out = tmp_path / "run"
    await run_files([str(scenario)], out, agent=pipeline_agent_url)
    rows = _rows(out, "turns.jsonl")
    late = [r for r in rows if (r.get("decision") or {}).get("caller_late")]
    assert late, [(r["kind"], r.get("decision")) for r in rows]
    for r in late:
        d = r["decision"]
        # the brain took >= 1.5 s, the persona wanted 600 ms: the answer came late...
        assert d["decide_ms"] >= SLOW_S * 1000 * 0.9
        assert d["late_by_ms"] > 0 and d["achieved_gap_ms"] > d["gap_ms"]
        # ...and the agent's latency still runs from the true end of the caller's speech
        if r["latency_ms"] is not None:
            assert r["latency_ms"] == pytest.approx(
                (r["agent_onset_s"] - r["speech_end_s"]) * 1000, abs=1
            )
            assert r["latency_ms"] < 1500  # the agent's own time, not the caller's 1.5 s

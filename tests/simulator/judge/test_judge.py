"""The call judge against real endpoints: SmolLM2 served offline, and a server that misbehaves.

No mock of the model: the SmolLM2 tests run the real model behind
`python -m reference_agent.llm_server --backend smollm2` (tests/simulator/
conftest.py); judge faults come from a tiny real aiohttp server on loopback.
What SmolLM2-135M cannot do is judge (docs/judge.md): the tests that need a
competent judge run against `VOXSIM_JUDGE_URL` / `VOXSIM_JUDGE_MODEL` when set.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web

from simulator.judge import assess_call
from simulator.judge.criteria import judge_call
from simulator.judge.transcript import Line, build
from simulator.scenario import Judge, parse_scenario
from tests.simulator.chat_faults import FaultServer, content, fault_server
from tests.simulator.conftest import needs_smollm2

#: A short booking call whose tool failed: the agent apologises and books nothing.
TURNS: list[dict[str, Any]] = [
    {
        "turn": 0,
        "kind": "wait",
        "agent_onset_s": 0.1,
        "agent_reply_text": "Hello, thanks for calling. How can I help you today?",
        "spoken_text": "hello thanks for calling how can i help you today",
    },
    {
        "turn": 1,
        "kind": "say",
        "caller_text": "I would like to book an appointment for Tuesday at three pm",
        "agent_heard_text": "i would like to book an appointment for tuesday at three pm",
        "speech_start_s": 4.0,
        "speech_end_s": 6.5,
        "agent_onset_s": 6.9,
        "agent_reply_text": "Sorry, I could not do that just now. Is there anything else?",
        "spoken_text": "sorry i could not do that just now is there anything else",
    },
]
TOOLS = [
    {
        "name": "book_appointment",
        "arguments": {"day": "tuesday", "time": "three pm"},
        "result": {"ok": False, "error": "injected tool error"},
        "_at_s": 6.7,
    }
]
GOAL = "book an appointment for Tuesday at three pm"


def _lines() -> list[Line]:
    return build(TURNS, TOOLS)


def _judge(url: str, criteria: list[Any], **llm: Any) -> Judge:
    """A judge for the mechanics (no calibration, unless asked for)."""
    return Judge.model_validate(
        {
            "criteria": criteria,
            "cache": llm.pop("cache", False),
            "calibrate": llm.pop("calibrate", False),
            "llm": {"base_url": url, "model": "smollm2-135m-instruct", **llm},
        }
    )


def test_the_transcript_has_both_sides_and_the_tool_result_in_time_order() -> None:
    labels = [line.label for line in _lines()]
    assert labels == [
        "agent: Hello, thanks for calling. How can I help you today?",
        "caller: I would like to book an appointment for Tuesday at three pm",
        "tool: book_appointment(day=tuesday, time=three pm) -> error: injected tool error",
        "agent: Sorry, I could not do that just now. Is there anything else?",
    ]
    # what the caller heard is shown only where it differs from what the agent said
    other = [dict(TURNS[1], spoken_text="sorry i could not do that")]
    assert build(other, [])[-1].label == "caller heard: sorry i could not do that"


# ---------------------------------------------------------------- a real model


@needs_smollm2
@pytest.mark.timeout(120)
async def test_smollm2_quotes_only_lines_of_the_call_and_repeats_itself(smollm2_url: str) -> None:
    judge = _judge(smollm2_url, ["The agent booked the appointment.", "The agent was polite."])
    lines = _lines()
    first = await judge_call(judge, GOAL, lines)
    again = await judge_call(judge, GOAL, lines)
    labels = {line.n: line.label for line in lines}
    assert first["error"] is None, first
    for verdict in first["criteria"]:
        assert isinstance(verdict["passed"], bool)
        assert verdict["evidence"] is None or verdict["evidence"] == labels[verdict["line"]]
        assert verdict["attempts"] == 1  # constrained output: valid on the first try
    keys = ("passed", "evidence", "line", "reason")
    assert [{k: v[k] for k in keys} for v in first["criteria"]] == [
        {k: v[k] for k in keys} for v in again["criteria"]
    ]  # temperature 0 and a seed: the same inputs, the same judgement


@needs_smollm2
@pytest.mark.timeout(120)
async def test_a_rerun_reads_the_cache_without_asking(
    smollm2_url: str, faults: FaultServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXSIM_CACHE_DIR", str(tmp_path))
    criteria = ["The agent apologised."]
    first = await judge_call(_judge(smollm2_url, criteria, cache=True), GOAL, _lines())
    assert first["criteria"][0]["cached"] is False and first["error"] is None
    # The same inputs sent to a server that would only fail: answered from the cache.
    rerun = await judge_call(_judge(faults.url("empty"), criteria, cache=True), GOAL, _lines())
    assert faults.requests == []
    assert rerun["criteria"][0]["cached"] is True
    keys = ("passed", "evidence", "line", "reason")
    assert {k: rerun["criteria"][0][k] for k in keys} == {k: first["criteria"][0][k] for k in keys}


@needs_smollm2
@pytest.mark.timeout(120)
async def test_smollm2_fails_its_calibration_so_its_verdicts_are_not_counted(
    smollm2_url: str,
) -> None:
    judge = _judge(smollm2_url, ["The agent booked the appointment."], calibrate=True)
    out = await judge_call(judge, GOAL, _lines())
    assert out["calibration"]["passed"] is False, out["calibration"]
    wrong = [c for c in out["calibration"]["controls"] if c["got"] != c["expected"]]
    assert wrong and all(c["error"] is None for c in out["calibration"]["controls"])
    # its verdict is kept for the report, but the call's judged outcome is undecided
    assert isinstance(out["criteria"][0]["passed"], bool)
    assert out["passed"] is None and "failed its calibration" in out["error"]
    assert wrong[0]["criterion"] in out["error"]


JUDGE_URL = os.environ.get("VOXSIM_JUDGE_URL")
needs_competent_judge = pytest.mark.skipif(
    not JUDGE_URL,
    reason="SmolLM2-135M judges at chance (docs/judge.md): set VOXSIM_JUDGE_URL "
    "(and VOXSIM_JUDGE_MODEL) to an OpenAI-compatible endpoint with a competent model",
)


@needs_competent_judge
@pytest.mark.timeout(120)
async def test_a_plainly_violated_criterion_fails_with_evidence_and_a_met_one_passes() -> None:
    judge = Judge.model_validate(
        {
            "criteria": [
                "The agent booked the appointment the caller asked for.",
                "The agent greeted the caller.",
            ],
            "cache": False,
            "llm": {
                "base_url": JUDGE_URL,
                "model": os.environ.get("VOXSIM_JUDGE_MODEL", "default"),
            },
        }
    )
    out = await judge_call(judge, GOAL, _lines())
    violated, met = out["criteria"]
    assert violated["passed"] is False, violated
    assert violated["evidence"] and (
        "error" in violated["evidence"] or "Sorry" in violated["evidence"]
    )
    assert met["passed"] is True, met
    assert out["calibration"]["passed"] is True, out["calibration"]
    assert out["passed"] is False


# ---------------------------------------------------------------- judge faults


UNQUOTED = {"evidence": "agent: I have booked you for Tuesday.", "passed": True, "reason": "booked"}
#: A quote that is a piece of a line (an endpoint without constrained output may cut it).
PIECE = {"evidence": "could not do that just now", "passed": False, "reason": "the tool failed"}
REPLIES: dict[str, Any] = {
    "empty": lambda: web.Response(body=b"", content_type="application/json"),
    "blank": lambda: web.json_response(content("")),
    "invalid": lambda: web.json_response(content('{"evidence": "agent: Hello", "passed": ')),
    "unquoted": lambda: web.json_response(content(json.dumps(UNQUOTED))),
    "piece": lambda: web.json_response(content(json.dumps(PIECE))),
}


@pytest.fixture
async def faults() -> AsyncIterator[FaultServer]:
    """Each path answers with its REPLIES entry ("stall" waits for the server to stop)."""

    async def answer(server: FaultServer, fault: str) -> web.StreamResponse:
        if fault == "stall":
            await server.stall()
        return cast(web.StreamResponse, REPLIES.get(fault, REPLIES["empty"])())

    async with fault_server(answer) as server:
        yield server


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("empty", "JSONDecodeError"),
        ("blank", "empty content"),
        ("invalid", "not JSON"),
        ("unquoted", "evidence not in the transcript"),
        ("stall", "no reply within"),
    ],
)
async def test_a_bad_judge_gives_an_error_row_within_its_bound(
    faults: FaultServer, fault: str, problem: str
) -> None:
    judge = _judge(faults.url(fault), ["The agent booked the appointment."], timeout_s=1, retries=1)
    started = time.monotonic()
    out = await judge_call(judge, GOAL, _lines())
    took = time.monotonic() - started
    assert took < (1 + 1) * 1 + 1.0  # (retries + 1) x timeout_s, and a little
    assert out["passed"] is None and out["score"] is None
    assert out["error"] and problem in out["error"], out["error"]
    assert "no valid reply after 2 attempts" in out["error"]
    verdict = out["criteria"][0]
    assert verdict["passed"] is None and verdict["error"] == out["error"]
    if fault in ("blank", "invalid", "unquoted"):
        # the retry told the model what was wrong with its answer
        assert faults.requests[1]["messages"][-1]["role"] == "system"


async def test_a_piece_of_a_line_is_a_real_quote(faults: FaultServer) -> None:
    out = await judge_call(_judge(faults.url("piece"), ["The agent booked."]), GOAL, _lines())
    verdict = out["criteria"][0]
    assert verdict["passed"] is False and verdict["evidence"] == PIECE["evidence"]
    assert _lines()[verdict["line"] - 1].who == "agent"  # the line it was cut from
    assert out["passed"] is False and out["score"] == 0.0


async def test_weights_and_must_decide_the_call(faults: FaultServer) -> None:
    # every criterion gets the same answer from this server (failed): weights decide the score
    criteria = [
        {"criterion": "a", "weight": 3},
        {"criterion": "b", "weight": 1, "must": True},
    ]
    judge = Judge.model_validate(
        {
            "criteria": criteria,
            "min_score": 0.0,
            "cache": False,
            "calibrate": False,
            "llm": {"base_url": faults.url("piece"), "model": "m"},
        }
    )
    out = await judge_call(judge, GOAL, _lines())
    assert out["score"] == 0.0 and out["passed"] is False  # the failed must decides


async def test_the_environment_names_the_judges_endpoint(
    faults: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = parse_scenario(
        "name: e\nturns:\n  - wait: true\njudge:\n  criteria: [polite]\n  cache: false\n"
        "  calibrate: false\n"
        '  llm: {base_url: "http://127.0.0.1:9/v1", model: nobody, timeout_s: 1, retries: 0}\n'
    )
    monkeypatch.setenv("VOXSIM_JUDGE_URL", faults.url("piece"))
    monkeypatch.setenv("VOXSIM_JUDGE_MODEL", "bench-model")
    row: dict[str, Any] = {"call_id": "e-000", "status": "ok", "turns": TURNS}
    await assess_call(scenario, row, [])
    assert row["judge"]["model"] == "bench-model" and row["judge"]["error"] is None
    assert faults.requests[0]["model"] == "bench-model"
    assert row["verdict"]["passed"] is False and row["attribution"]["cause"] == "agent"

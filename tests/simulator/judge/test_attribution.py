"""Every failed call is attributed, with evidence, from what voxsim injected and knows.

Real calls against the bundled pipeline agent (the session's shared one): a
tool fault injected on purpose is the agent's; a caller that was never given
a needed fact is the caller's; downlink loss over the agent's answer is the
network's; a judge that answers garbage is the judge's, and the run goes on.
The tool fault's rate also gives a known per-call success rate for pass^k.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reference_agent import smollm2
from simulator.metrics.reliability import pass_hat_k
from simulator.runner import run_files
from tests.simulator.chat_faults import FaultServer, content, fault_server

BOOK = "I would like to book an appointment for Tuesday at three pm"
#: A short scripted call: hear the greeting, ask for the booking, hear the answer.
SCRIPT = f"""caller: {{voice: en-us, rate_wpm: 220}}
turns:
  - wait: true
  - say: "{BOOK}"
"""
BOOKED = "expect:\n  tools: [{name: book_appointment, args: {day: tuesday, time: three pm}}]\n"


def _calls(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]


async def _run(tmp_path: Path, yaml: str, agent: str) -> tuple[list[dict[str, Any]], Any]:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml)
    out = tmp_path / "run"
    await run_files([str(scenario)], out, agent=agent)
    return _calls(out), json.loads((out / "run.json").read_text())


@pytest.mark.timeout(240)
async def test_tool_faults_are_the_agents_and_pass_hat_k_matches_the_closed_form(
    tmp_path: Path, pipeline_agent_url: str
) -> None:
    p, repeat = 0.5, 4  # each call's one booking fails with probability 1 - p
    calls, run = await _run(
        tmp_path,
        f"""
name: tool-faults
seed: 11
agent: {{kind: pipeline, faults: {{tool: {{error_rate: {1 - p}}}}}}}
{SCRIPT}{BOOKED}repeat: {repeat}
slo: {{pass_hat_k_min: 0.0}}
""",
        pipeline_agent_url,
    )
    assert len(calls) == repeat
    for call in calls:
        (tool,) = call["tool_calls"]
        booked = tool["result"].get("ok") is True
        assert call["verdict"]["passed"] is booked, call["verdict"]
        if booked:
            assert call["attribution"] is None
        else:
            assert call["attribution"]["cause"] == "agent", call["attribution"]
            assert "injected tool error" in call["attribution"]["evidence"]
    figures = run["reliability"]["tool-faults"]
    c = sum(call["verdict"]["passed"] for call in calls)
    assert (figures["n"], figures["passed"], figures["k"]) == (repeat, c, repeat)
    assert figures["flaky"] == (0 < c < repeat)
    for point in figures["curve"]:
        j = point["k"]
        assert point["value"] == round(pass_hat_k(repeat, c, j), 4)
        lo, hi = point["ci"]
        assert lo <= p**j <= hi, (j, point)  # the closed form p^k within the interval
    (slo,) = [r for r in run["slo_results"] if r["metric"] == "pass_hat_k_min"]
    assert slo["value"] == figures["pass_hat_k"]["value"] and slo["n"] == repeat


@pytest.mark.timeout(240)
async def test_a_caller_never_given_a_needed_fact_is_the_callers_failure(
    tmp_path: Path, pipeline_agent_url: str, request: pytest.FixtureRequest
) -> None:
    # Judged too when SmolLM2 is installed: a goal-driven call's transcript has the
    # caller's own lines (its verdicts are not trusted: docs/judge.md).
    judge = ""
    if smollm2.available():
        url = request.getfixturevalue("smollm2_url")
        judge = (
            'judge: {criteria: ["The agent booked the appointment."], cache: false, '
            f'llm: {{base_url: "{url}", model: smollm2-135m-instruct}}}}\n'
        )
    calls, _ = await _run(
        tmp_path,
        """
name: no-time
seed: 5
conversation:
  goal: book an appointment
  facts: {day: wednesday}
  unknown: [time]
  persona: {verbosity: terse, patience: 1, response_gap: {dist: fixed, median_ms: 600}}
  end: {max_turns: 4, max_duration_s: 60}
expect:
  tools: [{name: book_appointment, args: {day: wednesday, time: ten am}}]
"""
        + judge,
        pipeline_agent_url,
    )
    (call,) = calls
    if judge:
        lines = call["judge"]["lines"]
        assert sum(x["who"] == "caller" for x in lines) >= 2
        assert all(v.get("error") is None for v in call["judge"]["criteria"])
        verdict = call["judge"]["criteria"][0]
        assert verdict["evidence"] is None or verdict["evidence"] in {
            f"{x['who']}: {x['text']}" for x in lines
        }
    assert call["verdict"]["passed"] is False
    attribution = call["attribution"]
    assert attribution["cause"] == "caller", attribution
    assert "time='ten am'" in attribution["evidence"] and "never given" in attribution["evidence"]
    # the agent's side of the failure is still listed, behind the caller's
    assert any(f["cause"] == "agent" for f in attribution["findings"])


@pytest.mark.timeout(240)
async def test_downlink_loss_over_the_agents_answer_is_the_networks_failure(
    tmp_path: Path, pipeline_agent_url: str
) -> None:
    webrtc = pipeline_agent_url.replace("ws://", "webrtc+http://").replace("/ws", "/offer")
    calls, _ = await _run(
        tmp_path,
        f"""
name: lossy
seed: 2
network:
  downlink: {{loss: 0.6, burst: 25}}
{SCRIPT}expect:
  agent_says: ["booked you for tuesday"]
""",
        webrtc,
    )
    (call,) = calls
    assert call["verdict"]["passed"] is False, call["task"]
    attribution = call["attribution"]
    assert attribution["cause"] == "network", attribution
    assert "downlink lost" in attribution["evidence"]
    assert "booked you for Tuesday" in attribution["evidence"]  # what the agent said


@pytest.mark.timeout(240)
async def test_a_judge_that_answers_garbage_is_a_judge_error_row_and_the_run_goes_on(
    tmp_path: Path, pipeline_agent_url: str
) -> None:
    async def garbage(server: FaultServer, fault: str) -> Any:
        from aiohttp import web

        return web.json_response(content("Sure, the agent was lovely."))

    async with fault_server(garbage) as judge:
        calls, run = await _run(
            tmp_path,
            f"""
name: judged
seed: 1
{SCRIPT}{BOOKED}judge:
  criteria: ["The agent confirmed the booking."]
  cache: false
  llm: {{base_url: "{judge.url("garbage")}", timeout_s: 2, retries: 1}}
""",
            pipeline_agent_url,
        )
    (call,) = calls
    assert call["status"] == "ok" and call["task"]["passed"]
    assert call["judge"]["passed"] is None and "not JSON" in call["judge"]["error"]
    assert call["verdict"]["passed"] is None  # undecided: not counted in pass rates
    assert call["attribution"]["cause"] == "judge"
    assert run["status"] == "completed"

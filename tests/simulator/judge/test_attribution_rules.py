"""The attribution rules on call rows shaped as the runner writes them: each cause's
rule, and the order that rules out the harness, the network and the caller before
blaming the agent. Real calls for the main causes: test_attribution.py."""

from __future__ import annotations

from typing import Any

from simulator.impairments import Fate
from simulator.judge import summary_line
from simulator.judge.attribution import attribute, drop_runs, verdict
from simulator.scenario import parse_scenario

SCRIPTED = parse_scenario(
    "name: s\nturns:\n  - wait: true\n  - say: book me for tuesday at three pm\n"
    "expect:\n  agent_says: [booked you]\nslo: {latency_p95_ms: 800}\n"
)
GOAL = parse_scenario(
    "name: g\nconversation:\n  goal: book an appointment\n  facts: {day: tuesday}\n"
    "expect:\n  agent_says: [booked you]\n"
)


def _row(turns: list[dict[str, Any]], **call: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "call_id": "s-000",
        "status": "ok",
        "error": None,
        "max_send_lateness_ms": 0.0,
        "task": {
            "passed": False,
            "checks": [
                {"check": "agent says 'booked you'", "passed": False, "reason": "not heard"}
            ],
        },
        "turns": turns,
        **call,
    }
    row["verdict"] = verdict(row)
    return row


SAY = {
    "turn": 1,
    "kind": "say",
    "caller_text": "book me for tuesday at three pm",
    "agent_heard_text": "book me for tuesday at three pm",
    "speech_start_s": 1.0,
    "speech_end_s": 3.0,
    "agent_onset_s": 3.4,
    "agent_end_s": 6.0,
    "latency_ms": 400.0,
    "agent_reply_text": "Sure. I have booked you for Tuesday at three pm.",
    "spoken_text": "sure i have booked you for tuesday at three pm",
}


def test_drop_runs_group_consecutive_lost_frames_on_the_call_timeline() -> None:
    fates = [Fate(10.0 + i * 0.02, None, None, True) for i in range(5)]
    fates += [Fate(10.1, 10.1, 10.1, False), Fate(11.0, None, None, True)]
    assert drop_runs(fates, t0=10.0) == [[0.0, 0.08, 5], [1.0, 1.0, 1]]


def test_a_slow_reply_is_the_agents_with_the_slo() -> None:
    slow = dict(SAY, latency_ms=1900.0, spoken_text="sure i have")
    a = attribute(SCRIPTED, _row([slow]))
    assert a is not None and a["cause"] == "agent"
    assert any(
        "too slow: turn 1 answered in 1900 ms (SLO 800 ms)" in f["evidence"] for f in a["findings"]
    )


def test_uplink_loss_over_a_misheard_line_is_the_networks() -> None:
    misheard = dict(SAY, agent_heard_text="book me for")
    net = {"uplink": {"drops_s": [[1.5, 2.5, 40]]}, "downlink": {"drops_s": []}}
    a = attribute(SCRIPTED, _row([misheard], network=net))
    assert a is not None and a["cause"] == "network", a
    assert a["evidence"].startswith("uplink lost 40 packets")
    # the same mishearing on a clean link is the agent's recognizer
    clean = attribute(SCRIPTED, _row([misheard]))
    assert clean is not None and clean["cause"] == "agent"
    assert "misunderstood the caller" in " ".join(f["evidence"] for f in clean["findings"])


def test_a_busy_harness_comes_first_when_its_lateness_explains_the_failure() -> None:
    slow = dict(SAY, latency_ms=880.0)  # SLO 800 ms: within it but for 120 ms late audio
    a = attribute(SCRIPTED, _row([slow], max_send_lateness_ms=120.0))
    assert a is not None and a["cause"] == "harness" and "120 ms late" in a["evidence"], a
    timeout = dict(SAY, latency_ms=None, error="no reply before timeout")
    a = attribute(SCRIPTED, _row([timeout], max_send_lateness_ms=120.0))
    assert a is not None and a["cause"] == "harness", a
    # Late audio arrives intact: it does not explain a phrase the agent never said, nor
    # a reply slower than the SLO by more than the lateness.
    a = attribute(SCRIPTED, _row([SAY], max_send_lateness_ms=120.0))
    assert a is not None and a["cause"] == "agent", a
    far = dict(SAY, latency_ms=1500.0)
    a = attribute(SCRIPTED, _row([far], max_send_lateness_ms=120.0))
    assert a is not None and a["cause"] == "agent", a
    assert [f["cause"] for f in a["findings"]] == ["agent", "agent"], a  # no harness finding
    crashed = attribute(SCRIPTED, _row([SAY], status="failed", error="ValueError('boom')"))
    assert crashed is not None and crashed["cause"] == "harness"


def test_a_goal_caller_that_invents_or_mishears_is_the_callers() -> None:
    said = dict(SAY, caller_text="Tuesday at four pm", decision={"say": "Tuesday at four pm"})
    a = attribute(GOAL, _row([said], conversation={"success": False, "ended_by": "caller"}))
    assert a is not None and a["cause"] == "caller", a
    assert "four" in a["evidence"] and "never given" in a["evidence"]
    heard = {
        "turn": 2,
        "kind": "say",
        "caller_text": "Tuesday.",
        "decision": {"heard": "what day is good", "heard_source": "audio"},
    }
    asked = dict(SAY, agent_reply_text="Which day and time would you like?")
    b = attribute(GOAL, _row([asked, heard], conversation={"success": False, "ended_by": "caller"}))
    assert b is not None and b["cause"] == "caller" and "recognizer heard" in b["evidence"]


def test_a_passed_call_has_no_attribution_and_no_terminal_line() -> None:
    row = _row([SAY], task={"passed": True, "checks": []})
    row["attribution"] = attribute(SCRIPTED, row)
    assert row["verdict"]["passed"] is True and row["attribution"] is None
    assert summary_line(row) is None
    failed = _row([dict(SAY, agent_reply_text="Sorry, I could not do that.")])
    failed["attribution"] = attribute(SCRIPTED, failed)
    assert summary_line(failed) == f"s-000 failed, cause agent: {failed['attribution']['evidence']}"


def test_a_fact_the_caller_had_but_never_said_is_its_only_when_it_gave_up() -> None:
    scenario = parse_scenario(
        "name: g\nconversation:\n  goal: book an appointment\n  facts: {day: tuesday}\n"
        "expect:\n  tools: [{name: book_appointment, args: {day: tuesday}}]\n"
    )
    opening = dict(SAY, caller_text="I need an appointment", decision={"say": "x"})
    task = {
        "passed": False,
        "checks": [
            {
                "check": "tool book_appointment {'day': 'tuesday'}",
                "passed": False,
                "reason": "never called",
            }
        ],
    }
    gave_up = _row(
        [opening],
        task=task,
        conversation={"success": False, "ended_by": "caller", "reason": "gave up"},
    )
    a = attribute(scenario, gave_up)
    assert a is not None and a["cause"] == "caller" and "had it but never said it" in a["evidence"]
    hung_up = _row(
        [opening],
        task=task,
        conversation={"success": False, "ended_by": "agent", "reason": "the agent said goodbye"},
    )
    b = attribute(scenario, hung_up)
    assert b is not None and b["cause"] == "agent", b

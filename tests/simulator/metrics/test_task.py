"""Task success: a call that books the wrong day fails `expect`, the right one passes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from simulator.errors import ScenarioError
from simulator.metrics.task import evaluate_call, success_rate
from simulator.scenario import parse_scenario


def _scenario(db: Path) -> str:
    return f"""
name: book
turns: [{{say: "book me for wednesday at three pm"}}]
expect:
  tools: [{{name: book_appointment, args: {{day: Wednesday, time: "15:00"}}}}]
  state:
    - sqlite: {db}
      query: "SELECT day FROM appointments WHERE call_id = :call_id"
      rows: [[wednesday]]
  agent_says: ["Wednesday at 3 pm"]
"""


def _call(db: Path, call_id: str, day: str) -> tuple[list[dict], list[dict]]:
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE IF NOT EXISTS appointments (call_id TEXT, day TEXT)")
        con.execute("INSERT INTO appointments VALUES (?, ?)", (call_id, day))
    events = [
        {"type": "transcript", "role": "user", "text": f"book me for {day} at three pm"},
        {
            "type": "tool_call",
            "name": "book_appointment",
            "arguments": {"day": day, "time": "three pm"},
            "result": {"ok": True},
        },
    ]
    turns = [{"spoken_text": f"i have booked you for {day} at three pm is there anything else"}]
    return events, turns


def _judge(tmp_path: Path, call_id: str, day: str) -> dict:
    """Expect Wednesday 3 pm; run a call that booked `day` against it."""
    db = tmp_path / "agent.db"
    expect = parse_scenario(_scenario(db)).expect
    assert expect is not None
    events, turns = _call(db, call_id, day)
    return evaluate_call(expect, call_id, events, turns)


def test_the_right_day_passes_every_check(tmp_path: Path) -> None:
    result = _judge(tmp_path, "book-000", "wednesday")
    assert result["passed"], result
    assert len(result["checks"]) == 3


def test_the_wrong_day_fails_the_tool_state_and_speech_checks(tmp_path: Path) -> None:
    result = _judge(tmp_path, "book-001", "tuesday")
    assert not result["passed"]
    assert [c["passed"] for c in result["checks"]] == [False, False, False]
    assert "tuesday" in result["checks"][0]["reason"]


def test_missing_database_and_missing_tool_are_failures_with_a_reason(tmp_path: Path) -> None:
    expect = parse_scenario(_scenario(tmp_path / "none.db")).expect
    assert expect is not None
    result = evaluate_call(expect, "x", [], [])
    assert [c["reason"] for c in result["checks"]] == [
        "never called",
        f"no database at {tmp_path / 'none.db'}",
        "not heard",
    ]


def test_success_rate_has_n_and_a_wilson_interval() -> None:
    out = success_rate([{"passed": True}, {"passed": False}, None, {"passed": True}])
    assert (out["successes"], out["n"]) == (2, 3)
    lo, hi = out["ci"]
    assert lo < 2 / 3 < hi


def test_a_bad_expect_block_names_its_line_and_field() -> None:
    text = "name: x\nturns: [{say: hi}]\nexpect:\n  tools:\n    - {nam: book}\n"
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, source="x.yaml")
    assert "x.yaml:5 expect.tools[0].nam" in err.value.one_line()

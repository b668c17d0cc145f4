"""Verdicts and attributions where users read them: report.html, junit.xml, baselines.

A run directory is written with the rows a judged run leaves (the shapes the
runner writes, checked by tests/simulator/judge/test_attribution.py on real
calls), then the report, the JUnit file and the baseline comparison are built
from it, as `voxsim report` / `voxsim compare` do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import xmlschema

from reports.html import write_report
from reports.junit import write_junit
from simulator.baseline import Tolerance, compare_rows
from simulator.judge.attribution import verdict

XSD = Path(__file__).parents[2] / "reports" / "junit-10.xsd"
LINES = [
    {"n": 1, "who": "caller", "text": "Book me for Tuesday at three pm", "turn": 1},
    {
        "n": 2,
        "who": "tool",
        "text": "book_appointment(day=tuesday) -> error: injected",
        "turn": None,
    },
    {"n": 3, "who": "agent", "text": "Sorry, I could not do that <b>now</b>.", "turn": 1},
]


def _call(call_id: str, passed: bool | None, cause: str | None = None) -> dict[str, Any]:
    criteria = [
        {
            "criterion": "The agent booked the appointment.",
            "weight": 1.0,
            "must": True,
            "passed": passed,
            "evidence": LINES[2]["who"] + ": " + LINES[2]["text"] if passed is False else None,
            "line": 3 if passed is False else None,
            "reason": "it apologised",
            **(
                {"error": "judge (m at u): no valid reply after 2 attempts: not JSON"}
                if passed is None
                else {}
            ),
        }
    ]
    row: dict[str, Any] = {
        "call_id": call_id,
        "scenario": "judged",
        "matrix": {},
        "status": "ok",
        "duration_s": 5.0,
        "task": {"passed": True, "checks": []},
        "judge": {
            "model": "m",
            "criteria": criteria,
            "score": None if passed is None else float(bool(passed)),
            "passed": passed,
            "error": criteria[0].get("error"),
            "lines": LINES,
        },
    }
    row["verdict"] = verdict(row)
    row["attribution"] = (
        {"cause": cause, "evidence": f"{cause} evidence", "findings": []} if cause else None
    )
    return row


def _write_run(out: Path, calls: list[dict[str, Any]]) -> Path:
    out.mkdir()
    run = {"run_id": "r", "status": "completed", "exit_code": 1, "slo_results": []}
    (out / "run.json").write_text(json.dumps(run))
    (out / "calls.jsonl").write_text("".join(json.dumps(c) + "\n" for c in calls))
    (out / "turns.jsonl").write_text("")
    return out


def test_verdict_is_undecided_only_when_nothing_else_failed() -> None:
    assert _call("a", True)["verdict"] == {"passed": True, "failed": []}
    assert _call("b", False)["verdict"]["passed"] is False
    assert _call("c", None)["verdict"]["passed"] is None
    broken = dict(
        _call("d", None),
        task={"passed": False, "checks": [{"check": "x", "passed": False, "reason": "r"}]},
    )
    assert verdict(broken)["passed"] is False


def test_the_report_marks_the_evidence_and_shows_the_pass_hat_k_table(tmp_path: Path) -> None:
    calls = [
        _call("judged-000", True),
        _call("judged-001", False, "agent"),
        _call("judged-002", None, "judge"),
    ]
    page = write_report(_write_run(tmp_path / "run", calls)).read_text()
    section = page[page.index("Verdicts and attribution") :]
    assert (
        "Reliability over repeats" in section and "1/2" in section
    )  # the undecided call is left out
    assert "flaky" in section
    assert 'title="evidence for: The agent booked the appointment."' in section
    assert "&lt;b&gt;now&lt;/b&gt;" in section and "<b>now</b>" not in section  # escaped
    assert "Cause: <b>agent</b>" in section and "Cause: <b>judge</b>" in section
    assert "undecided (judge error)" in section


def test_junit_has_a_testcase_per_judged_call_with_its_cause(tmp_path: Path) -> None:
    calls = [
        _call("judged-000", True),
        _call("judged-001", False, "agent"),
        _call("judged-002", None, "judge"),
    ]
    path = write_junit(_write_run(tmp_path / "run", calls))
    xmlschema.XMLSchema(XSD).validate(str(path))
    text = path.read_text()
    assert 'classname="voxsim.judge.judged" name="judged-001"' in text
    assert 'type="CallFailed"' in text and "agent: agent evidence" in text
    assert 'type="JudgeError"' in text
    assert 'name="call.judged-001.cause" value="agent"' in text


def test_baselines_compare_the_judged_fail_rate() -> None:
    turns = [{"scenario": "judged", "kind": "say", "latency_ms": 300.0}] * 4
    before = [_call(f"b{i}", True) for i in range(30)]
    after = [_call(f"a{i}", i % 2 == 0, None if i % 2 == 0 else "agent") for i in range(30)]
    comparison = compare_rows(turns, turns, Tolerance(), "", "", before, after)
    (change,) = [c for c in comparison.changes if c.metric == "call_fail_rate"]
    assert (change.baseline, change.current, change.n_current) == (0.0, 0.5, 30)
    assert change.regression


def test_an_uncalibrated_judges_failed_criterion_does_not_fail_the_call() -> None:
    row = _call("u", False)
    row["judge"]["calibration"] = {"passed": False, "controls": []}
    row["judge"]["passed"] = None
    assert verdict(row)["passed"] is None  # shown in the report, not counted

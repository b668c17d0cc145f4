"""A goal-driven call in report.html: the conversation, decisions with their timings, the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reports.html import write_report

XSS = "<img src=x onerror=alert(1)>"


def build_goal_run(root: Path) -> Path:
    """A finished goal-driven run: greeting, two decided lines, a hang-up; hostile agent text."""
    run_dir = root / "goal-run"
    run_dir.mkdir()
    base: dict[str, Any] = {"call_id": "goal-000", "scenario": "goal", "error": None}
    turns = [
        {
            **base,
            "turn": 0,
            "kind": "wait",
            "caller_text": None,
            "latency_ms": 300.0,
            "agent_reply_text": "Hello. Can I have your name first?",
        },
        {
            **base,
            "turn": 1,
            "kind": "say",
            "caller_text": "Alex smith.",
            "latency_ms": 412.0,
            "speech_start_s": 3.0,
            "speech_end_s": 3.8,
            "agent_onset_s": 4.212,
            "agent_reply_text": XSS,
            "agent_heard_text": "alex smith",
            "wer": 0.0,
            "decision": {
                "policy": "rules",
                "heard": "Hello. Can I have your name first?",
                "heard_source": "transcript",
                "say": "Alex smith.",
                "hang_up": False,
                "why": "the agent asked for name: answer from facts",
                "outcome": None,
                "ears_ms": 0.0,
                "decide_ms": 0.4,
                "render_ms": 21.5,
                "gap_ms": 812.0,
                "achieved_gap_ms": 812.1,
                "caller_late": False,
                "notes": {},
            },
        },
        {
            **base,
            "turn": 2,
            "kind": "say",
            "caller_text": "Goodbye.",
            "latency_ms": None,
            "decision": {
                "policy": "rules",
                "heard": XSS,
                "heard_source": "audio",
                "say": "Goodbye.",
                "hang_up": True,
                "why": "gave up after 2 failed attempts",
                "outcome": {"success": False, "reason": "gave up after 2 failed attempts"},
                "ears_ms": 71.0,
                "decide_ms": 0.2,
                "render_ms": 18.0,
                "gap_ms": 700.0,
                "achieved_gap_ms": 930.0,
                "caller_late": True,
                "late_by_ms": 230.0,
                "notes": {},
            },
        },
    ]
    call = {
        **base,
        "status": "ok",
        "n_turns": 3,
        "duration_s": 12.0,
        "conversation": {
            "policy": "rules",
            "goal": "book an appointment",
            "success": False,
            "reason": "gave up after 2 failed attempts",
            "ended_by": "caller",
            "lines": 2,
            "caller_late": 1,
            "errors": [],
        },
        "task": {"passed": False, "checks": []},
    }
    (run_dir / "turns.jsonl").write_text("".join(json.dumps(t) + "\n" for t in turns))
    (run_dir / "calls.jsonl").write_text(json.dumps(call) + "\n")
    run = {
        "run_id": "goal",
        "status": "completed",
        "scenarios": [{"name": "goal"}],
        "slo_results": [],
        "exit_code": 0,
    }
    (run_dir / "run.json").write_text(json.dumps(run))
    return run_dir


def test_the_report_tells_the_conversation_and_how_it_ended(tmp_path: Path) -> None:
    page = write_report(build_goal_run(tmp_path)).read_text()
    assert "Goal: <q>book an appointment</q>" in page
    assert "gave up after 2 failed attempts" in page
    assert "heard (transcript): <q>Hello. Can I have your name first?</q>" in page
    assert "because the agent asked for name: answer from facts" in page
    assert "brain 0.4 ms" in page and "voice 21.5 ms" in page and "gap 812 → 812.1 ms" in page
    assert "caller late" in page and "then hang up" in page
    assert XSS not in page and "&lt;img src=x onerror=alert(1)&gt;" in page

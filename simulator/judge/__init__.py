"""Judging whole calls: criteria scored by an LLM, every failure attributed, pass^k.

`assess_call` runs after a call is measured (runner.run_call): it stores the
agent's tool calls, asks the judge (when the scenario has `judge:`), decides
the call's verdict and, for a call that did not pass, its attribution. See
docs/judge.md.
"""

from __future__ import annotations

from typing import Any

from simulator.judge.attribution import attribute, drop_runs, verdict
from simulator.judge.criteria import judge_call
from simulator.judge.transcript import build, tool_calls
from simulator.scenario import Scenario

__all__ = ["assess_call", "drop_runs", "summary_line"]


def goal_of(scenario: Scenario) -> str:
    """What the caller wanted, as the judge is told."""
    if scenario.conversation is not None:
        return scenario.conversation.goal
    return scenario.description or "(a scripted call: the caller says its lines)"


async def assess_call(
    scenario: Scenario, row: dict[str, Any], events: list[dict[str, Any]]
) -> None:
    """Add `tool_calls`, `judge` (with `judge:`), `verdict` and `attribution` to a call row."""
    tools = tool_calls(events)
    row["tool_calls"] = tools
    if scenario.judge is not None:
        lines = build(row.get("turns") or [], tools)
        row["judge"] = await judge_call(scenario.judge, goal_of(scenario), lines)
    row["verdict"] = verdict(row)
    row["attribution"] = attribute(scenario, row)


def summary_line(row: dict[str, Any]) -> str | None:
    """One terminal line for a call that did not pass (None when it passed)."""
    v = row.get("verdict") or {}
    a = row.get("attribution")
    if v.get("passed") is True or a is None:
        return None
    state = "undecided" if v.get("passed") is None else "failed"
    return f"{row['call_id']} {state}, cause {a['cause']}: {a['evidence']}"

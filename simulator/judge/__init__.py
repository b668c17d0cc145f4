"""Judging whole calls: criteria scored by an LLM, every failure attributed, pass^k.

`assess_call` runs after a call is measured (runner.run_call): it stores the
agent's tool calls, asks the judge (when the scenario has `judge:`), decides
the call's verdict and, for a call that did not pass, its attribution. See
docs/judge.md.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from simulator.audio import SAMPLE_RATE, Pcm
from simulator.judge.attribution import attribute, drop_runs, verdict
from simulator.judge.criteria import judge_call
from simulator.judge.transcript import build, tool_calls
from simulator.rows import CallRow, TurnRow
from simulator.scenario import Judge, Scenario

__all__ = ["assess_call", "drop_runs", "summary_line"]


def goal_of(scenario: Scenario) -> str:
    """What the caller wanted, as the judge is told."""
    if scenario.conversation is not None:
        return scenario.conversation.goal
    return scenario.description or "(a scripted call: the caller says its lines)"


def hear_unannounced(turns: list[TurnRow], agent: Pcm | None) -> None:
    """For agent replies with no text (an agent that sends no transcript events, e.g.
    over Twilio Media Streams), voxsim's own recognizer on the audio the caller
    received: Whisper tiny, the goal caller's ears (`agent_audio_text`)."""
    from simulator.conversation import whisper

    todo = [
        t
        for t in turns
        if not t.get("agent_reply_text")
        and not t.get("spoken_text")
        and t.get("agent_onset_s") is not None
        and t.get("agent_end_s") is not None
    ]
    if agent is None or not todo or not whisper.available():
        return
    recognizer = whisper.WhisperRecognizer.shared()
    for t in todo:
        a = max(0, int((float(t.get("agent_onset_s") or 0.0) - 0.2) * SAMPLE_RATE))
        b = min(len(agent), int((float(t.get("agent_end_s") or 0.0) + 0.2) * SAMPLE_RATE))
        t["agent_audio_text"] = recognizer.transcribe(agent[a:b]) or None


def endpoint(judge: Judge) -> Judge:
    """`judge` with its endpoint overridden by $VOXSIM_JUDGE_URL / $VOXSIM_JUDGE_MODEL (one
    scenario file, judged by the model a CI job or a user has at hand)."""
    override = {
        key: value
        for key, value in (
            ("base_url", os.environ.get("VOXSIM_JUDGE_URL")),
            ("model", os.environ.get("VOXSIM_JUDGE_MODEL")),
        )
        if value
    }
    if not override:
        return judge
    return judge.model_copy(update={"llm": judge.llm.model_copy(update=override)})


async def assess_call(
    scenario: Scenario, row: CallRow, events: list[dict[str, Any]], agent: Pcm | None = None
) -> None:
    """Add `tool_calls`, `judge` (with `judge:`), `verdict` and `attribution` to a call row.

    With `judge:`, agent replies that came with no text are first transcribed by
    voxsim (`hear_unannounced`), so the judge reads every transport's calls."""
    tools = tool_calls(events)
    row["tool_calls"] = tools
    if scenario.judge is not None:
        await asyncio.to_thread(hear_unannounced, row.get("turns") or [], agent)
        lines = build(row.get("turns") or [], tools)
        row["judge"] = await judge_call(endpoint(scenario.judge), goal_of(scenario), lines)
    row["verdict"] = verdict(row)
    row["attribution"] = attribute(scenario, row)


def summary_line(row: CallRow) -> str | None:
    """One terminal line for a call that did not pass (None when it passed)."""
    v = row.get("verdict") or {}
    a = row.get("attribution")
    if v.get("passed") is True or a is None:
        return None
    state = "undecided" if v.get("passed") is None else "failed"
    return f"{row['call_id']} {state}, cause {a['cause']}: {a['evidence']}"

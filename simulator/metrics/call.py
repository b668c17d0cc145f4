"""Measure a finished call: the figures that need its whole recording.

The session measures latency while the call runs; what needs the complete
tracks (the harness's transcription of the agent, turn-taking over both
tracks, time to first agent audio, task success) is computed here, after the
call, off the event loop (pocketsphinx is CPU work).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from simulator.audio import SAMPLE_RATE, Pcm, first_above
from simulator.metrics.spoken import score_turns
from simulator.metrics.task import evaluate_call
from simulator.metrics.turntaking import Action, call_turn_taking
from simulator.rows import CallRow, TurnRow
from simulator.scenario import Scenario


def _s(sec: float) -> int:
    return int(round(sec * SAMPLE_RATE))


def actions_from_rows(rows: Sequence[Mapping[str, Any]], scenario: Scenario) -> list[Action]:
    """The plan's executed actions on the call timeline, from the turn rows.

    A row may carry `actions: [{"kind", "start_s", "end_s"}, ...]` (recorded by
    the session as it executes pauses, backchannels, barge-ins and silences,
    with their exact sample times); every `say` turn that waits for a reply
    also ends a turn at its ground-truth speech end ("turn_end").
    """
    out: list[Action] = []
    for row in rows:
        for a in row.get("actions") or _plan_actions(row):
            out.append(Action(str(a["kind"]), _s(float(a["start_s"])), _s(float(a["end_s"]))))
        i = int(row["turn"])
        waits = i < len(scenario.turns) and scenario.turns[i].waits_for_reply
        decision = row.get("decision")
        if isinstance(decision, dict) and not decision.get("hang_up"):
            waits = True  # a goal-driven caller's line waits for the agent's answer
        if row.get("kind") == "say" and waits and row.get("speech_end_s") is not None:
            out.append(Action("turn_end", _s(row["speech_start_s"]), _s(row["speech_end_s"])))
    return sorted(out, key=lambda a: a.start)


def _plan_actions(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Actions from the session's plan fields: planned pauses (`pauses_s`), a
    barge-in or backchannel placed in the agent's reply (`action`, `action_at_s`
    to the speech end), and a silent turn (`silence_s`)."""
    out: list[dict[str, Any]] = [
        {"kind": "pause", "start_s": a, "end_s": b} for a, b in row.get("pauses_s") or []
    ]
    action, at, end = row.get("action"), row.get("action_at_s"), row.get("speech_end_s")
    if action in ("barge_in", "backchannel") and at is not None and end is not None:
        out.append({"kind": action, "start_s": at, "end_s": end})
    if row.get("silence_s"):
        start, stop = row["silence_s"]
        out.append({"kind": "silence", "start_s": start, "end_s": stop})
    return out


def time_to_first_audio_ms(agent: Pcm) -> float | None:
    """Milliseconds from the call start (sample 0) to the first agent speech."""
    first = first_above(agent)
    return None if first is None else first * 1000.0 / SAMPLE_RATE


def measure_call(
    scenario: Scenario,
    call_id: str,
    rows: list[TurnRow],
    events: Sequence[dict[str, Any]],
    caller: Pcm,
    agent: Pcm,
    cache: Path | None = None,
    conversation: dict[str, Any] | None = None,
) -> CallRow:
    """Add per-turn fields to `rows` in place; return the call-level fields.

    A goal-driven caller's own verdict (`conversation`) is one more task check:
    a call whose caller gave up, hit a cap or failed is not a success, whatever
    the agent's tools did.
    """
    score_turns(rows, agent, cache)
    out: CallRow = {
        "time_to_first_audio_ms": time_to_first_audio_ms(agent),
        "turn_taking": call_turn_taking(caller, agent, actions_from_rows(rows, scenario)),
        "task": None,
    }
    if scenario.expect is not None:
        out["task"] = evaluate_call(scenario.expect, call_id, events, rows)
    if conversation is not None:
        check = {
            "check": "caller reached its goal",
            "passed": bool(conversation.get("success")),
            "reason": "" if conversation.get("success") else str(conversation.get("reason", "")),
        }
        task = out["task"] or {"passed": True, "checks": []}
        out["task"] = {
            "passed": bool(task["passed"]) and check["passed"],
            "checks": [*task["checks"], check],
        }
    return out

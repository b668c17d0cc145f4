"""Turn rows as the call goes: one opened per turn, fed the agent's events, closed with WER.

Apart from the pacing and the plan so that a turn row (`simulator.rows.TurnRow`)
is built in one place, whoever drives the turn: the scripted plan or the
goal-driven caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from simulator.live.pacing import checked_stages, seconds
from simulator.live.plan import PlannedTurn
from simulator.metrics.wer import score, score_intended
from simulator.rows import TurnRow
from simulator.transports.base import StartInfo


class TurnRows:
    """The rows of one call: the open one (`current`) and those finished (`rows`)."""

    def __init__(
        self,
        start: StartInfo,
        scenario: str,
        on_turn: Callable[[TurnRow], None] | None,
    ) -> None:
        self.start = start
        self.scenario = scenario
        self.on_turn = on_turn
        self.current: TurnRow | None = None
        self.rows: list[TurnRow] = []
        self._pending: list[dict[str, Any]] = []  # agent events while no row was open
        self._fillers: dict[int, tuple[str, ...]] = {}

    def open(self, turn: PlannedTurn, number: int | None = None) -> TurnRow:
        """Open `turn`'s row: it takes the events held since the last row, then every
        event until it is finished. `number` overrides the row's `turn` (the
        goal-driven caller numbers rows as they come, not by the plan's index)."""
        row = self.new_row(turn)
        if number is not None:
            row["turn"] = number
            self._fillers[number] = turn.fillers
        self.current = row
        pending, self._pending = self._pending, []
        for event in pending:
            self.apply_event(event)
        return row

    def new_row(self, turn: PlannedTurn) -> TurnRow:
        """A row for `turn` with every session field at its not-yet-measured value."""
        self._fillers[turn.index] = turn.fillers
        return {
            "call_id": self.start.call_id,
            "scenario": self.scenario,
            "turn": turn.index,
            "kind": turn.kind,
            "caller_text": turn.text,
            "caller_spoken_text": turn.spoken_text,
            "caller_notes": dict(turn.notes),
            "pauses_s": [],
            "silence_s": None,
            "action": None,
            "action_planned_s": None,
            "action_at_s": None,
            "agent_speaking_at_action": None,
            "agent_took_over": False,
            "speech_start_s": None,
            "speech_end_s": None,
            "agent_onset_s": None,
            "agent_end_s": None,
            "latency_ms": None,
            "agent_overlap": False,
            "agent_heard_text": None,
            "agent_reply_text": None,
            "wer": None,
            "wer_ref_words": None,
            "wer_subs": 0,
            "wer_dels": 0,
            "wer_ins": 0,
            "stages": {},
            "trace_id": self.start.traceparent.split("-")[1] if self.start.traceparent else None,
            "error": None,
        }

    def apply_event(self, event: dict[str, Any]) -> None:
        """Put an agent event's transcript, stage times or error into the open row."""
        row = self.current
        if row is None:
            # Between turns (e.g. a greeting before the first one): keep it for the next row.
            self._pending.append(event)
            return
        kind = event.get("type")
        if kind == "transcript" and event.get("final", True):
            key: Literal["agent_heard_text", "agent_reply_text"] = (
                "agent_heard_text" if event.get("role") == "user" else "agent_reply_text"
            )
            text = str(event.get("text", "")).strip()
            row[key] = f"{row[key]} {text}".strip() if row.get(key) else text
        elif kind == "metrics" and isinstance(event.get("stages"), dict):
            row["stages"] = checked_stages(event["stages"], self.start.call_id)
        elif kind == "error":
            row["error"] = str(event.get("message", "agent error"))

    def finish(self, row: TurnRow) -> None:
        """Close `row`: score WER (a) for a `say`, then hand it to `on_turn` and keep it."""
        if row["kind"] == "say" and row["caller_text"]:
            fillers = self._fillers.get(row["turn"], ())
            heard = row["agent_heard_text"] or ""
            result = (
                score_intended(row["caller_text"], heard, fillers)
                if fillers
                else score(row["caller_text"], heard)
            )
            row.update(
                {
                    "wer": result.wer,
                    "wer_ref_words": result.ref_words,
                    "wer_subs": result.substitutions,
                    "wer_dels": result.deletions,
                    "wer_ins": result.insertions,
                }
            )
        self.current = None
        if self.on_turn is not None:
            self.on_turn(row)
        self.rows.append(row)


def place_speech(row: TurnRow, turn: PlannedTurn, pos: int) -> None:
    """Fill `row`'s speech bounds and pauses for `turn`'s audio written at sample `pos`."""
    row["speech_start_s"] = seconds(pos + turn.speech_start)
    row["speech_end_s"] = seconds(pos + turn.speech_end)
    row["pauses_s"] = [[seconds(pos + a), seconds(pos + b)] for a, b in turn.pauses]

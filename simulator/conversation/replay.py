"""Replay a recorded goal-driven conversation against a (changed) agent.

`voxsim run FILE --replay RUNDIR` reads every caller decision a run recorded
(turns.jsonl rows with `decision`) and plays the same lines again, in order,
whatever the agent says now: an LLM-driven conversation becomes a
deterministic regression test. Each time the caller hears the agent, what it
hears is compared with what it heard in the recording; the first turn where
they differ (word error rate above `DIVERGED_WER` after the WER
normalisation) is flagged, and the run fails (exit 1) so CI notices the agent
changed its behaviour.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.conversation.policy import Decision, Heard, Outcome, Policy
from simulator.errors import UsageError
from simulator.metrics.wer import normalize, score

#: Heard text that differs from the recording by more than this WER has diverged.
DIVERGED_WER = 0.2


@dataclass(frozen=True)
class RecordedLine:
    """One recorded decision: what the caller heard and what it did."""

    turn: int
    heard: str
    say: str | None
    hang_up: bool
    why: str
    outcome: dict[str, Any] | None
    say_sha256: str | None


class Recording:
    """The decisions of a finished run directory, per call."""

    def __init__(self, run_dir: Path) -> None:
        path = Path(run_dir) / "turns.jsonl"
        if not path.is_file():
            raise UsageError(
                f"no turns.jsonl in {run_dir}",
                where="--replay",
                fix="pass the run directory of an earlier `voxsim run` of a goal-driven scenario",
            )
        self.run_dir = Path(run_dir)
        self._lines: dict[str, list[RecordedLine]] = {}
        with path.open(encoding="utf-8") as f:
            for n, raw in enumerate(f, 1):
                try:
                    row = json.loads(raw)
                except ValueError:
                    raise UsageError(
                        f"line {n} of {path} is not JSON",
                        where="--replay",
                        fix="replay a run directory voxsim wrote",
                    ) from None
                decision = row.get("decision")
                if not isinstance(decision, dict):
                    continue
                self._lines.setdefault(str(row.get("call_id")), []).append(
                    RecordedLine(
                        turn=int(row.get("turn", 0)),
                        heard=str(decision.get("heard") or ""),
                        say=decision.get("say"),
                        hang_up=bool(decision.get("hang_up")),
                        why=str(decision.get("why") or ""),
                        outcome=decision.get("outcome"),
                        say_sha256=decision.get("say_sha256"),
                    )
                )
        for lines in self._lines.values():
            lines.sort(key=lambda line: line.turn)
        if not self._lines:
            raise UsageError(
                f"{path} has no caller decisions",
                where="--replay",
                fix="replay the run of a scenario with a conversation: block",
            )

    def lines(self, call_id: str) -> list[RecordedLine]:
        """The recorded decisions of `call_id`, in order (a call not recorded is an error)."""
        if call_id not in self._lines:
            known = ", ".join(sorted(self._lines)[:5])
            raise UsageError(
                f"call {call_id} is not in the recording (it has {known})",
                where=f"--replay {self.run_dir}",
                fix="replay with the same scenario file the recording was made from",
            )
        return self._lines[call_id]


class ReplayPolicy:
    """Says the recorded lines in order; flags the first turn the agent diverged."""

    def __init__(self, lines: list[RecordedLine], original: Policy) -> None:
        self.lines = lines
        self.name = f"replay({original.name})"
        self.next = 0
        self.diverged_at: int | None = None
        self.diverged: dict[str, Any] | None = None

    def _play(self, heard: Heard | None) -> Decision:
        if self.next >= len(self.lines):
            return Decision(
                say=None,
                why="replay: the recording has no more lines",
                hang_up=True,
                outcome=Outcome(False, "replay ran out of recorded lines"),
            )
        line = self.lines[self.next]
        self.next += 1
        now = heard.text if heard else ""
        wer = 0.0 if normalize(line.heard) == normalize(now) else score(line.heard, now).wer
        notes: dict[str, Any] = {
            "replay_of_turn": line.turn,
            "recorded_heard": line.heard,
            "heard_wer": round(wer, 3),
            "recorded_say_sha256": line.say_sha256,
        }
        if wer > DIVERGED_WER and self.diverged_at is None:
            self.diverged_at = line.turn
            self.diverged = {"turn": line.turn, "recorded": line.heard, "now": now, "wer": wer}
            notes["diverged"] = True
        outcome = Outcome(**line.outcome) if line.outcome else None
        return Decision(
            say=line.say,
            why=f"replay: {line.why}",
            hang_up=line.hang_up,
            outcome=outcome,
            notes=notes,
        )

    async def opening(self, heard: Heard | None) -> Decision:
        """The first recorded line."""
        return self._play(heard)

    async def decide(self, heard: Heard) -> Decision:
        """The next recorded line (compared with what the agent says now)."""
        return self._play(heard)

    async def on_limit(self, reason: str) -> Decision:
        """A cap during a replay ends it as failed."""
        return Decision(say=None, why=reason, hang_up=True, outcome=Outcome(False, reason))

    def summary(self) -> dict[str, Any]:
        """The call row's `replay` field."""
        return {
            "lines": len(self.lines),
            "played": self.next,
            "diverged_at_turn": self.diverged_at,
            "divergence": self.diverged,
        }

"""Play a goal-driven caller inside a live call: listen, decide, answer with human timing.

After the scripted turns (if any) the session hands the call to `GoalCaller`.
Each round: listen to the agent's turn until it has been silent for the
persona's `end_of_turn_ms` (listening.py); understand it (ears); decide
(policy); render the line (the call's own voice worker); and start speaking
the persona's response gap after the agent's last voiced sample.
Understanding and deciding start as soon as the agent pauses (a speculation
on a copy of the policy, kept only if the agent does not go on), so a quick
brain answers on time. A brain that is too slow is recorded as
`caller_late`; the agent's latency is measured from the true end of the
caller's speech either way, so the caller's thinking time never counts
against the agent.

Every decision (what was heard and from where, what was decided, why, how
long ears, brain and mouth took, the intended and achieved gap) goes into the
caller line's turn row; how the call ended goes into the call row.
"""

from __future__ import annotations

import asyncio
import copy
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.audio import SAMPLE_RATE
from simulator.conversation.ears import Ears
from simulator.conversation.listening import Reply, TurnListener, transcripts
from simulator.conversation.policy import Decision, Heard, Outcome, Policy, PolicyError
from simulator.conversation.voice import CallerVoice, pcm_digest
from simulator.metrics.latency import latency_ms
from simulator.rows import TurnRow
from simulator.scenario import Conversation, Gap

if TYPE_CHECKING:
    from simulator.session import PlannedTurn, Session

_MS = SAMPLE_RATE // 1000


def draw_gap(gap: Gap, rng: np.random.Generator, floor_ms: float) -> float:
    """One response gap in ms from the persona's distribution, within [min, max] and >= floor."""
    if gap.dist == "fixed":
        value = gap.median_ms
    elif gap.dist == "uniform":
        value = float(rng.uniform(gap.min_ms, gap.max_ms))
    else:
        median = max(gap.median_ms, 1.0)
        sigma = np.log(max(gap.p95_ms, median) / median) / 1.6449
        value = float(median * np.exp(sigma * rng.standard_normal()))
    return max(floor_ms, min(gap.max_ms, max(gap.min_ms, value)))


class GoalCaller:
    """Runs one call's goal-driven part on a `Session` (see the module docstring)."""

    def __init__(
        self, conversation: Conversation, policy: Policy, voice: CallerVoice, seed: int
    ) -> None:
        self.c = conversation
        self.policy = policy
        self.voice = voice
        self.ears = Ears(conversation.ears)
        self.rng = np.random.default_rng([seed, 0xC0FFEE])
        self.outcome: Outcome | None = None
        self.ended_by = ""
        self.lines = 0
        self.late = 0
        self.errors: list[str] = []
        self.backchannel_turn: PlannedTurn | None = None
        self._first = True  # the next decision is the opening
        self._warmed = False

    # ------------------------------------------------------------ summary
    def summary(self) -> dict[str, Any]:
        """The call row's `conversation` field."""
        outcome = self.outcome or Outcome(False, "the call ended before the caller decided")
        extra = getattr(self.policy, "summary", None)
        return {
            **({"replay": extra()} if callable(extra) else {}),
            "policy": self.policy.name,
            "goal": self.c.goal,
            "success": outcome.success,
            "reason": outcome.reason,
            "ended_by": self.ended_by or "call",
            "lines": self.lines,
            "caller_late": self.late,
            "errors": self.errors,
        }

    # ------------------------------------------------------------ the loop
    async def run(self, s: Session) -> None:
        """Converse until the caller hangs up, a cap is reached, or the agent leaves."""
        warm = asyncio.ensure_future(self.warm())
        heard: Heard | None
        if s.rows:
            last = s.rows[-1]
            heard = await self._heard_from_row(s, last)
            reply = Reply(onset=_idx(last.get("agent_onset_s")), end=_idx(last.get("agent_end_s")))
            self._first = False
        else:
            row = s.begin_row(kind="wait")
            reference = s.last_turn_end
            reply = await self._listen(s, row, reference, allow_barge=False)
            heard = reply.heard
            self._finish_line(s, row, reference, reply)
        await warm
        while True:
            decision, heard, ears_ms, brain_ms = await self._next(s, reply, heard)
            self._first = False
            if decision.outcome is not None:
                self.outcome = decision.outcome
                self.ended_by = self.ended_by or "caller"
            if decision.say is None:
                if decision.hang_up:
                    self._hang_up_row(s, decision, heard, ears_ms, brain_ms)
                    return
                # Stay silent: keep listening to the agent.
                row = s.begin_row(kind="wait")
                row["decision"] = self._decision_row(decision, heard, ears_ms, brain_ms)
                reply = await self._listen(s, row, s.now_samples(), allow_barge=True)
                heard = reply.heard
                s.finish_turn(row)
                continue
            row = await self._speak(s, decision, heard, reply, ears_ms, brain_ms)
            if decision.hang_up:
                row["latency_ms"] = None
                s.finish_turn(row)
                return
            speech_end = row["speech_end_s"]
            assert speech_end is not None  # a placed line has its ground truth
            reference = int(speech_end * SAMPLE_RATE)
            reply = await self._listen(s, row, reference, allow_barge=True)
            self._finish_line(s, row, reference, reply)
            heard = reply.heard

    async def warm(self) -> None:
        """Start the voice worker and render the backchannel (always the first line rendered,
        so the order of renders, and so the bytes, never depend on whether it is used)."""
        if self._warmed:
            return
        self._warmed = True
        await self.voice.start()
        if self.c.persona.backchannel_rate > 0:
            line = self.c.persona.backchannel
            self.backchannel_turn, _ = await self.voice.render(line, "backchannel")

    def limit(self, s: Session) -> str | None:
        """Why the caller must stop now (a cap reached), or None."""
        if self.lines >= self.c.end.max_turns:
            return f"reached max_turns ({self.c.end.max_turns}) before the goal was done"
        if s.now_samples() / SAMPLE_RATE >= self.c.end.max_duration_s:
            cap = self.c.end.max_duration_s
            return f"reached max_duration_s ({cap:g}) before the goal was done"
        return None

    # ------------------------------------------------------------ deciding
    async def brain(self, fn: Any, arg: Any) -> Decision:
        """`fn(arg)` of the policy; a PolicyError ends the call as a caller error."""
        try:
            decision: Decision = await fn(arg)
            return decision
        except PolicyError as exc:
            self.errors.append(str(exc))
            return Decision(
                say=None,
                why=f"caller error: {exc}",
                hang_up=True,
                outcome=Outcome(False, f"caller error: {exc}"),
            )

    async def _next(
        self, s: Session, reply: Reply, heard: Heard | None
    ) -> tuple[Decision, Heard | None, float, float]:
        """The next decision: a cap's, a barge-in's, the one prepared in the pause, or a new one."""
        limit = self.limit(s)
        if limit:
            self.ended_by = "cap"
            return await self.brain(self.policy.on_limit, limit), heard, 0.0, 0.0
        if reply.decision is not None:
            return reply.decision, reply.heard, reply.ears_ms, reply.brain_ms
        if reply.prepared is not None:
            decision, ears_ms, brain_ms, fork, prepared_heard = reply.prepared
            self.policy = fork
            return decision, prepared_heard, ears_ms, brain_ms
        heard = heard or Heard("", "none")
        decision, brain_ms = await self._decide(self.policy, heard)
        return decision, heard, reply.ears_ms, brain_ms

    async def _decide(self, policy: Policy, heard: Heard) -> tuple[Decision, float]:
        """The opening (first time) or the next move, from `policy` (maybe a speculative copy)."""
        t = time.perf_counter()
        if self._first:
            decision = await self.brain(policy.opening, heard)
        else:
            decision = await self.brain(policy.decide, heard)
        if decision.outcome is not None and decision.why.startswith("caller error"):
            self.ended_by = "caller_error"
        return decision, (time.perf_counter() - t) * 1000

    async def prepare(self, s: Session, row: TurnRow, onset: int, last_voice: int) -> Any:
        """Speculate during a pause: understand and decide on a copy of the policy."""
        t = time.perf_counter()
        heard = await self.ears.hear(transcripts(row), s.agent.view()[onset:last_voice].copy())
        ears_ms = (time.perf_counter() - t) * 1000
        fork = copy.deepcopy(self.policy)
        decision, brain_ms = await self._decide(fork, heard)
        return decision, ears_ms, brain_ms, fork, heard

    async def _heard_from_row(self, s: Session, row: TurnRow) -> Heard:
        onset, end = _idx(row.get("agent_onset_s")), _idx(row.get("agent_end_s"))
        audio = s.agent.view()[onset:end].copy() if onset is not None and end else np.zeros(0)
        return await self.ears.hear(transcripts(row), audio.astype(np.int16))

    # ------------------------------------------------------------ speaking
    async def _speak(
        self,
        s: Session,
        decision: Decision,
        heard: Heard | None,
        reply: Reply,
        ears_ms: float,
        brain_ms: float,
    ) -> TurnRow:
        """Render the line and start it the response gap after the agent's last sound."""
        assert decision.say is not None
        turn, render_ms = await self.voice.render(decision.say)
        self.lines += 1
        gap_ms = draw_gap(self.c.persona.response_gap, self.rng, self.c.persona.end_of_turn_ms)
        ready = s.now_samples()
        barging = reply.barge_in
        if barging or reply.end is None:
            intended = ready + turn.speech_start
            gap_ms = 0.0 if barging else gap_ms
        else:
            intended = reply.end + int(gap_ms * _MS)
        pos = max(intended - turn.speech_start, s.sent_samples, s.caller.length)
        late = pos > intended - turn.speech_start + 20 * _MS
        self.late += int(late)
        row = s.begin_row(kind="say", turn=turn)
        start = s.place(turn, pos)
        if barging:
            row["action"] = "barge_in"
            row["action_planned_s"] = row["action_at_s"] = start / SAMPLE_RATE
        achieved = None if reply.end is None else (start + turn.speech_start - reply.end) / _MS
        row["decision"] = {
            **self._decision_row(decision, heard, ears_ms, brain_ms),
            "render_ms": round(render_ms, 1),
            "gap_ms": round(gap_ms, 1),
            "achieved_gap_ms": None if achieved is None else round(achieved, 1),
            "caller_late": late,
            "late_by_ms": round(max(0, pos - (intended - turn.speech_start)) / _MS, 1),
            "agent_end_s": None if reply.end is None else reply.end / SAMPLE_RATE,
            "say_sha256": pcm_digest(turn),
            "backchannels_s": reply.backchannels,
        }
        row["caller_late"] = late
        await s.wait_sent(start + len(turn.pcm))
        return row

    def _decision_row(
        self, decision: Decision, heard: Heard | None, ears_ms: float, brain_ms: float
    ) -> dict[str, Any]:
        return {
            "policy": self.policy.name,
            "heard": heard.text if heard else "",
            "heard_source": heard.source if heard else "none",
            **decision.row(),
            "ears_ms": round(ears_ms, 1),
            "decide_ms": round(brain_ms, 1),
        }

    def _hang_up_row(
        self, s: Session, decision: Decision, heard: Heard | None, ears_ms: float, brain_ms: float
    ) -> None:
        row = s.begin_row(kind="hangup")
        row["action"] = "hangup"
        row["action_at_s"] = row["action_planned_s"] = s.sent_samples / SAMPLE_RATE
        row["decision"] = self._decision_row(decision, heard, ears_ms, brain_ms)
        s.finish_turn(row)

    def _finish_line(self, s: Session, row: TurnRow, reference: int, reply: Reply) -> None:
        row["agent_onset_s"] = None if reply.onset is None else reply.onset / SAMPLE_RATE
        row["agent_end_s"] = None if reply.end is None else reply.end / SAMPLE_RATE
        row["latency_ms"] = latency_ms(reference, reply.onset)
        if reply.onset is None:
            row["error"] = row.get("error") or "no reply before timeout"
        s.finish_turn(row)

    # ------------------------------------------------------------ listening
    async def _listen(
        self, s: Session, row: TurnRow, reference: int, *, allow_barge: bool
    ) -> Reply:
        """The agent's turn after `reference`, until it has ended or the caller barged in
        (listening.py)."""
        return await TurnListener(self, s, row, reference, allow_barge=allow_barge).listen()


def _idx(seconds: Any) -> int | None:
    return None if seconds is None else int(round(float(seconds) * SAMPLE_RATE))

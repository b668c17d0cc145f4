"""Listening for the agent's replies: when each starts and ends, and where the caller's
actions in a reply (barge-in, backchannel, hang-up) land.

Apart from the pacing: this only reads the agent's track and waits on the line's
progress, it never sends or receives; and apart from the plan's order of turns,
which decides when to listen.
"""

from __future__ import annotations

import numpy as np

from simulator.audio import SAMPLE_RATE, SPEECH_THRESHOLD, Pcm
from simulator.live.pacing import Line, ms_samples, seconds
from simulator.live.plan import PlannedTurn, SessionOptions
from simulator.metrics.latency import (
    MIN_PRECEDING_SILENCE,
    active_between,
    find_reply_onset,
    latency_ms,
)
from simulator.rows import TurnRow


class Replies:
    """The agent's replies on one call's line, as the caller hears them."""

    def __init__(self, line: Line, options: SessionOptions) -> None:
        self.line = line
        self.opt = options
        self.onset: int | None = None  # onset of the agent reply last waited for

    async def await_reply(
        self, row: TurnRow, reference: int, turn: PlannedTurn, onset_only: bool = False
    ) -> None:
        """Wait for the agent's reply after sample `reference`; measure its onset and end.

        With `onset_only` it returns as soon as the onset is known (the next
        turn acts during the reply), leaving the reply's end unmeasured.
        """
        self.onset = None
        gap = ms_samples(self.opt.reply_gap_ms)
        timeout = ms_samples(turn.reply_timeout_ms)
        onset: int | None = None
        scanned = reference
        last_voice = reference
        while True:
            await self.line.wait_progress()
            view = self.line.agent.view()
            if onset is None:
                onset = find_reply_onset(view, scanned)
                # Rescan the last 150 ms next time: an onset there may still qualify.
                scanned = max(scanned, len(view) - MIN_PRECEDING_SILENCE)
                if onset is None:
                    if self.line.now_samples() - reference > timeout:
                        row["error"] = row.get("error") or "no reply before timeout"
                        break
                    continue
                last_voice = onset
                self.onset = onset
                if onset_only:
                    break
            last_voice = _voiced_until(view, last_voice)
            now = self.line.now_samples()
            if now - last_voice >= gap and self.line.agent_cursor <= now:
                break
            if now - reference > timeout + self.opt.max_reply_ms * SAMPLE_RATE // 1000:
                row["error"] = f"agent reply did not end within {self.opt.max_reply_ms / 1000:g} s"
                break
        row["agent_onset_s"] = seconds(onset)
        ended = onset is not None and not onset_only
        row["agent_end_s"] = seconds(last_voice) if ended else None
        row["latency_ms"] = latency_ms(reference, onset)

    async def await_reply_end(self, row: TurnRow, turn: PlannedTurn) -> None:
        """Keep listening until the reply a backchannel was said over has ended."""
        gap = ms_samples(self.opt.reply_gap_ms)
        timeout = ms_samples(turn.reply_timeout_ms)
        start = self.line.now_samples()
        last_voice = self.onset if self.onset is not None else start
        while True:
            await self.line.wait_progress()
            last_voice = _voiced_until(self.line.agent.view(), last_voice)
            now = self.line.now_samples()
            if (now - last_voice >= gap and self.line.agent_cursor <= now) or now - start > timeout:
                break
        row["agent_end_s"] = seconds(last_voice)

    def took_over(self, turn: PlannedTurn, base: int, speech_end: int) -> bool:
        """True when the agent started a reply inside one of the turn's planned pauses
        or later before the caller had finished (a false endpoint)."""
        view = self.line.agent.view()
        for a, _ in turn.pauses:
            onset = find_reply_onset(view, base + a)
            if onset is not None and onset < speech_end:
                return True
        return False

    # -- the caller's actions in a reply ------------------------------------
    def action_target(self, row: TurnRow, turn: PlannedTurn) -> int:
        """The caller-timeline sample `turn.at_ms` into the agent's last reply."""
        at = int(round((turn.at_ms or 0) * SAMPLE_RATE / 1000))
        if self.onset is None:
            row["error"] = "no agent reply to act in; acted at once"
            return max(self.line.caller.length, self.line.sent)
        return self.onset + at

    def place_in_reply(self, row: TurnRow, turn: PlannedTurn) -> int:
        """Where to write a barge-in or backchannel so its speech starts at the target."""
        target = self.action_target(row, turn)
        pos = max(target - turn.speech_start, self.line.sent, self.line.caller.length)
        row["action"] = "barge_in" if turn.kind == "say" else "backchannel"
        row["action_planned_s"] = seconds(target)
        row["action_at_s"] = seconds(pos + turn.speech_start)
        return pos

    async def hang_up(self, row: TurnRow, turn: PlannedTurn) -> None:
        """Stay on the line until the target sample has been sent, then end the call."""
        target = self.action_target(row, turn)
        await self.line.wait_sent(target)
        row["action"] = "hangup"
        row["action_planned_s"] = seconds(target)
        row["action_at_s"] = seconds(self.line.sent)
        row["agent_speaking_at_action"] = active_between(
            self.line.agent.view(), target - 1600, min(target, self.line.agent.length)
        )


def _voiced_until(view: Pcm, last_voice: int) -> int:
    """Just past the last agent sample above the speech threshold from `last_voice` on."""
    loud = np.flatnonzero(np.abs(view[last_voice:].astype(np.int32)) > SPEECH_THRESHOLD)
    return last_voice + int(loud[-1]) + 1 if len(loud) else last_voice

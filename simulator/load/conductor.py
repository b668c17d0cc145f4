"""The load run's clock: which concurrency now, when a step ends, its row.

Runs in the locust master (or the single local process) behind the shape's
`tick()`, called about once a second. It waits until every worker's call
engine has pre-loaded its audio, then walks the profile's steps: hold the
step's concurrency, skip `settle_s` after a change, measure for the step's
window (longer, until `min_turns` caller turns began in it), wait until the
calls running at its end have ended (their last turns may have begun inside
it) and `GRACE_S` for their events, then append the step's row to load.jsonl
and ask the profile what comes next. The run also ends at the caps
(`max_duration_s`, `max_calls`), and fails when calls in a row never reach
their first turn (an unreachable agent would otherwise be called forever).

Arrivals: callers added by a step join spread evenly over one call's length
(`stagger_s`; by default the median duration of the run's calls so far, so a
run whose first step has more than one caller places one pilot call first),
through locust's own spawn rate, and the step settles at least that long. So
calls start and end at different moments, as independent callers' do; all at
once, with every call the same script, C calls would start, turn and end
together once per call length, and the agent would meet bursts of C turns in
one second that no telephone traffic makes (BENCHMARKS.md, "The breakpoint
and a killed instance"). A lowered level stops its surplus callers at once.
A step the profile marks `cooldown` (the breakpoint search's levels after a
missed SLO) first stops every caller, waits until their calls have ended and
`cooldown_s` more, then starts from zero callers like the first step.

Workers: every worker ready at the start is admitted (given users); one that
becomes ready later is admitted when the next step begins. A worker lost
mid-run (`worker_lost`) has its calls in flight recorded as failed calls,
and the step's row names it (`workers_lost`) and counts them (`lost_calls`):
they are the load generator's failures, not the agent's, so they do not enter
the step's error rate (nor its SLO verdict). The run goes on with the others
(`redispatch` asks the shape to spread the level over the admitted workers
again).
"""

from __future__ import annotations

import json
import statistics
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.load import agentstat
from simulator.load.config import LoadConfig
from simulator.load.profiles import Step, build_profile
from simulator.load.steps import Event, Limits, aggregate, in_window
from simulator.rows import CallRow, LoadStepRow

LOAD_JSONL = "load.jsonl"
AGENT_STATS_JSONL = "agent_stats.jsonl"
STATE_JSON = "load_state.json"

#: Events of a call reach the master within ~0.3 s of being measured.
GRACE_S = 1.0
#: A lowered level waits at most this long for callers above it to finish their calls.
STOP_WAIT_S = 60.0
#: Engines pre-load audio and connect before the first step.
READY_TIMEOUT_S = 180.0
#: The run fails after this many calls in a row (at least two per caller of the
#: current level) failed before their first turn: nothing can be measured. Once the
#: agent has answered in this run, also only after UNREACHABLE_S without a caller
#: turn: an agent that refuses calls when full, or whose balancer marked it down
#: under overload, is failing that level (its error rate), not unreachable.
UNREACHABLE_CALLS = 10
UNREACHABLE_S = 30.0
#: The pilot (one caller, to measure a call's length) gives up after this many calls
#: ended without one that went well; new callers are then spread over settle_s.
PILOT_CALLS = 3
#: A call's length is the median of this many of the run's latest ok calls.
DURATIONS_KEPT = 256


@dataclass
class _Running:
    step: Step
    index: int
    began: float
    settle_until: float
    #: callers above the level still finishing calls of a higher one
    lowered: bool
    #: workers lost while this step ran, and their calls in flight
    lost: list[str] = field(default_factory=list)
    lost_calls: int = 0
    measure_from: float = 0.0
    measure_to: float = 0.0
    measuring: bool = False
    #: calls in flight when the window closed: their turns may still land in it
    draining: set[str] | None = None
    #: the step's new callers joined spread over this long
    arrivals_s: float = 0.0
    #: seconds with no callers before the step (a cool-down after a missed SLO)
    cooled_s: float = 0.0


class Conductor:
    """Drives one run's steps; `tick(now)` -> (users, spawn_rate) or None to stop."""

    def __init__(self, cfg: LoadConfig, limits: Limits, expected_workers: int) -> None:
        self.cfg = cfg
        self.limits = limits
        self.profile = build_profile(cfg)
        self.expected = max(1, expected_workers)
        self.ready: set[str] = set()
        #: workers given users: the ready ones at the start, later ones at a step's start
        self.admitted: set[str] = set()
        self.lost: set[str] = set()
        #: the admitted workers changed: the shape spreads the level over them again
        self.redispatch = False
        self.events: list[Event] = []
        self.rows: list[LoadStepRow] = []
        self.calls_done = 0
        #: calls in a row that failed before their first turn, and the last one's error
        self.unplaced = 0
        self.unplaced_error = ""
        #: when the latest caller turn was measured (the agent was reachable then)
        self._reached_at: float | None = None
        #: call id -> worker, of every call started and not ended
        self.in_flight: dict[str, str] = {}
        #: callers (locust users) running now: +1 when one starts, -1 once it stopped
        self.callers = 0
        self._callers_by: dict[str, int] = {}
        self.status = "waiting"
        self.reason = ""
        self.t0: float | None = None
        self._created: float | None = None
        self._drain_from: float | None = None
        self._current: _Running | None = None
        self._users = 0
        #: locust's spawn rate for this step (users per second; see _begin)
        self._rate = 1.0
        #: the first step, waiting for the pilot call to give a call's length
        self._pilot: Step | None = None
        #: the next step, waiting for the agent to go idle (Step.cooldown), since when,
        #: and since when nothing was in flight
        self._cooling: Step | None = None
        self._cool_from = 0.0
        self._idle_at: float | None = None
        self._durations: deque[float] = deque(maxlen=DURATIONS_KEPT)
        self._agent_samples: list[dict[str, Any]] = []
        self.out = Path(cfg.out_dir)

    # -- inputs ----------------------------------------------------------
    def worker_ready(self, worker: str) -> None:
        """A worker's engine has its audio loaded and can place calls."""
        self.ready.add(worker)

    def worker_failed(self, reason: str) -> None:
        """A worker lost its call engine: the harness failed; stop at the next tick."""
        if self.status not in ("completed", "capped"):
            self._finish("failed", reason)

    def worker_lost(self, worker: str, now: float) -> list[CallRow]:
        """A worker stopped answering: its calls in flight failed now (their rows, returned
        for the worker's calls.jsonl); its callers are gone; the run goes on without it."""
        self.lost.add(worker)
        if self._current is not None:
            self._current.lost.append(worker)
        self.callers -= self._callers_by.pop(worker, 0)
        error = f"worker {worker} was lost mid-call"
        rows: list[CallRow] = []
        for call_id, owner in list(self.in_flight.items()):
            if owner != worker:
                continue
            del self.in_flight[call_id]
            self.calls_done += 1
            row: CallRow = {"call_id": call_id, "status": "failed", "error": error}
            row |= {"worker_lost": True, "load_worker": worker, "load_at": now}
            self.events.append({"kind": "call", "worker": worker, "at": now, **row})
            rows.append(row)
        if self._current is not None:
            self._current.lost_calls += len(rows)
        if self.admitted and not self.admitted - self.lost and self.t0 is not None:
            self.worker_failed("every worker was lost")
        self.redispatch = True
        return rows

    def add_events(self, events: list[Event]) -> None:
        """Turn, call start and call end events from a worker (see steps.py)."""
        for e in events:
            if e.get("kind") == "caller":
                self.callers += int(e["delta"])
                who = str(e.get("worker"))
                self._callers_by[who] = self._callers_by.get(who, 0) + int(e["delta"])
            elif e.get("kind") == "start":
                self.in_flight[str(e["call_id"])] = str(e.get("worker"))
            elif e.get("kind") == "turn":
                self._reached_at = max(self._reached_at or 0.0, float(e.get("at") or 0.0))
            elif e.get("kind") == "call":
                self.in_flight.pop(str(e["call_id"]), None)
                self.calls_done += 1
                if e.get("status") == "ok" and e.get("duration_s"):
                    self._durations.append(float(e["duration_s"]))
                if e.get("status") != "ok" and not e.get("turns"):
                    self.unplaced += 1
                    self.unplaced_error = str(e.get("error") or "")
                else:
                    self.unplaced = 0
        self.events.extend(e for e in events if e.get("kind") in ("turn", "call", "cpu"))

    # -- the clock -------------------------------------------------------
    def tick(self, now: float) -> tuple[int, float] | None:
        """Called about once a second; what locust should run now."""
        if self.status in ("completed", "capped", "failed"):
            return self._drain(now)
        if self._created is None:
            self._created = now  # locust ticks once the workers it expects connected
        if self.t0 is None:
            if len(self.ready) < self.expected:
                if now - self._created > READY_TIMEOUT_S:
                    return self._finish("failed", "call engines did not become ready")
                return (0, 1.0)
            self.t0 = now
            self.admitted = set(self.ready)
            self.redispatch = True
            self.status = "running"
            self._write_state()
            first = self.profile.next_step(self.rows)
            if first is not None and first.concurrency > 1 and self.stagger_s() is None:
                self._pilot, self._users, self._rate = first, 1, 1.0
                return (1, 1.0)
            return self._begin(first, now)
        self._sample_agent(now)
        if self._pilot is not None:
            return self._after_pilot(now)
        if self._cooling is not None:
            return self._after_cooldown(now)
        cur = self._current
        assert cur is not None
        if now - self.t0 >= self.cfg.max_duration_s:
            self._close(cur, min(now, cur.measure_to), truncated=True)
            return self._finish("capped", f"--max-duration-s {self.cfg.max_duration_s:g} reached")
        if self.calls_done >= self.cfg.max_calls:
            self._close(cur, min(now, cur.measure_to), truncated=True)
            return self._finish("capped", f"--max-calls {self.cfg.max_calls} reached")
        if self._unreachable(now, max(UNREACHABLE_CALLS, 2 * self._users)):
            self._close(cur, min(now, cur.measure_to), truncated=True)
            return self._finish("failed", self._unreachable_reason())
        if not cur.measuring:
            self._maybe_start_window(cur, now)
            return (self._users, self._rate)
        if now >= cur.measure_to and cur.draining is None:
            if self._too_few_turns(cur, now):
                cur.measure_to = now + 1.0  # keep measuring: a step needs data
                return (self._users, self._rate)
            cur.draining = set(self.in_flight)
        draining = (cur.draining or set()) & self.in_flight.keys()
        if now < cur.measure_to + GRACE_S or (draining and now < cur.measure_to + STOP_WAIT_S):
            return (self._users, self._rate)
        self._close(cur, cur.measure_to, truncated=False)
        step = self.profile.next_step(self.rows)
        if step is not None and step.cooldown and self._users > 0:
            self._cooling, self._cool_from, self._idle_at = step, now, None
            self._rate, self._users = float(self._users), 0
            return (0, self._rate)
        return self._begin(step, now)

    def stagger_s(self) -> float | None:
        """How long a step's new callers' arrivals are spread over: `--stagger-s`, else one
        call's length as measured (median of the run's latest ok calls); None: none yet."""
        if self.cfg.stagger_s is not None:
            return self.cfg.stagger_s
        return statistics.median(self._durations) if self._durations else None

    def _after_pilot(self, now: float) -> tuple[int, float] | None:
        """One caller until a call's length is known (or PILOT_CALLS ended without an ok
        one), then the first step; the run's caps and the unreachable agent still apply."""
        assert self.t0 is not None and self._pilot is not None
        if now - self.t0 >= self.cfg.max_duration_s:
            return self._finish("capped", f"--max-duration-s {self.cfg.max_duration_s:g} reached")
        if self._unreachable(now, UNREACHABLE_CALLS):
            return self._finish("failed", self._unreachable_reason())
        if self.stagger_s() is None and self.calls_done < PILOT_CALLS:
            return (1, 1.0)
        first, self._pilot = self._pilot, None
        return self._begin(first, now)

    def _after_cooldown(self, now: float) -> tuple[int, float] | None:
        """No callers until every call has ended (at most STOP_WAIT_S) and `cooldown_s`
        more has passed, then the step, its callers joining an idle agent."""
        assert self.t0 is not None and self._cooling is not None
        if now - self.t0 >= self.cfg.max_duration_s:
            return self._finish("capped", f"--max-duration-s {self.cfg.max_duration_s:g} reached")
        busy = bool(self.in_flight) or self.callers > 0
        if busy and now - self._cool_from < STOP_WAIT_S:
            return (0, self._rate)
        if self._idle_at is None:
            self._idle_at = now
        if now - self._idle_at < self.cfg.cooldown_s:
            return (0, self._rate)
        step, self._cooling = self._cooling, None
        users = self._begin(step, now)
        if self._current is not None:
            self._current.cooled_s = now - self._cool_from
        return users

    def _unreachable(self, now: float, calls: int) -> bool:
        """`calls` calls in a row failed before their first turn, and the agent never
        answered in this run or not for UNREACHABLE_S."""
        if self.unplaced < calls:
            return False
        return self._reached_at is None or now - self._reached_at >= UNREACHABLE_S

    def _unreachable_reason(self) -> str:
        error = self.unplaced_error[:300]
        if self._reached_at is not None:
            error += f" (no caller turn for {UNREACHABLE_S:g} s)"
        return f"{self.unplaced} calls in a row failed before their first turn; the last: {error}"

    def _begin(self, step: Step | None, now: float) -> tuple[int, float] | None:
        if step is None:
            return self._finish("completed", "")
        assert self.t0 is not None
        late = self.ready - self.admitted - self.lost
        if late:  # a worker that joined during the last step gets its share now
            self.admitted |= late
            self.redispatch = True
        added = step.concurrency - self._users
        spread = 0.0
        if added > 0:
            measured = self.stagger_s()
            spread = self.cfg.settle_s if measured is None else measured
        # locust starts `rate` users a second: the added ones over `spread`; fewer at once
        self._rate = added / spread if spread > 0 else float(max(step.concurrency, 1))
        settle = max(self.cfg.settle_s, spread) if step.concurrency != self._users else 0.0
        cur = _Running(
            step=step,
            index=len(self.rows),
            began=now,
            settle_until=now + settle,
            lowered=added < 0,
            arrivals_s=spread,
        )
        self._current = cur
        self._users = step.concurrency
        self._maybe_start_window(cur, now)
        return (self._users, self._rate)

    def _maybe_start_window(self, cur: _Running, now: float) -> None:
        """Measure once settled, and after a lowered level once the surplus callers
        have finished their last call and stopped (locust stops them gracefully),
        so no window sees more calls than its level; waited for at most STOP_WAIT_S."""
        if now < cur.settle_until:
            return
        level = cur.step.concurrency
        surplus = cur.lowered and (len(self.in_flight) > level or self.callers > level)
        if surplus and now < cur.settle_until + STOP_WAIT_S:
            return
        cur.measuring = True
        cur.measure_from = now
        cur.measure_to = now + cur.step.measure_s

    def _too_few_turns(self, cur: _Running, now: float) -> bool:
        """Fewer than `min_turns` caller turns began in the window so far (a window
        shorter than a call can hold none); extended for at most STOP_WAIT_S."""
        if now >= cur.measure_from + cur.step.measure_s + STOP_WAIT_S:
            return False
        said = [
            e
            for e in in_window(self.events, cur.measure_from, cur.measure_to)
            if e.get("kind") == "turn" and e.get("type") == "say"
        ]
        return len(said) < self.cfg.min_turns

    def _close(self, cur: _Running, until: float, truncated: bool) -> None:
        if not cur.measuring or until <= cur.measure_from:
            return
        assert self.t0 is not None
        window = in_window(self.events, cur.measure_from, until)
        row: LoadStepRow = {
            "concurrency": cur.step.concurrency,
            **aggregate(window, self.limits),
            "breakpoint": False,
            "profile": self.cfg.profile,
            "phase": cur.step.phase,
            "step": cur.index,
            "counted": cur.step.counted,
            "started_s": round(cur.measure_from - self.t0, 3),
            "measure_s": round(until - cur.measure_from, 3),
            "window": [cur.measure_from, until],
            "arrivals_s": round(cur.arrivals_s, 3),
        }
        if cur.cooled_s:
            row["cooled_s"] = round(cur.cooled_s, 3)
        if truncated:
            row["truncated"] = True
        if cur.lost:
            row["workers_lost"] = sorted(set(cur.lost))
            row["lost_calls"] = cur.lost_calls
        stats = self._agent_in(cur.measure_from, until)
        if stats:
            row["agent_rss_mb"] = stats[-1]["rss_mb"]
            row["agent_fds"] = stats[-1]["fds"]
        self.rows.append(row)
        self._append(LOAD_JSONL, row)
        self.events = [e for e in self.events if float(e["at"]) >= until]

    def _finish(self, status: str, reason: str) -> tuple[int, float] | None:
        """Record why the run ended; the shape then drains and returns None (locust stops)."""
        self.status, self.reason = status, reason
        self._write_state()
        return self._drain(time.time())

    def _drain(self, now: float) -> tuple[int, float] | None:
        """After the end: no callers, and wait (at most STOP_WAIT_S) until the calls still
        running have ended and their rows reached us (from a remote worker, nothing else
        would bring them once locust quits); then None, and locust stops."""
        if self._drain_from is None:
            self._drain_from = now
        if (self.in_flight or self.callers > 0) and now - self._drain_from < STOP_WAIT_S:
            return (0, float(max(self._users, 1)))
        return None

    # -- the agent's process ---------------------------------------------
    def _sample_agent(self, now: float) -> None:
        if self.cfg.agent_pid is None or self.t0 is None:
            return
        s = agentstat.sample(self.cfg.agent_pid)
        if s is None:
            return
        row = {"t_s": round(now - self.t0, 3), "at": now, **s}
        self._agent_samples.append(row)
        self._append(AGENT_STATS_JSONL, row)

    def _agent_in(self, start: float, end: float) -> list[dict[str, Any]]:
        return [s for s in self._agent_samples if start <= s["at"] <= end + 1]

    # -- files -----------------------------------------------------------
    def _append(self, name: str, row: Mapping[str, Any]) -> None:
        with (self.out / name).open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()

    def _write_state(self) -> None:
        state = {"status": self.status, "reason": self.reason, "steps": len(self.rows)}
        tmp = self.out / f".{STATE_JSON}.tmp"
        tmp.write_text(json.dumps(state), encoding="utf-8")
        tmp.replace(self.out / STATE_JSON)

"""`voxsim load --chaos kill-instance@T | restart-instance@T`: instance failures under load.

The agent must be a fleet (`voxsim agent serve --instances K`, docs/fleet.md):
its control API is on the same address (`/fleet`). T seconds after the load
starts (the conductor's first step), the controller asks the fleet to kill
one instance (the one with most live calls, or `kill-instance:NAME@T`) or
to restart one (a down one, else kill and start the busiest again). Each
action is a row of `chaos.jsonl` (wall clock `at`, the instance, its live
calls). After the run, `analyse` reads the run directory alone and says, per
kill:

- `calls_live`: calls in progress at the kill, `on_killed`: those the killed
  instance was serving (their `session` events say where they were);
- `calls_lost`: calls in progress at the kill that failed, and how many of
  them were on the killed instance (a correct fleet loses no others);
- `reconnected` / `resumed`: calls whose caller reconnected (scenario
  `caller.reconnect`) and went on on another instance from its Redis
  state (`resumed` in that instance's `session` event), ending `ok`; with
  `turns_after`, their caller turns after the drop that got a reply;
- `p95_recovery_s`: seconds from the kill until the P95 of caller turns (by
  speech end) in sliding `--chaos-window-s` windows is back, and stays back
  until the next action or the end of the run, within 20 % (at least 50 ms)
  of the P95 of the two windows before the kill; None when it was not back
  at the end (plan T after the run's first calls have settled);
- `accounting`: every call that started has its row, every call row has
  all its turns' rows (nothing measured was lost from the run).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from reports.rundir import read_jsonl
from simulator.errors import AgentError, UsageError
from simulator.metrics.stats import percentile
from simulator.rows import CallRow, TurnRow

CHAOS_JSONL = "chaos.jsonl"
ACTIONS = {"kill-instance": "kill", "restart-instance": "restart"}
_SPEC = re.compile(r"^(kill-instance|restart-instance)(?::([A-Za-z0-9_-]{1,32}))?@(\d+(?:\.\d+)?)$")
#: A window's P95 has recovered when it is within this factor (and ms) of the baseline's.
RECOVERED_FACTOR = 1.2
RECOVERED_MS = 50.0
#: Sliding windows step by this much when looking for the recovery.
WINDOW_STEP_S = 0.5
#: A window needs this many measured caller turns to be judged.
MIN_TURNS = 3
#: The P95 before a kill is taken over this many windows before it.
BASELINE_WINDOWS = 2


@dataclass(frozen=True)
class ChaosEvent:
    """One planned action: what, on which instance (None: the fleet picks), when."""

    action: str
    instance: str | None
    at_s: float


def parse(specs: list[str], max_s: float | None = None) -> list[ChaosEvent]:
    """`kill-instance@20`, `restart-instance:a2@40.5` -> events by time; UsageError else."""
    events = []
    for spec in specs:
        m = _SPEC.match(spec.strip())
        if m is None:
            raise UsageError(
                f"cannot read {spec[:60]!r}",
                where="--chaos",
                fix="kill-instance@T or restart-instance@T (T seconds; :NAME picks an instance)",
            )
        at = float(m.group(3))
        if max_s is not None and at >= max_s:
            raise UsageError(
                f"{spec} is after the run's end ({max_s:g} s)",
                where="--chaos",
                fix="a time inside --max-duration-s",
            )
        events.append(ChaosEvent(ACTIONS[m.group(1)], m.group(2), at))
    if len(events) > 20:
        raise UsageError(f"{len(events)} chaos events", where="--chaos", fix="at most 20")
    return sorted(events, key=lambda e: e.at_s)


def control_url(agent_url: str) -> str:
    """The fleet's control API behind an agent URL (same host and port, `/fleet`)."""
    parts = urlsplit(agent_url)  # "twilio+ws://h:p/x" splits like "ws://h:p/x"
    scheme = "https" if parts.scheme.endswith(("wss", "https")) else "http"
    return f"{scheme}://{parts.netloc}/fleet"


async def fleet_request(agent_url: str, method: str = "GET", action: str = "", **query: str) -> Any:
    """One call to the fleet's control API; AgentError when it does not answer as a fleet."""
    url = control_url(agent_url) + (f"/{action}" if action else "")
    timeout = aiohttp.ClientTimeout(total=90)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.request(method, url, params=query) as resp,
        ):
            body = await resp.json(content_type=None)
            if resp.status != 200 or not isinstance(body, dict):
                detail = body.get("error") if isinstance(body, dict) else None
                raise AgentError(f"fleet {action or 'status'}: HTTP {resp.status} {detail or ''}")
            return body
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise AgentError(f"fleet control API at {url}: {exc!r}") from exc


async def check_fleet(agent_url: str) -> dict[str, Any]:
    """The fleet's status, or UsageError (exit 2): --chaos needs a fleet to act on."""
    try:
        status: dict[str, Any] = await fleet_request(agent_url)
    except AgentError:
        status = {}
    if not isinstance(status.get("instances"), list):
        raise UsageError(
            f"{agent_url} is not an agent fleet",
            where="--chaos",
            fix="start one with `voxsim agent serve --instances K` and pass its URL as --agent",
        )
    return status


async def check_target(cfg: Any, target: str) -> None:
    """With --chaos, the target must be a fleet (checked before anything starts)."""
    if cfg.chaos:
        await check_fleet(target)


class ChaosRunner:
    """Runs the planned events against the fleet while the load runs; rows to chaos.jsonl."""

    def __init__(self, events: list[ChaosEvent], agent_url: str, out: Path) -> None:
        self.events = events
        self.agent_url = agent_url
        self.out = out

    async def run(
        self, started: asyncio.Event | None = None, state_file: Path | None = None
    ) -> None:
        """Wait for the load to start (`started`, or `state_file` saying running), then act."""
        if started is not None:
            await started.wait()
        elif state_file is not None:
            while not _running(state_file):  # noqa: ASYNC110 - written by another process
                await asyncio.sleep(0.1)
        t0 = time.time()
        for event in self.events:
            delay = t0 + event.at_s - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            row: dict[str, Any] = {"planned_s": event.at_s, "requested": event.action}
            try:
                query = {"instance": event.instance} if event.instance else {}
                done = await fleet_request(self.agent_url, "POST", event.action, **query)
                row.update(done)
            except AgentError as exc:
                row.update(action=event.action, error=exc.one_line(), at=time.time())
            row["t_s"] = round(float(row["at"]) - t0, 3)
            with (self.out / CHAOS_JSONL).open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")


def _running(state_file: Path) -> bool:
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return state.get("status") not in (None, "waiting")


def _span(call: CallRow) -> tuple[float, float]:
    end = float(call.get("load_at") or 0.0)
    return end - float(call.get("duration_s") or 0.0), end


def _p95(turns: Sequence[TurnRow], start: float, end: float) -> tuple[float | None, int]:
    lat = [
        float(ms)
        for t in turns
        if start <= float(t["load_at"]) < end and (ms := t.get("latency_ms")) is not None
    ]
    return (percentile(lat, 95) if len(lat) >= MIN_TURNS else None), len(lat)


def recovery(
    turns: Sequence[TurnRow],
    at: float,
    window_s: float,
    run_start: float,
    until: float | None = None,
) -> dict[str, Any]:
    """P95 before the kill, the worst window after it and when it came back for good:
    the start of the judged windows (before `until`, the next action) that all pass."""
    said = [t for t in turns if t.get("kind") == "say" and t.get("load_at") is not None]
    # The steady state just before the kill, not the run's start-up (calls connecting).
    base, n_base = _p95(said, max(run_start, at - BASELINE_WINDOWS * window_s), at)
    base = None if base is None else round(base, 1)
    out: dict[str, Any] = {"p95_before_ms": base, "n_before": n_base, "window_s": window_s}
    if base is None:
        return {**out, "p95_recovery_s": None, "reason": "too few turns before the kill"}
    limit = max(base * RECOVERED_FACTOR, base + RECOVERED_MS)
    last = max((float(t["load_at"]) for t in said), default=at)
    end = min(last, until) if until is not None else last
    worst: float | None = None
    recovered: float | None = None  # start of the passing run of windows, if it lasts
    t = at
    while t + window_s <= end + 1e-9:
        p95, _ = _p95(said, t, t + window_s)
        if p95 is not None:
            worst = round(p95 if worst is None else max(worst, p95), 1)
            if p95 > limit:
                recovered = None
            elif recovered is None:
                recovered = t
        t += WINDOW_STEP_S
    return {
        **out,
        "p95_limit_ms": round(limit, 1),
        "p95_worst_ms": worst,
        "p95_recovery_s": None if recovered is None else round(recovered - at, 3),
    }


def accounting(calls: Sequence[CallRow], turns: Sequence[TurnRow]) -> dict[str, Any]:
    """Every call row has all its turn rows (nothing measured was lost); calls the end
    of the run cut short (turn rows, no call row) are counted apart."""
    per_call: dict[str, int] = {}
    for t in turns:
        per_call[str(t.get("call_id"))] = per_call.get(str(t.get("call_id")), 0) + 1
    # A call running when the run stopped has turn rows and a `cancelled` row (or, from an
    # engine that died, no call row at all): cut short, not a row lost.
    cancelled = {str(c.get("call_id")) for c in calls if c.get("status") == "cancelled"}
    calls = [c for c in calls if str(c.get("call_id")) not in cancelled]
    ids = {str(c.get("call_id")) for c in calls}
    short = [
        str(c["call_id"])
        for c in calls
        if per_call.get(str(c.get("call_id")), 0) != int(c.get("n_turns") or 0)
    ]
    # Calls still running when the run stopped have turn rows and no call row.
    cut = sorted((set(per_call) - ids) | cancelled)
    return {
        "calls": len(calls),
        "turn_rows": sum(n for cid, n in per_call.items() if cid in ids),
        "turn_rows_expected": sum(int(c.get("n_turns") or 0) for c in calls),
        "calls_missing_turn_rows": short[:20],
        "calls_cut_at_end": len(cut),
        "complete": not short,
    }


def analyse(
    out: Path, calls: Sequence[CallRow], turns: Sequence[TurnRow], window_s: float = 5.0
) -> dict[str, Any]:
    """The chaos summary of a run directory (module doc)."""
    actions = read_jsonl(out / CHAOS_JSONL)
    run_start = min((_span(c)[0] for c in calls), default=0.0)
    kills = []
    for act in actions:
        killed = act.get("instance") if act.get("action") == "kill" else None
        if act.get("action") == "restart" and act.get("killed"):
            killed = act.get("instance")
        if not killed or act.get("error"):
            continue
        at = float(act["at"])
        live = [c for c in calls if _span(c)[0] <= at < _span(c)[1]]
        on_killed = [c for c in live if killed in (c.get("agent_instances") or [])[:1]]
        # A call the end of the run cut short (`cancelled`) was not lost to the kill.
        lost = [c for c in live if c.get("status") not in ("ok", "cancelled")]
        moved = [c for c in live if int(c.get("reconnects") or 0) > 0]
        resumed = [
            c
            for c in moved
            if c.get("status") == "ok"
            and c.get("resumed")
            and (c.get("agent_instances") or [killed])[-1] != killed
        ]
        kills.append(
            {
                "action": act.get("action"),
                "instance": killed,
                "at": at,
                "t_s": act.get("t_s"),
                "live_calls_reported": act.get(
                    "live_calls", (act.get("killed") or {}).get("live_calls")
                ),
                "calls_live": len(live),
                "on_killed": len(on_killed),
                "calls_lost": len(lost),
                "lost_on_killed": sum(1 for c in lost if c in on_killed),
                "lost_elsewhere": sum(1 for c in lost if c not in on_killed),
                "reconnected": len(moved),
                "resumed": len(resumed),
                "turns_after": _turns_after(resumed, turns, at),
                "lost_calls": [str(c.get("call_id")) for c in lost][:20],
                **recovery(turns, at, window_s, run_start, _next_action(actions, at)),
            }
        )
    restarts = [
        {
            "instance": a.get("instance"),
            "t_s": a.get("t_s"),
            "ready_after_s": round(float(a["ready_at"]) - float(a["at"]), 3),
        }
        for a in actions
        if a.get("action") == "restart" and a.get("ready_at")
    ]
    return {
        "actions": actions,
        "kills": kills,
        "restarts": restarts,
        "accounting": accounting(calls, turns),
    }


def _next_action(actions: list[dict[str, Any]], at: float) -> float | None:
    """When the action after the one at `at` happened (it changes the fleet again)."""
    later = [float(a["at"]) for a in actions if a.get("at") and float(a["at"]) > at]
    return min(later) if later else None


def _turns_after(resumed: Sequence[CallRow], turns: Sequence[TurnRow], at: float) -> int:
    """Caller turns of the resumed calls after the kill that got a reply."""
    ids = {str(c.get("call_id")) for c in resumed}
    return sum(
        1
        for t in turns
        if str(t.get("call_id")) in ids
        and float(t.get("load_at") or 0.0) > at
        and t.get("kind") == "say"
        and t.get("latency_ms") is not None
    )


async def with_chaos(cfg: Any, agent_url: str, out: Path, load: Any) -> Any:
    """Await the load coroutine `load`, running `cfg.chaos` against the fleet meanwhile."""
    if not cfg.chaos:
        return await load
    events = parse(cfg.chaos, cfg.max_duration_s)
    from simulator.load.conductor import STATE_JSON

    task = asyncio.create_task(ChaosRunner(events, agent_url, out).run(state_file=out / STATE_JSON))
    try:
        return await load
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def summary_lines(chaos: dict[str, Any]) -> list[str]:
    """One line per kill for the terminal."""
    lines = []
    for k in chaos.get("kills", []):
        rec = k.get("p95_recovery_s")
        lines.append(
            f"chaos: {k['action']} {k['instance']} at {k.get('t_s')} s: "
            f"{k['calls_live']} calls live ({k['on_killed']} on it), {k['calls_lost']} lost "
            f"({k['lost_elsewhere']} elsewhere), {k['reconnected']} reconnected, "
            f"{k['resumed']} resumed ({k['turns_after']} turns after); P95 before "
            f"{k.get('p95_before_ms')} ms, worst {k.get('p95_worst_ms')} ms, recovered "
            + (f"after {rec} s" if rec is not None else "never")
        )
    for r in chaos.get("restarts", []):
        lines.append(
            f"chaos: restart {r['instance']} at {r['t_s']} s: serving again after "
            f"{r['ready_after_s']} s"
        )
    acc = chaos.get("accounting", {})
    lines.append(
        f"chaos: {acc.get('calls')} calls, {acc.get('turn_rows')}/{acc.get('turn_rows_expected')}"
        f" turn rows: {'nothing lost' if acc.get('complete') else 'ROWS MISSING'}"
        f" ({acc.get('calls_cut_at_end')} calls cut short by the end of the run)"
    )
    return lines

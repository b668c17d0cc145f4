"""Place one call: render the caller, play it over the (impaired) transport, measure it.

`run_call` is the unit both `voxsim run` (runner.py, which adds the run directory,
SLOs and report around it) and the load generator (load/engine.py) place: it
streams each turn row to the store as it is measured, then adds the whole-recording
metrics, the judge's verdict and the harness's spans, and returns the call row.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console

from simulator.caller.render import Rendered, render_call_full
from simulator.conversation import Recording, goal_caller
from simulator.impairments import ImpairedTransport, impair, link_spec
from simulator.judge import assess_call, drop_runs
from simulator.matrix import CallPlan
from simulator.metrics.call import measure_call
from simulator.rows import CallRow, TurnRow
from simulator.scenario import Scenario
from simulator.session import CallRecord, Session, SessionOptions
from simulator.store import RunStore
from simulator.tracing import SpanSink, harness_spans
from simulator.transports.base import StartInfo, Transport
from simulator.transports.reconnect import link_fields, reconnecting

if TYPE_CHECKING:
    from simulator.conversation.driver import GoalCaller

#: What a run prints (stderr); `voxsim load`'s engine silences it.
console = Console(stderr=True, highlight=False)


def new_traceparent() -> str:
    """A fresh W3C traceparent (sampled) for one call."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


async def run_call(
    scenario: Scenario,
    transport: Transport,
    call_id: str,
    store: RunStore | None = None,
    options: SessionOptions | None = None,
    plan: CallPlan | None = None,
    rendered: Rendered | None = None,
    otlp_url: str | None = None,
    spans: SpanSink | None = None,
    measure: bool = True,
    replay: Recording | None = None,
    voices: ProcessPoolExecutor | None = None,
) -> CallRow:
    """Render and play one call; stream its turns to `store`; return the call row.

    After the call, the whole-recording metrics (metrics/call.py) are added to
    the turn rows and the call row; the harness's call and turn spans go to
    `spans`. `otlp_url` is passed to the agent in the start config. A load
    generator passes `measure=False` to skip that CPU work (latency, errors
    and WER (a) are measured during the call either way).
    """
    seed = plan.seed if plan is not None else scenario.seed
    turns, bed = rendered if rendered is not None else await render_call_full(scenario, seed)
    start = _start_info(scenario, call_id, seed, otlp_url)
    line = _line(transport, scenario, seed)
    goal = goal_caller(scenario, seed, replay, call_id, voices) if scenario.conversation else None
    session = Session(
        line,
        turns,
        start,
        scenario=scenario.name,
        options=options,
        on_turn=_turn_sink(call_id, store),
        background=bed,
        conversation=goal,
    )
    record = await _play(session, goal)
    wall_t0_ns = _wall_clock_ns(session.t0)
    measured = await _measure(scenario, record) if measure else {}
    row = _call_row(
        scenario,
        record,
        start,
        seed=seed,
        matrix=plan.matrix if plan is not None else {},
        audio_dir=store.write_audio(call_id, record.caller, record.agent) if store else None,
        wall_t0_ns=wall_t0_ns,
        measured=measured,
    )
    if isinstance(line, ImpairedTransport):
        row["network"] = _network(line, session.t0)
    if measure:
        await assess_call(scenario, row, record.events, record.agent)  # judge, verdict, cause
    if spans is not None:
        spans.add(harness_spans(row, record.turns, wall_t0_ns, start.traceparent))
    if store is not None:
        store.add_call({k: v for k, v in row.items() if k != "turns"})
    return row


def _start_info(scenario: Scenario, call_id: str, seed: int, otlp_url: str | None) -> StartInfo:
    """What the agent is told when the call starts: the call, a fresh trace, and in
    `config` the scenario's faults, the seed and where to send spans."""
    config: dict[str, Any] = {"faults": scenario.agent.faults.model_dump(), "seed": seed}
    if otlp_url is not None:
        config["otlp_url"] = otlp_url
    return StartInfo(call_id=call_id, traceparent=new_traceparent(), config=config)


def _wall_clock_ns(t0: float) -> int:
    """The wall clock (Unix ns) at loop time `t0`, the call's sample 0: the clock
    agents stamp their spans with."""
    return time.time_ns() - int((asyncio.get_running_loop().time() - t0) * 1e9)


def _line(transport: Transport, scenario: Scenario, seed: int) -> Transport:
    """`transport` as the scenario's caller reaches the agent: reconnecting when the
    caller is told to, through the scenario's network impairments."""
    net = scenario.network
    transport = reconnecting(transport, scenario.caller.reconnect)
    return impair(transport, link_spec(net.uplink), link_spec(net.downlink), seed)


def _turn_sink(call_id: str, store: RunStore | None) -> Callable[[TurnRow], None]:
    """What happens to each turn row as the session finishes it: stored, and printed."""

    def on_turn(row: TurnRow) -> None:
        if store is not None:
            store.add_turn(row)
        lat = row["latency_ms"]
        shown = (
            f"{lat:7.1f} ms"
            if lat is not None
            else "   no reply"
            if row["kind"] != "silence"
            else ""
        )
        said = f"says: {row['caller_text']}  " if row.get("decision") and row["caller_text"] else ""
        console.print(
            f"  [dim]{call_id}[/] turn {row['turn']:>2} {row['kind']:<7} {shown}  "
            f"{said}heard: {row.get('agent_heard_text') or '-'}"
        )

    return on_turn


async def _play(session: Session, goal: GoalCaller | None) -> CallRecord:
    """Run the call; a goal-driven caller's voice is up before the call's clock starts
    and closed however the call ends."""
    try:
        if goal is not None:
            await goal.warm()  # the caller's voice worker starts before the call's clock
        return await session.run()
    finally:
        if goal is not None:
            goal.voice.close()


async def _measure(scenario: Scenario, record: CallRecord) -> CallRow:
    """The whole-recording metrics, off the event loop (they fill in the turn rows too)."""
    return await asyncio.to_thread(
        measure_call,
        scenario,
        record.call_id,
        record.turns,
        record.events,
        record.caller,
        record.agent,
        conversation=record.conversation,
    )


def _call_row(
    scenario: Scenario,
    record: CallRecord,
    start: StartInfo,
    *,
    seed: int,
    matrix: dict[str, Any],
    audio_dir: str | None,
    wall_t0_ns: int,
    measured: CallRow,
) -> CallRow:
    """The call row as the call left it: what was planned, how it ended, its line, its
    metrics and its turn rows (the network and the verdict are added after)."""
    return {
        "call_id": record.call_id,
        "scenario": scenario.name,
        "matrix": matrix,
        "seed": seed,
        "caller_notes": caller_notes(record.turns),
        "status": "ok" if record.ok else "failed",
        "error": record.error,
        "started_at": datetime.fromtimestamp(record.started_at).isoformat(),
        "duration_s": round(record.duration_s, 3),
        "n_turns": len(record.turns),
        "audio_dir": audio_dir,
        "max_send_lateness_ms": round(record.max_send_lateness_ms, 3),
        "trace_id": start.traceparent.split("-")[1],
        "wall_t0_ns": wall_t0_ns,
        "conversation": record.conversation,
        **link_fields(record.events),
        **measured,
        "turns": record.turns,
    }


def _network(line: ImpairedTransport, t0: float) -> dict[str, Any]:
    """What the impaired line did per direction, with the runs of packets it lost for good."""
    stats: dict[str, Any] = line.stats()
    for direction, fates in line.fates.items():
        stats[direction]["drops_s"] = drop_runs(fates, t0)
    return stats


def caller_notes(turns: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Per-call means of the caller chain's measurements (e.g. the measured SNR)."""
    values: dict[str, list[float]] = {}
    for row in turns:
        for key, value in (row.get("caller_notes") or {}).items():
            values.setdefault(key, []).append(float(value))
    return {k: round(sum(v) / len(v), 3) for k, v in values.items()}

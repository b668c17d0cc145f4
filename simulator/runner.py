"""Run scenario files end to end: agent, calls, run directory, SLOs, report, exit code."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from reference_agent.bundle import AgentProcess
from reports.html import write_report
from reports.junit import write_junit
from simulator.baseline import (
    Comparison,
    Tolerance,
    check_run_dir,
    compare_dirs,
    render_table,
    write_comparison,
)
from simulator.caller.render import Rendered, render_call_full
from simulator.conversation import Recording, goal_caller
from simulator.errors import (
    EXIT_AGENT_FAILED,
    EXIT_OK,
    EXIT_SLO_MISSED,
    AgentError,
    UsageError,
    VoxsimError,
)
from simulator.impairments import ImpairedTransport, impair, link_spec
from simulator.judge import assess_call, drop_runs, summary_line
from simulator.matrix import CallPlan, expand
from simulator.metrics.call import measure_call
from simulator.metrics.reliability import reliability
from simulator.metrics.summary import summarize_run
from simulator.rows import SloResultRow, TurnRow
from simulator.scenario import Scenario, load_scenario
from simulator.session import Session, SessionOptions
from simulator.slo import evaluate
from simulator.store import RunStore
from simulator.tracing import OtlpReceiver, SpanSink, harness_spans, join_turns
from simulator.transports.base import StartInfo, Transport
from simulator.transports.reconnect import link_fields, reconnecting
from simulator.transports.registry import transport_for, url_problem

console = Console(stderr=True, highlight=False)


@dataclass
class RunOutcome:
    """Where the run went and how it ended."""

    out_dir: Path
    exit_code: int
    slo_results: list[SloResultRow]
    report: Path | None
    comparison: Comparison | None = None


def collect_files(paths: list[str]) -> list[Path]:
    """Scenario files named directly or found (*.yaml, *.yml) in named directories."""
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted([*p.glob("*.yaml"), *p.glob("*.yml")]))
        else:
            files.append(p)
    if not files:
        raise UsageError("no scenario files found", where=" ".join(paths), fix="pass a .yaml file")
    return files


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
) -> dict[str, Any]:
    """Render and play one call; stream its turns to `store`; return the call row.

    After the call, the whole-recording metrics (metrics/call.py) are added to
    the turn rows and the call row; the harness's call and turn spans go to
    `spans`. `otlp_url` is passed to the agent in the start config. A load
    generator passes `measure=False` to skip that CPU work (latency, errors
    and WER (a) are measured during the call either way).
    """
    seed = plan.seed if plan is not None else scenario.seed
    turns, bed = rendered if rendered is not None else await render_call_full(scenario, seed)
    config: dict[str, Any] = {"faults": scenario.agent.faults.model_dump(), "seed": seed}
    if otlp_url is not None:
        config["otlp_url"] = otlp_url
    start = StartInfo(call_id=call_id, traceparent=new_traceparent(), config=config)

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

    net = scenario.network
    transport = reconnecting(transport, scenario.caller.reconnect)
    transport = impair(transport, link_spec(net.uplink), link_spec(net.downlink), seed)
    goal = goal_caller(scenario, seed, replay, call_id, voices) if scenario.conversation else None
    session = Session(
        transport,
        turns,
        start,
        scenario=scenario.name,
        options=options,
        on_turn=on_turn,
        background=bed,
        conversation=goal,
    )
    try:
        if goal is not None:
            await goal.warm()  # the caller's voice worker starts before the call's clock
        record = await session.run()
    finally:
        if goal is not None:
            goal.voice.close()
    # Wall clock of sample 0, the clock agents stamp their spans with.
    wall_t0_ns = time.time_ns() - int((asyncio.get_running_loop().time() - session.t0) * 1e9)
    measured: dict[str, Any] = {}
    if measure:
        measured = await asyncio.to_thread(
            measure_call,
            scenario,
            call_id,
            record.turns,
            record.events,
            record.caller,
            record.agent,
            conversation=record.conversation,
        )
    audio_dir = store.write_audio(call_id, record.caller, record.agent) if store else None
    row: dict[str, Any] = {
        "call_id": call_id,
        "scenario": scenario.name,
        "matrix": plan.matrix if plan is not None else {},
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
    if isinstance(transport, ImpairedTransport):
        row["network"] = transport.stats()
        for direction, fates in transport.fates.items():
            row["network"][direction]["drops_s"] = drop_runs(fates, session.t0)
    if measure:
        await assess_call(scenario, row, record.events, record.agent)  # judge, verdict, cause
    if spans is not None:
        spans.add(harness_spans(row, record.turns, wall_t0_ns, start.traceparent))
    if store is not None:
        store.add_call({k: v for k, v in row.items() if k != "turns"})
    return row


async def run_files(
    paths: list[str],
    out_dir: Path,
    agent: str | None = None,
    only: str | None = None,
    baseline: Path | None = None,
    tolerance: Tolerance | None = None,
    replay: Path | None = None,
    options: SessionOptions | None = None,
    audio_format: str = "wav",
) -> RunOutcome:
    """Run every scenario in `paths`; bad files raise ScenarioError before any call.

    With `only`, just that call (e.g. NAME-003) is run. With `baseline`, the run
    is compared with that run directory (baseline.json, shown in the report and
    junit.xml); a regression makes the exit code 1. `audio_format` (wav, flac)
    is the format of the calls' recordings.
    """
    files = collect_files(paths)
    scenarios = [load_scenario(p) for p in files]
    for scenario in scenarios:
        _agent_url(scenario, agent)  # a malformed --agent is a usage error before anything starts
    if baseline is not None:
        check_run_dir(baseline, "--baseline")
    recording = Recording(replay) if replay is not None else None
    plans = [expand(s, str(f)) for s, f in zip(scenarios, files, strict=True)]
    if only is not None:
        plans = [[c for c in calls if c.call_id == only] for calls in plans]
        scenarios = [s for s, calls in zip(scenarios, plans, strict=True) if calls]
        plans = [calls for calls in plans if calls]
        if not scenarios:
            raise UsageError(f"no call {only!r}", where="--only", fix="use an id like NAME-003")
    store = RunStore(out_dir, audio_format)
    agent_desc = {"kind": agent or scenarios[0].agent.kind, "url": None}
    store.start(out_dir.name, [s.model_dump() for s in scenarios], agent_desc)
    bundled: AgentProcess | None = None
    bundled_flags: list[str] = []
    results: list[SloResultRow] = []
    failed_calls = 0
    status = "completed"
    sink = SpanSink(out_dir / "spans.jsonl")
    receiver = OtlpReceiver(sink)
    await receiver.start()
    calls: list[dict[str, Any]] = []
    ahead: asyncio.Future[Rendered] | None = None  # the next call's render
    fatal: BaseException | None = None  # what stopped the run, if not an agent
    try:
        for scenario, call_plans in zip(scenarios, plans, strict=True):
            url = _agent_url(scenario, agent)
            if url in BUNDLED_KINDS:
                flags = bundled_args(url, scenario)
                if bundled is not None and (bundled.kind, bundled_flags) != (url, flags):
                    await bundled.stop()
                    bundled = None
                if bundled is None:
                    console.print(f"[bold]starting the bundled {url} agent…[/] {' '.join(flags)}")
                    bundled = AgentProcess(url, flags)
                    bundled_flags = flags
                    await bundled.start()
                url = bundled.url
            agent_desc["url"] = url
            console.print(f"[bold]{scenario.name}[/]: {len(call_plans)} call(s) against {url}")
            scenario_calls: list[dict[str, Any]] = []
            # Render the next call in a worker process while this one plays.
            first = call_plans[0]
            ahead = asyncio.ensure_future(render_call_full(first.scenario, first.seed))
            for k, plan in enumerate(call_plans):
                rendered = await ahead
                if k + 1 < len(call_plans):
                    nxt = call_plans[k + 1]
                    ahead = asyncio.ensure_future(render_call_full(nxt.scenario, nxt.seed))
                mark = store.turns_mark()
                call = await run_call(
                    plan.scenario,
                    transport_for(url),
                    plan.call_id,
                    store,
                    options=options,
                    plan=plan,
                    rendered=rendered,
                    otlp_url=receiver.url,
                    spans=sink,
                    replay=recording if plan.scenario.conversation else None,
                )
                calls.append(call)
                scenario_calls.append(call)
                store.settle_turns(mark, call["turns"])  # this call's rows, measured
                if call["status"] != "ok":
                    failed_calls += 1
                    console.print(f"  [red]call failed:[/] {call['error']}")
                verdict_line = summary_line(call)
                if verdict_line is not None:
                    console.print(f"  [yellow]{escape(verdict_line)}[/]", highlight=False)
            figures = print_reliability(scenario.name, scenario_calls)
            if figures is not None:
                store.run.setdefault("reliability", {})[scenario.name] = figures
            scenario_turns = [t for c in scenario_calls for t in c["turns"]]
            results.extend(evaluate(scenario.name, scenario.slo, scenario_turns, scenario_calls))
    except AgentError as exc:
        failed_calls += 1
        status = "failed"
        store.run["error"] = exc.one_line()
        console.print(f"[red]agent failed:[/] {exc.one_line()}")
    except (KeyboardInterrupt, asyncio.CancelledError):
        status = "interrupted"
        raise
    except BaseException as exc:  # a usage error after start, a harness error
        status = "failed"
        fatal = exc
        _record_failure(store, exc)
        raise
    finally:
        if ahead is not None and not ahead.done():
            ahead.cancel()  # a render for a call that will not be placed
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await ahead
        if bundled is not None:
            await bundled.stop()
        await _settle(sink)
        await receiver.stop()
        sink.close()
        for call in calls:
            join_turns(call["turns"], sink.spans, call["wall_t0_ns"])
        all_turns = [t for c in calls for t in c["turns"]]
        live = store.live_turns  # a call cut short: its rows measured so far stay
        if calls or live:
            store.rewrite_turns(all_turns + live)
        store.run["metrics"] = summarize_run(calls, all_turns)
        store.run["otlp"] = {
            "url": receiver.url,
            "spans": len(sink.spans),
            "rejected": receiver.rejected,
        }
        diverged = replay_divergences(calls)
        if recording is not None:
            store.run["replay"] = {"of": str(replay), "diverged": diverged}
            for d in diverged:
                console.print(f"[red]replay diverged:[/] {d['call_id']} turn {d['turn']}: {d}")
        code = (
            _exit_code(fatal)
            if fatal is not None
            else EXIT_AGENT_FAILED
            if failed_calls or status != "completed"
            else EXIT_SLO_MISSED
            if any(not r["passed"] for r in results) or diverged
            else EXIT_OK
        )
        store.run["slo_results"] = results
        store.finish(status, code)
        store.close()
        comparison = None
        try:
            if baseline is not None and status == "completed":
                comparison = compare_dirs(out_dir, baseline, tolerance)
                write_comparison(out_dir, comparison)
                console.print(render_table(comparison), markup=False, soft_wrap=True)
                if comparison.regressions and code == EXIT_OK:
                    code = EXIT_SLO_MISSED
                    store.run["regressions"] = len(comparison.regressions)
                    store.finish(status, code)
            write_junit(out_dir)
            report = write_report(out_dir)
        except BaseException as exc:  # run.json must not say `completed` for a run that failed
            if fatal is None:
                _record_failure(store, exc)
            raise
    return RunOutcome(out_dir, code, results, report, comparison)


def _exit_code(exc: BaseException) -> int:
    """The exit code a run stopped by `exc` ends with: a voxsim error's own (2 for usage),
    3 for anything else (the harness failed)."""
    return exc.exit_code if isinstance(exc, VoxsimError) else EXIT_AGENT_FAILED


def _record_failure(store: RunStore, exc: BaseException) -> None:
    """Mark the run failed in run.json with `exc` as (or after) its error and its exit code."""
    what = exc.one_line() if isinstance(exc, VoxsimError) else f"{type(exc).__name__}: {exc}"
    earlier = store.run.get("error")
    store.run["error"] = f"{earlier}; then {what}" if earlier else what
    store.finish("failed", _exit_code(exc))


def print_reliability(name: str, calls: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A scenario's pass@1, pass^k and pass@k with intervals, and whether it is flaky
    (printed when it has repeats or a judge); the figures, or None without a verdict."""
    r = reliability(calls)
    if r is None or (r["n"] < 2 and not any(c.get("judge") for c in calls)):
        return r
    k = r["k"]

    def shown(key: str) -> str:
        lo, hi = r[key]["ci"]
        return f"{r[key]['value']:.2f} [{lo:.2f}, {hi:.2f}]"

    flaky = "  [yellow]flaky[/]" if r["flaky"] else ""
    console.print(
        f"[bold]{name}[/]: {r['passed']}/{r['n']} calls passed; pass@1 {shown('pass_at_1')}, "
        f"pass^{k} {shown('pass_hat_k')}, pass@{k} {shown('pass_at_k')}{flaky}"
    )
    return r


def replay_divergences(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first diverging turn of every replayed call that diverged."""
    out: list[dict[str, Any]] = []
    for call in calls:
        replayed = (call.get("conversation") or {}).get("replay") or {}
        if replayed.get("diverged_at_turn") is not None:
            out.append({"call_id": call["call_id"], **replayed["divergence"]})
    return out


def caller_notes(turns: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Per-call means of the caller chain's measurements (e.g. the measured SNR)."""
    values: dict[str, list[float]] = {}
    for row in turns:
        for key, value in (row.get("caller_notes") or {}).items():
            values.setdefault(key, []).append(float(value))
    return {k: round(sum(v) / len(v), 3) for k, v in values.items()}


async def _settle(sink: SpanSink, quiet_s: float = 0.5, limit_s: float = 3.0) -> None:
    """Give agents that export in batches a moment: wait until no span arrived for
    `quiet_s` (at most `limit_s`); no wait when no agent span ever came."""
    if not any(s.get("source") == "agent" for s in sink.spans):
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    seen = len(sink.spans)
    while loop.time() < deadline:
        await asyncio.sleep(quiet_s)
        if len(sink.spans) == seen:
            return
        seen = len(sink.spans)


#: Agents voxsim starts itself; `voxsim run --agent pipeline|e2e`.
BUNDLED_KINDS = ("pipeline", "e2e")


def bundled_args(kind: str, scenario: Scenario | None = None) -> list[str]:
    """`voxsim agent serve` flags for a bundled kind (e2e is served behind Realtime)
    and for the scenario's `agent.stt` / `agent.voice` when they are not the defaults."""
    flags = ["--transport", "realtime"] if kind == "e2e" else []
    if scenario is not None:
        if scenario.agent.stt != "domain":
            flags += ["--stt", scenario.agent.stt]
        if scenario.agent.voice != "espeak":
            flags += ["--voice", scenario.agent.voice]
    return flags


def _agent_url(scenario: Scenario, override: str | None) -> str:
    """URL to call, or the name of a bundled agent kind to start."""
    target = override or scenario.agent.url or scenario.agent.kind
    if scenario.agent.kind in BUNDLED_KINDS and not override:
        target = scenario.agent.kind
    problem = url_problem(target) if target not in BUNDLED_KINDS else None
    if problem is None:
        return target
    raise UsageError(
        f"not an agent: {problem}",
        where="--agent" if override else "agent.url",
        fix="pass 'pipeline', 'e2e' (bundled) or your agent's URL",
    )


def agent_target(scenario: Scenario, override: str | None) -> str:
    """'pipeline'/'e2e' to start, or the URL to call: the rules of `voxsim run` (also
    used by `voxsim load`)."""
    return _agent_url(scenario, override)

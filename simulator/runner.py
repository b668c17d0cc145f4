"""Run scenario files end to end: agent, calls, run directory, SLOs, report, exit code."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from simulator.call import console, run_call
from simulator.caller.render import Rendered, render_call_full
from simulator.conversation import Recording
from simulator.errors import (
    EXIT_AGENT_FAILED,
    EXIT_OK,
    EXIT_SLO_MISSED,
    AgentError,
    UsageError,
    VoxsimError,
)
from simulator.judge import summary_line
from simulator.matrix import expand
from simulator.metrics.reliability import reliability
from simulator.metrics.summary import summarize_run
from simulator.rows import CallRow, SloResultRow
from simulator.scenario import load_scenario
from simulator.session import SessionOptions
from simulator.slo import evaluate
from simulator.store import RunStore
from simulator.targets import BUNDLED_KINDS, agent_target, bundled_args
from simulator.tracing import OtlpReceiver, SpanSink, join_turns
from simulator.transports.registry import transport_for


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
        agent_target(scenario, agent)  # a malformed --agent is a usage error before anything starts
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
    calls: list[CallRow] = []
    ahead: asyncio.Future[Rendered] | None = None  # the next call's render
    fatal: BaseException | None = None  # what stopped the run, if not an agent
    try:
        for scenario, call_plans in zip(scenarios, plans, strict=True):
            url = agent_target(scenario, agent)
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
            scenario_calls: list[CallRow] = []
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


def print_reliability(name: str, calls: Sequence[CallRow]) -> dict[str, Any] | None:
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


def replay_divergences(calls: Sequence[CallRow]) -> list[dict[str, Any]]:
    """The first diverging turn of every replayed call that diverged."""
    out: list[dict[str, Any]] = []
    for call in calls:
        replayed = (call.get("conversation") or {}).get("replay") or {}
        if replayed.get("diverged_at_turn") is not None:
            out.append({"call_id": call["call_id"], **replayed["divergence"]})
    return out


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

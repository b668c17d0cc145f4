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
from simulator.matrix import CallPlan, expand
from simulator.metrics.reliability import reliability
from simulator.metrics.summary import summarize_run
from simulator.rows import CallRow, SloResultRow
from simulator.scenario import Scenario, load_scenario
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
    scenarios, plans, recording = _plan_run(paths, agent, only, baseline, replay)
    store = RunStore(out_dir, audio_format)
    agent_desc = {"kind": agent or scenarios[0].agent.kind, "url": None}
    store.start(out_dir.name, [s.model_dump() for s in scenarios], agent_desc)
    run = _Run(store, agent_desc, recording, options)
    await run.receiver.start()
    try:
        for scenario, call_plans in zip(scenarios, plans, strict=True):
            await run.play_scenario(scenario, call_plans, agent)
    except AgentError as exc:
        run.failed_calls += 1
        run.status = "failed"
        store.run["error"] = exc.one_line()
        console.print(f"[red]agent failed:[/] {exc.one_line()}")
    except (KeyboardInterrupt, asyncio.CancelledError):
        run.status = "interrupted"
        raise
    except BaseException as exc:  # a usage error after start, a harness error
        run.status = "failed"
        run.fatal = exc
        _record_failure(store, exc)
        raise
    finally:
        code = await run.close()
        code, comparison, report = run.publish(out_dir, baseline, tolerance, code)
    return RunOutcome(out_dir, code, run.results, report, comparison)


def _plan_run(
    paths: list[str],
    agent: str | None,
    only: str | None,
    baseline: Path | None,
    replay: Path | None,
) -> tuple[list[Scenario], list[list[CallPlan]], Recording | None]:
    """The scenarios, each one's calls (just `only` if given) and the recording to
    replay, every input checked before anything starts: files, --agent, --baseline,
    --replay, --only."""
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
    return scenarios, plans, recording


class _Run:
    """One run's state while it plays: what it started (agent, OTLP receiver, the next
    call's render), the calls and SLO results so far, and how it is going."""

    def __init__(
        self,
        store: RunStore,
        agent_desc: dict[str, Any],
        recording: Recording | None,
        options: SessionOptions | None,
    ) -> None:
        self.store = store
        self.agent_desc = agent_desc
        self.recording = recording
        self.options = options
        self.bundled: AgentProcess | None = None
        self.bundled_flags: list[str] = []
        self.results: list[SloResultRow] = []
        self.failed_calls = 0
        self.status = "completed"
        self.sink = SpanSink(store.root / "spans.jsonl")
        self.receiver = OtlpReceiver(self.sink)
        self.calls: list[CallRow] = []
        self.ahead: asyncio.Future[Rendered] | None = None  # the next call's render
        self.fatal: BaseException | None = None  # what stopped the run, if not an agent

    async def play_scenario(
        self, scenario: Scenario, call_plans: list[CallPlan], agent: str | None
    ) -> None:
        """Every call of one scenario against its agent, then its reliability and SLOs."""
        url = await self._agent_url(scenario, agent)
        self.agent_desc["url"] = url
        console.print(f"[bold]{scenario.name}[/]: {len(call_plans)} call(s) against {url}")
        scenario_calls: list[CallRow] = []
        # Render the next call in a worker process while this one plays.
        first = call_plans[0]
        self.ahead = asyncio.ensure_future(render_call_full(first.scenario, first.seed))
        for k, plan in enumerate(call_plans):
            rendered = await self.ahead
            if k + 1 < len(call_plans):
                nxt = call_plans[k + 1]
                self.ahead = asyncio.ensure_future(render_call_full(nxt.scenario, nxt.seed))
            scenario_calls.append(await self._play_call(plan, url, rendered))
        figures = print_reliability(scenario.name, scenario_calls)
        if figures is not None:
            self.store.run.setdefault("reliability", {})[scenario.name] = figures
        scenario_turns = [t for c in scenario_calls for t in c["turns"]]
        self.results.extend(evaluate(scenario.name, scenario.slo, scenario_turns, scenario_calls))

    async def _agent_url(self, scenario: Scenario, agent: str | None) -> str:
        """The URL the scenario's calls go to; a bundled agent is started (or restarted
        with other flags) as it needs."""
        url = agent_target(scenario, agent)
        if url not in BUNDLED_KINDS:
            return url
        flags = bundled_args(url, scenario)
        if self.bundled is not None and (self.bundled.kind, self.bundled_flags) != (url, flags):
            await self.bundled.stop()
            self.bundled = None
        if self.bundled is None:
            console.print(f"[bold]starting the bundled {url} agent…[/] {' '.join(flags)}")
            self.bundled = AgentProcess(url, flags)
            self.bundled_flags = flags
            await self.bundled.start()
        return self.bundled.url

    async def _play_call(self, plan: CallPlan, url: str, rendered: Rendered) -> CallRow:
        """Place one call; its measured rows replace its streamed ones in turns.jsonl."""
        store = self.store
        mark = store.turns_mark()
        call = await run_call(
            plan.scenario,
            transport_for(url),
            plan.call_id,
            store,
            options=self.options,
            plan=plan,
            rendered=rendered,
            otlp_url=self.receiver.url,
            spans=self.sink,
            replay=self.recording if plan.scenario.conversation else None,
        )
        self.calls.append(call)
        store.settle_turns(mark, call["turns"])  # this call's rows, measured
        if call["status"] != "ok":
            self.failed_calls += 1
            console.print(f"  [red]call failed:[/] {call['error']}")
        verdict_line = summary_line(call)
        if verdict_line is not None:
            console.print(f"  [yellow]{escape(verdict_line)}[/]", highlight=False)
        return call

    async def close(self) -> int:
        """Stop what the run started and complete run.json, however the run ended;
        the exit code (before any baseline comparison)."""
        if self.ahead is not None and not self.ahead.done():
            self.ahead.cancel()  # a render for a call that will not be placed
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.ahead
        if self.bundled is not None:
            await self.bundled.stop()
        await _settle(self.sink)
        await self.receiver.stop()
        self.sink.close()
        self._measure()
        diverged = replay_divergences(self.calls)
        if self.recording is not None:
            self.store.run["replay"] = {"of": str(self.recording.run_dir), "diverged": diverged}
            for d in diverged:
                console.print(f"[red]replay diverged:[/] {d['call_id']} turn {d['turn']}: {d}")
        code = self._exit_code(bool(diverged))
        self.store.run["slo_results"] = self.results
        self.store.finish(self.status, code)
        self.store.close()
        return code

    def _measure(self) -> None:
        """Spans joined to their turns, turns.jsonl in its final form, the run's metrics."""
        store, sink = self.store, self.sink
        for call in self.calls:
            join_turns(call["turns"], sink.spans, call["wall_t0_ns"])
        all_turns = [t for c in self.calls for t in c["turns"]]
        live = store.live_turns  # a call cut short: its rows measured so far stay
        if self.calls or live:
            store.rewrite_turns(all_turns + live)
        store.run["metrics"] = summarize_run(self.calls, all_turns)
        store.run["otlp"] = {
            "url": self.receiver.url,
            "spans": len(sink.spans),
            "rejected": self.receiver.rejected,
        }

    def _exit_code(self, diverged: bool) -> int:
        """The stopping error's code; else 3 if a call or the agent failed; else 1 if
        an SLO was missed or a replay diverged; else 0."""
        if self.fatal is not None:
            return _exit_code(self.fatal)
        if self.failed_calls or self.status != "completed":
            return EXIT_AGENT_FAILED
        if any(not r["passed"] for r in self.results) or diverged:
            return EXIT_SLO_MISSED
        return EXIT_OK

    def publish(
        self, out_dir: Path, baseline: Path | None, tolerance: Tolerance | None, code: int
    ) -> tuple[int, Comparison | None, Path]:
        """The baseline comparison (a regression turns exit 0 into 1), junit.xml and
        report.html; (exit code, comparison, report)."""
        store = self.store
        comparison = None
        try:
            if baseline is not None and self.status == "completed":
                comparison = compare_dirs(out_dir, baseline, tolerance)
                write_comparison(out_dir, comparison)
                console.print(render_table(comparison), markup=False, soft_wrap=True)
                if comparison.regressions and code == EXIT_OK:
                    code = EXIT_SLO_MISSED
                    store.run["regressions"] = len(comparison.regressions)
                    store.finish(self.status, code)
            write_junit(out_dir)
            report = write_report(out_dir)
        except BaseException as exc:  # run.json must not say `completed` for a run that failed
            if self.fatal is None:
                _record_failure(store, exc)
            raise
        return code, comparison, report


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

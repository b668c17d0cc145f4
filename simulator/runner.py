"""Run scenario files end to end: agent, calls, run directory, SLOs, report, exit code."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from reference_agent.bundle import AgentProcess
from reports.html import write_report
from reports.junit import write_junit
from simulator.caller.render import render_call
from simulator.errors import EXIT_AGENT_FAILED, EXIT_OK, EXIT_SLO_MISSED, AgentError, UsageError
from simulator.impairments import ImpairedTransport, impair, link_spec
from simulator.scenario import Scenario, load_scenario
from simulator.session import Session, SessionOptions
from simulator.slo import evaluate
from simulator.store import RunStore
from simulator.transports.base import StartInfo, Transport
from simulator.transports.registry import transport_for, transport_name

console = Console(stderr=True, highlight=False)


@dataclass
class RunOutcome:
    """Where the run went and how it ended."""

    out_dir: Path
    exit_code: int
    slo_results: list[dict[str, Any]]
    report: Path | None


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
) -> dict[str, Any]:
    """Render and play one call; stream its turns to `store`; return the call row."""
    turns = await render_call(scenario)
    start = StartInfo(
        call_id=call_id,
        traceparent=new_traceparent(),
        config={"faults": scenario.agent.faults.model_dump(), "seed": scenario.seed},
    )

    def on_turn(row: dict[str, Any]) -> None:
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
        console.print(
            f"  [dim]{call_id}[/] turn {row['turn']:>2} {row['kind']:<7} {shown}  "
            f"heard: {row.get('agent_heard_text') or '-'}"
        )

    net = scenario.network
    transport = impair(transport, link_spec(net.uplink), link_spec(net.downlink), scenario.seed)
    session = Session(
        transport, turns, start, scenario=scenario.name, options=options, on_turn=on_turn
    )
    record = await session.run()
    audio_dir = store.write_audio(call_id, record.caller, record.agent) if store else None
    row: dict[str, Any] = {
        "call_id": call_id,
        "scenario": scenario.name,
        "matrix": {},
        "status": "ok" if record.ok else "failed",
        "error": record.error,
        "started_at": datetime.fromtimestamp(record.started_at).isoformat(),
        "duration_s": round(record.duration_s, 3),
        "n_turns": len(record.turns),
        "audio_dir": audio_dir,
        "max_send_lateness_ms": round(record.max_send_lateness_ms, 3),
        "trace_id": start.traceparent.split("-")[1],
        "turns": record.turns,
    }
    if isinstance(transport, ImpairedTransport):
        row["network"] = transport.stats()
    if store is not None:
        store.add_call({k: v for k, v in row.items() if k != "turns"})
    return row


async def run_files(paths: list[str], out_dir: Path, agent: str | None = None) -> RunOutcome:
    """Run every scenario in `paths`; bad files raise ScenarioError before any call."""
    scenarios = [load_scenario(p) for p in collect_files(paths)]
    store = RunStore(out_dir)
    agent_desc = {"kind": agent or scenarios[0].agent.kind, "url": None}
    store.start(out_dir.name, [s.model_dump() for s in scenarios], agent_desc)
    bundled: AgentProcess | None = None
    results: list[dict[str, Any]] = []
    failed_calls = 0
    status = "completed"
    try:
        for scenario in scenarios:
            url = _agent_url(scenario, agent)
            if url in BUNDLED_KINDS:
                if bundled is not None and bundled.kind != url:
                    await bundled.stop()
                    bundled = None
                if bundled is None:
                    console.print(f"[bold]starting the bundled {url} agent…[/]")
                    bundled = AgentProcess(url, bundled_args(url))
                    await bundled.start()
                url = bundled.url
            agent_desc["url"] = url
            console.print(f"[bold]{scenario.name}[/]: 1 call against {url}")
            call = await run_call(scenario, transport_for(url), f"{scenario.name}-000", store)
            if call["status"] != "ok":
                failed_calls += 1
                console.print(f"  [red]call failed:[/] {call['error']}")
            results.extend(evaluate(scenario.name, scenario.slo, call["turns"]))
    except AgentError as exc:
        failed_calls += 1
        status = "failed"
        store.run["error"] = exc.one_line()
        console.print(f"[red]agent failed:[/] {exc.one_line()}")
    except (KeyboardInterrupt, asyncio.CancelledError):
        status = "interrupted"
        raise
    finally:
        if bundled is not None:
            await bundled.stop()
        code = (
            EXIT_AGENT_FAILED
            if failed_calls or status != "completed"
            else EXIT_SLO_MISSED
            if any(not r["passed"] for r in results)
            else EXIT_OK
        )
        store.run["slo_results"] = results
        store.finish(status, code)
        store.close()
        write_junit(out_dir)
        report = write_report(out_dir)
    return RunOutcome(out_dir, code, results, report)


#: Agents voxsim starts itself; `voxsim run --agent pipeline|e2e`.
BUNDLED_KINDS = ("pipeline", "e2e")


def bundled_args(kind: str) -> list[str]:
    """`voxsim agent serve` flags for a bundled kind: e2e is served behind Realtime."""
    return ["--transport", "realtime"] if kind == "e2e" else []


def _agent_url(scenario: Scenario, override: str | None) -> str:
    """URL to call, or the name of a bundled agent kind to start."""
    target = override or scenario.agent.url or scenario.agent.kind
    if scenario.agent.kind in BUNDLED_KINDS and not override:
        target = scenario.agent.kind
    if target in BUNDLED_KINDS or transport_name(target) is not None:
        return target
    raise UsageError(
        f"unsupported agent {target!r}",
        where="--agent",
        fix="use 'pipeline', 'e2e' or a URL: ws://, twilio+ws://, realtime+ws://, webrtc+http://",
    )

"""`voxsim load`: agent, pre-rendered callers, locust processes, run directory, verdict.

This process never imports locust: it starts `python -m locust` children (one
local process, or a master and N workers on 127.0.0.1) with the run's
config in VOXSIM_LOAD_CONFIG, prints each step as it lands in load.jsonl, and
on the way out (finished, failed or Ctrl-C) merges the workers' rows, marks
the breakpoint, writes run.json, junit.xml and report.html.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from reference_agent.bundle import AgentProcess
from reports.html import write_report
from reports.junit import write_junit
from reports.rundir import read_jsonl
from simulator.caller.render import render_call_full
from simulator.errors import EXIT_AGENT_FAILED, AgentError, UsageError, VoxsimError
from simulator.load import remote, result
from simulator.load.chaos import analyse as analyse_chaos
from simulator.load.chaos import check_target as check_chaos_target
from simulator.load.chaos import with_chaos
from simulator.load.cluster import DEFAULT_PORT, render_digest
from simulator.load.conductor import LOAD_JSONL, STATE_JSON
from simulator.load.config import (
    CONFIG_ENV,
    CONFIG_FILE,
    WORKER_ENV,
    LoadConfig,
    check,
    check_target,
    is_loopback_url,
)
from simulator.load.engine import MAX_PLANS
from simulator.load.merge import merge_rows
from simulator.matrix import expand
from simulator.metrics.summary import summarize_run
from simulator.scenario import Scenario, load_scenario
from simulator.store import RunStore
from simulator.targets import BUNDLED_KINDS, agent_target, bundled_args

console = Console(stderr=True, highlight=False)

LOCUSTFILE = remote.LOCUSTFILE
STOP_TIMEOUT_S = remote.STOP_TIMEOUT_S


@dataclass
class LoadOutcome:
    """Where the run went and how it ended."""

    out_dir: Path
    exit_code: int
    summary: dict[str, Any]
    report: Path | None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def locust_commands(cfg: LoadConfig, out: Path) -> list[tuple[str, list[str]]]:
    """(worker name, argv) of every locust process of the run."""
    base = remote.locust_base()
    if cfg.workers == 0 and cfg.expect_workers == 0:
        return [("local", [*base, "--csv", str(out / "locust"), "--only-summary"])]
    port = cfg.master_port or _free_port()
    master = [
        *base,
        "--master",
        "--master-bind-host",
        cfg.master_bind,
        "--master-bind-port",
        str(port),
        "--expect-workers",
        str(cfg.workers + cfg.expect_workers),
        "--csv",
        str(out / "locust"),
        "--only-summary",
    ]
    host = "127.0.0.1" if cfg.master_bind in ("*", "0.0.0.0", "::") else cfg.master_bind
    worker = remote.worker_argv(host, port)
    return [("master", master)] + [(f"w{i + 1}", worker) for i in range(cfg.workers)]


def check_cluster(cfg: LoadConfig, target: str) -> None:
    """Workers on other hosts need an agent they can reach and a master address that binds."""
    if cfg.expect_workers == 0:
        return
    local_master = cfg.master_bind in ("localhost", "127.0.0.1", "::1")
    if not local_master and (target in BUNDLED_KINDS or is_loopback_url(target)):
        raise UsageError(
            "workers on other hosts cannot reach an agent on this host's loopback",
            where="--expect-workers",
            fix="serve the agent on an address they reach; pass its URL and --allow-remote",
        )
    if not cfg.master_port:
        cfg.master_port = DEFAULT_PORT
    try:
        with socket.socket(socket.AF_INET6 if ":" in cfg.master_bind else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((cfg.master_bind.replace("*", "0.0.0.0"), cfg.master_port))
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {cfg.master_bind}:{cfg.master_port}: {exc.strerror or exc}",
            where="--master-bind/--master-port",
            fix="an address of this host and a free port",
        ) from None


async def _prerender(scenario: Scenario, source: str) -> tuple[int, str]:
    """Render every call plan's caller audio into the cache before the load starts;
    return how many and their digest (every worker must render the same)."""
    plans = expand(scenario, source)[:MAX_PLANS]
    rendered = [await render_call_full(plan.scenario, plan.seed) for plan in plans]
    return len(plans), render_digest(rendered)


class _StepPrinter:
    """Prints each load.jsonl row once, as it lands."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen = 0

    def poll(self) -> None:
        rows = read_jsonl(self.path)
        for row in rows[self.seen :]:
            p95 = row.get("latency_p95_ms")
            err = row.get("error_rate")
            verdict = "[green]ok[/]" if row.get("slo_passed") else f"[red]{row.get('slo_reason')}"
            late = row.get("generator_lateness_ms")
            flag = " [yellow]generator saturated[/]" if row.get("generator_saturated") else ""
            if row.get("generator_cpu_saturated"):
                busy = row.get("generator_busy") or {}
                top = max(busy, key=lambda w: busy[w] or 0.0, default="?")
                flag += f" [yellow]worker {top} busy {busy.get(top, 0):.0%}[/]"
            console.print(
                f"  {row.get('phase')} {row['concurrency']:>3} calls: n={row.get('n')} "
                f"P95 {p95} ms errors {err} lateness {late} ms {verdict}{flag}",
                soft_wrap=True,
            )
        self.seen = max(self.seen, len(rows))


async def _run_locust(cfg: LoadConfig, out: Path, config_path: Path) -> int:
    """Start the locust processes, print steps as they land, return the master's exit code."""
    procs: list[asyncio.subprocess.Process] = []
    log = (out / "locust.log").open("ab")
    printer = _StepPrinter(out / LOAD_JSONL)
    # SIGTERM (a supervisor, `timeout`) stops the run like Ctrl-C: the locust processes
    # run in their own session and would outlive us otherwise.
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, os.kill, os.getpid(), signal.SIGINT)
    try:
        for name, argv in locust_commands(cfg, out):
            env = dict(os.environ, **{CONFIG_ENV: str(config_path), WORKER_ENV: name})
            if name not in ("local", "master"):
                env = remote.worker_env(name, out / "workers" / name)
            env["PYTHONUNBUFFERED"] = "1"
            procs.append(
                # Their own session: a Ctrl-C reaches only us, and we stop them with one
                # SIGTERM each; a master hit by both dies before telling remote workers to quit.
                await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env=env,
                    start_new_session=True,
                )
            )
        head = procs[0]
        # Wait on the master while printing steps; a Ctrl-C cancels this task (asyncio's
        # handler; cli.main takes SIGINT back when started with it ignored).
        ended = asyncio.ensure_future(head.wait())
        while not ended.done():
            await asyncio.wait({ended}, timeout=0.5)
            printer.poll()
        rest = [asyncio.ensure_future(proc.wait()) for proc in procs[1:]]
        if rest:
            await asyncio.wait(rest, timeout=30)
            for waiting in rest:
                waiting.cancel()
        return head.returncode or 0
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        _stop_all(procs)
        printer.poll()
        log.close()


def _stop_all(procs: list[asyncio.subprocess.Process]) -> None:
    """Stop the locust processes gracefully (they write their CSVs; a master tells every
    worker, local or remote, to quit), then SIGKILL after 20 s. The master (or local
    process) gets SIGINT: while a shape runs, locust handles only that (its SIGTERM
    handler is installed after the shape ends, so SIGTERM kills it on the spot); workers
    get SIGTERM. Blocking on purpose: it runs while the run is being cancelled (Ctrl-C),
    and asyncio kills the children it still tracks when its loop closes."""
    for i, proc in enumerate(procs):
        if _alive(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGINT if i == 0 else signal.SIGTERM)
    deadline = time.monotonic() + 20
    for proc in procs:
        while _alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """The process runs (not gone, not a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


async def run_load(
    cfg: LoadConfig, agent: str | None = None, allow_remote: bool = False
) -> LoadOutcome:
    """Run one load profile (docs/load.md); bad input raises before anything starts."""
    scenario, target = await _checked(cfg, agent, allow_remote)
    out = Path(cfg.out_dir)
    store = RunStore(out)
    agent_desc: dict[str, Any] = {"kind": target if target in BUNDLED_KINDS else "url", "url": None}
    store.start(out.name, [scenario.model_dump()], agent_desc)
    store.run["load"] = {"config": asdict(cfg)}
    store.write_run()
    bundled: AgentProcess | None = None
    status = "interrupted"
    fatal: int | None = None  # the exit code of what stopped the run, if not the agent
    try:
        n, cfg.render_sha = await _prerender(scenario, cfg.scenario)
        console.print(f"[bold]{scenario.name}[/]: {n} call plan(s) rendered")
        bundled, url = await _agent(cfg, scenario, target)
        cfg.agent_url = agent_desc["url"] = url
        store.run["load"] = {"config": asdict(cfg)}
        store.write_run()
        status = await _load(cfg, out, url)
    except AgentError as exc:
        status = "failed"
        store.run["error"] = exc.one_line()
        console.print(f"[red]agent failed:[/] {exc.one_line()}")
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise  # status stays `interrupted`
    except BaseException as exc:  # a usage error after start, a harness error
        status = "failed"
        store.run["error"] = (
            exc.one_line() if isinstance(exc, VoxsimError) else f"{type(exc).__name__}: {exc}"
        )
        fatal = exc.exit_code if isinstance(exc, VoxsimError) else EXIT_AGENT_FAILED
        raise
    finally:
        if bundled is not None:
            await bundled.stop()
        summary, code, report = _finish(out, cfg, scenario, store, status, fatal)
    if summary.get("generator_busy_steps"):
        console.print(
            f"[yellow]warning:[/] a worker's event loop was busy >= 80 % of steps "
            f"{summary['generator_busy_steps']}: its core is near saturation, frames will "
            "soon leave late (add workers or hosts; see generator_busy in load.jsonl)"
        )
    return LoadOutcome(out, code, summary, report)


async def _checked(cfg: LoadConfig, agent: str | None, allow_remote: bool) -> tuple[Scenario, str]:
    """Every input checked before anything starts: the config, the scenario, the agent
    (on loopback unless allowed), the cluster flags, the chaos target; (scenario, target)."""
    check(cfg)
    scenario = load_scenario(cfg.scenario)
    target = agent_target(scenario, agent)
    if target not in BUNDLED_KINDS:
        check_target(target, allow_remote)
    check_cluster(cfg, target)
    await check_chaos_target(cfg, target)
    if cfg.p95_limit_ms is None:
        cfg.p95_limit_ms = scenario.slo.latency_p95_ms
    return scenario, target


async def _agent(
    cfg: LoadConfig, scenario: Scenario, target: str
) -> tuple[AgentProcess | None, str]:
    """The agent to load: the bundled one started here (its process, its URL), or the URL."""
    if target not in BUNDLED_KINDS:
        return None, target
    console.print(f"[bold]starting the bundled {target} agent…[/]")
    bundled = AgentProcess(target, bundled_args(target, scenario))
    try:
        url = await bundled.start()
    except BaseException:
        await bundled.stop()  # a half-started agent is not left behind
        raise
    if cfg.agent_pid is None and bundled.proc is not None:
        cfg.agent_pid = bundled.proc.pid
    return bundled, url


async def _load(cfg: LoadConfig, out: Path, url: str) -> str:
    """Run locust (and any chaos) to the end; the run's status: completed or failed."""
    config_path = cfg.write(out / CONFIG_FILE)
    where = f"{cfg.workers} local workers" if cfg.workers else "1 process"
    if cfg.expect_workers:
        where = f"{cfg.workers} local + {cfg.expect_workers} remote workers"
    console.print(f"[bold]{cfg.profile}[/] against {url} ({where})")
    if cfg.expect_workers:
        console.print(
            f"waiting for {cfg.expect_workers} worker(s): voxsim load-worker "
            f"--master {cfg.master_bind}:{cfg.master_port}"
        )
    head_code = await with_chaos(cfg, url, out, _run_locust(cfg, out, config_path))
    state = _read_state(out)
    status = "completed" if state.get("status") in ("completed", "capped") else "failed"
    if head_code != 0 and status == "completed":
        status = "failed"
    if state.get("reason"):
        console.print(f"[yellow]{state['reason']}[/]")
    if status == "failed":
        console.print(f"[red]the load run failed[/]: see {out / 'locust.log'}")
    return status


def _read_state(out: Path) -> dict[str, Any]:
    """The conductor's last word: status (completed, capped, failed) and why."""
    try:
        data: dict[str, Any] = json.loads((out / STATE_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data


def _finish(
    out: Path,
    cfg: LoadConfig,
    scenario: Scenario,
    store: RunStore,
    status: str,
    fatal: int | None = None,
) -> tuple[dict[str, Any], int, Path | None]:
    """Merge rows, judge, write run.json, junit.xml, report.html (also after Ctrl-C)."""
    store.close()
    calls, turns = merge_rows(out)
    summary = result.summarize(out, cfg, scenario.name, turns)
    code = summary["exit_code"]
    if status != "completed" or not summary["steps"]:
        code = EXIT_AGENT_FAILED if fatal is None else fatal
    summary["status"] = status
    summary["ended"] = _read_state(out)
    if cfg.chaos:
        summary["chaos"] = analyse_chaos(out, calls, turns, cfg.chaos_window_s)
    store.run["slo_results"] = summary.pop("slo_results")
    store.run["load"] = {"config": asdict(cfg), **summary}
    store.run["metrics"] = summarize_run(calls, turns)
    store.finish(status, code)
    write_junit(out)
    report = write_report(out)
    return summary, code, report

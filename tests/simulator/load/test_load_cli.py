"""`voxsim load` end to end against a test agent whose latency is known in advance.

The agent (slow_agent.py) answers after 200 ms of caller silence plus
k ms x (calls connected above N) plus a drift over time; every figure below
is checked against those injected numbers.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from simulator.cli import main
from tests.simulator.load.rows import recount

FAST = ["--step-s", "4", "--settle-s", "2", "--pause-s", "0.3", "--min-turns", "1"]


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def test_two_worker_breakpoint_search_finds_where_latency_jumps_and_rows_match_calls(
    tmp_path: Path, scenario_file: Path, slow_agent: Any, voxsim_load: Any
) -> None:
    agent = slow_agent(k_ms=500, above=2)  # +500 ms per call above 2; the SLO is P95 500 ms
    out = tmp_path / "run"
    flags = ["--profile", "breakpoint", "--agent", agent["url"], "--capacity", "4"]
    flags += ["--start", "2", "--max", "8", "--workers", "2", "--cooldown-s", "1"]
    code, log = finish(voxsim_load(scenario_file, out, *flags, *FAST))
    assert code == 1, log  # it breaks at 3, below the stated capacity of 4
    load = json.loads((out / "run.json").read_text())["load"]
    assert (load["last_passing"], load["breakpoint"]) == (2, 3), log

    # The search: 2, 4 (breaks), bisect to 3.
    rows = read(out / "load.jsonl")
    by_level = {r["concurrency"]: r for r in rows}
    assert list(by_level) == [2, 4, 3]
    print({c: (r["n"], r["latency_p50_ms"], r["latency_p95_ms"]) for c, r in by_level.items()})
    assert [c for c, r in by_level.items() if r["breakpoint"]] == [3]
    # Each turn's latency is the delay the agent added (it reports what it slept) plus
    # the same ~200 ms of endpointing and frame timing at every level: the injected
    # delay comes back out turn by turn, whatever the calls' overlap on a busy box.
    turns, calls = read(out / "turns.jsonl"), read(out / "calls.jsonl")
    said = [t for t in turns if t["kind"] == "say" and t["latency_ms"] is not None]
    rest = [t["latency_ms"] - t["stages"]["delay_ms"] for t in said]
    base = statistics.median(rest)
    assert 150 < base < 300, base
    off = sorted(abs(r - base) for r in rest)
    assert off[int(0.95 * (len(off) - 1))] < 30, (base, off[-5:])
    added = {round(t["stages"]["delay_ms"] / 500) for t in said}
    assert added == {0, 1, 2}, added  # the levels did add 0, 500 and 1000 ms

    # Both workers placed calls; the run directory merged their rows.
    assert {t["load_worker"] for t in turns} == {c["load_worker"] for c in calls} == {"w1", "w2"}
    assert len({c["call_id"] for c in calls}) == len(calls)
    for w in ("w1", "w2"):
        assert read(out / "workers" / w / "turns.jsonl")

    # Arrivals: the first step has 2 callers, so one pilot call measured a call's length
    # first (no second call was placed before it ended); each raise spread its new
    # callers over the median ok call so far. The level after the miss (3) started from
    # an idle agent: every caller stopped, no call ran for the cool-down (1 s), then
    # all 3 joined spread over a call again.
    placed = sorted(
        p["at"] for w in ("w1", "w2") for p in read(out / "workers" / w / "placed.jsonl")
    )
    assert placed[1] >= min(c["load_at"] for c in calls), placed[:3]
    ok = [c["duration_s"] for c in calls if c["status"] == "ok"]
    spreads = [r["arrivals_s"] for r in rows]
    assert all(min(ok) <= s <= max(ok) for s in spreads), spreads
    assert "cooled_s" not in rows[0] and "cooled_s" not in rows[1] and rows[2]["cooled_s"] >= 1
    ran = [(c["load_at"] - c["duration_s"], c["load_at"]) for c in calls if c.get("duration_s")]
    assert len(ran) == len(calls)
    idle, busy_until = 0.0, rows[1]["window"][1]
    for start, end in sorted(ran):
        if busy_until < start < rows[2]["window"][0]:
            idle = max(idle, start - busy_until)
        busy_until = max(busy_until, end)
    assert idle >= 0.95, idle  # the cool-down, as the calls themselves place it

    # Every row is recomputed exactly from the turns and calls inside its window.
    recount(rows, turns, calls, workers=2)
    assert (out / "locust_stats.csv").exists()
    assert 'id="load"' in (out / "report.html").read_text()


def test_soak_flags_a_drifting_leaking_agent_and_passes_a_flat_one(
    tmp_path: Path, scenario_file: Path, slow_agent: Any, voxsim_load: Any
) -> None:
    flat = slow_agent()
    leaky = slow_agent(drift_ms_per_s=25, leak_mb=8)
    soak = ["--profile", "soak", "--concurrency", "2", "--soak-s", "12", "--window-s", "4"]
    soak += ["--settle-s", "1", "--pause-s", "0.3", "--max-rss-growth-mb", "20", "--min-turns", "1"]
    procs = {
        name: voxsim_load(
            scenario_file,
            tmp_path / name,
            *soak,
            "--agent",
            agent["url"],
            "--agent-pid",
            str(agent["pid"]),
            "--p95-ms",
            "2000",
        )
        for name, agent in (("flat", flat), ("leaky", leaky))
    }
    codes = {name: finish(proc) for name, proc in procs.items()}
    drift = {n: json.loads((tmp_path / n / "run.json").read_text())["load"]["drift"] for n in procs}
    print(json.dumps(drift))
    assert codes["flat"][0] == 0, codes["flat"][1]
    assert codes["leaky"][0] == 1, codes["leaky"][1]
    assert not drift["flat"]["latency_ms"]["drift"] and not drift["flat"]["agent_rss_mb"]["drift"]
    assert drift["leaky"]["latency_ms"]["drift"] and drift["leaky"]["agent_rss_mb"]["drift"]
    assert len(read(tmp_path / "leaky" / "load.jsonl")) == 3  # 12 s in 4 s windows


def test_callers_started_in_one_batch_do_not_dial_in_the_same_instant(
    tmp_path: Path, scenario_file: Path, slow_agent: Any, voxsim_load: Any
) -> None:
    """9 callers over 1 s: locust starts them as one batch (its spawn rate rounds down to
    whole users a second); each waits a random part of that second before its first call,
    so the first calls' start times spread over it rather than one millisecond."""
    agent = slow_agent()
    out = tmp_path / "run"
    flags = ["--profile", "soak", "--concurrency", "9", "--soak-s", "3", "--window-s", "3"]
    flags += ["--stagger-s", "1", "--settle-s", "1", "--min-turns", "1", "--agent", agent["url"]]
    code, log = finish(voxsim_load(scenario_file, out, *flags))
    assert code == 0, log
    first = sorted(p["at"] for p in read(next(out.glob("workers/*/placed.jsonl"))))[:9]
    # 9 uniform draws over 1 s all within 0.1 s of each other: probability ~1e-7.
    assert first[-1] - first[0] > 0.1, first


@pytest.mark.parametrize("background", [False, True], ids=["terminal", "background-job"])
def test_ctrl_c_leaves_a_valid_run_directory_and_a_report(
    tmp_path: Path, scenario_file: Path, slow_agent: Any, voxsim_load: Any, background: bool
) -> None:
    """Also when started as a script's background job, which inherits SIGINT ignored."""
    agent = slow_agent()
    out = tmp_path / "run"
    flags = ["--profile", "soak", "--concurrency", "2", "--soak-s", "600", "--window-s", "3"]
    flags += ["--settle-s", "1", "--agent", agent["url"]]
    proc = voxsim_load(scenario_file, out, *flags, background=background)
    deadline = time.monotonic() + 90
    while not list(out.glob("workers/*/calls.jsonl")) or not read(
        next(out.glob("workers/*/calls.jsonl"))
    ):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal signals the whole group
    code, log = finish(proc, 90)
    assert code == 3, log
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "interrupted" and run["exit_code"] == 3
    assert read(out / "turns.jsonl") and read(out / "calls.jsonl")  # merged from the worker
    again = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "report", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"


def test_a_remote_agent_or_a_bad_flag_is_one_line_and_exit_2(
    tmp_path: Path, scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        (["--profile", "ramp", "--levels", "1", "--agent", "ws://192.0.2.1:9/ws"], "remote"),
        (["--profile", "stress"], "--capacity"),
        (["--profile", "ramp", "--levels", "100000"], "--levels"),
        (["--profile", "soak", "--concurrency", "2", "--soak-s", "0"], "--soak-s"),
        (["--profile", "soak", "--concurrency", "0"], "--concurrency"),
        (["--profile", "stress", "--capacity", "0"], "--capacity"),
        (["--profile", "soak", "--concurrency", "501"], "--concurrency"),
        (["--profile", "breakpoint", "--cooldown-s", "-1"], "--cooldown-s"),
    ]
    for flags, hint in cases:
        with pytest.raises(SystemExit) as stop:
            main(["load", str(scenario_file), *flags, "--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert stop.value.code == 2, err
        assert hint in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_the_bundled_load_scenario_sets_the_p95_the_breakpoint_is_judged_by() -> None:
    from simulator.matrix import expand
    from simulator.scenario import load_scenario

    scenario = load_scenario("scenarios/load.yaml")
    assert scenario.slo.latency_p95_ms == 800
    assert scenario.agent.kind == "pipeline"
    assert len(expand(scenario, "scenarios/load.yaml")) == 2  # two voices, cycled by callers

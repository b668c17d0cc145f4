"""`voxsim load` end to end against a test agent whose latency is known in advance.

The agent (slow_agent.py) answers after 200 ms of caller silence plus
k ms x (calls connected above N) plus a drift over time; every figure below
is checked against those injected numbers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

FAST = ["--step-s", "4", "--settle-s", "2", "--pause-s", "0.3"]


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def test_breakpoint_search_finds_the_concurrency_where_latency_jumps(
    tmp_path: Path, scenario_file: Path, slow_agent: Any, voxsim_load: Any
) -> None:
    agent = slow_agent(k_ms=500, above=2)  # +500 ms per call above 2; the SLO is P95 500 ms
    out = tmp_path / "run"
    flags = ["--profile", "breakpoint", "--agent", agent["url"], "--capacity", "4"]
    flags += ["--start", "2", "--max", "8"]
    code, log = finish(voxsim_load(scenario_file, out, *flags, *FAST))
    assert code == 1, log  # it breaks at 3, below the stated capacity of 4
    load = json.loads((out / "run.json").read_text())["load"]
    assert (load["last_passing"], load["breakpoint"]) == (2, 3), log
    rows = {r["concurrency"]: r for r in read(out / "load.jsonl")}
    assert list(rows) == [2, 4, 3]  # 2, 4 (breaks), bisect to 3
    base = rows[2]["latency_p50_ms"]  # 200 ms endpointing + frame timing, no extra delay
    print({c: (r["n"], r["latency_p50_ms"], r["latency_p95_ms"]) for c, r in rows.items()})
    assert rows[2]["latency_p95_ms"] - base < 30
    assert abs(rows[3]["latency_p95_ms"] - base - 500) < 30
    assert abs(rows[4]["latency_p95_ms"] - base - 1000) < 30
    assert [c for c, r in rows.items() if r["breakpoint"]] == [3]
    assert 'id="load"' in (out / "report.html").read_text()


def test_two_workers_ramp_rows_match_the_calls_they_made(
    tmp_path: Path, scenario_file: Path, slow_agent: Any, voxsim_load: Any
) -> None:
    agent = slow_agent()
    out = tmp_path / "run"
    flags = ["--profile", "ramp", "--levels", "2", "4", "--workers", "2", "--agent", agent["url"]]
    code, log = finish(voxsim_load(scenario_file, out, *flags, *FAST))
    assert code == 0, log
    turns, calls = read(out / "turns.jsonl"), read(out / "calls.jsonl")
    assert {t["load_worker"] for t in turns} == {"w1", "w2"}
    assert {c["load_worker"] for c in calls} == {"w1", "w2"}
    assert len({c["call_id"] for c in calls}) == len(calls)
    for w in ("w1", "w2"):
        assert read(out / "workers" / w / "turns.jsonl")
    rows = read(out / "load.jsonl")
    assert [r["concurrency"] for r in rows] == [2, 4]
    for row in rows:
        a, b = row["window"]
        said = [
            float(t["latency_ms"])
            for t in turns
            if t["kind"] == "say" and t["latency_ms"] is not None and a <= t["load_at"] < b
        ]
        ended = [c for c in calls if a <= c["load_at"] < b]
        assert row["n"] == len(said) > 0
        assert row["latency_p95_ms"] == round(float(np.percentile(said, 95)), 1)
        assert row["calls"] == len(ended) and row["workers"] == 2
    assert (out / "locust_stats.csv").exists()


def test_soak_flags_a_drifting_leaking_agent_and_passes_a_flat_one(
    tmp_path: Path, scenario_file: Path, slow_agent: Any, voxsim_load: Any
) -> None:
    flat = slow_agent()
    leaky = slow_agent(drift_ms_per_s=25, leak_mb=8)
    soak = ["--profile", "soak", "--concurrency", "2", "--soak-s", "12", "--window-s", "4"]
    soak += ["--settle-s", "1", "--pause-s", "0.3", "--max-rss-growth-mb", "20"]
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


def test_ctrl_c_leaves_a_valid_run_directory_and_a_report(
    tmp_path: Path, scenario_file: Path, slow_agent: Any, voxsim_load: Any
) -> None:
    agent = slow_agent()
    out = tmp_path / "run"
    flags = ["--profile", "soak", "--concurrency", "2", "--soak-s", "600", "--window-s", "3"]
    proc = voxsim_load(scenario_file, out, *flags, "--settle-s", "1", "--agent", agent["url"])
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
    tmp_path: Path, scenario_file: Path
) -> None:
    base = [sys.executable, "-m", "simulator.cli", "load", str(scenario_file)]
    cases = [
        (
            ["--profile", "ramp", "--levels", "1", "--agent", "ws://192.0.2.1:9/ws"],
            "--allow-remote",
        ),
        (["--profile", "stress"], "--capacity"),
        (["--profile", "ramp", "--levels", "100000"], "--levels"),
    ]
    for flags, hint in cases:
        r = subprocess.run(
            [*base, *flags, "--out", str(tmp_path / "x")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 2, r.stderr
        assert hint in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()

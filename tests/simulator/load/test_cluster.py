"""What master and workers agree on (cluster.py), and the conductor's worker bookkeeping."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from simulator.errors import UsageError
from simulator.load.cluster import (
    ClockOffsets,
    ThreadLoad,
    parse_master,
    refusal,
    voxsim_version,
)
from simulator.load.conductor import Conductor
from simulator.load.config import LoadConfig
from simulator.load.steps import BUSY_SATURATED, Limits, aggregate


def test_master_addresses_parse_or_are_refused_in_one_line() -> None:
    assert parse_master("10.0.0.5") == ("10.0.0.5", 5557)
    assert parse_master("loadgen.local:6000") == ("loadgen.local", 6000)
    assert parse_master("[fd00::1]:6000") == ("fd00::1", 6000)
    for bad in ("", "h:0", "h:99999", "h:x", "a b:1", "[fd00::1]x"):
        with pytest.raises(UsageError) as err:
            parse_master(bad)
        assert "\n" not in err.value.one_line() and "--master" in err.value.one_line()


def test_a_worker_of_another_version_scenario_or_a_taken_name_is_refused() -> None:
    ok = {"worker": "w9", "version": voxsim_version()}
    assert refusal(ok, "abc", {"w1"}) is None
    assert refusal({**ok, "scenario_sha": "abc"}, "abc", set()) is None
    assert "voxsim 0.0.1" in str(refusal({**ok, "version": "0.0.1"}, "abc", set()))
    assert "differs" in str(refusal({**ok, "scenario_sha": "xyz"}, "abc", set()))
    assert "already" in str(refusal(ok, "abc", {"w9"}))


def test_clock_offsets_take_the_least_delayed_sample() -> None:
    clocks = ClockOffsets(window=3)
    # The worker's clock is 3600 s ahead; transit delays 5, 1, 30 ms.
    assert clocks.update("w", 5000.0, 1400.005) == pytest.approx(-3599.995)
    assert clocks.update("w", 5001.0, 1401.001) == pytest.approx(-3599.999)
    assert clocks.update("w", 5002.0, 1402.030) == pytest.approx(-3599.999)
    clocks.update("w", 5003.0, 1403.002)
    clocks.update("w", 5004.0, 1404.002)  # the 1 ms sample has left the window
    assert clocks.get("w") == pytest.approx(-3599.998)
    assert clocks.get("other") == 0.0


def test_thread_load_sees_a_busy_thread() -> None:
    import os

    load = ThreadLoad(os.getpid(), threading.get_native_id())
    assert load.sample() is None  # the first sample is the reference
    # Spin until the thread has had 0.3 s of CPU, however long that takes on a busy box:
    # the kernel adds a wait to schedstat only when it ends, so the wait still running at
    # the sample (tens of ms on a loaded box) must be small beside the window.
    end = time.thread_time() + 0.3
    while time.thread_time() < end:
        pass
    got = load.sample()
    # Always runnable: on a CPU or waiting for one, however busy the machine is.
    assert got is not None and got["busy"] >= 0.9 and 0 < got["cpu"] <= got["busy"]


def test_a_step_records_each_workers_loop_and_flags_a_saturated_one() -> None:
    cpu = [
        {"kind": "cpu", "worker": "a", "at": 1.0, "loop_cpu": 0.30, "loop_busy": 0.35},
        {"kind": "cpu", "worker": "a", "at": 2.0, "loop_cpu": 0.50, "loop_busy": 0.55},
        {"kind": "cpu", "worker": "b", "at": 1.5, "loop_cpu": 0.40, "loop_busy": 0.95},
    ]
    turn = {"kind": "turn", "type": "say", "latency_ms": 100.0, "worker": "a", "at": 1.0}
    row = aggregate([turn, *cpu], Limits(500.0, 0.01))
    assert row["generator_cpu"] == {"a": 0.4, "b": 0.4}
    assert row["generator_busy"] == {"a": 0.45, "b": 0.95}
    assert row["generator_busy_max"] == 0.95 > BUSY_SATURATED
    assert row["generator_cpu_saturated"] and row["workers"] == 2
    quiet = aggregate([turn, *cpu[:2]], Limits(500.0, 0.01))
    assert not quiet["generator_cpu_saturated"]


def make(tmp_path: Path, expected: int = 1, **kw: object) -> Conductor:
    kw.setdefault("min_turns", 1)
    kw.setdefault("stagger_s", 0.0)  # new callers at once: these tests are about workers
    cfg = LoadConfig(scenario="s.yaml", out_dir=str(tmp_path), **kw)  # type: ignore[arg-type]
    return Conductor(cfg, Limits(500.0, 0.01), expected_workers=expected)


def test_a_late_worker_is_admitted_when_the_next_step_begins(tmp_path: Path) -> None:
    c = make(tmp_path, profile="ramp", levels=[2, 4], step_s=4, settle_s=0)
    c.worker_ready("w1")
    assert c.tick(0.0) == (2, 2.0) and c.admitted == {"w1"} and c.redispatch
    c.redispatch = False
    c.worker_ready("w2")  # joins during the first step
    c.add_events([{"kind": "turn", "type": "say", "latency_ms": 90.0, "worker": "w1", "at": 1.0}])
    assert c.tick(2.0) == (2, 2.0) and c.admitted == {"w1"} and not c.redispatch
    assert c.tick(5.0) == (4, 4.0)  # window [0, 4) closed after its grace: next step
    assert c.admitted == {"w1", "w2"} and c.redispatch


def test_a_lost_worker_fails_its_calls_in_flight_the_step_names_it_and_counts_them_apart(
    tmp_path: Path,
) -> None:
    c = make(tmp_path, expected=2, profile="soak", concurrency=4, soak_s=8, window_s=4)
    c.cfg.settle_s = 0
    for w in ("w1", "w2"):
        c.worker_ready(w)
    c.tick(0.0)
    c.add_events(
        [{"kind": "caller", "worker": w, "delta": 1, "at": 0.1} for w in ("w1", "w1", "w2", "w2")]
        + [{"kind": "start", "worker": "w2", "call_id": f"c{i}", "at": 0.2} for i in range(2)]
        + [{"kind": "turn", "type": "say", "latency_ms": 90.0, "worker": "w1", "at": 1.0}]
        + [{"kind": "call", "status": "ok", "worker": "w1", "call_id": "c9", "at": 1.5}]
    )
    rows = c.worker_lost("w2", 2.0)
    assert [r["call_id"] for r in rows] == ["c0", "c1"]
    assert all(r["status"] == "failed" and r["load_worker"] == "w2" for r in rows)
    assert not c.in_flight and c.callers == 2 and c.redispatch and c.status == "running"
    c.tick(5.0)
    (row,) = [json.loads(x) for x in (tmp_path / "load.jsonl").read_text().splitlines()]
    assert row["workers_lost"] == ["w2"] and row["lost_calls"] == 2
    # The generator lost them, not the agent: its error rate is over the calls it served.
    assert (row["calls"], row["failed_calls"], row["error_rate"]) == (1, 0, 0.0)
    c.worker_lost("w1", 6.0)
    assert c.status == "failed" and "every worker" in c.reason


def test_bad_cluster_flags_are_one_line_and_exit_2(
    tmp_path: Path, scenario_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from simulator.cli import main

    soak = ["--profile", "soak", "--concurrency", "1"]
    remote = ["--agent", "ws://192.0.2.7:9/ws", "--allow-remote"]
    cases = [
        ([*soak, "--expect-workers", "99"], "--expect-workers"),
        ([*soak, "--master-port", "70000"], "--master-port"),
        ([*soak, "--master-bind", "0.0.0.0", "--expect-workers", "1"], "loopback"),
        ([*soak, *remote, "--master-bind", "192.0.2.1", "--expect-workers", "1"], "listen"),
        (["--master", "h:0"], "--master"),
        (["--master", "h", str(tmp_path / "missing.yaml")], "missing.yaml"),
    ]
    for flags, hint in cases:
        command = ["load-worker"] if "--master" in flags else ["load", str(scenario_file)]
        with pytest.raises(SystemExit) as stop:
            main([*command, *flags, "--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert stop.value.code == 2, err
        assert hint in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()

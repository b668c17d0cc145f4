"""`voxsim load --chaos`: the flag, and what a run directory says about a killed instance."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from reports.html import write_report
from simulator.cli import main
from simulator.errors import UsageError
from simulator.load import chaos
from simulator.transports.reconnect import link_fields, reconnecting
from simulator.transports.websocket import WebSocketTransport

ROOT = Path(__file__).resolve().parents[3]


def test_chaos_specs_parse_in_time_order_and_bad_ones_are_usage_errors() -> None:
    events = chaos.parse(["restart-instance@40", "kill-instance:a2@12.5"], max_s=60)
    assert events == [
        chaos.ChaosEvent("kill", "a2", 12.5),
        chaos.ChaosEvent("restart", None, 40.0),
    ]
    for bad in ("kill@3", "kill-instance", "kill-instance@-1", "kill-instance@x", "nuke@1"):
        with pytest.raises(UsageError, match="--chaos"):
            chaos.parse([bad])
    with pytest.raises(UsageError, match="after the run's end"):
        chaos.parse(["kill-instance@90"], max_s=60)
    assert chaos.control_url("ws://127.0.0.1:8790/ws") == "http://127.0.0.1:8790/fleet"
    assert chaos.control_url("wss://h:1/x") == "https://h:1/fleet"


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(["load", *args])
    return int(done.value.code or 0), capsys.readouterr().err


def test_bad_chaos_flags_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = [str(ROOT / "scenarios/fleet_chaos.yaml"), "--profile", "soak", "--concurrency", "2"]
    code, err = _cli(capsys, *base, "--chaos", "explode@3", "--out", str(tmp_path / "a"))
    assert code == 2 and "--chaos" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    code, err = _cli(capsys, *base, "--chaos-window-s", "0", "--out", str(tmp_path / "b"))
    assert code == 2 and "--chaos-window-s" in err
    # An agent without a fleet's control API: nothing to kill.
    agent = ["--agent", "ws://127.0.0.1:9/ws", "--chaos", "kill-instance@5"]
    code, err = _cli(capsys, *base, *agent, "--out", str(tmp_path / "c"))
    assert code == 2 and "is not an agent fleet" in err, err
    assert len(err.strip().splitlines()) == 1


def _call(cid: str, start: float, end: float, status: str = "ok", **kw: Any) -> dict[str, Any]:
    return {"call_id": cid, "status": status, "load_at": end, "duration_s": end - start, **kw}


def _turns(cid: str, times: list[float], latency: float) -> list[dict[str, Any]]:
    return [
        {"call_id": cid, "turn": i, "kind": "say", "load_at": t, "latency_ms": latency}
        for i, t in enumerate(times)
    ]


def test_analysis_counts_lost_reconnected_resumed_calls_recovery_and_rows(tmp_path: Path) -> None:
    kill_at = 1000.0
    action = {"action": "kill", "instance": "a1", "at": kill_at, "t_s": 20.0, "live_calls": 2}
    restart = {"action": "restart", "instance": "a1", "at": 1040.0, "ready_at": 1042.5}
    (tmp_path / chaos.CHAOS_JSONL).write_text(json.dumps(action) + "\n" + json.dumps(restart))
    calls = [
        # On the killed instance: one lost, one reconnected and resumed on a2.
        _call("lost", 980, 1000.1, "failed", agent_instances=["a1"], n_turns=3),
        _call(
            "moved", 981, 1030, agent_instances=["a1", "a2"], reconnects=1, resumed=True, n_turns=27
        ),
        # On the other instance: goes on.
        _call("other", 982, 1031, agent_instances=["a2"], n_turns=27),
        # Before the kill: not live at it.
        _call("early", 960, 990, agent_instances=["a1"], n_turns=7),
    ]
    turns = (
        _turns("early", [962, 966, 970, 974, 978, 982, 986], 300.0)
        + _turns("lost", [991, 994, 997], 300.0)  # the P95 before: [990, 1000)
        # slow while one instance serves everything, fast again from 1010 s
        + _turns("moved", [1001.5 + k for k in range(26)], 0.0)
        + _turns("other", [1001.0 + k for k in range(27)], 0.0)
        + _turns("cut", [1029], 300.0)  # a call the end of the run cut short
    )
    for t in turns:
        if t["call_id"] in ("moved", "other"):
            t["latency_ms"] = 900.0 if t["load_at"] < 1010 else 310.0
    turns.append({"call_id": "moved", "turn": 26, "kind": "say", "load_at": 1028.0})  # no reply

    out = chaos.analyse(tmp_path, calls, turns, window_s=5.0)
    (kill,) = out["kills"]
    assert kill["instance"] == "a1" and kill["calls_live"] == 3 and kill["on_killed"] == 2
    assert (kill["calls_lost"], kill["lost_on_killed"], kill["lost_elsewhere"]) == (1, 1, 0)
    assert kill["reconnected"] == 1 and kill["resumed"] == 1 and kill["turns_after"] == 26
    assert kill["p95_before_ms"] == 300.0 and kill["p95_worst_ms"] == 900.0
    # The first 5 s window entirely at 310 ms starts at 1010 s (windows step by 0.5 s).
    assert kill["p95_recovery_s"] == 10.0
    assert out["restarts"] == [{"instance": "a1", "t_s": None, "ready_after_s": 2.5}]
    acc = out["accounting"]
    assert acc["complete"] and acc["calls_cut_at_end"] == 1
    assert acc["turn_rows"] == acc["turn_rows_expected"] == 64
    lines = chaos.summary_lines(out)
    assert "1 lost (0 elsewhere)" in lines[0] and "recovered after 10.0 s" in lines[0]
    # The report shows the same figures: a run.json holding the analysis renders them.
    (tmp_path / "run.json").write_text(json.dumps({"run_id": "c", "load": {"chaos": out}}))
    page = write_report(tmp_path).read_text()
    section = page[page.index('<h2 id="chaos">') :]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", section)
    assert cells[:11] == ["kill", "a1", "20.0", "3", "2", "1", "0", "1", "1", "26", "300.0"]
    assert cells[11:13] == ["900.0", "10.0"] and cells[13:16] == ["a1", "—", "2.5"]
    assert "nothing lost" in section and "64 of 64 turn rows" in section


def test_a_call_row_with_a_missing_turn_row_is_reported(tmp_path: Path) -> None:
    calls = [{"call_id": "c", "status": "ok", "n_turns": 3, "load_at": 5.0, "duration_s": 5.0}]
    turns = [{"call_id": "c", "turn": 0}, {"call_id": "c", "turn": 1}]
    acc = chaos.analyse(tmp_path, calls, turns)["accounting"]
    assert not acc["complete"] and acc["calls_missing_turn_rows"] == ["c"]


def test_a_call_cancelled_by_the_end_of_the_run_is_cut_not_lost(tmp_path: Path) -> None:
    calls = [
        {"call_id": "c", "status": "ok", "n_turns": 1, "load_at": 5.0, "duration_s": 5.0},
        {"call_id": "x", "status": "cancelled", "error": "the load run ended mid-call"},
    ]
    turns = [{"call_id": "c", "turn": 0}, {"call_id": "x", "turn": 0}]
    acc = chaos.analyse(tmp_path, calls, turns)["accounting"]
    assert acc["complete"] and acc["calls_cut_at_end"] == 1 and acc["calls"] == 1


def test_reconnect_is_off_by_default_and_call_rows_summarise_the_line() -> None:
    from simulator.scenario import Reconnect

    ws = WebSocketTransport("ws://127.0.0.1:9/ws")
    assert reconnecting(ws, None) is ws
    assert reconnecting(ws, Reconnect(attempts=0)) is ws
    assert reconnecting(ws, Reconnect(attempts=2)) is not ws
    assert link_fields([{"type": "transcript"}]) == {}
    events = [
        {"type": "session", "instance": "a1", "resumed": False},
        {"type": "link_dropped", "_at_s": 7.5},
        {"type": "reconnected", "down_ms": 420.0},
        {"type": "session", "instance": "a2", "resumed": True},
    ]
    assert link_fields(events) == {
        "link_drops": 1,
        "reconnects": 1,
        "reconnect_down_ms": [420.0],
        "agent_instances": ["a1", "a2"],
        "resumed": True,
        "dropped_at_s": [7.5],
    }


def test_recovery_is_when_p95_came_back_for_good_not_a_lucky_window() -> None:
    def say(at: float, ms: float) -> dict[str, Any]:
        return {"kind": "say", "load_at": at, "latency_ms": ms}

    before = [say(100 + k, 500.0) for k in range(10)]  # steady: P95 500 ms
    # After the kill at 110: slow, back at 116-121, slow again at 122-125, back from 126.
    after = [say(110.2 + k, 1500.0) for k in range(6)]
    after += [say(116.2 + k, 500.0) for k in range(6)]
    after += [say(122.2 + k, 1500.0) for k in range(4)]
    after += [say(126.2 + k, 500.0) for k in range(12)]
    got = chaos.recovery(before + after, at=110.0, window_s=3.0, run_start=100.0)
    assert got["p95_before_ms"] == 500.0 and got["p95_worst_ms"] == 1500.0
    # [125.5, 128.5) is the first window after the last slow turn (125.2), windows
    # stepping 0.5 s; every one after it passes too.
    assert got["p95_recovery_s"] == 15.5
    # The next action ends the judging: back at 116 and still back when it came.
    cut = chaos.recovery(before + after, at=110.0, window_s=3.0, run_start=100.0, until=121.5)
    assert cut["p95_recovery_s"] == 5.5

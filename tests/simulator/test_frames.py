"""`simulator.load_run(DIR)`: a run directory as typed pandas DataFrames."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import simulator

CALLS = [
    {
        "call_id": "s-000",
        "scenario": "s",
        "seed": 1,
        "status": "ok",
        "error": None,
        "started_at": "2026-11-27T17:00:00+00:00",
        "duration_s": 12.5,
        "task": None,
        "verdict": {"passed": True, "failed": []},
    },
    {
        "call_id": "s-001",
        "scenario": "s",
        "seed": 2,
        "status": "error",
        "error": "connection refused",
        "started_at": "2026-11-27T17:00:20+00:00",
        "duration_s": 0.4,
        "task": {"success": False, "checks": 2},
        "verdict": {"passed": False, "failed": ["task"]},
    },
]
TURNS = [
    {
        "call_id": "s-000",
        "turn": 0,
        "kind": "say",
        "latency_ms": 612.0,
        "agent_overlap": False,
        "stages": {"stt_ms": 40.5, "tts_ms": 20.0},
        "pauses_s": [0.4],
    },
    {
        "call_id": "s-000",
        "turn": 1,
        "kind": "say",
        "latency_ms": None,
        "agent_overlap": None,
        "stages": {},
        "pauses_s": [],
    },
    {
        "call_id": "s-000",
        "turn": 2,
        "kind": "say",
        "latency_ms": 820,
        "agent_overlap": True,
        "stages": {"stt_ms": 38.0},
        "pauses_s": [],
    },
]


def _write(folder: Path, name: str, rows: list[dict], tail: str = "") -> None:
    text = "".join(json.dumps(r) + "\n" for r in rows) + tail
    (folder / name).write_text(text)


def test_tables_have_one_dtype_per_column_and_nested_stages_are_columns(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"status": "completed", "exit_code": 0}))
    _write(tmp_path, "calls.jsonl", CALLS)
    _write(tmp_path, "turns.jsonl", TURNS, tail='{"call_id": "s-000", "tur')  # killed mid-line
    _write(
        tmp_path, "spans.jsonl", [{"name": "stt", "start_ns": 10**9, "end_ns": 10**9 + 5 * 10**6}]
    )

    run = simulator.load_run(tmp_path)

    assert run.run["status"] == "completed"
    turns, calls = run.turns, run.calls
    assert len(turns) == 3  # the cut last line is skipped, as `voxsim report` skips it
    assert turns["latency_ms"].dtype == "float64"  # 612.0, missing, 820 (an int in JSON)
    assert turns["latency_ms"].tolist()[0] == 612.0 and pd.isna(turns["latency_ms"][1])
    assert turns["latency_ms"].quantile(0.5) == pytest.approx(716.0)
    assert turns["turn"].dtype == "Int64"
    assert turns["agent_overlap"].dtype == "boolean" and pd.isna(turns["agent_overlap"][1])
    assert turns["kind"].dtype == "string"
    assert turns["stages.stt_ms"].tolist()[0] == 40.5 and pd.isna(turns["stages.tts_ms"][2])
    assert turns["pauses_s"].tolist() == [[0.4], [], []]  # lists stay Python objects

    assert calls["seed"].dtype == "Int64" and calls["duration_s"].dtype == "float64"
    assert str(calls["started_at"].dtype).startswith("datetime64") and calls["started_at"].dt.tz
    assert calls["error"].dtype == "string" and pd.isna(calls["error"][0])
    assert "task" not in calls.columns  # null in one call, an object in the other
    assert calls["task.success"].dtype == "boolean" and calls["task.success"][1] == False  # noqa: E712
    assert calls["verdict.passed"].dtype == "boolean"

    assert run.spans["duration_ms"].tolist() == [5.0]
    assert run.load.empty  # no load.jsonl in a plain run


def test_a_path_that_is_not_a_run_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a voxsim run directory"):
        simulator.load_run(tmp_path)

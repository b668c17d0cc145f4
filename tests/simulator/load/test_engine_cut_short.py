"""A call the load run cuts short as it ends still gets its calls.jsonl row: every call
placed is recorded (issue 15; benchmarks/soak.py checks it over a whole soak)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

from simulator.load import engine as engine_mod
from simulator.load.config import LoadConfig
from simulator.load.engine import Engine
from simulator.scenario import parse_scenario


async def test_a_call_cancelled_at_the_end_of_the_run_gets_its_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()

    async def endless_call(*_: Any, **__: Any) -> dict[str, Any]:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    monkeypatch.setattr(engine_mod.one_call, "run_call", endless_call)
    cfg = LoadConfig(
        scenario="s.yaml",
        out_dir=str(tmp_path),
        profile="soak",
        concurrency=1,
        agent_url="ws://127.0.0.1:9/ws",
    )
    out = io.StringIO()
    engine = Engine(cfg, "local", out)
    scenario = parse_scenario("name: cut\nseed: 1\nturns:\n  - wait: true\n")
    engine.plans = [type("Plan", (), {"scenario": scenario, "call_id": "cut-000", "seed": 1})()]  # type: ignore[list-item]
    engine.rendered = [([], None)]  # type: ignore[list-item]
    task = asyncio.create_task(engine.place(0))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    kinds = [(e["kind"], e.get("status")) for e in events]
    assert kinds == [("start", None), ("call", "cancelled")], kinds
    assert events[1]["row"]["call_id"] == events[0]["call_id"]

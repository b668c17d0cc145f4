"""What a run leaves behind tells the truth (issue 15): run.json's status and exit code
whatever failed (item 15), no render left running after a failed run (item 17), and
turns.jsonl appended per call, never rewritten in full after each one (item 18)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web

import simulator.runner as runner_mod
from simulator.errors import AgentError, UsageError
from simulator.runner import run_files
from simulator.store import RunStore
from tests.simulator.transports.hostile import serve_app, url

SCENARIO = """
name: integrity
seed: 3
repeat: {repeat}
turns:
  - wait: true
"""

TONE = (8000 * np.sin(np.arange(8000) * 2 * np.pi * 300 / 16000)).astype("<i2")  # 0.5 s


def _scenario(tmp_path: Path, repeat: int = 1) -> str:
    path = tmp_path / "integrity.yaml"
    path.write_text(SCENARIO.format(repeat=repeat))
    return str(path)


def _run_json(out: Path) -> dict[str, Any]:
    return json.loads((out / "run.json").read_text())


@pytest.mark.parametrize(
    ("error", "code"),
    [(RuntimeError("boom in the harness"), 3), (UsageError("bad flag after start"), 2)],
)
async def test_run_json_tells_the_truth_when_the_harness_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, code: int
) -> None:
    async def broken(*_: Any, **__: Any) -> dict[str, Any]:
        raise error

    monkeypatch.setattr(runner_mod, "run_call", broken)
    out = tmp_path / "run"
    with pytest.raises(type(error)):
        await run_files([_scenario(tmp_path)], out, agent="ws://127.0.0.1:9/ws")
    run = _run_json(out)
    assert run["status"] == "failed" and run["exit_code"] == code, run
    assert str(error) in run["error"]


async def test_run_json_tells_the_truth_when_the_report_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fine(*_: Any, **__: Any) -> dict[str, Any]:
        raise AgentError("agent down")  # a failed call: exit 3 on its own

    def no_report(_: Path) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(runner_mod, "run_call", fine)
    monkeypatch.setattr(runner_mod, "write_report", no_report)
    out = tmp_path / "run"
    with pytest.raises(OSError):
        await run_files([_scenario(tmp_path)], out, agent="ws://127.0.0.1:9/ws")
    run = _run_json(out)
    assert run["status"] == "failed" and run["exit_code"] == 3, run
    assert "disk full" in run["error"]


async def test_a_failed_run_cancels_the_look_ahead_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []
    cancelled = asyncio.Event()

    async def render(*_: Any, **__: Any) -> Any:
        started.append(1)
        if len(started) == 1:
            return ([], None)
        try:
            await asyncio.Event().wait()  # the next call's render, still going
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def failing(*_: Any, **__: Any) -> dict[str, Any]:
        await asyncio.sleep(0)  # the look-ahead render has started
        raise AgentError("agent crashed")

    monkeypatch.setattr(runner_mod, "render_call_full", render)
    monkeypatch.setattr(runner_mod, "run_call", failing)
    outcome = await run_files(
        [_scenario(tmp_path, 3)], tmp_path / "run", agent="ws://127.0.0.1:9/ws"
    )
    assert outcome.exit_code == 3
    assert len(started) == 2
    await asyncio.wait_for(cancelled.wait(), 5)  # set already when the render was cancelled


async def _greeter(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.receive()  # start
    await ws.send_bytes(TONE.tobytes())
    async for _ in ws:
        pass
    return ws


async def test_turns_are_appended_per_call_not_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After each call its measured rows are in turns.jsonl; earlier calls' bytes and the
    file itself (inode) are untouched while the run goes on."""
    path = tmp_path / "run" / "turns.jsonl"
    inodes: list[int] = []
    contents: list[bytes] = []
    done: list[dict[str, Any]] = []
    real_run_call = runner_mod.run_call

    async def recording(*args: Any, **kwargs: Any) -> dict[str, Any]:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        measured = [t for c in done for t in c["turns"]]
        assert rows == json.loads(json.dumps(measured, default=str))  # final form, all there
        inodes.append(os.stat(path).st_ino)
        contents.append(path.read_bytes())
        call = await real_run_call(*args, **kwargs)
        done.append(call)
        return call

    monkeypatch.setattr(runner_mod, "run_call", recording)
    server, port = await serve_app(_greeter)
    try:
        outcome = await run_files(
            [_scenario(tmp_path, 3)], tmp_path / "run", agent=url("websocket", port)
        )
    finally:
        await server.cleanup()
    assert outcome.exit_code in (0, 1)
    assert len(done) == 3 and all(c["turns"] for c in done)
    assert len(set(inodes)) == 1, "turns.jsonl was replaced while the run went on"
    for before, after in zip(contents, contents[1:], strict=False):
        assert after.startswith(before)
    final = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["call_id"] for r in final] == [t["call_id"] for c in done for t in c["turns"]]


def test_settled_rows_replace_only_the_calls_own_rows(tmp_path: Path) -> None:
    """The store swaps a call's streamed rows for their measured form in place: earlier
    rows keep their bytes, and a reader after a crash finds every row written so far."""
    store = RunStore(tmp_path)
    mark = store.turns_mark()
    first = [{"call_id": "a", "turn": 0, "latency_ms": 1.0}]
    for row in first:
        store.add_turn(row)
    store.settle_turns(mark, [{**r, "wer_b": 0.5} for r in first])
    before = (tmp_path / "turns.jsonl").read_bytes()
    mark = store.turns_mark()
    store.add_turn({"call_id": "b", "turn": 0, "latency_ms": 2.0})
    store.add_turn({"call_id": "b", "turn": 1, "latency_ms": 3.0})
    # the harness dies here: nothing closed, nothing settled
    rows = [json.loads(line) for line in (tmp_path / "turns.jsonl").read_text().splitlines()]
    assert [(r["call_id"], r["turn"]) for r in rows] == [("a", 0), ("b", 0), ("b", 1)]
    assert rows[0]["wer_b"] == 0.5
    store.settle_turns(mark, [{"call_id": "b", "turn": 0, "x": 1}])  # shorter than streamed
    after = (tmp_path / "turns.jsonl").read_bytes()
    assert after.startswith(before)
    assert [json.loads(line) for line in after.decode().splitlines()][1:] == [
        {"call_id": "b", "turn": 0, "x": 1}
    ]
    assert store.live_turns == []
    store.add_turn({"call_id": "x", "turn": 0})  # no mark (a load run): nothing kept
    assert store.live_turns == []
    store.turns_mark()
    store.add_turn({"call_id": "c", "turn": 0})
    assert store.live_turns == [{"call_id": "c", "turn": 0}]
    store.close()

"""A fleet's agents open one sessions database at the same moment."""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from reference_agent.state.stores import SqliteArchive

PROCESSES = 4
ROUNDS = 10


def _open(path: Path, gate: Barrier, out: Queue[str]) -> None:
    gate.wait()
    try:
        SqliteArchive(path)
        out.put("")
    except Exception as exc:  # noqa: BLE001 - reported to the test
        out.put(repr(exc))


def test_instances_opening_one_new_archive_at_once_all_start(tmp_path: Path) -> None:
    """`voxsim agent serve --instances K` starts K agent processes on one sessions.db:
    turning a new database to WAL while another process does the same is
    SQLITE_BUSY at once (SQLite calls no busy handler there), which killed an
    instance at start (found by benchmarks/capacity_vs_measured.py)."""
    ctx = mp.get_context("fork")
    errors: list[str] = []
    for r in range(ROUNDS):
        gate, out = ctx.Barrier(PROCESSES), ctx.Queue()
        procs = [
            ctx.Process(target=_open, args=(tmp_path / f"r{r}" / "sessions.db", gate, out))
            for _ in range(PROCESSES)
        ]
        for p in procs:
            p.start()
        errors += [e for e in (out.get(timeout=60) for _ in procs) if e]
        for p in procs:
            p.join(timeout=60)
    assert errors == []

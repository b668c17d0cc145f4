"""Merge the workers' rows into the run directory's calls.jsonl and turns.jsonl.

Each call engine streams its rows to DIR/workers/WORKER/ as they are
measured; the merge (at the end, and on interruption) puts them where every
reader of a run directory looks, in the order they were measured, each row
keeping its `load_worker`. Reads are tolerant (reports/rundir.py), so a
worker killed mid-line loses that line only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

from reports.rundir import read_jsonl, write_atomic
from simulator.rows import CallRow, TurnRow


def worker_rows(run_dir: Path, table: str) -> list[dict[str, Any]]:
    """Every worker's rows of `table` (calls.jsonl, turns.jsonl), by measurement time."""
    rows: list[dict[str, Any]] = []
    for path in sorted((run_dir / "workers").glob(f"*/{table}")):
        rows.extend(read_jsonl(path))
    rows.sort(key=lambda r: float(r.get("load_at") or 0.0))
    return rows


def merge_rows(run_dir: Path) -> tuple[list[CallRow], list[TurnRow]]:
    """Write the merged calls.jsonl and turns.jsonl (atomically); return (calls, turns)."""
    calls = worker_rows(run_dir, "calls.jsonl")
    turns = worker_rows(run_dir, "turns.jsonl")
    for name, rows in (("calls.jsonl", calls), ("turns.jsonl", turns)):
        text = "".join(json.dumps(r, default=str) + "\n" for r in rows)
        write_atomic(run_dir / name, text.encode("utf-8"))
    # the workers' tables, written by the same run_call and session (simulator/rows.py)
    return cast("list[CallRow]", calls), cast("list[TurnRow]", turns)

"""Reading a load run's rows back, as the tests check them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

Row = dict[str, Any]


def read(path: Path) -> list[Row]:
    """A JSONL file's rows ([] when it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def recount(rows: list[Row], turns: list[Row], calls: list[Row], workers: int) -> None:
    """Every load.jsonl row equals what its window holds in turns.jsonl and calls.jsonl."""
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
        assert row["calls"] == len(ended) and row["workers"] == workers

"""Tolerant readers for a run directory (DESIGN.md, "The run directory").

A run that is killed part-way leaves a truncated last line in the JSONL
tables and possibly no final run.json fields; `voxsim report DIR` must still
work, so these readers skip what is broken instead of raising.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from simulator.metrics.stats import as_number
from simulator.rows import CallRow, LoadStepRow, SpanRow, TurnRow, check_schema_version

log = logging.getLogger(__name__)

RUN_JSON = "run.json"
CALLS_JSONL = "calls.jsonl"
TURNS_JSONL = "turns.jsonl"
SPANS_JSONL = "spans.jsonl"
LOAD_JSONL = "load.jsonl"


def read_run(run_dir: Path | str) -> dict[str, Any]:
    """Return run.json as a dict; {} when it is missing, unreadable or not an object."""
    path = Path(run_dir) / RUN_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable (%s); treating the run as incomplete", path, exc)
        return {}
    if not isinstance(data, dict):
        log.warning("%s: not a JSON object; treating the run as incomplete", path)
        return {}
    return data


def read_jsonl(path: Path | str) -> list[dict[str, Any]]:
    """Return the JSON objects of a JSONL file, one per line.

    A missing file gives []. A last line cut short by a killed writer is
    skipped silently; any other bad line is skipped with a warning, because a
    report of the rows that survive beats no report.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    lines = raw.split(b"\n")
    rows: list[dict[str, Any]] = []
    last = len(lines) - 1
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line.decode("utf-8", errors="replace"))
        except ValueError:
            if index != last:
                log.warning("%s:%d: invalid JSON line skipped", path, index + 1)
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            log.warning("%s:%d: not a JSON object, skipped", path, index + 1)
    return rows


@dataclass(frozen=True)
class RunData:
    """Everything a report needs from one run directory, read once."""

    run: dict[str, Any] = field(default_factory=dict)
    calls: list[CallRow] = field(default_factory=list)
    turns: list[TurnRow] = field(default_factory=list)
    #: optional tables: spans.jsonl (agent/harness spans), load.jsonl (load steps)
    spans: list[SpanRow] = field(default_factory=list)
    load_steps: list[LoadStepRow] = field(default_factory=list)
    #: baseline.json, when the run was compared with a baseline
    baseline: dict[str, Any] | None = None

    @classmethod
    def load(cls, run_dir: Path | str) -> RunData:
        """Read run.json, calls.jsonl and turns.jsonl from `run_dir`.

        Raises FileNotFoundError when `run_dir` holds none of them, so a typo
        in a path is reported instead of rendering an empty report, and
        `simulator.rows.RunDirectoryError` when run.json names a schema version
        this voxsim does not read (a run without one is read as it is).
        """
        base = Path(run_dir)
        if not any((base / name).is_file() for name in (RUN_JSON, CALLS_JSONL, TURNS_JSONL)):
            raise FileNotFoundError(
                f"{base}: not a voxsim run directory (no {RUN_JSON}, {CALLS_JSONL} "
                f"or {TURNS_JSONL})"
            )
        run = read_run(base)
        check_schema_version(run, base / RUN_JSON)
        return cls(
            run=run,
            calls=cast("list[CallRow]", read_jsonl(base / CALLS_JSONL)),
            turns=cast("list[TurnRow]", read_jsonl(base / TURNS_JSONL)),
            spans=cast("list[SpanRow]", read_jsonl(base / SPANS_JSONL)),
            load_steps=cast("list[LoadStepRow]", read_jsonl(base / LOAD_JSONL)),
            baseline=read_baseline(base),
        )


def load_run(run_dir: Path | str) -> RunData:
    """Shorthand for `RunData.load(run_dir)`."""
    return RunData.load(run_dir)


def write_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` via a temporary file and rename.

    A reader (a browser, a CI job collecting junit.xml) never sees half a file,
    and a crash mid-write leaves the previous version in place.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


BASELINE_JSON = "baseline.json"


def read_baseline(run_dir: Path | str) -> dict[str, Any] | None:
    """baseline.json (written by `voxsim compare` / `run --baseline`), or None if absent/bad."""
    try:
        data = json.loads((Path(run_dir) / BASELINE_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def scenario_limits(run: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Map scenario name -> {metric: limit} from run.json's scenarios."""
    limits: dict[str, dict[str, float]] = {}
    for scenario in run.get("scenarios") or []:
        if not isinstance(scenario, dict):
            continue
        slo = scenario.get("slo")
        slo = slo if isinstance(slo, dict) else {}
        limits[str(scenario.get("name"))] = {
            k: v for k, v in ((k, as_number(v)) for k, v in slo.items()) if v is not None
        }
    return limits

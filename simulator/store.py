"""The run directory (DESIGN.md contract): rows appended and flushed as measured.

A run stopped part-way leaves valid files: run.json is rewritten atomically,
and every JSONL row is flushed as soon as it exists.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from simulator.audio import Pcm, write_recording
from simulator.rows import SCHEMA_VERSION, TurnRow


def now_iso() -> str:
    """UTC timestamp, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in ("voxsim", "pocketsphinx", "espeakng-loader", "webrtcvad-wheels", "openai", "jiwer"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "hostname": platform.node(),
    }


class RunStore:
    """Writes one run directory."""

    def __init__(self, root: Path, audio_format: str = "wav") -> None:
        self.root = root
        self.audio_format = audio_format  # of the recordings: RECORDING_FORMATS
        root.mkdir(parents=True, exist_ok=True)
        (root / "audio").mkdir(exist_ok=True)
        self.run: dict[str, Any] = {}
        self._calls = open(root / "calls.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self._turns = open(root / "turns.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self._live: list[TurnRow] | None = None  # rows streamed since turns_mark()

    def start(self, run_id: str, scenarios: list[dict[str, Any]], agent: dict[str, Any]) -> None:
        """Write run.json with status `running`."""
        self.run = {
            "schema_version": SCHEMA_VERSION,
            "run_id": run_id,
            "status": "running",
            "started_at": now_iso(),
            "ended_at": None,
            "seed": scenarios[0].get("seed", 0) if scenarios else 0,
            "scenarios": scenarios,
            "agent": agent,
            "versions": _versions(),
            "machine": _machine(),
            "slo_results": [],
            "exit_code": None,
        }
        self.write_run()

    def write_run(self) -> None:
        """Atomically rewrite run.json from `self.run`."""
        tmp = self.root / "run.json.tmp"
        tmp.write_text(json.dumps(self.run, indent=2, default=str), encoding="utf-8")
        tmp.replace(self.root / "run.json")

    def finish(self, status: str, exit_code: int, **extra: Any) -> None:
        """Record the end of the run."""
        self.run.update(status=status, ended_at=now_iso(), exit_code=exit_code, **extra)
        self.write_run()

    def add_turn(self, row: TurnRow) -> None:
        """Append one measured turn and flush it to disk."""
        self._append(self._turns, row)
        if self._live is not None:
            self._live.append(row)

    def turns_mark(self) -> int:
        """Where the next call's rows start in turns.jsonl (its size now); the rows
        added from here on are kept as `live_turns` until `settle_turns`."""
        self._turns.flush()
        self._live = []
        return os.fstat(self._turns.fileno()).st_size

    @property
    def live_turns(self) -> list[TurnRow]:
        """Rows added since the last `turns_mark` and not settled yet (a call in progress)."""
        return list(self._live or [])

    def settle_turns(self, mark: int, rows: Sequence[TurnRow]) -> None:
        """Replace the rows written since `mark` (one call's, streamed as measured) with
        their final form, in place: one positioned write, then the file is cut to its
        new end. Rows before `mark` are not touched, so the cost is that call's rows,
        and a crash at any point leaves every row measured so far on disk."""
        data = "".join(json.dumps(r, default=str) + "\n" for r in rows).encode("utf-8")
        self._turns.flush()
        fd = os.open(self.root / "turns.jsonl", os.O_WRONLY)  # no O_APPEND: pwrite honours mark
        try:
            os.pwrite(fd, data, mark)
            os.ftruncate(fd, mark + len(data))
        finally:
            os.close(fd)
        self._live = None

    def add_call(self, row: Mapping[str, Any]) -> None:
        """Append one finished call and flush it to disk."""
        self._append(self._calls, row)

    def write_audio(self, call_id: str, caller: Pcm, agent: Pcm) -> str:
        """caller.wav, agent.wav and a stereo mix.wav (left caller, right agent); .flac
        files instead with `audio_format` flac."""
        folder = self.root / "audio" / call_id
        n = max(len(caller), len(agent))
        c = np.zeros(n, dtype=np.int16)
        a = np.zeros(n, dtype=np.int16)
        c[: len(caller)] = caller
        a[: len(agent)] = agent
        ext = self.audio_format
        write_recording(folder / f"caller.{ext}", c)
        write_recording(folder / f"agent.{ext}", a)
        write_recording(folder / f"mix.{ext}", np.column_stack([c, a]).reshape(-1), channels=2)
        return f"audio/{call_id}"

    @staticmethod
    def _append(fh: Any, row: Mapping[str, Any]) -> None:
        fh.write(json.dumps(row, default=str) + "\n")
        fh.flush()

    def rewrite_turns(self, rows: Sequence[TurnRow]) -> None:
        """Replace turns.jsonl with `rows` (atomically), once at the end of a run (the
        agents' spans joined to every turn); per call, `settle_turns`."""
        self._turns.close()
        tmp = self.root / "turns.jsonl.tmp"
        tmp.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows), encoding="utf-8")
        tmp.replace(self.root / "turns.jsonl")
        self._turns = open(self.root / "turns.jsonl", "a", encoding="utf-8")  # noqa: SIM115

    def close(self) -> None:
        """Close the JSONL files."""
        self._calls.close()
        self._turns.close()

"""`voxsim load` against an agent nobody answers at: it stops and says so (exit 3)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when we return: nothing listens


def test_an_unreachable_agent_ends_the_load_run_with_exit_3(
    tmp_path: Path, scenario_file: Path, voxsim_load: Any
) -> None:
    out = tmp_path / "run"
    url = f"ws://127.0.0.1:{_closed_port()}/ws"
    flags = ["--profile", "soak", "--concurrency", "2", "--soak-s", "600", "--pause-s", "0.2"]
    began = time.monotonic()
    proc = voxsim_load(scenario_file, out, *flags, "--agent", url)
    log, _ = proc.communicate(timeout=120)
    took = time.monotonic() - began
    print(f"took {took:.1f} s")
    assert proc.returncode == 3, log
    assert "in a row" in log and "cannot connect" in log, log
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "failed" and run["exit_code"] == 3
    assert took < 60, log

"""A load run that fails with anything but an agent error says so in run.json (issue 15):
status `failed`, its error and exit code, never `completed` or `interrupted`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator.load import run as run_mod
from simulator.load.config import LoadConfig

SCENARIO = "name: truth\nseed: 1\nturns:\n  - say: hello\nslo:\n  latency_p95_ms: 800\n"


async def test_a_harness_error_in_a_load_run_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("render worker died")

    monkeypatch.setattr(run_mod, "_prerender", broken)
    scenario = tmp_path / "truth.yaml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "run"
    cfg = LoadConfig(scenario=str(scenario), out_dir=str(out), profile="soak", concurrency=1)
    with pytest.raises(RuntimeError):
        await run_mod.run_load(cfg, agent="ws://127.0.0.1:9/ws")
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "failed" and run["exit_code"] == 3, run
    assert "render worker died" in run["error"]

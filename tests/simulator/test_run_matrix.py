"""`voxsim run` plays every call of a matrix, and `--only` replays one call by id."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from simulator.matrix import call_seed

REPO = Path(__file__).resolve().parents[2]

GRID = """\
name: grid
seed: 11
matrix:
  caller.noise.snr_db: [5, 20]
repeat: 2
caller:
  noise: {kind: pink}
  channel: {codec: mulaw}
turns:
  - say: Where is my order one two three four
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", "run", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=240,
    )


def _calls(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]


def test_a_matrix_runs_every_call_and_records_values_seeds_and_measured_snr(
    tmp_path: Path, pipeline_agent_url: str
) -> None:
    f = tmp_path / "grid.yaml"
    f.write_text(GRID)
    proc = _run(str(f), "--agent", pipeline_agent_url, "--out", str(tmp_path / "all"))
    assert proc.returncode in (0, 1), proc.stderr
    calls = _calls(tmp_path / "all")
    assert [c["call_id"] for c in calls] == [f"grid-00{i}" for i in range(4)]
    assert [c["matrix"] for c in calls] == [{"caller.noise.snr_db": v} for v in (5, 5, 20, 20)]
    assert [c["seed"] for c in calls] == [call_seed(11, i) for i in range(4)]
    for call in calls:
        target = call["matrix"]["caller.noise.snr_db"]  # type: ignore[index]
        assert abs(call["caller_notes"]["snr_db"] - target) <= 0.5  # type: ignore[index]

    proc = _run(
        str(f), "--agent", pipeline_agent_url, "--out", str(tmp_path / "one"), "--only", "grid-002"
    )
    assert proc.returncode in (0, 1), proc.stderr
    (only,) = _calls(tmp_path / "one")
    assert only["call_id"] == "grid-002" and only["seed"] == calls[2]["seed"]
    assert only["matrix"] == {"caller.noise.snr_db": 20}


def test_only_with_an_unknown_call_id_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "grid.yaml"
    f.write_text(GRID)
    proc = _run(str(f), "--only", "grid-999", "--out", str(tmp_path / "x"))
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "--only" in line and "grid-999" in line

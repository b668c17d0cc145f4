"""The `voxsim` command: one-line errors, exit codes 0/1/2/3, and the run directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def voxsim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=240,
    )


BAD_FILES = {
    "unknown_key": ("name: x\nturns:\n  - say: hi\n    volume: 3\n", ":4 turns[0].volume"),
    "wrong_type": ("name: x\nseed: lots\nturns:\n  - say: hi\n", ":2 seed"),
    "bad_yaml": ("name: x\nturns: [\n", ":3"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_scenario_exits_2_with_one_line_naming_the_line(tmp_path: Path, case: str) -> None:
    text, where = BAD_FILES[case]
    f = tmp_path / f"{case}.yaml"
    f.write_text(text)
    for command in (["validate", str(f)], ["run", str(f), "--out", str(tmp_path / "out")]):
        proc = voxsim(*command)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and f"{f}{where}" in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    proc = voxsim("validate", str(tmp_path / "absent.yaml"))
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"voxsim: {tmp_path / 'absent.yaml'}: file not found")


def test_bad_usage_exits_2() -> None:
    assert voxsim("run").returncode == 2
    assert voxsim("frobnicate").returncode == 2


def test_the_bundled_smoke_scenario_validates() -> None:
    proc = voxsim("validate", "scenarios/smoke.yaml")
    assert proc.returncode == 0, proc.stderr


def test_unreachable_agent_exits_3_and_still_writes_a_report(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = voxsim(
        "run", "scenarios/smoke.yaml", "--agent", "ws://127.0.0.1:9/ws", "--out", str(out)
    )
    assert proc.returncode == 3, proc.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["exit_code"] == 3
    assert (out / "report.html").exists() and (out / "junit.xml").exists()
    calls = [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]
    assert calls[0]["status"] == "failed" and "cannot connect" in calls[0]["error"]


def _scenario(tmp_path: Path, p95_limit: float) -> Path:
    f = tmp_path / f"slo{int(p95_limit)}.yaml"
    f.write_text(
        f"name: slo{int(p95_limit)}\nturns:\n  - wait: true\n"
        "  - say: Where is my order one two three four\n"
        f"slo:\n  latency_p95_ms: {p95_limit}\n  wer_max: 0.5\n"
    )
    return f


def test_run_writes_the_run_directory_and_exits_0_when_slos_hold(
    tmp_path: Path, pipeline_agent_url: str
) -> None:
    out = tmp_path / "run"
    proc = voxsim(
        "run", str(_scenario(tmp_path, 5000)), "--agent", pipeline_agent_url, "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith(f"report: {out / 'report.html'}")
    for name in (
        "run.json",
        "calls.jsonl",
        "turns.jsonl",
        "junit.xml",
        "report.html",
        "audio/slo5000-000/caller.wav",
        "audio/slo5000-000/agent.wav",
        "audio/slo5000-000/mix.wav",
    ):
        assert (out / name).exists(), name
    turns = [json.loads(line) for line in (out / "turns.jsonl").read_text().splitlines()]
    assert [t["kind"] for t in turns] == ["wait", "say"]
    assert turns[1]["latency_ms"] > 100 and turns[1]["agent_overlap"] is False
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "completed" and all(r["passed"] for r in run["slo_results"])


def test_run_exits_1_when_an_slo_is_missed(tmp_path: Path, pipeline_agent_url: str) -> None:
    out = tmp_path / "run"
    proc = voxsim(
        "run", str(_scenario(tmp_path, 1)), "--agent", pipeline_agent_url, "--out", str(out)
    )
    assert proc.returncode == 1, proc.stderr
    assert "FAIL slo1 latency_p95_ms" in proc.stdout
    junit = (out / "junit.xml").read_text()
    assert "<failure" in junit and "n=1" in junit

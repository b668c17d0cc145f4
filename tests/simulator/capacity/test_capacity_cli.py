"""`voxsim capacity` as a user runs it: files in, a table, capacity.json and load.jsonl out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator.cli import main

ROOT = Path(__file__).resolve().parents[3]

GOOD = """\
name: two-stage
seed: 3
traffic:
  callers: 4
  speak_ms: {dist: fixed, ms: 1000}
  listen_ms: {dist: fixed, ms: 2000}
stages:
  - name: endpoint
    service_ms: {dist: fixed, ms: 140}
  - name: llm
    servers: 1
    slots: 8
    service_ms: {dist: fixed, ms: 60}
slo:
  latency_p95_ms: 800
window: {warmup_s: 5, duration_s: 60}
"""


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_a_file_prints_its_latency_and_writes_capacity_json_and_load_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "cap.yaml"
    f.write_text(GOOD, encoding="utf-8")
    code, out, _ = run(["capacity", str(f), "--out", str(tmp_path / "o")], capsys)
    assert code == 0
    assert "200.0" in out  # 140 + 60 ms, no queue at 4 callers
    result = json.loads((tmp_path / "o" / "capacity.json").read_text(encoding="utf-8"))
    (level,) = result["levels"]
    assert level["latency_p95_ms"] == 200.0
    assert level["stages"]["llm"]["wait_ms"]["p95"] == 0.0
    (row,) = rows(tmp_path / "o" / "load.jsonl")
    assert row["concurrency"] == 4 and row["n"] == level["n"] > 50
    assert row["breakpoint"] is False and row["simulated"] is True
    turns = rows(tmp_path / "o" / "capacity_turns.jsonl")
    assert len(turns) == level["n"]
    for t in turns:
        assert t["latency_ms"] == pytest.approx(
            sum(t["wait_ms"].values()) + sum(t["service_ms"].values())
        )


def test_slo_missed_at_the_files_load_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "cap.yaml"
    f.write_text(GOOD.replace("latency_p95_ms: 800", "latency_p95_ms: 150"), encoding="utf-8")
    code, out, _ = run(["capacity", str(f)], capsys)
    assert code == 1
    assert "P95 200 ms > 150 ms" in out


@pytest.mark.parametrize(
    ("edit", "where", "what"),
    [
        (("slots: 8", "slots: 8\n    replicas: 2"), ":13 stages[1].replicas", "unknown field"),
        (("slots: 8", "slots: 0"), ":12 stages[1].slots", "ge 1"),
        (
            ("{dist: fixed, ms: 60}", "{dist: lognormal, median_ms: 60, p95_ms: 50}"),
            ":13 stages[1].service_ms.lognormal",
            "p95_ms must be above median_ms",
        ),
        (("{dist: fixed, ms: 60}", "{dist: gamma, ms: 60}"), ":13 stages[1].service_ms", "dist"),
        (("  callers: 4", "  callers: 4\n  calls_per_min: 10"), ":3 traffic", "exactly one"),
    ],
)
def test_bad_file_is_one_line_naming_file_line_and_field_and_exits_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: tuple[str, str],
    where: str,
    what: str,
) -> None:
    f = tmp_path / "cap.yaml"
    f.write_text(GOOD.replace(*edit), encoding="utf-8")
    code, out, err = run(["capacity", str(f)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{f}{where}" in err and what in err


def test_from_run_without_turns_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "cap.yaml"
    f.write_text(GOOD, encoding="utf-8")
    code, _, err = run(["capacity", str(f), "--from-run", str(tmp_path)], capsys)
    assert code == 2 and "no turns.jsonl" in err


def test_bundled_example_validates_and_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["capacity", str(ROOT / "scenarios" / "capacity.yaml")], capsys)
    assert code == 0
    assert "stt" in out and "network" in out


def test_breakpoint_rows_are_load_rows_the_report_draws(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reports.load import breakpoint_step, load_figure

    # 1 x 1 pool, 100 ms service, 900 ms of speaking and listening: the pool
    # keeps up with 10 callers and not with 11 (tests/.../test_queueing.py).
    text = (
        GOOD.replace("  callers: 4", "  callers: 1\n  ramp_s: 1.0")
        .replace("{dist: fixed, ms: 1000}", "{dist: fixed, ms: 400}")
        .replace("{dist: fixed, ms: 2000}", "{dist: fixed, ms: 500}")
        .replace("{dist: fixed, ms: 140}", "{dist: fixed, ms: 0}")
        .replace("slots: 8", "slots: 1")
        .replace("{dist: fixed, ms: 60}", "{dist: fixed, ms: 100}")
        .replace("latency_p95_ms: 800", "latency_p95_ms: 120")
        .replace("{warmup_s: 5, duration_s: 60}", "{warmup_s: 20, duration_s: 30}")
    )
    f = tmp_path / "cap.yaml"
    f.write_text(text, encoding="utf-8")
    code, out, _ = run(["capacity", str(f), "--breakpoint", "--out", str(tmp_path / "o")], capsys)
    assert code == 0
    assert "last passing: 10 callers, breakpoint: 11 callers" in out
    steps = rows(tmp_path / "o" / "load.jsonl")
    assert [r["concurrency"] for r in steps] == [1, 2, 4, 8, 16, 12, 10, 11]
    brk = breakpoint_step(steps, 120.0)
    assert brk is not None and brk["concurrency"] == 11
    assert load_figure(steps, 120.0) is not None

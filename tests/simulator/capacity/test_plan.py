"""`voxsim capacity plan`: the smallest deployment for N calls at a P95, compared side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.capacity.plan import plan

from .deployments import deployment, fixed
from .test_capacity_cli import run

# Each caller's cycle is 900 ms of speaking and listening plus 100 ms of
# service; callers spread evenly over one cycle. A 1-slot instance keeps up
# with 10 callers exactly (tests/.../test_queueing.py), so 35 callers need 4.
PLAN_FILE = """\
name: plan
seed: 1
traffic:
  callers: 1
  ramp_s: 1.0
  speak_ms: {dist: fixed, ms: 400}
  listen_ms: {dist: fixed, ms: 500}
stages:
  - name: llm
    servers: 1
    service_ms: {dist: fixed, ms: 100}
slo:
  latency_p95_ms: 800
window: {warmup_s: 20, duration_s: 30}
"""


def test_plan_finds_the_smallest_deployment_and_compares_the_choices() -> None:
    cfg = deployment(
        [{"name": "llm", "servers": 1, "service_ms": fixed(100)}],
        traffic={"callers": 1, "ramp_s": 1.0, "speak_ms": fixed(400), "listen_ms": fixed(500)},
        duration_s=30.0,
        warmup_s=20.0,
    )
    found = plan(cfg, calls=35, slo_p95_ms=120.0)
    assert found.met and found.deployment == {"llm": 4}
    # the load floor (35 x 100 / 1000 = 3.5 slots busy) starts at 4; 3 misses
    assert [(s["deployment"]["llm"], s["slo_passed"]) for s in found.steps] == [
        (4, True),
        (3, False),
    ]
    rows = {(r["balancer"], r["scaling"]): r for r in found.comparison}
    assert len(rows) == 8
    assert rows[("pooled", "fixed")]["latency_p95_ms"] == pytest.approx(100.0)
    assert rows[("pooled", "fixed")]["instances"] == 4


def test_plan_cli_writes_the_plan_and_its_time_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "plan.yaml"
    f.write_text(PLAN_FILE, encoding="utf-8")
    argv = ["capacity", "plan", str(f), "--calls", "35", "--slo-p95", "120"]
    code, out, _ = run([*argv, "--out", str(tmp_path / "o")], capsys)
    assert code == 0
    assert "smallest deployment for 35 calls at P95 <= 120 ms: llm: 4" in out
    assert "least-connections" in out and "autoscaled" in out
    result = json.loads((tmp_path / "o" / "capacity.json").read_text(encoding="utf-8"))
    assert result["kind"] == "plan" and result["deployment"] == {"llm": 4}
    assert len(result["comparison"]) == 8
    series = (tmp_path / "o" / "capacity_timeline.jsonl").read_text(encoding="utf-8")
    first = json.loads(series.splitlines()[0])
    assert first["instances"] == {"llm": 4} and first["latency_p95_ms"] == 100.0


def test_plan_that_no_instance_count_can_meet_exits_1_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "plan.yaml"
    f.write_text(PLAN_FILE, encoding="utf-8")
    code, out, _ = run(["capacity", "plan", str(f), "--calls", "5", "--slo-p95", "90"], capsys)
    assert code == 1
    assert "service times alone miss 90 ms" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["capacity", "plan", "F"],
        ["capacity", "plan", "F", "--calls", "0", "--slo-p95", "800"],
        ["capacity", "F", "G"],
    ],
)
def test_plan_usage_errors_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    f = tmp_path / "plan.yaml"
    f.write_text(PLAN_FILE, encoding="utf-8")
    code, out, err = run([str(f) if a == "F" else a for a in argv], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err


def test_capacity_directories_render_in_voxsim_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "plan.yaml"
    f.write_text(PLAN_FILE.replace("callers: 1", "callers: 8"), encoding="utf-8")
    argv = ["capacity", "plan", str(f), "--calls", "35", "--slo-p95", "120"]
    assert run([*argv, "--out", str(tmp_path / "plan")], capsys)[0] == 0
    assert run(["capacity", str(f), "--out", str(tmp_path / "level")], capsys)[0] == 0
    for name, expect in (("plan", "Balancers and autoscaling"), ("level", "Where the time went")):
        code, out, _ = run(["report", str(tmp_path / name)], capsys)
        assert code == 0 and out.strip().endswith("report.html")
        page = (tmp_path / name / "report.html").read_text(encoding="utf-8")
        assert expect in page and "Over time" in page
        # time series figures: latency, queue wait, instances, hang-ups
        assert page.count('data-plot="cap-') == 4
        assert "Instances serving per stage" in page and "Hang-ups" in page
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "capacity.json").write_text("{", encoding="utf-8")
    code, _, err = run(["report", str(tmp_path / "bad")], capsys)
    assert code == 2 and "unreadable" in err and err.count("\n") == 1


def test_bundled_fleet_example_validates() -> None:
    from simulator.capacity.config import load_capacity

    root = Path(__file__).resolve().parents[3]
    cfg = load_capacity(root / "scenarios" / "capacity_fleet.yaml")
    assert cfg.regions is not None and cfg.traffic.spike is not None
    assert {cfg.policy(s) for s in cfg.stages if s.servers or s.regions} == {
        "least-connections",
        "pooled",
    }

"""Baselines: a change is a regression only when significant AND larger than the tolerance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xmlschema

from simulator.api import run_scenario
from simulator.baseline import (
    Tolerance,
    bootstrap_percentile_diff,
    compare_dirs,
    compare_rows,
    two_proportion_diff,
)

REPO = Path(__file__).resolve().parents[2]


def _rows(latencies: list[float | None], scenario: str = "s") -> list[dict[str, Any]]:
    return [
        {"scenario": scenario, "kind": "say", "latency_ms": v, "error": None} for v in latencies
    ]


def _by_metric(changes: list[Any]) -> dict[str, Any]:
    return {c.metric: c for c in changes}


# ------------------------------------------------------------ statistics on known samples


def test_a_run_compared_with_itself_shows_no_regression() -> None:
    rows = _rows(list(np.random.default_rng(1).normal(400, 30, 40)))
    comparison = compare_rows(rows, rows, Tolerance())
    assert comparison.changes and not comparison.regressions
    for change in comparison.changes:
        assert change.delta == 0
        assert change.ci_low is not None and change.ci_high is not None
        assert change.ci_low <= 0 <= change.ci_high and not change.significant


def test_a_150_ms_shift_is_a_significant_regression_with_its_ci_around_150() -> None:
    base = list(np.random.default_rng(2).normal(400, 20, 30))
    shifted = [v + 150 for v in np.random.default_rng(3).normal(400, 20, 30)]
    changes = _by_metric(compare_rows(_rows(base), _rows(shifted), Tolerance()).changes)
    p50 = changes["latency_p50_ms"]
    assert p50.regression and p50.significant
    assert p50.ci_low is not None and p50.ci_high is not None
    assert 100 < p50.ci_low < 150 < p50.ci_high < 200
    assert changes["latency_p95_ms"].regression


def test_a_significant_change_within_the_tolerance_is_not_a_regression() -> None:
    base = [400.0 + (i % 5) for i in range(50)]
    slower = [v + 20 for v in base]  # tiny noise: +20 ms is clearly significant
    changes = _by_metric(compare_rows(_rows(base), _rows(slower), Tolerance(latency_ms=50)).changes)
    assert changes["latency_p50_ms"].significant and not changes["latency_p50_ms"].regression
    tight = compare_rows(_rows(base), _rows(slower), Tolerance(latency_ms=10)).changes
    assert _by_metric(tight)["latency_p50_ms"].regression


def test_a_large_but_noisy_change_on_few_turns_is_not_significant() -> None:
    base = [300.0, 900.0, 500.0]
    current = [450.0, 1000.0, 650.0]  # +150 ms at P50, but n=3 and spread 600 ms
    p50 = _by_metric(compare_rows(_rows(base), _rows(current), Tolerance()).changes)
    assert not p50["latency_p50_ms"].significant and not p50["latency_p50_ms"].regression


def test_too_few_turns_give_no_interval_and_no_regression() -> None:
    change = _by_metric(compare_rows(_rows([400.0]), _rows([900.0]), Tolerance()).changes)
    p50 = change["latency_p50_ms"]
    assert p50.delta == 500.0 and p50.ci_low is None and not p50.regression
    assert "too few turns" in p50.line()


def test_improvements_are_never_regressions() -> None:
    base = [500.0 + i for i in range(30)]
    faster = [v - 200 for v in base]
    comparison = compare_rows(_rows(base), _rows(faster), Tolerance())
    p50 = _by_metric(comparison.changes)["latency_p50_ms"]
    assert p50.significant and p50.delta == pytest.approx(-200) and not comparison.regressions


def test_bootstrap_is_seeded_so_the_same_runs_give_the_same_interval() -> None:
    a, b = [1.0, 5.0, 3.0, 8.0, 2.0], [4.0, 9.0, 7.0, 6.0, 5.0]
    assert bootstrap_percentile_diff(a, b, 95) == bootstrap_percentile_diff(a, b, 95)


def test_two_proportion_interval_matches_newcombe_reference_values() -> None:
    # Newcombe (1998), Table II example (e): 56/70 vs 48/80 -> difference 0.2,
    # method 10 interval 0.0524 to 0.3339 (here current - baseline, so signs flip order).
    delta, low, high = two_proportion_diff(48, 80, 56, 70)
    assert delta == pytest.approx(0.2)
    assert low == pytest.approx(0.0524, abs=5e-4) and high == pytest.approx(0.3339, abs=5e-4)


def test_no_reply_rate_rising_from_0_to_40_percent_is_flagged() -> None:
    base = _rows([400.0] * 30)
    current = _rows([400.0] * 18 + [None] * 12)
    rate = _by_metric(compare_rows(base, current, Tolerance()).changes)["no_reply_rate"]
    assert rate.method == "two-proportion" and rate.delta == pytest.approx(0.4)
    assert rate.regression


def test_one_extra_failure_in_30_turns_is_not_significant() -> None:
    base = _rows([400.0] * 30)
    current = _rows([400.0] * 29 + [None])
    rate = _by_metric(compare_rows(base, current, Tolerance()).changes)["no_reply_rate"]
    assert not rate.significant and not rate.regression


# ------------------------------------------------------------ real runs, real agent

SCENARIO = """name: base
seed: 5
agent:
  kind: pipeline
  faults:
    llm: {{latency_ms: {llm}}}
turns:
  - wait: true
  - say: "Where is my order one two three four"
  - say: "Where is my order five six seven eight"
  - say: "Where is my order one two three four"
  - say: "Where is my order five six seven eight"
"""


def _voxsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=240,
    )


def test_injected_llm_latency_is_flagged_and_self_compare_is_clean(
    tmp_path: Path, pipeline_agent_url: str
) -> None:
    """+400 ms via the scenario's agent.faults.llm.latency_ms is flagged; self-compare is not.

    The claim is detection: two separate runs of 4 turns each on a busy box differ by up
    to ~100 ms in their medians without any fault (the agent's compute slows in one run),
    so the injection is well above that and its size is checked roughly; that a delay
    comes back out to a few ms is checked paired, turn by turn (tests/delay_shift.py).
    """
    base_file, slow_file = tmp_path / "base.yaml", tmp_path / "slow.yaml"
    base_file.write_text(SCENARIO.format(llm=0))
    slow_file.write_text(SCENARIO.format(llm=400))
    base = run_scenario(
        base_file, agent=pipeline_agent_url, out=tmp_path / "base", audio_format="flac"
    )
    assert {p.suffix for p in (tmp_path / "base" / "audio").rglob("*.*")} == {".flac"}
    slow = run_scenario(
        slow_file, agent=pipeline_agent_url, out=tmp_path / "slow", baseline=tmp_path / "base"
    )
    assert len(base.latencies_ms) == len(slow.latencies_ms) == 4

    assert slow.comparison is not None
    p50 = _by_metric(slow.comparison.changes)["latency_p50_ms"]
    assert p50.regression, p50.line()
    assert p50.delta is not None and 250 < p50.delta < 550, p50.line()
    assert slow.exit_code == 1  # run --baseline: a regression is exit code 1
    assert slow.slo_results == []  # no SLO is set: the 1 comes from the regression alone
    assert any("regression vs baseline: base latency_p50_ms" in f for f in slow.failures())

    self_compare = compare_dirs(tmp_path / "base", tmp_path / "base")
    assert not self_compare.regressions

    # The CLI: exit 0 for the run against itself, 1 for the regression, 2 for a bad DIR.
    same = _voxsim("compare", str(tmp_path / "base"), "--baseline", str(tmp_path / "base"))
    assert same.returncode == 0, same.stderr
    assert "0 regression(s)" in same.stdout
    slower = _voxsim("compare", str(tmp_path / "slow"), "--baseline", str(tmp_path / "base"))
    assert slower.returncode == 1, slower.stderr
    assert "REGRESSION" in slower.stdout
    stored = json.loads((tmp_path / "slow" / "baseline.json").read_text())
    assert stored["regressions"] >= 1
    junit = tmp_path / "slow" / "junit.xml"
    assert "Regression" in junit.read_text()
    xmlschema.XMLSchema(REPO / "tests" / "reports" / "junit-10.xsd").validate(str(junit))
    assert 'id="baseline"' in (tmp_path / "slow" / "report.html").read_text()
    bad = _voxsim("compare", str(tmp_path / "slow"), "--baseline", str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "--baseline" in bad.stderr and "Traceback" not in bad.stderr


def test_run_with_a_missing_baseline_exits_2_before_any_call(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _voxsim(
        "run", "scenarios/smoke.yaml", "--baseline", str(tmp_path / "nowhere"), "--out", str(out)
    )
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"voxsim: --baseline {tmp_path / 'nowhere'}: not a voxsim run directory")
    assert not out.exists()


def test_compare_rejects_a_negative_tolerance(tmp_path: Path) -> None:
    proc = _voxsim("compare", str(tmp_path), "--baseline", str(tmp_path), "--tolerance-ms", "-1")
    assert proc.returncode == 2 and "tolerance out of range" in proc.stderr

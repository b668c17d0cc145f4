"""The pytest plugin: scenario files are test items; an SLO miss fails with value, n and limit."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

SCENARIO = """name: {name}
seed: 3
turns:
  - wait: true
  - say: "Where is my order one two three four"
slo:
  latency_p95_ms: {limit}
"""


def _write(tmp_path: Path) -> Path:
    suite = tmp_path / "scenarios"
    suite.mkdir()
    # Sorted collection order: the failing scenario first, so -x can be checked.
    (suite / "a_strict.yaml").write_text(SCENARIO.format(name="strict", limit=1))
    (suite / "b_relaxed.yaml").write_text(SCENARIO.format(name="relaxed", limit=5000))
    (suite / "not_a_scenario.yaml").write_text("colours: [red, green]\n")
    (suite / "test_own.py").write_text(
        "from pathlib import Path\n\n"
        "def test_shared_agent_fixture(voxsim_agent):\n"
        "    Path('fixture_url.txt').write_text(voxsim_agent)\n"
        "    assert voxsim_agent.startswith('ws://127.0.0.1:')\n"
    )
    return suite


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=240,
    )


def test_two_scenarios_one_slo_set_to_fail_report_1_passed_1_failed(tmp_path: Path) -> None:
    suite = _write(tmp_path)
    out = tmp_path / "out"
    proc = _pytest(tmp_path, str(suite), "--voxsim-out", str(out), "-rA")
    assert re.search(r"\b1 failed, 2 passed\b", proc.stdout), proc.stdout + proc.stderr
    assert proc.returncode == 1

    strict = json.loads((out / "strict" / "run.json").read_text())
    (result,) = strict["slo_results"]
    measured = f"{result['value']:.1f}".rstrip("0").rstrip(".")
    assert result["value"] > 1
    assert f"strict: latency_p95_ms = {measured} ms (n=1) exceeds limit 1 ms" in proc.stdout

    # The bundled agent was started once for the session: both runs and the
    # session fixture `voxsim_agent` used one URL.
    relaxed = json.loads((out / "relaxed" / "run.json").read_text())
    fixture_url = (tmp_path / "fixture_url.txt").read_text()
    assert strict["agent"]["url"] == relaxed["agent"]["url"] == fixture_url

    # --voxsim-baseline DIR compares each scenario with DIR/<scenario>
    again = _pytest(
        tmp_path,
        str(suite),
        "-k",
        "relaxed",
        "--voxsim-out",
        str(tmp_path / "out2"),
        "--voxsim-baseline",
        str(out),
    )
    assert re.search(r"\b1 passed\b", again.stdout), again.stdout + again.stderr
    compared = json.loads((tmp_path / "out2" / "relaxed" / "baseline.json").read_text())
    assert compared["baseline_dir"] == str(out / "relaxed")
    assert compared["regressions"] == 0  # one turn a side: no interval, never a regression
    assert relaxed["slo_results"][0]["passed"] is True


def test_x_stops_after_the_first_failing_scenario(tmp_path: Path) -> None:
    suite = _write(tmp_path)
    proc = _pytest(tmp_path, str(suite), "--voxsim-out", str(tmp_path / "out"), "-x")
    assert re.search(r"\b1 failed in\b", proc.stdout), proc.stdout + proc.stderr
    assert not (tmp_path / "out" / "relaxed").exists()


def test_k_selects_scenarios_by_name(tmp_path: Path) -> None:
    suite = _write(tmp_path)
    proc = _pytest(tmp_path, str(suite), "--collect-only", "-q", "-k", "relaxed")
    assert "b_relaxed.yaml::relaxed" in proc.stdout, proc.stdout
    assert "strict" not in proc.stdout.replace("deselected", "")
    assert "1/3 tests collected (2 deselected)" in proc.stdout


def test_an_invalid_scenario_is_a_collection_error_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\nturns:\n  - say: hi\n    volume: 3\n")
    proc = _pytest(tmp_path, str(tmp_path / "bad.yaml"))
    assert proc.returncode == 2
    assert "bad.yaml:4 turns[0].volume: unknown field" in proc.stdout, proc.stdout


def test_a_missing_baseline_fails_the_item_with_one_line(tmp_path: Path) -> None:
    suite = _write(tmp_path)
    missing = tmp_path / "nowhere"
    proc = _pytest(tmp_path, str(suite / "b_relaxed.yaml"), "--voxsim-baseline", str(missing), "-q")
    assert proc.returncode == 1
    assert f"--baseline {missing}: not a voxsim run directory" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stdout

"""junit.xml from a run directory: one testcase per scenario x SLO.

CI systems already know how to show JUnit, so an SLO miss shows up there as a
failed test whose message carries the value, its n and the limit. A metric
with no data is an error, not a pass: nothing was measured.

The file follows the JUnit structure CI systems read (the Jenkins
junit-10.xsd that pytest also checks itself against; tests/reports validate
against it): <properties> only at suite level, so each measured value is a
suite property named `SCENARIO.METRIC.value|n|limit` and is repeated in the
testcase's <system-out>. A baseline comparison (baseline.json) adds one
testcase per scenario x compared metric, failed when it is a regression.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from reports.rundir import RunData, read_baseline, write_atomic
from reports.stats import format_metric
from simulator.metrics.stats import as_number
from simulator.rows import CallRow

JUNIT_XML = "junit.xml"


def slo_message(result: Mapping[str, Any]) -> str:
    """One line for an SLO result, e.g. "latency_p95_ms = 912.3 ms (n=30) exceeds limit 800 ms"."""
    metric = str(result.get("metric", "?"))
    value = as_number(result.get("value"))
    limit = format_metric(metric, as_number(result.get("limit")))
    n = result.get("n", 0)
    if value is None:
        return f"{metric}: no data (n={n}), limit {limit}"
    verb = "is below" if metric.endswith("_min") else "exceeds"
    return f"{metric} = {format_metric(metric, value)} (n={n}) {verb} limit {limit}"


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _run_seconds(data: RunData) -> float:
    """Wall time of the run, else the sum of call durations, else 0."""
    start, end = _parse_time(data.run.get("started_at")), _parse_time(data.run.get("ended_at"))
    if start is not None and end is not None:
        try:
            return max(0.0, (end - start).total_seconds())
        except TypeError:  # one aware, one naive
            pass
    return sum(as_number(c.get("duration_s")) or 0.0 for c in data.calls)


def _secs(value: float) -> str:
    return f"{value:.3f}"


def _baseline_changes(comparison: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not comparison or not isinstance(comparison.get("changes"), list):
        return []
    return [c for c in comparison["changes"] if isinstance(c, dict)]


def baseline_message(change: dict[str, Any]) -> str:
    """One line for a baseline change: delta, 95 % CI, n and tolerance."""
    unit = change.get("unit")

    def fmt(v: Any, sign: bool = True) -> str:
        x = as_number(v)
        if x is None:
            return "—"
        if unit == "ms":
            return f"{x:+.1f} ms" if sign else f"{x:.1f} ms"
        return f"{x * 100:+.1f} pt" if sign else f"{x * 100:.1f} pt"

    return (
        f"{change.get('metric')} changed {fmt(change.get('delta'))} "
        f"(95% CI {fmt(change.get('ci_low'))} to {fmt(change.get('ci_high'))}, "
        f"n={change.get('n_current')} vs baseline n={change.get('n_baseline')}, "
        f"tolerance {fmt(change.get('tolerance'), sign=False)}, {change.get('method')})"
    )


def _baseline_case(suite: ET.Element, props: ET.Element, change: dict[str, Any]) -> int:
    """Add one baseline testcase; return 1 when it is a failure (a regression)."""
    scenario, metric = str(change.get("scenario")), str(change.get("metric"))
    case = ET.SubElement(
        suite, "testcase", classname=f"voxsim.baseline.{scenario}", name=metric, time="0.000"
    )
    for key in ("delta", "ci_low", "ci_high", "baseline", "current"):
        raw = change.get(key)
        value = "" if raw is None else str(raw)
        ET.SubElement(props, "property", name=f"baseline.{scenario}.{metric}.{key}", value=value)
    message = baseline_message(change)
    failed = bool(change.get("regression"))
    if failed:
        ET.SubElement(case, "failure", message=message, type="Regression").text = message
    ET.SubElement(case, "system-out").text = message
    return int(failed)


def _verdict_case(suite: ET.Element, props: ET.Element, call: CallRow) -> str | None:
    """A failed call's attribution as suite properties (`call.ID.cause|evidence`), and a
    testcase `voxsim.judge.SCENARIO` / CALL_ID for a judged call: failed with its cause
    and evidence, or an error when the judge could not decide. Returns the outcome
    ("pass", "failure", "error") when a testcase was added."""
    call_id = str(call.get("call_id"))
    attribution = call.get("attribution")
    if isinstance(attribution, dict):
        for key in ("cause", "evidence"):
            value = str(attribution.get(key, ""))
            ET.SubElement(props, "property", name=f"call.{call_id}.{key}", value=value)
    if not isinstance(call.get("judge"), dict):
        return None
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"voxsim.judge.{call.get('scenario')}",
        name=call_id,
        time=_secs(as_number(call.get("duration_s")) or 0.0),
    )
    passed = (call.get("verdict") or {}).get("passed")
    blame = (
        f"{attribution.get('cause')}: {attribution.get('evidence')}"
        if isinstance(attribution, dict)
        else ""
    )
    lines = [
        f"{'pass' if v.get('passed') else 'fail' if v.get('passed') is False else 'error'}: "
        f"{v.get('criterion')} -- {v.get('evidence') or v.get('error') or ''}"
        for v in call["judge"].get("criteria") or []
    ]
    outcome = "pass"
    if passed is None:
        message = f"judge error: {call['judge'].get('error')}"
        ET.SubElement(case, "error", message=message, type="JudgeError").text = message
        outcome = "error"
    elif passed is False:
        ET.SubElement(case, "failure", message=blame, type="CallFailed").text = blame
        outcome = "failure"
    ET.SubElement(case, "system-out").text = "\n".join(lines)  # after failure (junit-10.xsd)
    return outcome


def _slo_case(suite: ET.Element, props: ET.Element, result: dict[str, Any], secs: float) -> str:
    """One SLO check as a testcase, its value, n and limit also as suite properties.
    Returns the outcome: "pass", "failure" (missed) or "error" (no data)."""
    scenario = str(result.get("scenario", "unknown"))
    metric = str(result.get("metric", "unknown"))
    case = ET.SubElement(
        suite, "testcase", classname=f"voxsim.{scenario}", name=metric, time=_secs(secs)
    )
    measured = []
    for key in ("value", "n", "limit"):
        raw = result.get(key)
        text = "" if raw is None else str(raw)
        ET.SubElement(props, "property", name=f"{scenario}.{metric}.{key}", value=text)
        measured.append(f"{key}={text or 'none'}")
    message = slo_message(result)
    outcome = "pass"
    if as_number(result.get("value")) is None:
        outcome = "error"
        ET.SubElement(case, "error", message=message, type="NoData").text = message
    elif not result.get("passed"):
        outcome = "failure"
        ET.SubElement(case, "failure", message=message, type="SLOMissed").text = message
    ET.SubElement(case, "system-out").text = " ".join(measured)
    return outcome


def _run_case(suite: ET.Element, data: RunData, has_results: bool) -> str | None:
    """A testcase for the run itself when it failed or stopped without SLO results (it must
    not look green in CI); its outcome, or None when the run needs none."""
    status = str(data.run.get("status", "unknown"))
    if has_results and status not in ("failed", "interrupted"):
        return None
    case = ET.SubElement(
        suite, "testcase", classname="voxsim", name="run", time=_secs(_run_seconds(data))
    )
    if status == "completed":
        return "pass"
    reason = data.run.get("error")
    if reason:
        message = f"run {status}: {reason}"
    elif not has_results:
        message = f"run {status} without SLO results"
    else:
        message = f"run {status}"
    ET.SubElement(case, "error", message=message, type=f"Run{status.title()}").text = message
    return "error"


def _scenario_seconds(data: RunData, results: list[dict[str, Any]]) -> dict[str, float]:
    """A testcase's time: its scenario's call time shared evenly across the scenario's SLO
    checks, so testcase times add up to the time spent calling."""
    calling: dict[str, float] = defaultdict(float)
    for call in data.calls:
        calling[str(call.get("scenario", ""))] += as_number(call.get("duration_s")) or 0.0
    checks = Counter(str(r.get("scenario", "unknown")) for r in results)
    return {name: calling.get(name, 0.0) / n for name, n in checks.items()}


def build_junit(data: RunData, comparison: dict[str, Any] | None = None) -> ET.Element:
    """Build the <testsuites> element for a loaded run (and its baseline comparison)."""
    run = data.run
    results = [r for r in run.get("slo_results") or [] if isinstance(r, dict)]
    suites = ET.Element("testsuites", name="voxsim")
    suite = ET.SubElement(suites, "testsuite", name="voxsim")
    props = ET.SubElement(suite, "properties")
    for key in ("run_id", "status", "seed", "exit_code"):
        if run.get(key) is not None:
            ET.SubElement(props, "property", name=key, value=str(run[key]))

    secs = _scenario_seconds(data, results)
    outcomes = [
        _slo_case(suite, props, r, secs[str(r.get("scenario", "unknown"))]) for r in results
    ]
    for change in _baseline_changes(comparison):
        outcomes.append("failure" if _baseline_case(suite, props, change) else "pass")
    for call in data.calls:
        outcomes.append(_verdict_case(suite, props, call) or "")
    outcomes.append(_run_case(suite, data, bool(results)) or "")
    outcomes = [o for o in outcomes if o]

    suite.set("tests", str(len(outcomes)))
    suite.set("failures", str(outcomes.count("failure")))
    suite.set("errors", str(outcomes.count("error")))
    suite.set("skipped", "0")
    suite.set("time", _secs(_run_seconds(data)))
    if isinstance(run.get("started_at"), str):
        suite.set("timestamp", run["started_at"])
    for key in ("tests", "failures", "errors", "time"):
        suites.set(key, suite.get(key, "0"))
    return suites


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(root: ET.Element) -> None:
    """Replace characters XML 1.0 forbids (agent errors may carry control codes) with U+FFFD."""
    for el in root.iter():
        if el.text:
            el.text = _NOT_XML.sub("\ufffd", el.text)
        for key, value in el.attrib.items():
            el.set(key, _NOT_XML.sub("\ufffd", value))


def write_junit(run_dir: Path) -> Path:
    """Write `run_dir/junit.xml` atomically and return its path."""
    run_dir = Path(run_dir)
    root = build_junit(RunData.load(run_dir), read_baseline(run_dir))
    _xml_safe(root)
    ET.indent(root)
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return write_atomic(run_dir / JUNIT_XML, body + b"\n")

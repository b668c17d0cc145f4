"""junit.xml from a run directory: one testcase per scenario x SLO.

CI systems already know how to show JUnit, so an SLO miss shows up there as a
failed test whose message carries the value, its n and the limit. A metric
with no data is an error, not a pass: nothing was measured.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from reports.rundir import RunData, write_atomic
from reports.stats import as_number, format_metric

JUNIT_XML = "junit.xml"


def slo_message(result: dict[str, Any]) -> str:
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


def build_junit(data: RunData) -> ET.Element:
    """Build the <testsuites> element for a loaded run."""
    run = data.run
    status = str(run.get("status", "unknown"))
    results = [r for r in run.get("slo_results") or [] if isinstance(r, dict)]

    # A testcase's time is its scenario's call time shared evenly across the
    # scenario's SLO checks, so testcase times add up to the time spent calling.
    scenario_secs: dict[str, float] = defaultdict(float)
    for call in data.calls:
        scenario_secs[str(call.get("scenario", ""))] += as_number(call.get("duration_s")) or 0.0
    checks_per_scenario = Counter(str(r.get("scenario", "unknown")) for r in results)

    suites = ET.Element("testsuites", name="voxsim")
    suite = ET.SubElement(suites, "testsuite", name="voxsim")
    props = ET.SubElement(suite, "properties")
    for key in ("run_id", "status", "seed", "exit_code"):
        if run.get(key) is not None:
            ET.SubElement(props, "property", name=key, value=str(run[key]))

    tests = failures = errors = 0
    for result in results:
        scenario = str(result.get("scenario", "unknown"))
        metric = str(result.get("metric", "unknown"))
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"voxsim.{scenario}",
            name=metric,
            time=_secs(scenario_secs.get(scenario, 0.0) / checks_per_scenario[scenario]),
        )
        case_props = ET.SubElement(case, "properties")
        for key in ("value", "n", "limit"):
            raw = result.get(key)
            ET.SubElement(case_props, "property", name=key, value="" if raw is None else str(raw))
        tests += 1
        message = slo_message(result)
        if as_number(result.get("value")) is None:
            errors += 1
            ET.SubElement(case, "error", message=message, type="NoData").text = message
        elif not result.get("passed"):
            failures += 1
            ET.SubElement(case, "failure", message=message, type="SLOMissed").text = message

    # A run that failed or stopped without SLO results must not look green in CI.
    if not results or status in ("failed", "interrupted"):
        case = ET.SubElement(
            suite, "testcase", classname="voxsim", name="run", time=_secs(_run_seconds(data))
        )
        tests += 1
        if status != "completed":
            reason = run.get("error")
            if reason:
                message = f"run {status}: {reason}"
            elif not results:
                message = f"run {status} without SLO results"
            else:
                message = f"run {status}"
            errors += 1
            ET.SubElement(
                case, "error", message=message, type=f"Run{status.title()}"
            ).text = message

    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", "0")
    suite.set("time", _secs(_run_seconds(data)))
    if isinstance(run.get("started_at"), str):
        suite.set("timestamp", run["started_at"])
    for key in ("tests", "failures", "errors", "time"):
        suites.set(key, suite.get(key, "0"))
    return suites


def write_junit(run_dir: Path) -> Path:
    """Write `run_dir/junit.xml` atomically and return its path."""
    run_dir = Path(run_dir)
    root = build_junit(RunData.load(run_dir))
    ET.indent(root)
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return write_atomic(run_dir / JUNIT_XML, body + b"\n")

"""The report, run.json, junit.xml and the baseline show the numbers the SLO verdict judged.

One run directory with known rows, including the rows where separate
computations used to part ways: a wait turn with a latency (not a caller
turn), a caller turn without a reply, and a turn whose reference normalises to
no words but whose transcript has insertions (not part of corpus WER).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from reports.html import render_report
from reports.junit import write_junit
from reports.rundir import RunData
from reports.stats import format_number
from simulator.baseline import Tolerance, compare_rows
from simulator.metrics.summary import summarize_run
from simulator.scenario import Slo
from simulator.slo import evaluate

SLO = Slo(latency_p50_ms=700, latency_p95_ms=900, latency_p99_ms=1000, wer_max=0.3)


def _turn(turn: int, latency: float | None, words: int, subs: int, ins: int = 0) -> dict[str, Any]:
    return {
        "call_id": f"c{turn % 3}",
        "scenario": "smoke",
        "turn": turn,
        "kind": "say",
        "caller_text": "book me in",
        "latency_ms": latency,
        "wer": (subs + ins) / words if words else float(ins > 0),
        "wer_ref_words": words,
        "wer_subs": subs,
        "wer_dels": 0,
        "wer_ins": ins,
        "error": None,
    }


def _rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    latencies = [512.0, 640.5, 703.25, 811.0, 955.0, 1204.0, 598.0, 733.0]
    turns = [_turn(i, v, words=6, subs=i % 3) for i, v in enumerate(latencies)]
    turns.append(_turn(8, None, words=4, subs=4))  # no reply: every word lost
    turns.append(_turn(9, 420.0, words=0, subs=0, ins=2))  # "um" said, "okay then" heard
    turns.append({**_turn(10, 90.0, words=0, subs=0), "kind": "wait", "wer": None})
    calls = [{"call_id": f"c{i}", "scenario": "smoke", "status": "ok"} for i in range(3)]
    return turns, calls


def _run_dir(root: Path) -> tuple[Path, dict[str, dict[str, Any]]]:
    turns, calls = _rows()
    results = evaluate("smoke", SLO, turns, calls)
    run = {
        "run_id": "r-1",
        "status": "completed",
        "exit_code": 0,
        "scenarios": [{"name": "smoke", "slo": SLO.model_dump(exclude_none=True)}],
        "slo_results": results,
        "metrics": summarize_run(calls, turns),
    }
    (root / "run.json").write_text(json.dumps(run), encoding="utf-8")
    for name, rows in (("turns.jsonl", turns), ("calls.jsonl", calls)):
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root, {r["metric"]: r for r in results}


def _cells(page: str, heading: str, first_cell: str) -> list[str]:
    """The text of the table row starting with `first_cell` in the section `heading`."""
    section = page[page.index(heading) :]
    row = re.search(rf"<tr><td>{re.escape(first_cell)}</td>(.*?)</tr>", section)
    assert row is not None, f"no row {first_cell!r} under {heading!r}"
    return [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))]


def test_the_report_shows_the_latency_percentiles_and_wer_the_verdict_judged(
    tmp_path: Path,
) -> None:
    run_dir, verdict = _run_dir(tmp_path)
    page = render_report(RunData.load(run_dir), run_dir)

    n, p50, p95, p99 = _cells(page, "<h2>Latency", "caller turns")[:4]
    assert int(n) == verdict["latency_p95_ms"]["n"] == 9
    assert p50 == format_number(verdict["latency_p50_ms"]["value"])
    assert p95 == format_number(verdict["latency_p95_ms"]["value"])
    assert p99 == format_number(verdict["latency_p99_ms"]["value"])
    glance = f"{format_number(verdict['latency_p95_ms']['value'])} ms"
    assert f'<div class="v">{glance}</div>' in page

    turns, words, _, _, _, wer = _cells(page, "<h2>WER", "smoke")[:6]
    assert int(turns) == verdict["wer_max"]["n"] == 9
    assert int(words) == 6 * 8 + 4
    assert wer == format_number(verdict["wer_max"]["value"], 3)
    # subs 0,1,2,0,1,2,0,1 over 8 x 6 words, 4 of 4 lost; the 0-word turn's insertions not counted
    assert verdict["wer_max"]["value"] == pytest.approx(11 / 52)


def test_run_json_junit_and_the_baseline_carry_the_verdicts_numbers(tmp_path: Path) -> None:
    run_dir, verdict = _run_dir(tmp_path)
    data = RunData.load(run_dir)
    metrics = data.run["metrics"]
    for q in (50, 95, 99):
        assert metrics["latency_ms"][f"p{q}"] == verdict[f"latency_p{q}_ms"]["value"]
    assert metrics["stt_wer"]["wer"] == verdict["wer_max"]["value"]

    junit = write_junit(run_dir).read_text(encoding="utf-8")
    value = verdict["latency_p95_ms"]["value"]
    assert f'name="smoke.latency_p95_ms.value" value="{value}"' in junit

    changes = compare_rows(data.turns, data.turns, Tolerance()).changes
    current = {c.metric: c.current for c in changes}
    for q in (50, 95, 99):
        assert current[f"latency_p{q}_ms"] == verdict[f"latency_p{q}_ms"]["value"]
    assert current["wer"] == verdict["wer_max"]["value"]


def test_each_scenarios_row_shows_that_scenarios_verdict(tmp_path: Path) -> None:
    turns, calls = _rows()
    other = [
        {**t, "scenario": "other", "call_id": "o1", "latency_ms": v}
        for t, v in zip(turns[:5], (300.0, 1500.0, 420.5, 610.0, 980.0), strict=True)
    ]
    calls = [*calls, {"call_id": "o1", "scenario": "other", "status": "ok"}]
    results = [
        *evaluate("smoke", SLO, turns, calls[:3]),
        *evaluate("other", SLO, other, calls[3:]),
    ]
    run = {"run_id": "r-2", "status": "completed", "exit_code": 0, "slo_results": results}
    (tmp_path / "run.json").write_text(json.dumps(run), encoding="utf-8")
    for name, rows in (("turns.jsonl", turns + other), ("calls.jsonl", calls)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    page = render_report(RunData.load(tmp_path), tmp_path)
    for r in results:
        if r["metric"] == "latency_p95_ms":
            p95 = _cells(page, "<h2>Latency", r["scenario"])[2]
            assert p95 == format_number(r["value"]), r["scenario"]
        if r["metric"] == "wer_max":
            wer = _cells(page, "<h2>WER", r["scenario"])[5]
            assert wer == format_number(r["value"], 3), r["scenario"]

"""report.html, junit.xml and the readers, on run directories built by hand.

The rows are known, so every figure the report shows can be checked against
numbers computed here.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from reports.figures import script_json
from reports.html import verdict, write_report
from reports.junit import write_junit
from reports.rundir import RunData, read_jsonl, read_run
from reports.stats import format_number
from simulator.metrics.stats import summary

XSS = "<script>alert(1)</script>"
LATENCIES = [640.0, 710.5, 802.25, 955.0, 1200.0, 680.0]


def _turn(call: str, turn: int, latency: float | None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "call_id": call,
        "scenario": "smoke",
        "turn": turn,
        "kind": "say",
        "caller_text": f"I need an appointment {turn} & more",
        "speech_start_s": 1.0,
        "speech_end_s": 2.5,
        "agent_onset_s": None if latency is None else 2.5 + latency / 1000,
        "agent_end_s": None,
        "latency_ms": latency,
        "agent_heard_text": f"i need an appointment {turn}",
        "agent_reply_text": "Sure, when?",
        "wer": 0.2,
        "wer_ref_words": 5,
        "wer_subs": 1,
        "wer_dels": 0,
        "wer_ins": 0,
        "stages": {},
        "trace_id": None,
        "error": None,
    }
    row.update(extra)
    return row


def _write_jsonl(path: Path, rows: list[dict[str, Any]], tail: str = "") -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail, encoding="utf-8")


def _slo(metric: str, limit: float, value: float | None, n: int, passed: bool) -> dict[str, Any]:
    return {
        "scenario": "smoke",
        "metric": metric,
        "limit": limit,
        "value": value,
        "n": n,
        "passed": passed,
    }


def make_run(
    root: Path,
    *,
    status: str = "completed",
    slo_results: list[dict[str, Any]] | None = None,
    turns_tail: str = "",
    with_calls: bool = True,
    **run_extra: Any,
) -> Path:
    """Build a run directory: 3 calls x 2 turns of the 'smoke' scenario."""
    run_dir = root / "run"
    run_dir.mkdir()
    run: dict[str, Any] = {
        "run_id": "r-123",
        "status": status,
        "started_at": "2025-01-01T10:00:00+00:00",
        "ended_at": "2025-01-01T10:01:30+00:00" if status == "completed" else None,
        "seed": 42,
        "scenarios": [
            {
                "name": "smoke",
                "slo": {"latency_p50_ms": 900.0, "latency_p95_ms": 800.0, "wer_max": 0.25},
            }
        ],
        "agent": {"kind": "pipeline", "url": None},
        "versions": {"voxsim": "0.1.0"},
        "machine": {"cpus": 8},
        "exit_code": None,
    }
    if slo_results is not None:
        run["slo_results"] = slo_results
    run.update(run_extra)
    (run_dir / "run.json").write_text(json.dumps(run), encoding="utf-8")
    turns = []
    for i, latency in enumerate(LATENCIES):
        call, turn = f"c{i // 2 + 1}", i % 2
        extra: dict[str, Any] = {}
        if i == 0:
            extra["agent_reply_text"] = XSS
            extra["caller_text"] = "</script><script>alert(2)</script>"
        if i == 1:
            extra["stages"] = {
                "endpoint_ms": 200.0,
                "stt_ms": 100.0,
                "llm_ttft_ms": 250.0,
                "tts_ms": 60.5,
            }
        if i == 2:  # stages overlap: they sum past the measured latency
            extra["stages"] = {"endpoint_ms": 300.0, "stt_ms": 300.0, "llm_ttft_ms": 400.0}
        turns.append(_turn(call, turn, latency, **extra))
    turns.append(_turn("c3", 2, None, kind="silence", caller_text=None, wer=None))
    _write_jsonl(run_dir / "turns.jsonl", turns, turns_tail)
    if with_calls:
        calls = [
            {
                "call_id": f"c{k}",
                "scenario": "smoke",
                "matrix": {"noise": "cafe"},
                "status": "ok" if k != 3 else "failed",
                "error": None if k != 3 else "agent hung up <early>",
                "started_at": "2025-01-01T10:00:00+00:00",
                "duration_s": 10.0 * k,
                "n_turns": 2,
                "audio_dir": f"audio/c{k}",
            }
            for k in (1, 2, 3)
        ]
        _write_jsonl(run_dir / "calls.jsonl", calls)
        (run_dir / "audio" / "c1").mkdir(parents=True)
        (run_dir / "audio" / "c1" / "mix.wav").write_bytes(b"RIFF")
    return run_dir


def failing_slos() -> list[dict[str, Any]]:
    s = summary(LATENCIES)
    return [
        _slo("latency_p50_ms", 900.0, s["p50"], 6, True),
        _slo("latency_p95_ms", 800.0, 912.3, 6, False),
        _slo("wer_max", 0.25, None, 0, False),
    ]


def _figures(page: str) -> dict[str, dict[str, Any]]:
    blobs = re.findall(
        r'<script type="application/json" data-plot="([^"]+)">(.*?)</script>', page, re.S
    )
    return {div: json.loads(text) for div, text in blobs}


def _without_plotlyjs(page: str) -> str:
    start = page.index("/**\n* plotly.js v")
    end = page.index("</script>", start)
    return page[:start] + page[end:]


# ------------------------------------------------------------------ readers


def test_read_jsonl_skips_truncated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3, "b": "unfin', encoding="utf-8")
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]


def test_read_jsonl_skips_truncated_multibyte_tail_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"a": "caf\xc3')
    assert read_jsonl(path) == [{"a": 1}]


def test_read_jsonl_missing_file_is_empty(tmp_path: Path) -> None:
    assert read_jsonl(tmp_path / "nope.jsonl") == []


def test_read_run_missing_or_broken_is_empty(tmp_path: Path) -> None:
    assert read_run(tmp_path) == {}
    (tmp_path / "run.json").write_text("{not json", encoding="utf-8")
    assert read_run(tmp_path) == {}


def test_rundata_load(tmp_path: Path) -> None:
    data = RunData.load(make_run(tmp_path, turns_tail='{"call_id": "c4", "tu'))
    assert data.run["run_id"] == "r-123"
    assert len(data.calls) == 3
    assert len(data.turns) == len(LATENCIES) + 1


def test_rundata_load_rejects_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        RunData.load(tmp_path)


# ------------------------------------------------------------------ report.html


def test_report_shows_values_and_n(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, slo_results=failing_slos())
    out = write_report(run_dir)
    assert out == run_dir / "report.html"
    page = out.read_text(encoding="utf-8")
    s = summary(LATENCIES)

    assert '<span class="verdict FAIL">FAIL</span>' in page
    # SLO table: value, n, limit
    assert "912.3 ms" in page and "800 ms" in page
    assert "NO DATA" in page
    # latency summary: n and percentiles computed here
    for key in ("p50", "p95", "p99"):
        value = s[key]
        assert f'<td class="num">{format_number(value)}</td>' in page
    assert f'<td>caller turns</td><td class="num">{len(LATENCIES)}</td>' in page
    # per-turn rows: latencies, texts (escaped), and the over-limit mark
    assert '<td class="num over" title="above the scenario&#x27;s P95 limit 800 ms">955</td>' in (
        page
    )
    assert "802.2" in page or "802.3" in page
    assert "I need an appointment 1 &amp; more" in page
    assert "i need an appointment 1" in page
    # calls table with status and escaped error, and a relative audio link
    assert "agent hung up &lt;early&gt;" in page
    assert '<a href="audio/c1/mix.wav">mix</a>' in page
    assert "audio/c2/mix.wav" not in page  # no recording on disk, no dead link
    # corpus WER over the turns that have one: 6 subs / 30 words
    assert '<td class="num">0.2</td>' in page


def test_plotlyjs_inlined_exactly_once_and_nothing_external(tmp_path: Path) -> None:
    page = write_report(make_run(tmp_path, slo_results=failing_slos())).read_text("utf-8")
    assert page.count("* plotly.js v") == 1
    assert page.count("Copyright 2012-") == 1
    for tag in re.findall(r"<script\b[^>]*>", page, re.I):
        assert "src=" not in tag.lower()
    assert re.findall(r"<link\b", page, re.I) == []
    rest = _without_plotlyjs(page)
    assert "http://" not in rest and "https://" not in rest
    assert "@import" not in rest and "url(" not in rest
    assert "Plotly.newPlot" in rest


def test_agent_text_is_escaped_everywhere(tmp_path: Path) -> None:
    page = write_report(make_run(tmp_path, slo_results=failing_slos())).read_text("utf-8")
    assert XSS not in page
    assert "alert(2)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # every <script> opened is closed by its own tag: nothing broke out of a blob
    assert page.count("<script") == page.count("</script>")
    assert set(_figures(page)) == {"fig-0", "fig-1", "fig-2", "fig-waterfall-0", "fig-heatmap-0"}


def test_script_json_cannot_close_the_script() -> None:
    text = json.dumps({"t": "</script><!-- x"})
    safe = script_json(text)
    assert "</" not in safe and "<!--" not in safe
    assert json.loads(safe) == {"t": "</script><!-- x"}


def test_figures_hold_latencies_percentile_lines_and_clipped_remainder(tmp_path: Path) -> None:
    page = write_report(make_run(tmp_path, slo_results=failing_slos())).read_text("utf-8")
    figs = _figures(page)
    per_turn, ecdf, stages = figs["fig-0"], figs["fig-1"], figs["fig-2"]

    assert per_turn["data"][0]["y"] == LATENCIES
    s = summary(LATENCIES)
    hlines = [shape["y0"] for shape in per_turn["layout"]["shapes"]]
    assert hlines == [pytest.approx(s["p50"]), pytest.approx(s["p95"]), 800.0]

    assert ecdf["data"][0]["x"] == sorted(LATENCIES)
    assert ecdf["data"][0]["y"][-1] == 1.0

    by_name = {trace["name"]: trace for trace in stages["data"]}
    assert by_name["endpointing"]["y"] == [200.0, 300.0]
    assert by_name["TTS first audio"]["y"] == [60.5, 0.0]
    # 710.5 - (200+100+250+60.5) = 100; turn 3 stages sum 1000 > 802.25 -> clipped to 0
    assert by_name["unexplained remainder"]["y"] == [pytest.approx(100.0), 0.0]
    assert by_name["measured latency"]["y"] == [710.5, 802.25]
    assert by_name["endpointing"]["x"] == [2, 3]  # same '#' as the Turns table


def test_partial_run_renders_incomplete_with_rows(tmp_path: Path) -> None:
    run_dir = make_run(
        tmp_path,
        status="running",
        with_calls=False,
        turns_tail='{"call_id": "cut-row-zz", "scenario": "smoke", "turn": 0, "latency_ms": 12',
    )
    page = write_report(run_dir).read_text("utf-8")
    assert '<span class="verdict INCOMPLETE">INCOMPLETE</span>' in page
    assert "No SLO results recorded (the run did not finish)." in page
    assert f'<td>caller turns</td><td class="num">{len(LATENCIES)}</td>' in page
    assert "1200" in page
    assert "No finished calls recorded." in page
    assert "cut-row-zz" not in page  # the truncated row is skipped, not half-shown


def test_run_with_no_turns_still_renders(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text('{"run_id": "x", "status": "running"}', encoding="utf-8")
    page = write_report(run_dir).read_text("utf-8")
    assert "INCOMPLETE" in page
    assert "No latency measured yet." in page
    assert page.count("* plotly.js v") == 1


def test_report_write_is_atomic_leaves_no_temp_files(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, slo_results=failing_slos())
    write_report(run_dir)
    write_report(run_dir)
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    ("run", "label"),
    [
        ({"status": "completed", "slo_results": [_slo("wer_max", 0.25, 0.1, 6, True)]}, "PASS"),
        ({"status": "completed", "slo_results": []}, "PASS"),
        ({"status": "completed", "slo_results": [_slo("wer_max", 0.25, 0.3, 6, False)]}, "FAIL"),
        ({"status": "completed", "slo_results": [_slo("wer_max", 0.25, None, 0, True)]}, "FAIL"),
        ({"status": "completed", "slo_results": [], "exit_code": 3}, "FAIL"),
        ({"status": "failed", "error": "agent refused connection"}, "FAIL"),
        ({"status": "running"}, "INCOMPLETE"),
        (
            {"status": "interrupted", "slo_results": [_slo("wer_max", 0.25, 0.1, 6, True)]},
            "INCOMPLETE",
        ),
        ({}, "INCOMPLETE"),
    ],
)
def test_verdict(run: dict[str, Any], label: str) -> None:
    assert verdict(run)[0] == label


# ------------------------------------------------------------------ junit.xml


def test_junit_counts_and_failure_message(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, slo_results=failing_slos())
    out = write_junit(run_dir)
    assert out == run_dir / "junit.xml"
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    assert suite.get("name") == "voxsim"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    assert float(suite.get("time", "nan")) == 90.0

    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"latency_p50_ms", "latency_p95_ms", "wer_max"}
    assert all(c.get("classname") == "voxsim.smoke" for c in cases.values())

    passed = cases["latency_p50_ms"]
    assert passed.find("failure") is None and passed.find("error") is None

    failed = cases["latency_p95_ms"]
    failure = failed.find("failure")
    assert failure is not None
    assert failure.get("message") == "latency_p95_ms = 912.3 ms (n=6) exceeds limit 800 ms"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert {k: props[f"smoke.latency_p95_ms.{k}"] for k in ("value", "n", "limit")} == {
        "value": "912.3",
        "n": "6",
        "limit": "800.0",
    }
    assert failed.findtext("system-out") == "value=912.3 n=6 limit=800.0"

    no_data = cases["wer_max"]
    error = no_data.find("error")
    assert error is not None and no_data.find("failure") is None
    assert "no data" in (error.get("message") or "")


def test_junit_failed_run_without_results_is_one_error(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, status="failed", error="agent refused <connection> & quit")
    root = ET.parse(write_junit(run_dir)).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "1")
    (case,) = suite.findall("testcase")
    assert case.get("name") == "run"
    error = case.find("error")
    assert error is not None
    assert error.get("message") == "run failed: agent refused <connection> & quit"


def test_junit_all_passed(tmp_path: Path) -> None:
    slos = [_slo("latency_p95_ms", 1500.0, 1200.0, 6, True), _slo("wer_max", 0.25, 0.2, 6, True)]
    root = ET.parse(write_junit(make_run(tmp_path, slo_results=slos))).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "0", "0")
    assert not list(root.iter("failure")) and not list(root.iter("error"))


def test_junit_testcase_times_add_up_to_call_time(tmp_path: Path) -> None:
    root = ET.parse(write_junit(make_run(tmp_path, slo_results=failing_slos()))).getroot()
    times = [float(c.get("time", "nan")) for c in root.iter("testcase")]
    assert sum(times) == pytest.approx(10.0 + 20.0 + 30.0)


# ------------------------------------------------------------ junit.xml schema

JUNIT_XSD = Path(__file__).with_name("junit-10.xsd")


def _regression_comparison() -> dict[str, Any]:
    change = {
        "scenario": "smoke",
        "metric": "latency_p95_ms",
        "method": "bootstrap",
        "unit": "ms",
        "baseline": 700.0,
        "current": 850.0,
        "n_baseline": 6,
        "n_current": 6,
        "delta": 150.0,
        "ci_low": 120.0,
        "ci_high": 180.0,
        "tolerance": 50.0,
        "significant": True,
        "regression": True,
    }
    return {"changes": [change, {**change, "metric": "latency_p50_ms", "regression": False}]}


@pytest.mark.parametrize("case", ["passed", "failed_slos", "run_failed", "interrupted", "baseline"])
def test_junit_is_valid_against_the_junit_10_schema(tmp_path: Path, case: str) -> None:
    import xmlschema

    passing = [_slo("latency_p95_ms", 1500.0, 1200.0, 6, True)]
    if case == "passed":
        run_dir = make_run(tmp_path, slo_results=passing)
    elif case == "failed_slos":
        run_dir = make_run(tmp_path, slo_results=failing_slos())
    elif case == "run_failed":
        run_dir = make_run(tmp_path, status="failed", error="agent <gone> & \x1b done")
    elif case == "interrupted":
        run_dir = make_run(tmp_path, status="interrupted", slo_results=passing)
    else:
        run_dir = make_run(tmp_path, slo_results=passing)
        (run_dir / "baseline.json").write_text(json.dumps(_regression_comparison()))
    schema = xmlschema.XMLSchema(JUNIT_XSD)
    out = write_junit(run_dir)
    schema.validate(str(out))  # raises with the offending path when invalid
    root = ET.parse(out).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "-1")) == len(cases)
    assert int(suite.get("failures", "-1")) == sum(c.find("failure") is not None for c in cases)
    assert int(suite.get("errors", "-1")) == sum(c.find("error") is not None for c in cases)


def test_junit_baseline_regression_is_a_failed_testcase_with_delta_and_ci(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, slo_results=[_slo("latency_p95_ms", 1500.0, 1200.0, 6, True)])
    (run_dir / "baseline.json").write_text(json.dumps(_regression_comparison()))
    root = ET.parse(write_junit(run_dir)).getroot()
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    regression = cases[("voxsim.baseline.smoke", "latency_p95_ms")].find("failure")
    assert regression is not None and regression.get("type") == "Regression"
    assert regression.get("message") == (
        "latency_p95_ms changed +150.0 ms (95% CI +120.0 ms to +180.0 ms, "
        "n=6 vs baseline n=6, tolerance 50.0 ms, bootstrap)"
    )
    assert cases[("voxsim.baseline.smoke", "latency_p50_ms")].find("failure") is None
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["baseline.smoke.latency_p95_ms.delta"] == "150.0"

"""report.html in real headless Chromium: renders, no console errors, escapes agent text.

Chromium is Debian's `chromium` (installed by `make install`), driven by the
`playwright` package with executable_path; `playwright install` is never run.
The full-page screenshot is kept in test-artifacts/ for people to look at.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reports.html import write_report

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
XSS = "<script>alert(1)</script>"
VOICES = ("en-us", "en-gb-scotland", "en-029")
SNRS = (20, 10, 5)
PHRASES = (
    "I would like to book an appointment for Tuesday at three pm",
    "Where is my order one two three four",
    "Thank you goodbye",
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def build_matrix_run(root: Path) -> Path:
    """A finished accents x noise run with stages, one XSS transcript, a baseline and load steps."""
    rng = np.random.default_rng(11)
    run_dir = root / "run"
    run_dir.mkdir()
    calls, turns = [], []
    for i, (voice, snr) in enumerate((v, s) for v in VOICES for s in SNRS):
        call_id = f"accents-{i:03d}"
        calls.append(
            {
                "call_id": call_id,
                "scenario": "accents",
                "matrix": {"caller.voice": voice, "caller.noise.snr_db": snr},
                "status": "ok",
                "error": None,
                "duration_s": 20.0,
                "n_turns": 3,
                "audio_dir": f"audio/{call_id}",
            }
        )
        t = 1.0
        for turn, phrase in enumerate(PHRASES):
            words = len(phrase.split())
            errors = int(rng.binomial(words, 0.02 + (20 - snr) / 60 + (voice == "en-029") * 0.1))
            endpoint = 240 + rng.normal(0, 5)
            llm = 60 + rng.gamma(2, 20) + (300 if (i, turn) == (8, 1) else 0)
            stages = {"endpoint_ms": endpoint, "stt_ms": 3.0, "llm_ttft_ms": llm, "tts_ms": 4.0}
            latency = sum(stages.values()) + 110 + rng.normal(0, 8)
            speech = 0.25 * words
            heard = phrase.lower().split()
            for k in range(errors):
                heard[(k * 3) % len(heard)] = "uh"
            turns.append(
                {
                    "call_id": call_id,
                    "scenario": "accents",
                    "turn": turn,
                    "kind": "say",
                    "caller_text": phrase,
                    "speech_start_s": t,
                    "speech_end_s": t + speech,
                    "agent_onset_s": t + speech + latency / 1000,
                    "agent_end_s": t + speech + latency / 1000 + 2.0,
                    "latency_ms": latency,
                    "agent_overlap": False,
                    "agent_heard_text": " ".join(heard),
                    "agent_reply_text": XSS if (i, turn) == (0, 0) else "Sure, anything else?",
                    "wer": errors / words,
                    "wer_ref_words": words,
                    "wer_subs": errors,
                    "wer_dels": 0,
                    "wer_ins": 0,
                    "stages": stages,
                    "trace_id": f"{i:032x}",
                    "error": None,
                }
            )
            t += speech + latency / 1000 + 2.5
    _jsonl(run_dir / "calls.jsonl", calls)
    _jsonl(run_dir / "turns.jsonl", turns)
    latencies = sorted(float(t["latency_ms"]) for t in turns)
    p95 = float(np.percentile(latencies, 95))
    run = {
        "run_id": "accents-demo",
        "status": "completed",
        "started_at": "2026-11-24T10:00:00+00:00",
        "ended_at": "2026-11-24T10:03:00+00:00",
        "seed": 11,
        "scenarios": [{"name": "accents", "slo": {"latency_p95_ms": 800, "wer_max": 0.25}}],
        "agent": {"kind": "pipeline", "url": "ws://127.0.0.1:1/ws"},
        "slo_results": [
            {
                "scenario": "accents",
                "metric": "latency_p95_ms",
                "limit": 800.0,
                "value": p95,
                "n": len(latencies),
                "passed": p95 <= 800,
            },
            {
                "scenario": "accents",
                "metric": "wer_max",
                "limit": 0.25,
                "value": 0.12,
                "n": len(latencies),
                "passed": True,
            },
        ],
        "exit_code": 0,
    }
    (run_dir / "run.json").write_text(json.dumps(run), encoding="utf-8")
    _jsonl(
        run_dir / "load.jsonl",
        [
            {
                "concurrency": c,
                "n": 30 * c,
                "latency_p50_ms": 380 + 9 * c * c,
                "latency_p95_ms": 450 + 14 * c * c,
                "error_rate": max(0.0, (c - 6) * 0.03),
            }
            for c in (1, 2, 4, 6, 8, 10)
        ],
    )
    (run_dir / "baseline.json").write_text(
        json.dumps(
            {
                "baseline_dir": "runs/main",
                "tolerance": {"latency_ms": 50.0, "rate": 0.05},
                "changes": [
                    {
                        "scenario": "accents",
                        "metric": "latency_p95_ms",
                        "method": "bootstrap",
                        "unit": "ms",
                        "baseline": p95 - 12,
                        "current": p95,
                        "n_baseline": 27,
                        "n_current": 27,
                        "delta": 12.0,
                        "ci_low": -20.0,
                        "ci_high": 41.0,
                        "tolerance": 50.0,
                        "significant": False,
                        "regression": False,
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    return run_dir


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: run `make install` (it apt-get installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


def test_report_renders_in_chromium_without_errors_and_escapes_agent_text(
    tmp_path: Path, browser_context: Any
) -> None:
    report = write_report(build_matrix_run(tmp_path))
    page = browser_context.new_page()
    problems: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(report.as_uri())
    page.wait_for_function(
        "[...document.querySelectorAll('.chart')].every(c => c.querySelector('.main-svg'))"
    )

    charts = page.eval_on_selector_all(
        ".chart",
        "els => els.map(e => [e.id, e.querySelectorAll('svg.main-svg, canvas').length,"
        " e.querySelectorAll('.trace path, image').length])",
    )
    ids = {c[0] for c in charts}
    assert {"fig-waterfall-0", "fig-heatmap-0", "fig-load-0", "fig-0", "fig-1"} <= ids
    for chart_id, drawn, marks in charts:
        assert drawn > 0 and marks > 0, f"{chart_id} did not render"

    # a waterfall for a turn: the interactive one (bars) and the per-turn one in the transcript
    bars = page.locator("#fig-waterfall-0 .barlayer .point path")
    assert bars.count() >= 10 * 5
    turn_wf = page.locator('.wf[data-turn="accents-008-1"] .seg')
    assert turn_wf.count() >= 6  # caller, 4 stages, remainder, agent

    # the agent's "<script>alert(1)</script>" is shown as text and never runs
    assert dialogs == []
    cell = page.locator("#call-accents-000 table.transcript tbody tr").first
    assert XSS in cell.inner_text()
    assert problems == [], problems

    # the at-a-glance answers
    glance = page.locator(".glance").inner_text()
    assert "LATENCY P95" in glance.upper() and "n = 27" in glance
    assert "en-029" in glance  # worst accent x noise cell
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.screenshot(path=str(ARTIFACTS / "report-top.png"))
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_a_goal_driven_call_renders_its_decisions_and_never_runs_agent_text(
    tmp_path: Path, browser_context: Any
) -> None:
    from tests.reports.test_conversation_report import build_goal_run

    report = write_report(build_goal_run(tmp_path))
    page = browser_context.new_page()
    problems: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(report.as_uri())
    decisions = page.locator("#call-goal-000 tr.decision")
    assert decisions.count() == 2
    assert "answer from facts" in decisions.first.inner_text()
    assert (
        "gave up after 2 failed attempts"
        in page.locator("#call-goal-000 .conversation").inner_text()
    )
    assert dialogs == [] and problems == [], (dialogs, problems)

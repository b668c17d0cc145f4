"""report.html: one self-contained page per run that opens offline.

Why it looks like this:
- The verdict, SLO table, latency summary and per-turn rows are plain HTML
  (reports/tables.py), so the page answers "did it pass and why" even with
  JavaScript off or when the file is attached to a CI job and opened in a
  locked-down viewer.
- plotly.js is inlined once and every figure (reports/figures.py) is a JSON
  blob fed to Plotly.newPlot (reports/assets.py): no CDN, no fonts, nothing
  fetched, so it works air-gapped.
- Everything an agent or a scenario said is escaped (html.escape in markup,
  "<" -> \\u003c in embedded JSON): agent text is untrusted input.
- Every figure is computed from turns.jsonl rows that are also in the table,
  with the functions the SLO verdict uses (simulator/metrics/), so each number
  can be traced back to the run directory and equals the verdict's.

This module decides the verdict and assembles the page from those parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reports import load as load_curve
from reports import matrix, sections, tables
from reports.assets import page
from reports.chaos import chaos_section
from reports.figures import figure_blocks, latency_figures, stage_figure
from reports.judge import judge_section
from reports.markup import e
from reports.rundir import RunData, scenario_limits, write_atomic
from reports.transcripts import calls_sections
from reports.waterfall import TurnSpans, spans_by_turn, waterfall_figure, waterfall_html
from simulator.metrics.stats import as_number
from simulator.metrics.summary import reply_latencies
from simulator.rows import TurnRow

REPORT_HTML = "report.html"


def _missed(result: dict[str, Any]) -> bool:
    return as_number(result.get("value")) is None or not result.get("passed")


def verdict(run: dict[str, Any]) -> tuple[str, str]:
    """Return ("PASS" | "FAIL" | "INCOMPLETE", one-line reason) for run.json.

    Only a completed run can pass; a failed run fails; anything else (running,
    interrupted, no run.json) is INCOMPLETE whatever its partial numbers say.
    """
    status = run.get("status")
    results = tables.slo_results(run)
    missed = [r for r in results if _missed(r)]
    if status == "failed":
        reason = run.get("error")
        return "FAIL", f"run failed: {reason}" if reason else "run failed"
    if status != "completed":
        state = f"status {status}" if status else "no final status"
        return "INCOMPLETE", f"run stopped part-way ({state}); showing the rows recorded so far"
    if missed:
        return "FAIL", f"{len(missed)} of {len(results)} SLO checks missed"
    exit_code = run.get("exit_code")
    if isinstance(exit_code, int) and exit_code != 0:
        return "FAIL", f"run exited with code {exit_code}"
    if not results:
        return "PASS", "run completed; no SLOs were set"
    return "PASS", f"all {len(results)} SLO checks met"


def _ordered_turns(turns: Sequence[TurnRow]) -> list[TurnRow]:
    """Group turns by call (in order of first appearance), then by turn number."""
    first: dict[str, int] = {}
    for row in turns:
        first.setdefault(str(row.get("call_id")), len(first))

    def key(item: tuple[int, TurnRow]) -> tuple[int, float, int]:
        pos, row = item
        turn = as_number(row.get("turn"))
        return first[str(row.get("call_id"))], turn if turn is not None else float("inf"), pos

    return [row for _, row in sorted(enumerate(turns), key=key)]


def _charts_section(ordered: Sequence[TurnRow], run: dict[str, Any]) -> tuple[str, str]:
    """Return (chart divs, JSON script blocks) for the figures that have data."""
    figures = latency_figures(ordered, scenario_limits(run))
    stage = stage_figure(ordered)
    if stage is not None:
        figures.append(stage)
    if not figures:
        return '<h2>Charts</h2><p class="muted">No latency measured yet.</p>', ""
    divs, blobs = figure_blocks(figures, "fig")
    note = (
        '<noscript><p class="muted">Charts need JavaScript; '
        "the tables carry every number.</p></noscript>"
    )
    return "<h2>Charts</h2>" + note + "".join(divs), "".join(blobs)


def _waterfall_section(ordered: Sequence[TurnRow], spans: TurnSpans) -> tuple[str, str]:
    fig = waterfall_figure(ordered, spans)
    if fig is None:
        return "", ""
    divs, blobs = figure_blocks([fig], "fig-waterfall")
    source = "the agent's spans (spans.jsonl)" if spans else "the stage timings the agent reports"
    return (
        '<h2 id="waterfall">Where the time goes: per-turn waterfall</h2>'
        f'<p class="muted small">Bars from {source}, placed after the ground-truth end of the '
        "caller's speech; grey is what they do not explain up to the measured first agent "
        "audio (network, VAD tail, buffering). Every turn has its own waterfall in its "
        "call's transcript below.</p>" + "".join(divs),
        "".join(blobs),
    )


def _matrix_section(data: RunData) -> tuple[str, str]:
    found = matrix.axes(data.calls, data.turns)
    cells = matrix.cells(data.calls, data.turns)
    if found is None or not cells:
        return "", ""
    fig = matrix.heatmap_figure(cells, found)
    divs, blobs = figure_blocks([fig] if fig is not None else [], "fig-heatmap")
    return (
        '<h2 id="matrix">Accent × noise</h2>'
        + "".join(divs)
        + matrix.cells_table(cells, found)
        + '<p class="muted small">Worst WER first; WER = all word edits / all reference '
        "words of the cell's caller turns; latency percentiles over the cell's turns.</p>",
        "".join(blobs),
    )


def _load_section(data: RunData) -> tuple[str, str]:
    limits = [
        lim["latency_p95_ms"]
        for lim in scenario_limits(data.run).values()
        if "latency_p95_ms" in lim
    ]
    limit = min(limits) if limits else None
    fig = load_curve.load_figure(data.load_steps, limit)
    if fig is None:
        return "", ""
    soak = load_curve.soak_figure(data.load_steps)
    divs, blobs = figure_blocks([fig] if soak is None else [fig, soak], "fig-load")
    brk = load_curve.breakpoint_step(data.load_steps, limit)
    note = (
        f"Breakpoint: {e(brk.get('concurrency'))} concurrent calls."
        if brk is not None
        else "No breakpoint within the tested concurrency."
    )
    arrivals = e(load_curve.arrivals_note(data.load_steps))
    cooled = e(load_curve.cooldown_note(data.load_steps))
    return (
        f'<h2 id="load">Load</h2><p><b>{note}</b> {arrivals} {cooled}</p>' + "".join(divs),
        "".join(blobs),
    )


def render_report(data: RunData, run_dir: Path, embed_audio: bool = False) -> str:
    """Render the whole page for a loaded run as one HTML string."""
    label, reason = verdict(data.run)
    ordered = _ordered_turns(data.turns)
    spans = spans_by_turn(data.calls, ordered, data.spans)
    charts, blobs = _charts_section(ordered, data.run)
    waterfall, wf_blobs = _waterfall_section(ordered, spans)
    heat, heat_blobs = _matrix_section(data)
    load, load_blobs = _load_section(data)
    blobs += wf_blobs + heat_blobs + load_blobs
    scale_ms = max(reply_latencies(ordered), default=0.0)
    body = "".join(
        (
            tables.header(data, label, reason),
            sections.glance(label, ordered, data.calls, spans, data.baseline),
            tables.slo_section(data.run, data.baseline),
            sections.baseline_section(data.baseline),
            tables.summary_section(ordered),
            waterfall,
            heat,
            charts,
            load,
            chaos_section(data.run),
            sections.turn_taking_section(ordered),
            tables.turns_section(ordered, data.run),
            tables.calls_section(data.calls, run_dir),
            judge_section(data.calls),
            calls_sections(
                data.calls,
                ordered,
                run_dir,
                lambda row: waterfall_html(row, spans, scale_ms),
                embed_audio=embed_audio,
            ),
            tables.details_section(data.run),
        )
    )
    title = f"voxsim {label} — {data.run.get('run_id', 'run')}"
    return page(title, body, blobs)


def write_report(run_dir: Path, embed_audio: bool = False) -> Path:
    """Write `run_dir/report.html` atomically and return its path.

    Works on a run stopped part-way: missing SLO results render INCOMPLETE and
    the tables show whatever rows exist. `embed_audio` inlines each call's
    recordings as players (large; off by default: links instead).
    """
    run_dir = Path(run_dir)
    text = render_report(RunData.load(run_dir), run_dir, embed_audio=embed_audio)
    return write_atomic(run_dir / REPORT_HTML, text.encode("utf-8"))

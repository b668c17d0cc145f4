"""report.html: one self-contained page per run that opens offline.

Why it looks like this:
- The verdict, SLO table, latency summary and per-turn rows are plain HTML, so
  the page answers "did it pass and why" even with JavaScript off or when the
  file is attached to a CI job and opened in a locked-down viewer.
- plotly.js is inlined once and every figure is a JSON blob fed to
  Plotly.newPlot: no CDN, no fonts, nothing fetched, so it works air-gapped.
- Everything an agent or a scenario said is escaped (html.escape in markup,
  "<" -> \\u003c in embedded JSON): agent text is untrusted input.
- Every figure is computed from turns.jsonl rows that are also in the table,
  so each number can be traced back to the run directory.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import plotly.graph_objects as go
import plotly.offline

from reports import load as load_curve
from reports import matrix, sections
from reports.judge import judge_section
from reports.rundir import RunData, write_atomic
from reports.stats import format_metric, format_number
from reports.transcripts import call_anchor, calls_sections
from reports.waterfall import spans_by_trace, waterfall_figure, waterfall_html
from simulator.metrics.stats import Summary, as_number, summary
from simulator.metrics.summary import is_caller_turn, reply_latencies
from simulator.metrics.wer import aggregate

REPORT_HTML = "report.html"

#: Agent pipeline stages stacked in the waterfall, in pipeline order. Other
#: keys in `stages` may overlap these (totals, sub-spans), so they are not stacked.
STAGES: tuple[tuple[str, str], ...] = (
    ("endpoint_ms", "endpointing"),
    ("stt_ms", "STT"),
    ("llm_ttft_ms", "LLM first token"),
    ("tts_ms", "TTS first audio"),
)
STAGE_COLORS = ("#8da0cb", "#66c2a5", "#fc8d62", "#e78ac3")
REMAINDER_COLOR = "#bbbbbb"
PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")

CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#1d232a;margin:0;background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.verdict{display:inline-block;font-weight:700;letter-spacing:.04em;padding:3px 12px;
 border-radius:4px;color:#fff;margin-right:10px}
.PASS{background:#2e7d32}.FAIL{background:#c62828}.INCOMPLETE{background:#b26a00}
.reason{font-size:15px}
.meta{display:flex;flex-wrap:wrap;gap:4px 22px;margin:10px 0 0;color:#4a5561}
.meta b{color:#1d232a;font-weight:600}
table{border-collapse:collapse;background:#fff;width:100%;font-size:13px}
th,td{border:1px solid #dde1e6;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600;position:sticky;top:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.text{max-width:320px;overflow-wrap:anywhere}
tr.bad td{background:#fdecea}tr.nodata td{background:#fff4e5}
td.over{color:#c62828;font-weight:600}
.pass{color:#2e7d32;font-weight:600}.fail{color:#c62828;font-weight:600}
.nodata-label{color:#b26a00;font-weight:600}
.muted{color:#6b7682}.small{font-size:12px}
.chart{background:#fff;border:1px solid #dde1e6;margin:0 0 14px;min-height:60px}
.scroll{max-height:640px;overflow:auto;border:1px solid #dde1e6}
.scroll table{border:0}
details{margin-top:8px}pre{background:#fff;border:1px solid #dde1e6;padding:8px;overflow:auto}
.glance{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:10px;
 margin:14px 0}
.glance>div{background:#fff;border:1px solid #dde1e6;border-left:4px solid #4c72b0;padding:8px 12px}
.glance .k{color:#4a5561;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.glance .v{font-size:20px;font-weight:700}.glance .d{font-size:12px;color:#4a5561}
.glance .badv{color:#c62828}.glance>div.bad{border-left-color:#c62828}
.glance>div.good{border-left-color:#2e7d32}
del{background:#fdecea;color:#c62828}ins{background:#e8f5e9;color:#1b5e20;text-decoration:none;
 font-weight:600}
.call{background:#fff;border:1px solid #dde1e6;padding:4px 12px 10px;margin:0 0 12px}
.call h3{font-size:15px;margin:8px 0}.audio{margin:4px 0 8px;display:flex;gap:12px;flex-wrap:wrap}
.player{margin:0}.player figcaption{font-size:12px;color:#4a5561}
.wf{min-width:220px}.wf .track{position:relative;height:14px;background:#f1f3f5}
.wf .seg{position:absolute;top:0;height:14px}
.wf .zero{position:absolute;top:-2px;height:18px;width:1px;background:#111}
.key{display:inline-block;width:10px;height:10px;margin:0 3px 0 4px;vertical-align:baseline}
td.wfcell{width:260px}
"""

BOOT_JS = """
document.querySelectorAll('script[type="application/json"][data-plot]').forEach(function(s){
  var fig = JSON.parse(s.textContent);
  var div = document.getElementById(s.getAttribute('data-plot'));
  Plotly.newPlot(div, fig.data, fig.layout || {}, {displaylogo: false, responsive: true});
});
"""


def _e(value: Any) -> str:
    """Escape any value for HTML text or attributes; None renders as a dash."""
    return "—" if value is None else html.escape(str(value), quote=True)


def _script_json(text: str) -> str:
    """Make JSON safe inside <script>: "<" only occurs in strings, where \\u003c is equal."""
    return text.replace("<", "\\u003c")


def _dict(value: Any) -> dict[str, Any]:
    """Return `value` if it is a JSON object, else {} (rows are untrusted)."""
    return value if isinstance(value, dict) else {}


def _slo_results(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in run.get("slo_results") or [] if isinstance(r, dict)]


def _missed(result: dict[str, Any]) -> bool:
    return as_number(result.get("value")) is None or not result.get("passed")


def verdict(run: dict[str, Any]) -> tuple[str, str]:
    """Return ("PASS" | "FAIL" | "INCOMPLETE", one-line reason) for run.json.

    Only a completed run can pass; a failed run fails; anything else (running,
    interrupted, no run.json) is INCOMPLETE whatever its partial numbers say.
    """
    status = run.get("status")
    results = _slo_results(run)
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


def _ordered_turns(turns: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group turns by call (in order of first appearance), then by turn number."""
    first: dict[str, int] = {}
    for row in turns:
        first.setdefault(str(row.get("call_id")), len(first))

    def key(item: tuple[int, dict[str, Any]]) -> tuple[int, float, int]:
        pos, row = item
        turn = as_number(row.get("turn"))
        return first[str(row.get("call_id"))], turn if turn is not None else float("inf"), pos

    return [row for _, row in sorted(enumerate(turns), key=key)]


def _scenario_limits(run: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Map scenario name -> {metric: limit} from run.json's scenarios."""
    limits: dict[str, dict[str, float]] = {}
    for scenario in run.get("scenarios") or []:
        if not isinstance(scenario, dict):
            continue
        slo = _dict(scenario.get("slo"))
        limits[str(scenario.get("name"))] = {
            k: v for k, v in ((k, as_number(v)) for k, v in slo.items()) if v is not None
        }
    return limits


def _table(headers: Iterable[tuple[str, bool]], rows: Iterable[str], cls: str = "") -> str:
    head = "".join(f'<th class="num">{h}</th>' if num else f"<th>{h}</th>" for h, num in headers)
    body = "".join(rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _num_td(text: str, extra: str = "", title: str = "") -> str:
    cls = f"num {extra}".strip()
    t = f' title="{_e(title)}"' if title else ""
    return f'<td class="{cls}"{t}>{text}</td>'


# ---------------------------------------------------------------- sections


def _header(data: RunData, label: str, reason: str) -> str:
    run = data.run
    agent = _dict(run.get("agent"))
    agent_text = " ".join(str(x) for x in (agent.get("kind"), agent.get("url")) if x)
    n_ok = sum(1 for c in data.calls if c.get("status") == "ok")
    n_failed = len(data.calls) - n_ok
    meta = [
        ("status", run.get("status")),
        ("started", run.get("started_at")),
        ("ended", run.get("ended_at")),
        ("seed", run.get("seed")),
        ("agent", agent_text or None),
        ("calls", f"{len(data.calls)} ({n_ok} ok, {n_failed} failed)"),
        ("turns", len(data.turns)),
        ("exit code", run.get("exit_code")),
    ]
    items = "".join(f"<span>{k}: <b>{_e(v)}</b></span>" for k, v in meta)
    return (
        f"<h1>voxsim run {_e(run.get('run_id', '(unknown)'))}</h1>"
        f'<div><span class="verdict {label}">{label}</span>'
        f'<span class="reason">{_e(reason)}</span></div>'
        f'<div class="meta">{items}</div>'
    )


def _slo_section(run: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    results = _slo_results(run)
    if not results:
        note = "No SLO results recorded" + (
            " (the run did not finish)." if run.get("status") != "completed" else "."
        )
        return f'<h2>SLOs</h2><p class="muted">{note}</p>'
    rows = []
    for r in results:
        metric = str(r.get("metric", ""))
        value = as_number(r.get("value"))
        if value is None:
            row_cls, result = "nodata", '<span class="nodata-label">NO DATA</span>'
        elif r.get("passed"):
            row_cls, result = "", '<span class="pass">pass</span>'
        else:
            row_cls, result = "bad", '<span class="fail">FAIL</span>'
        rows.append(
            f'<tr class="{row_cls}"><td>{_e(r.get("scenario"))}</td><td>{_e(metric)}</td>'
            + _num_td(_e(format_metric(metric, value)))
            + _num_td(_e(r.get("n")))
            + _num_td(_e(format_metric(metric, as_number(r.get("limit")))))
            + f"<td>{result}</td>"
            + (
                _num_td(_e(sections.baseline_delta(baseline, r.get("scenario"), metric)))
                if baseline
                else ""
            )
            + "</tr>"
        )
    headers = [
        ("scenario", False),
        ("metric", False),
        ("value", True),
        ("n", True),
        ("limit", True),
        ("result", False),
    ]
    if baseline:
        headers.append(("vs baseline [95% CI]", True))
    return "<h2>SLOs</h2>" + _table(headers, rows)


def _summary_row(name: str, s: Summary) -> str:
    cells = [_num_td(str(s["n"]))]
    for key in ("p50", "p95", "p99", "mean", "min", "max"):
        value = s[key]
        cells.append(_num_td(_e(format_number(value))))
    return f"<tr><td>{_e(name)}</td>{''.join(cells)}</tr>"


def _latency_by_scenario(turns: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in turns:
        groups[str(row.get("scenario"))].append(row)
    by_scenario = {name: reply_latencies(rows) for name, rows in groups.items()}
    return {name: values for name, values in by_scenario.items() if values}


def _summary_section(turns: Sequence[dict[str, Any]]) -> str:
    by_scenario = _latency_by_scenario(turns)
    rows = [_summary_row("caller turns", summary(reply_latencies(turns)))]
    if len(by_scenario) > 1:
        rows += [_summary_row(name, summary(vals)) for name, vals in sorted(by_scenario.items())]
    waits = [as_number(t.get("latency_ms")) for t in turns if t.get("kind") == "wait"]
    if waits:
        rows.append(_summary_row("agent speaks first (wait turns)", summary(waits)))
    headers = [("", False), ("n", True)] + [
        (h, True) for h in ("P50 ms", "P95 ms", "P99 ms", "mean ms", "min ms", "max ms")
    ]
    out = (
        "<h2>Latency (end of caller speech → first agent audio)</h2>"
        + _table(headers, rows)
        + '<p class="muted small">Percentiles over turns with a measured latency '
        "(linear interpolation); n is the number of such turns.</p>"
    )
    return out + _wer_section(turns)


def _wer_section(turns: Sequence[dict[str, Any]]) -> str:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in turns:
        if as_number(row.get("wer")) is not None:
            groups[str(row.get("scenario"))].append(row)
    if not groups:
        return ""
    rows = []
    for name, group in sorted(groups.items()):
        corpus = aggregate(group, "wer")  # as the SLO verdict computes it
        mean = summary(r.get("wer") for r in group)["mean"]
        rows.append(
            f"<tr><td>{_e(name)}</td>"
            + _num_td(str(corpus["n"]))
            + _num_td(str(corpus["ref_words"]))
            + "".join(_num_td(str(corpus[k])) for k in _WER_EDITS)
            + _num_td(_e(format_number(as_number(corpus["wer"]), 3)))
            + _num_td(_e(format_number(mean, 3)))
            + "</tr>"
        )
    headers = [
        ("scenario", False),
        ("turns", True),
        ("ref words", True),
        ("subs", True),
        ("dels", True),
        ("ins", True),
        ("WER (all words)", True),
        ("mean turn WER", True),
    ]
    return (
        "<h2>WER (agent STT vs what the caller said)</h2>"
        + _table(headers, rows)
        + '<p class="muted small">WER (all words) = (subs + dels + ins) / ref words '
        "summed over turns.</p>"
    )


_WER_EDITS = ("substitutions", "deletions", "insertions")


def _turns_section(ordered: Sequence[dict[str, Any]], run: dict[str, Any]) -> str:
    if not ordered:
        return '<h2>Turns</h2><p class="muted">No turns recorded.</p>'
    limits = _scenario_limits(run)
    rows = []
    for index, row in enumerate(ordered, start=1):
        latency = as_number(row.get("latency_ms"))
        limit = limits.get(str(row.get("scenario")), {}).get("latency_p95_ms")
        over = latency is not None and limit is not None and latency > limit
        wer = as_number(row.get("wer"))
        wer_title = (
            f"subs {row.get('wer_subs', 0)}, dels {row.get('wer_dels', 0)}, "
            f"ins {row.get('wer_ins', 0)}, ref words {row.get('wer_ref_words')}"
            if wer is not None
            else ""
        )
        stages = _dict(row.get("stages"))
        stage_title = ", ".join(f"{k} {format_number(as_number(v))}" for k, v in stages.items())
        rows.append(
            f'<tr class="{"bad" if row.get("error") else ""}">'
            + _num_td(str(index))
            + f'<td>{_e(row.get("call_id"))}<div class="muted small">'
            f"{_e(row.get('scenario'))}</div></td>"
            + _num_td(_e(row.get("turn")))
            + f"<td>{_e(row.get('kind'))}</td>"
            + f'<td class="text">{_e(row.get("caller_text"))}</td>'
            + f'<td class="text">{_e(row.get("agent_heard_text"))}</td>'
            + f'<td class="text">{_e(row.get("agent_reply_text"))}</td>'
            + _num_td(
                _e(format_number(latency)),
                "over" if over else "",
                "; ".join(
                    t
                    for t in (
                        f"above the scenario's P95 limit {format_number(limit)} ms" if over else "",
                        stage_title,
                    )
                    if t
                ),
            )
            + _num_td(_e(format_number(wer, 3)), title=wer_title)
            + f'<td class="text">{_e(row.get("error")) if row.get("error") else ""}</td></tr>'
        )
    headers = [
        ("#", True),
        ("call", False),
        ("turn", True),
        ("kind", False),
        ("caller said", False),
        ("agent heard", False),
        ("agent replied", False),
        ("latency ms", True),
        ("WER", True),
        ("error", False),
    ]
    return (
        f"<h2>Turns ({len(ordered)})</h2>"
        "<p class=\"muted small\"># is the turn's position on the charts' x axis; "
        "hover a latency for the agent's stage timings.</p>"
        f'<div class="scroll">{_table(headers, rows)}</div>'
    )


def _audio_links(run_dir: Path, call: dict[str, Any]) -> str:
    """Relative links to the call's recordings that exist; never absolute or '..'."""
    audio_dir = call.get("audio_dir")
    if not isinstance(audio_dir, str) or not audio_dir:
        return ""
    rel = PurePosixPath(audio_dir)
    if rel.is_absolute() or ".." in rel.parts or ":" in audio_dir:
        return ""
    links = []
    for name in ("mix.wav", "caller.wav", "agent.wav"):
        if (run_dir / rel / name).is_file():
            href = quote(str(rel / name), safe="/")
            links.append(f'<a href="{_e(href)}">{name.removesuffix(".wav")}</a>')
    return " ".join(links)


def _calls_section(calls: Sequence[dict[str, Any]], run_dir: Path) -> str:
    if not calls:
        return '<h2>Calls</h2><p class="muted">No finished calls recorded.</p>'
    rows = []
    for call in calls:
        ok = call.get("status") == "ok"
        matrix = _dict(call.get("matrix"))
        matrix_text = ", ".join(f"{k}={v}" for k, v in matrix.items())
        status_cls = "pass" if ok else "fail"
        rows.append(
            f'<tr class="{"" if ok else "bad"}"><td><a href="#{call_anchor(call.get("call_id"))}">'
            f"{_e(call.get('call_id'))}</a></td>"
            f"<td>{_e(call.get('scenario'))}</td>"
            f'<td class="text">{_e(matrix_text) if matrix_text else ""}</td>'
            f'<td><span class="{status_cls}">{_e(call.get("status"))}</span></td>'
            + _num_td(_e(call.get("n_turns")))
            + _num_td(_e(format_number(as_number(call.get("duration_s")), 2)))
            + f'<td class="text">{_e(call.get("error")) if call.get("error") else ""}</td>'
            f"<td>{_audio_links(run_dir, call)}</td></tr>"
        )
    headers = [
        ("call", False),
        ("scenario", False),
        ("matrix", False),
        ("status", False),
        ("turns", True),
        ("duration s", True),
        ("error", False),
        ("audio", False),
    ]
    return f"<h2>Calls ({len(calls)})</h2>" + _table(headers, rows)


def _details_section(run: dict[str, Any]) -> str:
    parts = []
    for key in ("scenarios", "versions", "machine"):
        if run.get(key):
            body = json.dumps(run[key], indent=2, sort_keys=True, default=str)
            parts.append(f"<details><summary>{key}</summary><pre>{_e(body)}</pre></details>")
    return "<h2>Run details</h2>" + "".join(parts) if parts else ""


# ---------------------------------------------------------------- figures


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> None:
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        template="plotly_white",
        height=360,
        margin={"l": 60, "r": 20, "t": 44, "b": 48},
        legend={"orientation": "h", "y": -0.18},
        xaxis_title=x_title,
        yaxis_title=y_title,
        font={"family": "system-ui, sans-serif", "size": 12},
    )


def _hover_rows(points: Sequence[tuple[int, dict[str, Any]]]) -> list[list[str]]:
    """Escaped per-point hover data: plotly renders hover text as HTML-like markup."""
    return [
        [
            html.escape(str(row.get("call_id"))),
            html.escape(str(row.get("turn"))),
            html.escape(str(row.get("caller_text") or "")[:80]),
        ]
        for _, row in points
    ]


_HOVER = "#%{x} call %{customdata[0]} turn %{customdata[1]}<br>%{customdata[2]}<br>"


def _latency_figures(ordered: Sequence[dict[str, Any]], run: dict[str, Any]) -> list[go.Figure]:
    points = [
        (i, row)
        for i, row in enumerate(ordered, start=1)
        if as_number(row.get("latency_ms")) is not None and is_caller_turn(row)
    ]
    if not points:
        return []
    overall = summary(as_number(row.get("latency_ms")) for _, row in points)
    scenarios = sorted({str(row.get("scenario")) for _, row in points})
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(scenarios)}

    per_turn = go.Figure()
    for name in scenarios:
        mine = [(i, row) for i, row in points if str(row.get("scenario")) == name]
        trace_kw: dict[str, Any] = {
            "x": [i for i, _ in mine],
            "y": [as_number(row.get("latency_ms")) for _, row in mine],
            "name": html.escape(name),
            "customdata": _hover_rows(mine),
            "hovertemplate": _HOVER + "latency %{y:.1f} ms<extra></extra>",
            "marker": {"color": colors[name]},
        }
        if len(points) <= 300:
            per_turn.add_trace(go.Bar(**trace_kw))
        else:
            per_turn.add_trace(go.Scatter(mode="markers", **trace_kw))
    for label, value, dash in (("P50", overall["p50"], "dot"), ("P95", overall["p95"], "dash")):
        per_turn.add_hline(
            y=value,
            line={"dash": dash, "color": "#333", "width": 1},
            annotation_text=f"{label} {format_number(value)} ms (n={overall['n']})",
            annotation_position="top left",
        )
    limits = sorted(
        {
            lim["latency_p95_ms"]
            for name, lim in _scenario_limits(run).items()
            if "latency_p95_ms" in lim and name in scenarios
        }
    )
    for limit in limits:
        per_turn.add_hline(
            y=limit,
            line={"dash": "dash", "color": "#c62828", "width": 1},
            annotation_text=f"P95 limit {format_number(limit)} ms",
            annotation_position="top right",
        )
    _layout(per_turn, "Latency per turn", "turn # (see the Turns table)", "latency (ms)")
    per_turn.update_layout(bargap=0.15)

    ecdf = go.Figure()
    for name in scenarios:
        values = sorted(
            v
            for _, row in points
            if str(row.get("scenario")) == name
            for v in [as_number(row.get("latency_ms"))]
            if v is not None
        )
        n = len(values)
        ecdf.add_trace(
            go.Scatter(
                x=values,
                y=[(k + 1) / n for k in range(n)],
                mode="lines+markers" if n <= 50 else "lines",
                line={"shape": "hv", "color": colors[name]},
                marker={"size": 4},
                name=f"{html.escape(name)} (n={n})",
                hovertemplate="%{x:.1f} ms: %{y:.1%} of turns at or below<extra></extra>",
            )
        )
    for label, value in (("P50", overall["p50"]), ("P95", overall["p95"]), ("P99", overall["p99"])):
        ecdf.add_vline(
            x=value,
            line={"dash": "dot", "color": "#333", "width": 1},
            annotation_text=f"{label} {format_number(value)}",
            annotation_position="bottom right",
        )
    _layout(ecdf, "Latency ECDF (share of turns at or below)", "latency (ms)", "share of turns")
    ecdf.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return [per_turn, ecdf]


def _stage_figure(ordered: Sequence[dict[str, Any]]) -> go.Figure | None:
    points = [
        (i, row)
        for i, row in enumerate(ordered, start=1)
        if as_number(row.get("latency_ms")) is not None
        and isinstance(row.get("stages"), dict)
        and any(as_number(row["stages"].get(k)) is not None for k, _ in STAGES)
    ]
    if not points:
        return None
    xs = [i for i, _ in points]
    custom = _hover_rows(points)
    fig = go.Figure()
    sums = [0.0] * len(points)
    for (key, label), color in zip(STAGES, STAGE_COLORS, strict=True):
        ys = [max(0.0, as_number(row["stages"].get(key)) or 0.0) for _, row in points]
        sums = [a + b for a, b in zip(sums, ys, strict=True)]
        fig.add_trace(
            go.Bar(
                x=xs,
                y=ys,
                name=label,
                marker={"color": color},
                customdata=custom,
                hovertemplate=_HOVER + f"{label} %{{y:.1f}} ms<extra></extra>",
            )
        )
    latencies = [as_number(row.get("latency_ms")) or 0.0 for _, row in points]
    remainder = [max(0.0, lat - s) for lat, s in zip(latencies, sums, strict=True)]
    fig.add_trace(
        go.Bar(
            x=xs,
            y=remainder,
            name="unexplained remainder",
            marker={"color": REMAINDER_COLOR},
            customdata=custom,
            hovertemplate=_HOVER + "unexplained %{y:.1f} ms<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=latencies,
            mode="markers",
            name="measured latency",
            marker={"symbol": "line-ew-open", "size": 16, "color": "#111", "line": {"width": 2}},
            customdata=custom,
            hovertemplate=_HOVER + "measured %{y:.1f} ms<extra></extra>",
        )
    )
    _layout(
        fig,
        "Where the time went: agent stages per turn (remainder = measured − stages, ≥ 0)",
        "turn # (see the Turns table)",
        "ms",
    )
    fig.update_layout(barmode="stack", bargap=0.15)
    return fig


def _figure_blocks(figures: Sequence[go.Figure], prefix: str) -> tuple[list[str], list[str]]:
    """Chart divs and their JSON blobs (rendered by BOOT_JS) for `figures`."""
    divs, blobs = [], []
    for n, fig in enumerate(figures):
        div_id = f"{prefix}-{n}"
        divs.append(f'<div class="chart" id="{div_id}"></div>')
        blobs.append(
            f'<script type="application/json" data-plot="{div_id}">'
            f"{_script_json(fig.to_json())}</script>"
        )
    return divs, blobs


def _charts_section(ordered: Sequence[dict[str, Any]], run: dict[str, Any]) -> tuple[str, str]:
    """Return (chart divs, JSON script blocks) for the figures that have data."""
    figures = _latency_figures(ordered, run)
    stage = _stage_figure(ordered)
    if stage is not None:
        figures.append(stage)
    if not figures:
        return '<h2>Charts</h2><p class="muted">No latency measured yet.</p>', ""
    divs, blobs = _figure_blocks(figures, "fig")
    note = (
        '<noscript><p class="muted">Charts need JavaScript; '
        "the tables carry every number.</p></noscript>"
    )
    return "<h2>Charts</h2>" + note + "".join(divs), "".join(blobs)


# ---------------------------------------------------------------- page


def _waterfall_section(
    ordered: Sequence[dict[str, Any]], spans: dict[str, list[dict[str, Any]]]
) -> tuple[str, str]:
    fig = waterfall_figure(ordered, spans)
    if fig is None:
        return "", ""
    divs, blobs = _figure_blocks([fig], "fig-waterfall")
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
    divs, blobs = _figure_blocks([fig] if fig is not None else [], "fig-heatmap")
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
        for lim in _scenario_limits(data.run).values()
        if "latency_p95_ms" in lim
    ]
    limit = min(limits) if limits else None
    fig = load_curve.load_figure(data.load_steps, limit)
    if fig is None:
        return "", ""
    soak = load_curve.soak_figure(data.load_steps)
    divs, blobs = _figure_blocks([fig] if soak is None else [fig, soak], "fig-load")
    brk = load_curve.breakpoint_step(data.load_steps, limit)
    note = (
        f"Breakpoint: {_e(brk.get('concurrency'))} concurrent calls."
        if brk is not None
        else "No breakpoint within the tested concurrency."
    )
    return (
        f'<h2 id="load">Load</h2><p><b>{note}</b></p>' + "".join(divs),
        "".join(blobs),
    )


def render_report(data: RunData, run_dir: Path, embed_audio: bool = False) -> str:
    """Render the whole page for a loaded run as one HTML string."""
    label, reason = verdict(data.run)
    ordered = _ordered_turns(data.turns)
    spans = spans_by_trace(data.spans)
    charts, blobs = _charts_section(ordered, data.run)
    waterfall, wf_blobs = _waterfall_section(ordered, spans)
    heat, heat_blobs = _matrix_section(data)
    load, load_blobs = _load_section(data)
    blobs += wf_blobs + heat_blobs + load_blobs
    scale_ms = max((v for vs in _latency_by_scenario(ordered).values() for v in vs), default=0.0)
    body = "".join(
        (
            _header(data, label, reason),
            sections.glance(label, ordered, data.calls, spans, data.baseline),
            _slo_section(data.run, data.baseline),
            sections.baseline_section(data.baseline),
            _summary_section(ordered),
            waterfall,
            heat,
            charts,
            load,
            sections.turn_taking_section(ordered),
            _turns_section(ordered, data.run),
            _calls_section(data.calls, run_dir),
            judge_section(data.calls),
            calls_sections(
                data.calls,
                ordered,
                run_dir,
                lambda row: waterfall_html(row, spans, scale_ms),
                embed_audio=embed_audio,
            ),
            _details_section(data.run),
        )
    )
    title = f"voxsim {label} — {data.run.get('run_id', 'run')}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main>"
        f"{blobs}"
        f"<script>{plotly.offline.get_plotlyjs()}</script>"
        f"<script>{BOOT_JS}</script>"
        "</body></html>\n"
    )


def write_report(run_dir: Path, embed_audio: bool = False) -> Path:
    """Write `run_dir/report.html` atomically and return its path.

    Works on a run stopped part-way: missing SLO results render INCOMPLETE and
    the tables show whatever rows exist. `embed_audio` inlines each call's
    recordings as players (large; off by default: links instead).
    """
    run_dir = Path(run_dir)
    page = render_report(RunData.load(run_dir), run_dir, embed_audio=embed_audio)
    return write_atomic(run_dir / REPORT_HTML, page.encode("utf-8"))

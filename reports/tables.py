"""The report's plain-HTML tables: header, SLOs, latency and WER summaries, turns, calls.

They answer "did it pass and why" with JavaScript off. Every figure comes
from simulator/metrics/ (the functions the SLO verdict uses) over the rows
of the run directory, so a number here equals the verdict's.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from reports import sections
from reports.markup import as_dict, e, num_td, table
from reports.rundir import RunData, scenario_limits
from reports.stats import format_metric, format_number
from reports.transcripts import call_anchor
from simulator.audio import recording_files
from simulator.metrics.stats import Summary, as_number, summary
from simulator.metrics.summary import reply_latencies
from simulator.metrics.wer import aggregate
from simulator.rows import CallRow, TurnRow

_WER_EDITS = ("substitutions", "deletions", "insertions")


def slo_results(run: dict[str, Any]) -> list[dict[str, Any]]:
    """run.json's SLO results (what the verdict judged), malformed entries left out."""
    return [r for r in run.get("slo_results") or [] if isinstance(r, dict)]


def header(data: RunData, label: str, reason: str) -> str:
    """The page's title, the verdict with its reason, and the run's facts."""
    run = data.run
    agent = as_dict(run.get("agent"))
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
    items = "".join(f"<span>{k}: <b>{e(v)}</b></span>" for k, v in meta)
    return (
        f"<h1>voxsim run {e(run.get('run_id', '(unknown)'))}</h1>"
        f'<div><span class="verdict {label}">{label}</span>'
        f'<span class="reason">{e(reason)}</span></div>'
        f'<div class="meta">{items}</div>'
    )


def slo_section(run: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    """The SLO results as the verdict recorded them (run.json's slo_results), with the
    change against the baseline when there is one."""
    results = slo_results(run)
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
            f'<tr class="{row_cls}"><td>{e(r.get("scenario"))}</td><td>{e(metric)}</td>'
            + num_td(e(format_metric(metric, value)))
            + num_td(e(r.get("n")))
            + num_td(e(format_metric(metric, as_number(r.get("limit")))))
            + f"<td>{result}</td>"
            + (
                num_td(e(sections.baseline_delta(baseline, r.get("scenario"), metric)))
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
    return "<h2>SLOs</h2>" + table(headers, rows)


def _summary_row(name: str, s: Summary) -> str:
    cells = [num_td(str(s["n"]))]
    for key in ("p50", "p95", "p99", "mean", "min", "max"):
        value = s[key]
        cells.append(num_td(e(format_number(value))))
    return f"<tr><td>{e(name)}</td>{''.join(cells)}</tr>"


def latency_by_scenario(turns: Sequence[TurnRow]) -> dict[str, list[float]]:
    """Reply latencies per scenario (scenarios without one left out)."""
    groups: dict[str, list[TurnRow]] = defaultdict(list)
    for row in turns:
        groups[str(row.get("scenario"))].append(row)
    by_scenario = {name: reply_latencies(rows) for name, rows in groups.items()}
    return {name: values for name, values in by_scenario.items() if values}


def summary_section(turns: Sequence[TurnRow]) -> str:
    """Latency distribution over caller turns (and per scenario), then the WER table."""
    by_scenario = latency_by_scenario(turns)
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
        + table(headers, rows)
        + '<p class="muted small">Percentiles over turns with a measured latency '
        "(linear interpolation); n is the number of such turns.</p>"
    )
    return out + _wer_section(turns)


def _wer_section(turns: Sequence[TurnRow]) -> str:
    groups: dict[str, list[TurnRow]] = defaultdict(list)
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
            f"<tr><td>{e(name)}</td>"
            + num_td(str(corpus["n"]))
            + num_td(str(corpus["ref_words"]))
            + "".join(num_td(str(corpus[k])) for k in _WER_EDITS)
            + num_td(e(format_number(as_number(corpus["wer"]), 3)))
            + num_td(e(format_number(mean, 3)))
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
        + table(headers, rows)
        + '<p class="muted small">WER (all words) = (subs + dels + ins) / ref words '
        "summed over turns.</p>"
    )


def turns_section(ordered: Sequence[TurnRow], run: dict[str, Any]) -> str:
    """Every turn in order, a latency above its scenario's P95 limit marked."""
    if not ordered:
        return '<h2>Turns</h2><p class="muted">No turns recorded.</p>'
    limits = scenario_limits(run)
    rows = [
        _turn_row(index, row, limits.get(str(row.get("scenario")), {}).get("latency_p95_ms"))
        for index, row in enumerate(ordered, start=1)
    ]
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
        f'<div class="scroll">{table(headers, rows)}</div>'
    )


def _turn_row(index: int, row: TurnRow, limit: float | None) -> str:
    latency = as_number(row.get("latency_ms"))
    over = latency is not None and limit is not None and latency > limit
    wer = as_number(row.get("wer"))
    wer_title = (
        f"subs {row.get('wer_subs', 0)}, dels {row.get('wer_dels', 0)}, "
        f"ins {row.get('wer_ins', 0)}, ref words {row.get('wer_ref_words')}"
        if wer is not None
        else ""
    )
    stages = as_dict(row.get("stages"))
    stage_title = ", ".join(f"{k} {format_number(as_number(v))}" for k, v in stages.items())
    over_title = f"above the scenario's P95 limit {format_number(limit)} ms" if over else ""
    return (
        f'<tr class="{"bad" if row.get("error") else ""}">'
        + num_td(str(index))
        + f'<td>{e(row.get("call_id"))}<div class="muted small">'
        f"{e(row.get('scenario'))}</div></td>"
        + num_td(e(row.get("turn")))
        + f"<td>{e(row.get('kind'))}</td>"
        + f'<td class="text">{e(row.get("caller_text"))}</td>'
        + f'<td class="text">{e(row.get("agent_heard_text"))}</td>'
        + f'<td class="text">{e(row.get("agent_reply_text"))}</td>'
        + num_td(
            e(format_number(latency)),
            "over" if over else "",
            "; ".join(t for t in (over_title, stage_title) if t),
        )
        + num_td(e(format_number(wer, 3)), title=wer_title)
        + f'<td class="text">{e(row.get("error")) if row.get("error") else ""}</td></tr>'
    )


def _audio_links(run_dir: Path, call: CallRow) -> str:
    """Relative links to the call's recordings that exist; never absolute or '..'."""
    audio_dir = call.get("audio_dir")
    if not isinstance(audio_dir, str) or not audio_dir:
        return ""
    rel = PurePosixPath(audio_dir)
    if rel.is_absolute() or ".." in rel.parts or ":" in audio_dir:
        return ""
    links = []
    for path in recording_files(run_dir / rel):
        href = quote(str(rel / path.name), safe="/")
        links.append(f'<a href="{e(href)}">{path.stem}</a>')
    return " ".join(links)


def calls_section(calls: Sequence[CallRow], run_dir: Path) -> str:
    """One row per call: status, turns, duration, error and links to its recordings."""
    if not calls:
        return '<h2>Calls</h2><p class="muted">No finished calls recorded.</p>'
    rows = []
    for call in calls:
        ok = call.get("status") == "ok"
        matrix = as_dict(call.get("matrix"))
        matrix_text = ", ".join(f"{k}={v}" for k, v in matrix.items())
        status_cls = "pass" if ok else "fail"
        rows.append(
            f'<tr class="{"" if ok else "bad"}"><td><a href="#{call_anchor(call.get("call_id"))}">'
            f"{e(call.get('call_id'))}</a></td>"
            f"<td>{e(call.get('scenario'))}</td>"
            f'<td class="text">{e(matrix_text) if matrix_text else ""}</td>'
            f'<td><span class="{status_cls}">{e(call.get("status"))}</span></td>'
            + num_td(e(call.get("n_turns")))
            + num_td(e(format_number(as_number(call.get("duration_s")), 2)))
            + f'<td class="text">{e(call.get("error")) if call.get("error") else ""}</td>'
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
    return f"<h2>Calls ({len(calls)})</h2>" + table(headers, rows)


def details_section(run: dict[str, Any]) -> str:
    """run.json's scenarios, versions and machine, folded."""
    parts = []
    for key in ("scenarios", "versions", "machine"):
        if run.get(key):
            body = json.dumps(run[key], indent=2, sort_keys=True, default=str)
            parts.append(f"<details><summary>{key}</summary><pre>{e(body)}</pre></details>")
    return "<h2>Run details</h2>" + "".join(parts) if parts else ""

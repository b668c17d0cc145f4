"""Report sections that answer the reader's first questions, in plain HTML (no JavaScript).

"At a glance" answers in one look: did it pass, what is P95 and from how many
turns, which stage dominates the slowest turns, which accent/noise cells are
worst, and whether anything regressed against the baseline. The baseline and
turn-taking tables follow; each hides itself when its data is absent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from reports import matrix
from reports.junit import baseline_message
from reports.markup import e
from reports.stats import format_number
from reports.waterfall import TurnSpans, dominant_stage
from simulator.metrics.stats import as_number, summary
from simulator.metrics.summary import reply_latencies
from simulator.rows import CallRow, TurnRow


def _box(key: str, value: str, detail: str = "", cls: str = "") -> str:
    return (
        f'<div class="{cls}"><div class="k">{key}</div><div class="v">{value}</div>'
        f'<div class="d">{detail}</div></div>'
    )


def glance(
    label: str,
    turns: Sequence[TurnRow],
    calls: Sequence[CallRow],
    spans: TurnSpans,
    baseline: dict[str, Any] | None,
) -> str:
    """The four-to-five answer boxes under the verdict."""
    s = summary(reply_latencies(turns))  # the SLO verdict's population
    boxes = [
        _box(
            "latency P95",
            f"{format_number(s['p95'])} ms" if s["n"] else "no data",
            f"n = {s['n']} caller turns · P50 {format_number(s['p50'])} ms · "
            f"P99 {format_number(s['p99'])} ms",
            "good" if label == "PASS" else "bad" if label == "FAIL" else "",
        )
    ]
    dom = dominant_stage(turns, spans)
    if dom is not None:
        stage, share, n, floor = dom
        boxes.append(
            _box(
                "slowest turns are spent in",
                e(stage),
                f"{share * 100:.0f}% of latency on average in the slowest {n} turn"
                f"{'s' if n != 1 else ''} (≥ {format_number(floor)} ms) · see the waterfall",
            )
        )
    cells = matrix.cells(calls, turns)
    worst = matrix.worst_cells(cells)
    found = matrix.axes(calls, turns)
    if worst and found is not None:
        noise = found[1].rsplit(".", 1)[-1]
        text = "; ".join(
            f"{e(c.accent)} × {e(noise)} {e(c.noise)}: {(c.wer or 0) * 100:.1f}%" for c in worst
        )
        top = f"{e(worst[0].accent)} × {e(noise)} {e(worst[0].noise)}"
        boxes.append(_box("worst accent × noise (WER)", top, text, "bad"))
    if baseline is not None:
        changes = [c for c in baseline.get("changes") or [] if isinstance(c, dict)]
        regressions = [c for c in changes if c.get("regression")]
        detail = (
            "; ".join(f"{e(c.get('scenario'))} {e(c.get('metric'))}" for c in regressions[:3])
            or f"metrics compared: {len(changes)}"
        )
        boxes.append(
            _box(
                "regressions vs baseline",
                str(len(regressions)),
                detail,
                "bad" if regressions else "good",
            )
        )
    return f'<div class="glance">{"".join(boxes)}</div>'


def _fmt_change(change: dict[str, Any], key: str, sign: bool = True) -> str:
    value = as_number(change.get(key))
    if value is None:
        return "—"
    if change.get("unit") == "ms":
        return f"{value:+.1f}" if sign else f"{value:.1f}"
    return f"{value * 100:+.1f} pt" if sign else f"{value * 100:.1f}%"


def baseline_delta(baseline: dict[str, Any] | None, scenario: Any, metric: Any) -> str:
    """The SLO table's "vs baseline" cell for one scenario x metric, or ""."""
    if not baseline:
        return ""
    for c in baseline.get("changes") or []:
        if isinstance(c, dict) and c.get("scenario") == scenario and c.get("metric") == metric:
            mark = " ▲ regression" if c.get("regression") else ""
            return (
                f"{_fmt_change(c, 'delta')} [{_fmt_change(c, 'ci_low')}, "
                f"{_fmt_change(c, 'ci_high')}]{mark}"
            )
    return ""


def _pct(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


def baseline_section(baseline: dict[str, Any] | None) -> str:
    """The baseline comparison table (hidden without baseline.json)."""
    if not baseline:
        return ""
    changes = [c for c in baseline.get("changes") or [] if isinstance(c, dict)]
    rows = []
    for c in changes:
        reg = bool(c.get("regression"))
        verdict = (
            '<span class="fail">REGRESSION</span>'
            if reg
            else "significant, within tolerance"
            if c.get("significant")
            else '<span class="pass">no significant change</span>'
        )
        rows.append(
            f'<tr class="{"bad" if reg else ""}" title="{e(baseline_message(c))}">'
            f"<td>{e(c.get('scenario'))}</td><td>{e(c.get('metric'))}</td>"
            f'<td class="num">{_fmt_change(c, "baseline", False)}</td>'
            f'<td class="num">{_fmt_change(c, "current", False)}</td>'
            f'<td class="num">{_fmt_change(c, "delta")}</td>'
            f'<td class="num">[{_fmt_change(c, "ci_low")}, {_fmt_change(c, "ci_high")}]</td>'
            f'<td class="num">{e(c.get("n_current"))} / {e(c.get("n_baseline"))}</td>'
            f"<td>{e(c.get('method'))}</td><td>{verdict}</td></tr>"
        )
    tol = baseline.get("tolerance") if isinstance(baseline.get("tolerance"), dict) else {}
    tol_ms = as_number(tol.get("latency_ms")) if tol else None
    tol_rate = as_number(tol.get("rate")) if tol else None
    return (
        f'<h2 id="baseline">Baseline comparison <span class="muted small">vs '
        f"{e(baseline.get('baseline_dir'))}</span></h2>"
        '<table><thead><tr><th>scenario</th><th>metric</th><th class="num">baseline</th>'
        '<th class="num">current</th><th class="num">change</th><th class="num">95% CI</th>'
        '<th class="num">n now / base</th><th>method</th><th>verdict</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        '<p class="muted small">Latency in ms, rates in percentage points. A regression is a '
        "change whose 95% interval lies above 0 <b>and</b> which exceeds the tolerance "
        f"({format_number(tol_ms)} ms, {format_number(_pct(tol_rate))} pt). "
        "Percentiles: bootstrap; rates: two-proportion (Newcombe).</p>"
    )


#: per-turn turn-taking flags shown when present in turns.jsonl: key -> label (the
#: session writes `agent_overlap`; rates over calls are metrics.summary.turn_taking's)
TURN_TAKING: tuple[tuple[str, str], ...] = (
    ("agent_overlap", "agent still talking when caller spoke"),
)


def turn_taking_section(turns: Sequence[TurnRow]) -> str:
    """How many caller turns per scenario had each turn-taking flag the run has (else hidden)."""
    present = [f for f in TURN_TAKING if any(f[0] in t for t in turns)]
    if not present:
        return ""
    groups: dict[str, list[TurnRow]] = defaultdict(list)
    for t in turns:
        if t.get("kind", "say") == "say":
            groups[str(t.get("scenario"))].append(t)
    rows = []
    for name, rows_ in sorted(groups.items()):
        cells = [f"<td>{e(name)}</td>", f'<td class="num">{len(rows_)}</td>']
        for key, _ in present:
            values = [t.get(key) for t in rows_ if key in t]
            hits = sum(1 for v in values if v is True)
            cells.append(f'<td class="num">{hits} / {len(values)}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    head = "".join(f'<th class="num">{e(label)}</th>' for _, label in present)
    return (
        "<h2>Turn-taking</h2><table><thead><tr><th>scenario</th>"
        f'<th class="num">caller turns</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )

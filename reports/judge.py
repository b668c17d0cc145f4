"""Judged calls in the report: per scenario the pass^k table, per call the verdict,
its attribution, and each criterion with its evidence marked in the transcript.

Everything is computed from calls.jsonl rows (`verdict`, `attribution`,
`judge`), so `voxsim report DIR` rebuilds it. All text is escaped: agent,
caller and model words are untrusted.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from simulator.metrics.reliability import reliability
from simulator.rows import CallRow


def _e(value: Any) -> str:
    return html.escape(str(value))


def _figure(r: dict[str, Any], key: str) -> str:
    lo, hi = r[key]["ci"]
    interval = f'<span class="muted">[{lo:.2f}, {hi:.2f}]</span>'
    return f'<td class="num">{r[key]["value"]:.2f} {interval}</td>'


def reliability_table(calls: Sequence[CallRow]) -> str:
    """Per scenario: calls, passed, pass@1, pass^k, pass@k with 95 % intervals, flaky."""
    by_scenario: dict[str, list[CallRow]] = {}
    for call in calls:
        if call.get("verdict") is not None:
            by_scenario.setdefault(str(call.get("scenario")), []).append(call)
    rows = []
    for name, scenario_calls in by_scenario.items():
        r = reliability(scenario_calls)
        if r is None:
            continue
        flaky = '<span class="fail">flaky</span>' if r["flaky"] else ""
        rows.append(
            f"<tr><td>{_e(name)}</td><td class='num'>{r['passed']}/{r['n']}</td>"
            f"<td class='num'>{r['k']}</td>"
            + _figure(r, "pass_at_1")
            + _figure(r, "pass_hat_k")
            + _figure(r, "pass_at_k")
            + f"<td class='num'>{r['undecided']}</td><td>{flaky}</td></tr>"
        )
    if not rows:
        return ""
    head = "".join(
        f"<th>{h}</th>"
        for h in ("scenario", "passed", "k", "pass@1", "pass^k", "pass@k", "undecided", "")
    )
    return (
        "<h3>Reliability over repeats</h3>"
        '<p class="muted small">pass^k = C(c,k)/C(n,k): k calls in a row all pass; '
        "pass@k: at least one of k passes (tau-bench); 95 % intervals.</p>"
        f'<table class="reliability"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _transcript(lines: Sequence[dict[str, Any]], marked: dict[int, list[str]]) -> str:
    out = []
    for line in lines:
        n = int(line.get("n", 0))
        text = f"<b>{_e(line.get('who'))}:</b> {_e(line.get('text'))}"
        if n in marked:
            tags = ", ".join(_e(m) for m in marked[n])
            text = f'<mark title="evidence for: {tags}">{text}</mark>'
        out.append(f'<li value="{n}">{text}</li>')
    return f'<ol class="judge-transcript">{"".join(out)}</ol>'


def _criteria(judged: dict[str, Any]) -> str:
    rows = []
    for v in judged.get("criteria") or []:
        passed = v.get("passed")
        state = (
            '<span class="pass">pass</span>'
            if passed is True
            else '<span class="fail">fail</span>'
            if passed is False
            else '<span class="fail">error</span>'
        )
        must = " (must)" if v.get("must") else ""
        quote = f"<q>{_e(v['evidence'])}</q>" if v.get("evidence") else ""
        why = _e(v.get("error") or v.get("reason") or "")
        rows.append(
            f"<tr><td>{state}</td><td class='text'>{_e(v.get('criterion'))}{must}</td>"
            f"<td class='num'>{_e(v.get('weight'))}</td><td class='text'>{quote}</td>"
            f"<td class='text'>{why}</td></tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in ("", "criterion", "weight", "evidence", "reason"))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _call_block(call: CallRow) -> str:
    verdict = call.get("verdict") or {}
    passed = verdict.get("passed")
    label = (
        '<span class="pass">passed</span>'
        if passed is True
        else '<span class="fail">failed</span>'
        if passed is False
        else '<span class="fail">undecided (judge error)</span>'
    )
    parts = [f"<h4>{_e(call.get('call_id'))} · {label}</h4>"]
    attribution = call.get("attribution")
    if attribution:
        parts.append(
            f'<p class="attribution">Cause: <b>{_e(attribution["cause"])}</b> — '
            f"{_e(attribution['evidence'])}</p>"
        )
        others = attribution.get("findings") or []
        if len(others) > 1:
            items = "".join(f"<li>{_e(f['cause'])}: {_e(f['evidence'])}</li>" for f in others)
            parts.append(f"<details><summary>all findings</summary><ul>{items}</ul></details>")
    judged = call.get("judge")
    if isinstance(judged, dict):
        score = judged.get("score")
        shown = "—" if score is None else f"{score:.2f}"
        parts.append(f'<p class="muted small">judge {_e(judged.get("model"))}, score {shown}</p>')
        parts.append(_criteria(judged))
        marked: dict[int, list[str]] = {}
        for v in judged.get("criteria") or []:
            if v.get("line") is not None:
                marked.setdefault(int(v["line"]), []).append(str(v.get("criterion")))
        parts.append(_transcript(judged.get("lines") or [], marked))
    return f'<div class="judged-call">{"".join(parts)}</div>'


def judge_section(calls: Sequence[CallRow]) -> str:
    """The section, or '' when no call has a verdict (an older run directory)."""
    judged = [c for c in calls if c.get("verdict") is not None]
    if not judged:
        return ""
    shown = [
        c for c in judged if c.get("judge") or (c.get("verdict") or {}).get("passed") is not True
    ]
    blocks = "".join(_call_block(c) for c in shown)
    return (
        "<h2>Verdicts and attribution</h2>"
        + reliability_table(judged)
        + (f"<h3>Judged and failed calls ({len(shown)})</h3>{blocks}" if shown else "")
    )

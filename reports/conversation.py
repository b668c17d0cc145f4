"""A goal-driven call in the report: what the caller heard, decided, why, and how fast.

The decision rows come straight from turns.jsonl (`decision`) and the verdict
from calls.jsonl (`conversation`), so every line shown is traceable to the run
directory. All text is escaped: both the agent's words and the model's are
untrusted.
"""

from __future__ import annotations

import html
from typing import Any

from reports.stats import format_number
from simulator.metrics.stats import as_number
from simulator.rows import CallRow, TurnRow


def _e(value: Any) -> str:
    return html.escape(str(value))


def conversation_summary(call: CallRow) -> str:
    """One paragraph: the goal, the policy, how and why the call ended."""
    conv = call.get("conversation")
    if not isinstance(conv, dict):
        return ""
    ok = bool(conv.get("success"))
    verdict = '<span class="pass">goal reached</span>' if ok else '<span class="fail">failed</span>'
    late = as_number(conv.get("caller_late")) or 0
    replay = conv.get("replay") if isinstance(conv.get("replay"), dict) else None
    diverged = ""
    if replay and replay.get("diverged_at_turn") is not None:
        diverged = (
            f' <span class="fail">replay diverged at turn {_e(replay["diverged_at_turn"])}</span>'
        )
    errors = conv.get("errors") or []
    error_line = f'<br><span class="fail">caller errors: {_e("; ".join(errors))}</span>'
    return (
        f'<p class="conversation">Goal: <q>{_e(conv.get("goal", ""))}</q> · policy '
        f"<b>{_e(conv.get('policy', ''))}</b> · {verdict}: {_e(conv.get('reason', ''))} "
        f"· ended by {_e(conv.get('ended_by', ''))} after {_e(conv.get('lines', 0))} line(s)"
        f" · caller late on {format_number(late)}{diverged}"
        + (error_line if errors else "")
        + "</p>"
    )


def decision_row(row: TurnRow, colspan: int) -> str:
    """A row under a caller turn: heard (from where) -> decided (why), with its timings."""
    d = row.get("decision")
    if not isinstance(d, dict):
        return ""
    heard = d.get("heard") or ""
    source = d.get("heard_source") or "none"
    if d.get("say"):
        act = f"say <q>{_e(d['say'])}</q>"
    else:
        act = "stay silent" if not d.get("hang_up") else ""
    if d.get("hang_up"):
        act = f"{act} then hang up" if act else "hang up"
    times = [
        f"{label} {format_number(as_number(d.get(key)))} ms"
        for key, label in (("ears_ms", "ears"), ("decide_ms", "brain"), ("render_ms", "voice"))
        if as_number(d.get(key)) is not None
    ]
    gap = as_number(d.get("gap_ms"))
    achieved = as_number(d.get("achieved_gap_ms"))
    if gap is not None:
        times.append(f"gap {format_number(gap)} → {format_number(achieved)} ms")
    late = ' <span class="fail">caller late</span>' if d.get("caller_late") else ""
    outcome = d.get("outcome")
    ended = ""
    if isinstance(outcome, dict):
        cls = "pass" if outcome.get("success") else "fail"
        ended = f' · <span class="{cls}">call ends: {_e(outcome.get("reason", ""))}</span>'
    raw_notes = d.get("notes")
    notes: dict[str, Any] = raw_notes if isinstance(raw_notes, dict) else {}
    if notes.get("diverged"):
        ended += (
            f' · <span class="fail">diverged: recorded <q>{_e(notes.get("recorded_heard", ""))}'
            "</q></span>"
        )
    return (
        f'<tr class="decision"><td></td><td colspan="{colspan}" class="text small">'
        f"heard ({_e(source)}): <q>{_e(heard) or '—'}</q> → {act} "
        f'<span class="muted">because {_e(d.get("why", ""))} · {" · ".join(times)}</span>'
        f"{late}{ended}</td></tr>"
    )

"""Task success: did the call achieve what the scenario's `expect:` says?

A call succeeds when every check holds:
- `tools`: for each expected tool, some `tool_call` event from the agent
  (`{"type": "tool_call", "name", "arguments", "result"}`) has that name,
  arguments matching `args`, and a result that is not a failure (`ok: false`
  or an `error`) (every expected key present; strings compared
  after the WER normalisation, so "Wednesday" matches "wednesday" and "15:00"
  matches "3 pm"; nested mappings match as subsets);
- `state`: each SQLite query returns exactly the expected rows;
- `agent_says`: each phrase occurs, as consecutive words after
  normalisation, in what the harness heard the agent say (`spoken_text`).
The rate over calls carries n and a Wilson 95% interval (metrics/stats.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from simulator.metrics.stats import proportion
from simulator.metrics.wer import normalize
from simulator.scenario import Expect, StateCheck, ToolExpectation


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _same(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, str) or isinstance(actual, str):
        return normalize(str(expected)) == normalize(str(actual))
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_same(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def tool_calls(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The agent's `tool_call` events, in order."""
    return [e for e in events if e.get("type") == "tool_call" and isinstance(e.get("name"), str)]


def tool_failed(call: dict[str, Any]) -> str | None:
    """Why a tool call's result says it failed (`ok: false` or an `error`), else None."""
    result = call.get("result")
    if isinstance(result, dict) and (result.get("ok") is False or result.get("error")):
        return str(result.get("error") or "ok: false")
    return None


def _check_tool(want: ToolExpectation, calls: Sequence[dict[str, Any]]) -> dict[str, Any]:
    named = [c for c in calls if c["name"] == want.name]
    matched = [c for c in named if _same(want.args, c.get("arguments") or {})]
    ok = any(tool_failed(c) is None for c in matched)
    seen = [c.get("arguments") for c in named]
    if ok:
        reason = ""
    elif matched:
        reason = f"called, but it failed: {tool_failed(matched[-1])}"
    else:
        reason = f"called with {seen}" if named else "never called"
    return {"check": f"tool {want.name} {want.args}", "passed": ok, "reason": reason}


def _check_state(want: StateCheck, call_id: str) -> dict[str, Any]:
    label = f"state {want.query}"
    path = Path(want.sqlite)
    if not path.exists():
        return {"check": label, "passed": False, "reason": f"no database at {path}"}
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            params = {"call_id": call_id} if ":call_id" in want.query else {}
            rows = [list(r) for r in db.execute(want.query, params).fetchall()]
    except sqlite3.Error as exc:
        return {"check": label, "passed": False, "reason": f"query failed: {exc}"}
    ok = _same(want.rows, rows)
    return {"check": label, "passed": ok, "reason": "" if ok else f"got {rows}"}


def _check_says(phrase: str, heard: str) -> dict[str, Any]:
    ok = f" {normalize(phrase)} " in f" {heard} "
    return {"check": f"agent says {phrase!r}", "passed": ok, "reason": "" if ok else "not heard"}


def evaluate_call(
    expect: Expect,
    call_id: str,
    events: Sequence[dict[str, Any]],
    turns: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """{"passed": bool, "checks": [{check, passed, reason}, ...]} for one call."""
    calls = tool_calls(events)
    heard = normalize(" ".join(str(t.get("spoken_text") or "") for t in turns))
    checks = [_check_tool(t, calls) for t in expect.tools]
    checks += [_check_state(s, call_id) for s in expect.state]
    checks += [_check_says(p, heard) for p in expect.agent_says]
    return {"passed": all(c["passed"] for c in checks), "checks": checks}


def success_rate(results: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """Success rate over calls that had an `expect` (None entries are skipped)."""
    judged = [r for r in results if r is not None]
    return proportion(sum(bool(r["passed"]) for r in judged), len(judged))

"""Why a call failed: `agent`, `caller`, `network`, `judge` or `harness`, with evidence.

Mostly rules over ground truth voxsim has and the agent cannot argue with:
the faults and impairments it injected (which frames the link dropped, and
when), what the caller was given (`facts`, `unknown`) and what it actually
said, what the agent announced it said (its transcript events) against what
reached the caller (voxsim's recognizer on the received audio), the agent's
recognizer against the caller's script, tool calls with their results, the
SLO's latency limit, and the deterministic task checks. The LLM judge's
failed criteria are evidence too, last.

Every finding names a cause and its evidence; the call's `cause` is the
first finding in this order: harness (voxsim itself), network (what voxsim
injected), caller (the simulated caller), agent, judge. The environment and
the simulator are ruled out before the agent is blamed: a missing tool call
is the agent's fault unless the caller never gave the fact it needed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from simulator.judge.transcript import tool_line
from simulator.metrics.task import tool_failed
from simulator.metrics.wer import normalize, score
from simulator.rows import CallRow, TurnRow
from simulator.scenario import Conversation, Scenario

CAUSES = ("harness", "network", "caller", "agent", "judge")
#: A share of an agent turn's audio frames lost on the way that destroys words.
LOSS_SHARE = 0.10
#: WER between two texts of one utterance above which one side misheard it.
MISHEARD_WER = 0.25
#: A frame sent this late means the harness could not pace the caller's audio.
LATE_FRAME_MS = 40.0
_HARNESS_ERROR = re.compile(r"^[A-Za-z_]*(Error|Exception)\(")


def drop_runs(fates: Sequence[Any], t0: float) -> list[list[float]]:
    """Runs of packets the link lost for good, on the call timeline: [[start_s, end_s, n]]."""
    runs: list[list[float]] = []
    for fate in fates:
        if fate.deliver is not None:
            continue
        at = round(float(fate.sent) - t0, 3)
        if runs and at - runs[-1][1] <= 0.045:
            runs[-1][1] = at
            runs[-1][2] += 1
        else:
            runs.append([at, at, 1])
    return runs


def word_error(reference: str, hypothesis: str) -> float:
    """WER of `hypothesis` against `reference` (1.0 when the reference has no words)."""
    result = score(reference, hypothesis)
    return result.wer if result.ref_words else 1.0


def _finding(cause: str, evidence: str, check: str | None = None) -> dict[str, Any]:
    return {"cause": cause, "evidence": evidence, **({"check": check} if check else {})}


def _lost_in(runs: Sequence[Sequence[float]], start: float, end: float) -> int:
    return int(sum(n for a, b, n in runs if b >= start and a <= end))


def _frames(start: float, end: float) -> int:
    return max(1, int(round((end - start) / 0.02)))


def _said(turns: Sequence[TurnRow]) -> str:
    return normalize(" ".join(str(t.get("caller_text") or "") for t in turns))


def _contains(haystack: str, value: Any) -> bool:
    needle = normalize(str(value))
    return bool(needle) and f" {needle} " in f" {haystack} "


def trusted(judged: dict[str, Any]) -> bool:
    """False when the judge failed its calibration: its verdicts are shown, not counted."""
    return (judged.get("calibration") or {}).get("passed") is not False


def verdict(call: CallRow) -> dict[str, Any]:
    """Did the call pass? False on a failed call, task check or judged criterion;
    None when only the judge could not decide; `failed` lists what failed."""
    failed: list[str] = []
    if call.get("status") != "ok":
        failed.append(f"call failed: {call.get('error')}")
    task = call.get("task")
    if task is not None:
        failed += [f"{c['check']}: {c['reason']}" for c in task["checks"] if not c["passed"]]
    judged = call.get("judge")
    if judged is not None and trusted(judged):
        failed += [
            f"judge: {v['criterion']}" for v in judged["criteria"] if v.get("passed") is False
        ]
    passed: bool | None = not failed
    if not failed and judged is not None and judged.get("passed") is None:
        passed = None
    return {"passed": passed, "failed": failed}


def attribute(scenario: Scenario, call: CallRow) -> dict[str, Any] | None:
    """{"cause", "evidence", "findings"} for a call that did not pass, else None."""
    v = call.get("verdict") or verdict(call)
    if v["passed"] is True:
        return None
    turns: list[TurnRow] = sorted(call.get("turns") or [], key=lambda t: t["turn"])
    findings = [
        *_harness(scenario, call, turns),
        *_network(scenario, call, turns),
        *_caller(scenario, call, turns),
        *_agent(scenario, call, turns),
        *_judge(call),
    ]
    if not findings:
        findings = [_finding("agent", "; ".join(v["failed"]) or "the call did not pass")]
    first = min(findings, key=lambda f: CAUSES.index(f["cause"]))
    return {"cause": first["cause"], "evidence": first["evidence"], "findings": findings}


# ---------------------------------------------------------------- the rules


def _harness(scenario: Scenario, call: CallRow, turns: Sequence[TurnRow]) -> list[dict[str, Any]]:
    out = []
    error = str(call.get("error") or "")
    if call.get("status") != "ok" and _HARNESS_ERROR.match(error):
        out.append(_finding("harness", f"voxsim failed: {error[:200]}"))
    late = float(call.get("max_send_lateness_ms") or 0.0)
    explained = _timing_failure(scenario, turns, late) if late > LATE_FRAME_MS else None
    if explained is not None:
        out.append(
            _finding(
                "harness",
                f"the caller's audio was sent up to {late:.0f} ms late (busy box): {explained}",
            )
        )
    return out


def _timing_failure(scenario: Scenario, turns: Sequence[TurnRow], late: float) -> str | None:
    """The failure a harness `late` ms behind can explain, if any. Late frames reach the
    agent intact, only later: they can push a reply past the latency SLO or a reply
    timeout, not turn a right answer wrong (a failed tool, an unheard phrase stay
    the agent's)."""
    for t in turns:
        if t.get("kind") != "say":
            continue
        if t.get("latency_ms") is None and "timeout" in str(t.get("error") or ""):
            return f"turn {t['turn']} had no reply before its timeout"
        limit = scenario.slo.latency_p95_ms
        latency = t.get("latency_ms")
        if limit is not None and latency is not None and limit < latency <= limit + late:
            return f"turn {t['turn']} ({latency:.0f} ms) would be within the SLO without it"
    return None


def _network(scenario: Scenario, call: CallRow, turns: Sequence[TurnRow]) -> list[dict[str, Any]]:
    net = call.get("network") or {}
    down = (net.get("downlink") or {}).get("drops_s") or []
    up = (net.get("uplink") or {}).get("drops_s") or []
    out = []
    for t in turns:
        onset, end = t.get("agent_onset_s"), t.get("agent_end_s")
        announced, heard = t.get("agent_reply_text"), t.get("spoken_text")
        if down and onset is not None and end is not None and announced:
            # The reply's first frames may be the lost ones: the window opens when the
            # caller stopped speaking, not at the first agent sound that got through.
            start = min(onset, t.get("speech_end_s") or onset)
            lost = _lost_in(down, start, end)
            share = lost / (lost + _frames(onset, end))
            wer = word_error(announced, heard or "")
            if share >= LOSS_SHARE and wer >= MISHEARD_WER:
                out.append(
                    _finding(
                        "network",
                        f"downlink lost {lost} packets ({share:.0%} of the agent's reply, "
                        f"{start:.2f}-{end:.2f} s) while the agent said {announced!r}; "
                        f"the caller heard {heard or '(nothing)'!r}",
                    )
                )
        spoke, stop = t.get("speech_start_s"), t.get("speech_end_s")
        said, got = t.get("caller_text"), t.get("agent_heard_text")
        if up and spoke is not None and stop is not None and said:
            lost = _lost_in(up, spoke, stop)
            share = lost / _frames(spoke, stop)
            if share >= LOSS_SHARE and word_error(said, got or "") >= MISHEARD_WER:
                out.append(
                    _finding(
                        "network",
                        f"uplink lost {lost} packets ({share:.0%} of the caller's line) "
                        f"while it said {said!r}; the agent heard {got or '(nothing)'!r}",
                    )
                )
    return out


def _caller(scenario: Scenario, call: CallRow, turns: Sequence[TurnRow]) -> list[dict[str, Any]]:
    out = []
    conv = scenario.conversation
    record = call.get("conversation") or {}
    if record.get("ended_by") == "caller_error":
        errors = "; ".join(record.get("errors") or []) or record.get("reason", "")
        out.append(_finding("caller", f"the caller's brain failed: {errors}"))
    out += _facts_not_said(scenario, call, _said(turns))
    if conv is not None:
        out += _invented(conv, turns)
        out += _misheard(turns)
    return out


def _facts_not_said(scenario: Scenario, call: CallRow, said: str) -> list[dict[str, Any]]:
    """A failed tool check whose argument the caller never said: it was not given it,
    it gave up before saying it, or (a script) its lines never say it."""
    conv = scenario.conversation
    record = call.get("conversation") or {}
    task = call.get("task") or {"checks": []}
    expected = scenario.expect.tools if scenario.expect is not None else []
    failed_checks = {c["check"] for c in task["checks"] if not c["passed"]}
    out = []
    for want in expected:
        label = f"tool {want.name} {want.args}"
        if label not in failed_checks:
            continue
        for key, value in want.args.items():
            needs = f"{want.name} needs {key}={value!r}"
            if _contains(said, value):
                continue
            if conv is not None and key not in conv.facts and value not in conv.facts.values():
                given = "it did not know it" if key in conv.unknown else "not in its facts"
                why = f"{needs}: the caller was never given it ({given}) and never said it"
                out.append(_finding("caller", why, label))
            elif conv is not None and record.get("ended_by") == "caller":
                # it gave up (or hung up) before saying what it had: an agent that hung
                # up first, or a cap, is not the caller's doing
                ended = record.get("reason") or record.get("ended_by")
                why = f"{needs}: the caller had it but never said it (the call ended: {ended})"
                out.append(_finding("caller", why, label))
            elif conv is None:
                out.append(_finding("caller", f"{needs}: the script never says it", label))
    return out


def _invented(conv: Conversation, turns: Sequence[TurnRow]) -> list[dict[str, Any]]:
    """A goal-driven caller's line with a value it was never given."""
    from simulator.conversation.policy import invented_values

    allowed = [
        *conv.facts.values(),
        conv.goal,
        conv.opening or "",
        *(r.say for r in conv.when if r.say),
    ]
    out = []
    for t in turns:
        if t.get("decision") and t.get("caller_text"):
            invented = invented_values(str(t["caller_text"]), allowed)
            if invented:
                out.append(
                    _finding(
                        "caller",
                        f"the caller said {', '.join(invented)}, a value it was never given: "
                        f"{t['caller_text']!r}",
                    )
                )
    return out


def _misheard(turns: Sequence[TurnRow]) -> list[dict[str, Any]]:
    """A goal-driven caller's ears against the agent's announced words of the turn before."""
    pairs = [
        (str(prev["agent_reply_text"]), str((t.get("decision") or {}).get("heard") or ""))
        for prev, t in zip(turns, turns[1:], strict=False)
        if (t.get("decision") or {}).get("heard_source") == "audio" and prev.get("agent_reply_text")
    ]
    return [
        _finding("caller", f"the caller's recognizer heard {heard!r} where the agent said {said!r}")
        for said, heard in pairs
        if word_error(said, heard) >= MISHEARD_WER
    ]


def _agent(scenario: Scenario, call: CallRow, turns: Sequence[TurnRow]) -> list[dict[str, Any]]:
    out = []
    error = str(call.get("error") or "")
    if call.get("status") != "ok" and not _HARNESS_ERROR.match(error):
        out.append(_finding("agent", f"the call failed: {error[:200]}"))
    for tool in call.get("tool_calls") or []:
        if tool_failed(tool) is not None:
            out.append(_finding("agent", f"tool {tool_line(tool)}"))
    for c in (call.get("task") or {"checks": []})["checks"]:
        if not c["passed"] and c["check"] != "caller reached its goal":
            out.append(_finding("agent", f"{c['check']}: {c['reason']}", c["check"]))
    for t in turns:
        said, got = t.get("caller_text"), t.get("agent_heard_text")
        if said and t.get("kind") == "say" and got is not None:
            if word_error(said, got) >= MISHEARD_WER:
                out.append(
                    _finding("agent", f"misunderstood the caller: heard {got!r} for {said!r}")
                )
    limit = scenario.slo.latency_p95_ms
    if limit is not None:
        slow = [t for t in turns if t.get("kind") == "say" and (t.get("latency_ms") or 0) > limit]
        for t in slow:
            out.append(
                _finding(
                    "agent",
                    f"too slow: turn {t['turn']} answered in {t['latency_ms']:.0f} ms "
                    f"(SLO {limit:.0f} ms)",
                )
            )
    record = call.get("conversation") or {}
    if record and not record.get("success") and record.get("ended_by") != "caller_error":
        out.append(_finding("agent", f"the caller's goal was not reached: {record.get('reason')}"))
    judged = call.get("judge") or {}
    for v in judged.get("criteria") or [] if trusted(judged) else []:
        if v.get("passed") is False:
            quote = f": {v['evidence']!r}" if v.get("evidence") else ""
            out.append(_finding("agent", f"judge: {v['criterion']!r} failed{quote}"))
    return out


def _judge(call: CallRow) -> list[dict[str, Any]]:
    judged = call.get("judge") or {}
    if judged.get("error"):
        return [_finding("judge", f"no verdict: {judged['error']}")]
    return []

"""Judge a whole call against the scenario's `judge:` criteria with an LLM.

One request per criterion, so each question is small: the system prompt,
then the call's goal and numbered transcript (simulator/judge/transcript.py:
both sides, tool calls with arguments and results), then the criterion last
(a local server reuses the transcript's prompt cache for the next
criterion). The answer is one JSON object, constrained by a json_schema
`response_format`:

    {"evidence": <one transcript line, an enum of the call's own lines>,
     "passed": bool, "reason": str}

`evidence` comes first and is an enum of the transcript's lines, so a
constrained model can only quote what was said. The quote is still checked
(an endpoint that ignores the schema may write anything): it must be a piece
of a line (case and spacing aside), else the answer is refused and asked
again with a correction. Temperature 0 and a seed; an HTTP error, a timeout,
an empty, non-JSON, wrong-shape or unquoted answer is retried
(`judge.llm.retries`), then the criterion is a judge error: the call's
`judge.error` row says so and the run goes on. Accepted answers are cached
by their inputs (model, messages, schema, temperature, seed, max_tokens):
a re-run reads them back, identical, without a request.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simulator.caller.cache import cache_dir
from simulator.judge.transcript import Line, render
from simulator.llm_client import NoValidReply, ask, content_of, loads, short
from simulator.scenario import Criterion, Judge

#: Bump when the prompt or schema changes: old cached judgements are not reused.
PROMPT_VERSION = "judge-1"
REASON_MAX = 120
NO_LINE = "(no line shows it)"

SYSTEM = (
    "You check one phone call between a CALLER and an AGENT (a voice assistant) against "
    "one criterion about the call. Read the numbered transcript. Lines are 'caller:' (what "
    "the caller said), 'agent:' (what the agent said), 'tool:' (an action the agent took, "
    "with its result), 'agent heard:' and 'caller heard:' (what each side's ears made of "
    'the other). Answer with JSON: "evidence" is the transcript line that decides the '
    'criterion, copied exactly; "passed" is true when the transcript shows the criterion '
    'holds and false when it does not; "reason" is one short sentence.'
)


def _schema(lines: Sequence[Line]) -> dict[str, Any]:
    quotes = list(dict.fromkeys([line.label for line in lines] + [NO_LINE]))
    return {
        "type": "object",
        "properties": {
            "evidence": {"type": "string", "enum": quotes},
            "passed": {"type": "boolean"},
            "reason": {"type": "string", "maxLength": REASON_MAX},
        },
        "required": ["evidence", "passed", "reason"],
        "additionalProperties": False,
    }


def messages_for(goal: str, lines: Sequence[Line], criterion: str) -> list[dict[str, Any]]:
    """The request for one criterion (the transcript first, the criterion last)."""
    body = f"The caller's goal: {goal or '(not given)'}\n\nTranscript:\n{render(lines)}\n\n"
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": body + f"Criterion: {criterion}"},
    ]


def _squash(text: str) -> str:
    return " ".join(text.lower().split())


def find_quote(quote: str, lines: Sequence[Line]) -> Line | None:
    """The line `quote` is a piece of (its label or its text), or None."""
    q = _squash(quote).strip(" .\"'")
    if not q:
        return None
    for line in lines:
        if q in _squash(line.label) or q in _squash(line.text):
            return line
    return None


def _checker(lines: Sequence[Line]) -> Any:
    correction = (
        'Answer again with one JSON object only: {"evidence": <a line copied exactly from the '
        'transcript>, "passed": true or false, "reason": <one short sentence>}.'
    )

    def check(reply: Any) -> tuple[str, dict[str, Any] | None, str, str | None]:
        content, problem = content_of(reply)
        if content is None:
            return "", None, problem, correction if problem == "empty content" else None
        value = loads(content)
        if not isinstance(value, dict):
            return content, None, f"not JSON: {short(content)}", correction
        evidence, passed, reason = value.get("evidence"), value.get("passed"), value.get("reason")
        if not isinstance(evidence, str) or not isinstance(passed, bool):
            return content, None, "'evidence' or 'passed' missing or of the wrong type", correction
        line = None if evidence == NO_LINE else find_quote(evidence, lines)
        if evidence != NO_LINE and line is None:
            wrong = f"evidence not in the transcript: {short(evidence, 60)!r}"
            return content, None, wrong, f"{correction} The evidence must be in the transcript."
        answer = {
            "passed": passed,
            "evidence": None if line is None else evidence,
            "line": None if line is None else line.n,
            "reason": short(str(reason or ""), REASON_MAX),
        }
        return content, answer, "", None

    return check


def _key(judge: Judge, messages: list[dict[str, Any]], schema: dict[str, Any]) -> str:
    cfg = judge.llm
    inputs = {
        "v": PROMPT_VERSION,
        "model": cfg.model,
        "temperature": cfg.temperature,
        "seed": cfg.seed,
        "max_tokens": cfg.max_tokens,
        "messages": messages,
        "schema": schema,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _cached(key: str) -> dict[str, Any] | None:
    path = cache_dir("judge") / key[:2] / f"{key}.json"
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _store(key: str, answer: dict[str, Any]) -> None:
    folder = cache_dir("judge") / key[:2]
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{key}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(answer, sort_keys=True))
    tmp.replace(Path(folder / f"{key}.json"))


async def judge_criterion(
    judge: Judge, criterion: Criterion, goal: str, lines: Sequence[Line]
) -> dict[str, Any]:
    """One criterion's verdict: passed, evidence (a real quote), line, reason; or error."""
    messages = messages_for(goal, lines, criterion.criterion)
    schema = _schema(lines)
    row: dict[str, Any] = {
        "criterion": criterion.criterion,
        "weight": criterion.weight,
        "must": criterion.must,
    }
    key = _key(judge, messages, schema)
    if judge.cache:
        hit = _cached(key)
        if hit is not None:
            return {**row, **hit, "cached": True}
    started = time.perf_counter()
    try:
        answer, notes = await ask(judge.llm, messages, "criterion_verdict", schema, _checker(lines))
    except NoValidReply as exc:
        cfg = judge.llm
        return {
            **row,
            "passed": None,
            "error": f"judge ({cfg.model} at {cfg.base_url}): {exc}",
            "model_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    answer["attempts"] = notes["attempts"]
    if notes.get("problems"):
        answer["problems"] = notes["problems"]
    if judge.cache:
        _store(key, answer)
    return {**row, **answer, "cached": False, "model_ms": notes["model_ms"]}


#: A call whose truth is plain, and two questions about it with their answers: a judge
#: must get both right before its verdicts count (`judge.calibrate`).
CONTROL_GOAL = "book a table for two on Friday"
CONTROL_LINES = [
    Line(1, "agent", "Hello, how can I help you?"),
    Line(2, "caller", "I would like to book a table for two on Friday."),
    Line(3, "tool", "book_table(day=friday, people=2) -> error: no tables left"),
    Line(4, "agent", "Sorry, we are fully booked on Friday. Goodbye."),
]
CONTROLS = [("The agent booked the table.", False), ("The agent apologised.", True)]
_calibrated: dict[tuple[str, str, float, int], dict[str, Any]] = {}


async def calibration(judge: Judge) -> dict[str, Any]:
    """The judge's answers to the control questions: `passed` True (both right), False
    (one wrong: its verdicts are not to be trusted), or None (it could not answer).
    Asked once per endpoint, model, temperature and seed in a process (and cached)."""
    cfg = judge.llm
    key = (cfg.base_url, cfg.model, cfg.temperature, cfg.seed)
    if key in _calibrated:
        return _calibrated[key]
    controls = []
    for text, truth in CONTROLS:
        v = await judge_criterion(judge, Criterion(criterion=text), CONTROL_GOAL, CONTROL_LINES)
        controls.append(
            {"criterion": text, "expected": truth, "got": v.get("passed"), "error": v.get("error")}
        )
    errors = [c["error"] for c in controls if c["error"]]
    out = {
        "passed": None if errors else all(c["got"] == c["expected"] for c in controls),
        "controls": controls,
    }
    if not errors:  # a broken endpoint may come back: ask again next time
        _calibrated[key] = out
    return out


def _untrusted(cal: dict[str, Any]) -> str:
    wrong = [c for c in cal["controls"] if c["got"] is not None and c["got"] != c["expected"]]
    said = "; ".join(
        f"{c['criterion']!r} {'passed' if c['got'] else 'failed'} (it should have "
        f"{'passed' if c['expected'] else 'failed'})"
        for c in wrong
    )
    return f"the judge failed its calibration on a plain call: {said}; its verdicts are not counted"


async def judge_call(judge: Judge, goal: str, lines: Sequence[Line]) -> dict[str, Any]:
    """Every criterion of `judge` on one call, and the call's judged verdict.

    `passed` is None when a criterion could not be judged (`error` says why),
    or when the judge failed its calibration (`calibration`): its verdicts are
    shown but not counted. Otherwise every `must` criterion passed and the
    weighted share of passed criteria (`score`) reaches `min_score`.
    """
    started = time.perf_counter()
    cal = await calibration(judge) if judge.calibrate else None
    verdicts = [await judge_criterion(judge, c, goal, lines) for c in judge.criteria]
    errors = [v["error"] for v in verdicts if v.get("error")]
    total = sum(v["weight"] for v in verdicts)
    got = sum(v["weight"] for v in verdicts if v.get("passed"))
    score = got / total if total else 0.0
    passed: bool | None = None
    if not errors:
        musts = all(v["passed"] for v in verdicts if v["must"])
        passed = musts and score >= judge.min_score - 1e-9
    failed_must = [v for v in verdicts if v["must"] and v.get("passed") is False]
    if failed_must:
        passed = False  # a failed must decides even when another criterion errored
    if cal is not None and cal["passed"] is False:
        passed = None
        errors.append(_untrusted(cal))
    return {
        "model": judge.llm.model,
        "criteria": verdicts,
        "score": None if any(v.get("error") for v in verdicts) else round(score, 4),
        "passed": passed,
        "error": "; ".join(errors) if errors else None,
        **({"calibration": cal} if cal is not None else {}),
        "judge_ms": round((time.perf_counter() - started) * 1000, 1),
        "lines": [
            {"n": line.n, "who": line.who, "text": line.text, "turn": line.turn} for line in lines
        ],
    }

"""Run-level summaries computed from the run directory's rows (turns and calls).

One function per figure family, all of them functions of rows only, so a
report or a baseline comparison can recompute them from turns.jsonl and
calls.jsonl. `summarize_run` gathers them for run.json.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from simulator.metrics.stats import as_number, proportion, summarize
from simulator.metrics.task import success_rate
from simulator.metrics.wer import aggregate
from simulator.rows import CallRow, TurnRow


def is_caller_turn(turn: TurnRow) -> bool:
    """A caller's `say` turn (a row without a kind counts as one): what latency covers."""
    return turn.get("kind", "say") == "say"


def reply_latencies(turns: Sequence[TurnRow]) -> list[float]:
    """Voice-to-voice latencies of caller turns that got a reply, in row order.

    The one population of the latency figures: the SLO verdict, run.json, the
    report's tables, charts and cells, and the baseline comparison.
    """
    measured = (as_number(t.get("latency_ms")) for t in turns if is_caller_turn(t))
    return [v for v in measured if v is not None]


def cell_key(call: CallRow) -> str:
    """A matrix cell's name: scenario plus its matrix values, stable across runs."""
    matrix = call.get("matrix") or {}
    values = ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(matrix.items()))
    return f"{call.get('scenario')}[{values}]" if values else str(call.get("scenario"))


def latency_by_cell(calls: Sequence[CallRow], turns: Sequence[TurnRow]) -> dict[str, Any]:
    """Latency distribution (n, P50/P95/P99 with bootstrap CIs) per matrix cell."""
    cell_of = {c["call_id"]: cell_key(c) for c in calls}
    grouped: dict[str, list[TurnRow]] = defaultdict(list)
    for t in turns:
        grouped[cell_of.get(t.get("call_id", ""), str(t.get("scenario")))].append(t)
    return {cell: summarize(reply_latencies(rows)) for cell, rows in sorted(grouped.items())}


def stage_latencies(turns: Sequence[TurnRow]) -> dict[str, Any]:
    """Agent stage latencies: from joined spans (per span name) with the explained part
    and the remainder, and as the agent reported them in `metrics` events."""
    per: dict[str, list[float]] = defaultdict(list)
    for t in turns:
        for name, ms in (t.get("span_stages") or {}).items():
            per[name].append(float(ms))
    out: dict[str, Any] = {name: summarize(v, qs=(50, 95)) for name, v in sorted(per.items())}
    remainder = [float(r) for t in turns if (r := t.get("span_remainder_ms")) is not None]
    explained = [float(x) for t in turns if (x := t.get("span_explained_ms")) is not None]
    reported: dict[str, list[float]] = defaultdict(list)
    for t in turns:
        for name, ms in (t.get("stages") or {}).items():
            reported[name].append(float(ms))
    return {
        "stages": out,
        "reported_stages": {n: summarize(v, qs=(50, 95)) for n, v in sorted(reported.items())},
        "explained_ms": summarize(explained, qs=(50, 95)),
        "remainder_ms": summarize(remainder, qs=(50, 95)),
    }


def turn_taking(calls: Sequence[CallRow]) -> dict[str, Any]:
    """Turn-taking rates and latencies over calls (each call row carries `turn_taking`)."""
    tt = [c["turn_taking"] for c in calls if c.get("turn_taking")]

    def total(key: str) -> int:
        return sum(int(x.get(key, 0)) for x in tt)

    def pooled(key: str) -> list[float]:
        return [float(v) for x in tt for v in x.get(key, [])]

    barge = pooled("barge_in_stop_ms")
    return {
        "pause_takeover": proportion(total("pause_takeovers"), total("pauses")),
        "backchannel_takeover": proportion(total("backchannel_takeovers"), total("backchannels")),
        "barge_in_stop_ms": summarize(barge, qs=(50, 95)),
        "barge_in_not_stopped": total("barge_in_not_stopped"),
        "reprompt": proportion(len(pooled("reprompt_ms")), total("silences")),
        "reprompt_ms": summarize(pooled("reprompt_ms"), qs=(50, 95)),
        "response_ms": summarize(pooled("response_ms")),
        "agent_talkover_ms": sum(float(x.get("agent_talkover_ms", 0.0)) for x in tt),
        "overlap_ms": sum(float(x.get("overlap_ms", 0.0)) for x in tt),
    }


def first_audio_ms(calls: Sequence[CallRow]) -> list[float]:
    """Each call's time to the agent's first audio (calls that heard none left out)."""
    measured = (as_number(c.get("time_to_first_audio_ms")) for c in calls)
    return [v for v in measured if v is not None]


def summarize_run(calls: Sequence[CallRow], turns: Sequence[TurnRow]) -> dict[str, Any]:
    """Everything run.json reports under `metrics`."""
    said = [t for t in turns if t.get("kind") == "say"]
    return {
        "latency_ms": summarize(reply_latencies(turns)),
        "latency_by_cell": latency_by_cell(calls, turns),
        "time_to_first_audio_ms": summarize(first_audio_ms(calls), qs=(50, 95)),
        "stt_wer": aggregate(said, "wer"),
        "spoken_wer": aggregate(turns, "spoken_wer"),
        "agent_stages": stage_latencies(turns),
        "turn_taking": turn_taking(calls),
        "task_success": success_rate([c.get("task") for c in calls]),
    }

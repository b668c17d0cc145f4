"""Run summaries: per-cell latency, pooled turn-taking, actions read from turn rows."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.metrics.call import actions_from_rows, time_to_first_audio_ms
from simulator.metrics.summary import latency_by_cell, summarize_run
from simulator.scenario import parse_scenario


def test_latency_is_summarised_per_matrix_cell() -> None:
    calls = [
        {"call_id": "a", "scenario": "s", "matrix": {"snr_db": 20}},
        {"call_id": "b", "scenario": "s", "matrix": {"snr_db": 5}},
    ]
    turns = [
        {"call_id": "a", "kind": "say", "latency_ms": 300.0},
        {"call_id": "a", "kind": "say", "latency_ms": 320.0},
        {"call_id": "b", "kind": "say", "latency_ms": 900.0},
        {"call_id": "b", "kind": "wait", "latency_ms": 50.0},  # greeting: not a reply latency
    ]
    cells = latency_by_cell(calls, turns)
    assert cells["s[snr_db=20]"]["n"] == 2 and cells["s[snr_db=20]"]["p50"] == 310.0
    assert cells["s[snr_db=5]"]["n"] == 1 and cells["s[snr_db=5]"]["p50"] == 900.0


def test_turn_taking_is_pooled_over_calls() -> None:
    calls = [
        {
            "call_id": "a",
            "turn_taking": {"pauses": 1, "pause_takeovers": 1, "barge_in_stop_ms": [100.0]},
        },
        {
            "call_id": "b",
            "turn_taking": {"pauses": 3, "pause_takeovers": 0, "barge_in_stop_ms": [300.0]},
        },
    ]
    out = summarize_run(calls, [])["turn_taking"]
    assert out["pause_takeover"]["rate"] == 0.25 and out["pause_takeover"]["n"] == 4
    assert out["barge_in_stop_ms"]["p50"] == 200.0 and out["barge_in_stop_ms"]["n"] == 2


def test_actions_come_from_recorded_rows_and_waiting_say_turns() -> None:
    scenario = parse_scenario(
        "name: a\nturns:\n  - say: hello there\n"
        "  - say: more\n    wait: false\n  - silence_ms: 3000\n"
    )
    rows = [
        {"turn": 0, "kind": "say", "speech_start_s": 0.5, "speech_end_s": 1.5},
        {
            "turn": 1,
            "kind": "say",
            "speech_start_s": 3.0,
            "speech_end_s": 3.4,
            "actions": [{"kind": "barge_in", "start_s": 3.0, "end_s": 3.4}],
        },
        {
            "turn": 2,
            "kind": "silence",
            "actions": [{"kind": "silence", "start_s": 4.0, "end_s": 7.0}],
        },
    ]
    acts = actions_from_rows(rows, scenario)
    assert [(a.kind, a.start, a.end) for a in acts] == [
        ("turn_end", 8000, 24000),
        ("barge_in", 48000, 54400),
        ("silence", 64000, 112000),
    ]


def test_time_to_first_audio_is_the_first_agent_sample_above_threshold() -> None:
    agent = np.zeros(16000, dtype=np.int16)
    agent[5000:6000] = 5000
    assert time_to_first_audio_ms(agent) == pytest.approx(312.5)
    assert time_to_first_audio_ms(np.zeros(10, dtype=np.int16)) is None


def test_actions_are_read_from_the_session_plan_fields() -> None:
    scenario = parse_scenario(
        "name: p\nturns:\n  - say: hello there\n  - say: stop\n  - silence_ms: 3000\n"
    )
    rows = [
        {
            "turn": 0,
            "kind": "say",
            "speech_start_s": 0.5,
            "speech_end_s": 2.0,
            "pauses_s": [[1.0, 1.6]],
        },
        {
            "turn": 1,
            "kind": "say",
            "speech_start_s": 3.0,
            "speech_end_s": 3.4,
            "action": "barge_in",
            "action_at_s": 3.0,
        },
        {"turn": 2, "kind": "silence", "silence_s": [4.0, 7.0]},
    ]
    acts = actions_from_rows(rows, scenario)
    assert [(a.kind, a.start, a.end) for a in acts] == [
        ("turn_end", 8000, 32000),
        ("pause", 16000, 25600),
        ("barge_in", 48000, 54400),
        ("turn_end", 48000, 54400),
        ("silence", 64000, 112000),
    ]

"""--from-run: the stage times a run's turns.jsonl reports become the simulation's service times."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator.capacity.calibrate import apply, measure
from simulator.capacity.engine import simulate

from .deployments import deployment, fixed


def write_run(path: Path, turns: int) -> None:
    """turns.jsonl as `voxsim run` writes it for the bundled agent, with known timings:
    every turn 280 ms of latency = 140 + 3 + 8 + 4 reported + 125 ms no stage
    explains; a tool (2 ms, +2 ms latency) on every other turn; the caller
    speaks 2.0 s and starts again 3.5 s after the agent's first audio."""
    rows: list[dict[str, Any]] = [{"call_id": "c-000", "turn": 0, "kind": "wait", "stages": {}}]
    t = 1.0
    for k in range(1, turns + 1):
        tool = k % 2 == 0
        stages = {"endpoint_ms": 140.0, "stt_ms": 3.0, "context_tokens": 57.0}
        stages.update(llm_ttft_ms=8.0, tts_ms=4.0, **({"tool_ms": 2.0} if tool else {}))
        latency = 282.0 if tool else 280.0
        rows.append(
            {
                "call_id": "c-000",
                "turn": k,
                "kind": "say",
                "speech_start_s": t,
                "speech_end_s": t + 2.0,
                "agent_onset_s": t + 2.0 + latency / 1000,
                "latency_ms": latency,
                "stages": stages,
            }
        )
        t += 2.0 + latency / 1000 + 3.5
    path.mkdir(parents=True, exist_ok=True)
    (path / "turns.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")


def test_measured_stage_times_and_their_remainder_become_empirical_service_times(
    tmp_path: Path,
) -> None:
    write_run(tmp_path / "run", turns=20)
    cal = measure(tmp_path / "run")
    assert cal.turns == 20
    assert set(cal.samples) == {"endpoint", "stt", "llm", "tool", "tts", "network"}
    assert cal.samples["network"] == [125.0] * 20  # context_tokens is not a time
    assert cal.share["tool"] == 0.5
    assert cal.speak_ms == [2000.0] * 20
    assert cal.listen_ms == pytest.approx([3500.0] * 19)

    stages = [
        {"name": n, "servers": 100, "service_ms": fixed(1)}
        for n in ("endpoint", "stt", "llm", "tool", "tts", "network")
    ]
    cfg, notes = apply(
        deployment(stages, traffic={"callers": 30, "speak_ms": fixed(9), "listen_ms": fixed(9)}),
        cal,
    )
    assert any(n.startswith("tool: 10 measured samples, on 50%") for n in notes)
    trace = simulate(cfg)
    with_tool = [t.latency_ms for t in trace.turns if "tool" in t.service_ms]
    without = [t.latency_ms for t in trace.turns if "tool" not in t.service_ms]
    assert with_tool == pytest.approx([282.0] * len(with_tool))  # to float rounding of t
    assert without == pytest.approx([280.0] * len(without))
    assert len(with_tool) / len(trace.turns) == pytest.approx(0.5, abs=0.05)
    # the caller's measured cycle: 2.0 s speaking + 280 ms + 3.5 s listening
    per_caller = len(trace.turns) / 30
    assert per_caller == pytest.approx(60.0 / 5.781, abs=1.0)


def test_cpu_per_stage_splits_the_wall_time_when_the_file_models_the_box(
    tmp_path: Path,
) -> None:
    write_run(tmp_path / "run", turns=10)
    path = tmp_path / "run" / "turns.jsonl"
    rows = [json.loads(x) for x in path.read_text("utf-8").splitlines()]
    for r in rows[1:]:  # the bundled agent's CPU keys, and its overlapping sentence time
        r["stages"].update(stt_cpu_ms=2.5, tts_cpu_ms=3.0, llm_sentence_ms=20.0)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    cal = measure(tmp_path / "run")
    assert "llm_sentence" not in cal.samples and "stt_cpu" not in cal.samples
    assert cal.samples["network"] == [125.0] * 10  # neither CPU nor the sentence time count
    assert cal.pairs["stt"] == [(3.0, 2.5)] * 10 and cal.pairs["tts"] == [(4.0, 3.0)] * 10

    stages = [
        {"name": "stt", "servers": 1, "service_ms": fixed(1)},
        {"name": "tts", "servers": 1, "service_ms": fixed(1)},
    ]
    box = deployment(stages, traffic={"callers": 1}, cpu={"cores": 2})
    cfg, notes = apply(box, cal)
    stt = cfg.stages[0]
    assert stt.cpu_ms is not None and stt.cpu_ms.samples_ms == [2.5] * 10
    assert stt.service_ms is not None and stt.service_ms.samples_ms == [0.5] * 10
    assert any("CPU 2.5 ms mean of 10" in n for n in notes)
    # one call alone on 2 cores: no contention, the latency is the measured wall time
    assert {round(t.latency_ms, 6) for t in simulate(cfg).turns} == {7.0}
    _, notes = apply(deployment(stages, traffic={"callers": 1}), cal)
    assert any("no `cpu` box" in n for n in notes)

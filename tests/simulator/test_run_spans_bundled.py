"""The bundled agent, in its own process, exports OTLP spans to the run's receiver,
and every answered caller turn gets its agent stages joined with a remainder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reports.rundir import RunData
from reports.waterfall import spans_by_turn, turn_segments

REPO = Path(__file__).resolve().parents[2]


def test_bundled_agent_spans_are_joined_to_every_turn(
    tmp_path: Path, pipeline_agent_url: str
) -> None:
    scenario = tmp_path / "spans.yaml"
    scenario.write_text(
        "name: spans\nturns:\n  - wait: true\n"
        "  - say: Where is my order one two three four\n"
        "  - say: Can I get a refund for my order\n"
    )
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator.cli",
            "run",
            str(scenario),
            "--agent",
            pipeline_agent_url,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    spans = [json.loads(line) for line in (out / "spans.jsonl").read_text().splitlines()]
    agent_names = {s["name"] for s in spans if s.get("source") == "agent"}
    assert {"stt", "llm", "tts"} <= agent_names
    turns = [json.loads(line) for line in (out / "turns.jsonl").read_text().splitlines()]
    said = [t for t in turns if t["kind"] == "say"]
    assert len(said) == 2
    for t in said:
        assert t["spans_joined"] > 0, t
        assert {"stt", "llm", "tts"} <= set(t["span_stages"]), t["span_stages"]
        assert t["span_remainder_ms"] is not None
        assert 0 <= t["span_remainder_ms"] <= t["latency_ms"]
    # The report draws each turn's waterfall from the same spans, as spans.jsonl holds them.
    data = RunData.load(out)
    by_turn = spans_by_turn(data.calls, data.turns, data.spans)
    for t in data.turns:
        if t.get("kind") == "say":
            labels = {s.label for s in turn_segments(t, by_turn)}
            assert {"stt", "llm", "tts"} <= labels, labels
    assert "Bars from the agent's spans (spans.jsonl)" in (out / "report.html").read_text()

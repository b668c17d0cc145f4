"""The judge on a real call over Twilio Media Streams (no transcript events: voxsim's
recognizer supplies the agent's words), judged by SmolLM2 served offline. A
goal-driven judged call: tests/simulator/judge/test_attribution.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator.runner import run_files
from tests.simulator.conftest import needs_smollm2

JUDGE = """judge:
  criteria:
    - "The agent booked the appointment."
    - {{criterion: "The agent was polite.", must: true}}
  cache: false
  llm: {{base_url: "{url}", model: smollm2-135m-instruct}}
"""


async def _judged(tmp_path: Path, yaml: str, agent: str) -> dict[str, Any]:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml)
    out = tmp_path / "run"
    await run_files([str(scenario)], out, agent=agent)
    (call,) = [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]
    return dict(call)


def _check_quotes(judged: dict[str, Any]) -> None:
    labels = {line["n"]: f"{line['who']}: {line['text']}" for line in judged["lines"]}
    for v in judged["criteria"]:
        assert isinstance(v["passed"], bool) and v.get("error") is None, v
        assert v["evidence"] is None or v["evidence"] == labels[v["line"]]


@needs_smollm2
@pytest.mark.timeout(240)
async def test_a_twilio_call_is_judged_on_what_voxsims_recognizer_heard(
    tmp_path: Path, smollm2_url: str, pipeline_agent_url: str
) -> None:
    twilio = pipeline_agent_url.replace("ws://", "twilio+ws://").replace("/ws", "/twilio")
    call = await _judged(
        tmp_path,
        """
name: judged-twilio
seed: 3
caller: {voice: en-us, rate_wpm: 220}
turns:
  - wait: true
  - say: "I would like to book an appointment for Tuesday at three pm"
"""
        + JUDGE.format(url=smollm2_url),
        twilio,
    )
    turns = [line for line in call["judge"]["lines"] if line["who"] == "agent"]
    # Media Streams carry no transcript: the agent's words are voxsim's Whisper's
    assert len(turns) == 2, call["judge"]["lines"]
    # (Whisper tiny on eSpeak over a phone line: "booked you for Tuesday" may come out
    # as "hoped you for today"; the robust words are checked)
    assert "calling" in turns[0]["text"].lower() and "three pm" in turns[1]["text"].lower()
    _check_quotes(call["judge"])
    # SmolLM2 fails its calibration: the call is undecided, and that is the judge's doing
    assert call["judge"]["calibration"]["passed"] is False
    assert call["judge"]["passed"] is None and call["verdict"]["passed"] is None
    assert call["attribution"]["cause"] == "judge"
    assert "calibration" in call["attribution"]["evidence"]

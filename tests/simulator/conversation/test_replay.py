"""`voxsim run --replay RUNDIR`: a recorded conversation as a deterministic regression test."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.conversation.replay import Recording
from simulator.errors import UsageError
from simulator.runner import run_files
from tests.conftest import serve
from tests.simulator.conversation.conftest import needs_smollm2

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def agents() -> Iterator[dict[str, str]]:
    """The name-first form agent, and a changed one that asks for the time differently."""
    first = serve([sys.executable, str(HERE / "form_agent.py"), "name-first"])
    second = serve([sys.executable, str(HERE / "form_agent.py"), "name-first-v2"])
    try:
        yield {"v1": next(first), "v2": next(second)}
    finally:
        first.close()
        second.close()


SCENARIO = """
name: replayed
seed: 11
caller: {engine: piper, voice: joe}
conversation:
  goal: book an appointment
  facts: {name: alex smith, day: wednesday, time: ten am}
  persona: {verbosity: terse}
  end: {max_turns: 8, max_duration_s: 90}
"""


def _decisions(out: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (out / "turns.jsonl").read_text().splitlines()]
    return [{"turn": r["turn"], **r["decision"]} for r in rows if r.get("decision")]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("policy", ["rules", pytest.param("llm", marks=needs_smollm2)])
async def test_replay_repeats_the_lines_byte_for_byte_and_flags_a_changed_agent(
    tmp_path: Path, agents: dict[str, str], policy: str, request: pytest.FixtureRequest
) -> None:
    scenario = tmp_path / "replayed.yaml"
    text = SCENARIO
    if policy == "llm":  # recorded with the real local model; the replay needs no model
        url = request.getfixturevalue("smollm2_url")
        llm = f'  policy: llm\n  llm: {{base_url: "{url}", model: m, timeout_s: 20}}\n'
        text = text.replace("  persona:", llm + "  persona:")
    scenario.write_text(text)
    recorded = tmp_path / "recorded"
    first = await run_files([str(scenario)], recorded, agent=agents["v1"])
    assert first.exit_code == 0
    original = _decisions(recorded)
    assert {d["policy"] for d in original} == {policy}
    lines = [d for d in original if d["say"]]
    assert len(lines) >= 3, original

    # Against the same agent: the same lines, identical audio, no divergence.
    same = tmp_path / "same"
    again = await run_files([str(scenario)], same, agent=agents["v1"], replay=recorded)
    assert again.exit_code == 0
    replayed = _decisions(same)
    assert [d["say"] for d in replayed] == [d["say"] for d in original]
    assert [d["say_sha256"] for d in replayed if d["say"]] == [d["say_sha256"] for d in lines]
    assert all(d["why"].startswith("replay: ") for d in replayed)
    assert json.loads((same / "run.json").read_text())["replay"]["diverged"] == []

    # Against the changed agent: flagged at the turn that answers the reworded question.
    changed = tmp_path / "changed"
    outcome = await run_files([str(scenario)], changed, agent=agents["v2"], replay=recorded)
    assert outcome.exit_code == 1
    diverged = json.loads((changed / "run.json").read_text())["replay"]["diverged"]
    # the first decision taken after the agent's time question, which v2 words differently
    asked_time = next(d for d in original if "what time" in d["heard"].lower())
    assert [d["turn"] for d in diverged] == [asked_time["turn"]], diverged
    assert "what time would suit you" in diverged[0]["now"].lower()


def test_replay_of_a_directory_without_decisions_is_refused(tmp_path: Path) -> None:
    (tmp_path / "turns.jsonl").write_text(json.dumps({"call_id": "x-000", "turn": 0}) + "\n")
    with pytest.raises(UsageError, match="no caller decisions"):
        Recording(tmp_path)
    with pytest.raises(UsageError, match="no turns.jsonl"):
        Recording(tmp_path / "missing")

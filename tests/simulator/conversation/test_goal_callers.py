"""Goal-driven callers (rules policy) against real agents on loopback.

Each test plays whole calls in real time: the caller listens to what the
agent actually says, answers from its facts, and ends the call itself.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reference_agent.server import route_urls
from simulator.conversation.policy import invented_values
from simulator.runner import run_files
from tests.conftest import serve

HERE = Path(__file__).resolve().parent


def _form_agent(mode: str) -> Iterator[str]:
    yield from serve([sys.executable, str(HERE / "form_agent.py"), mode])


@pytest.fixture(scope="module")
def name_first_url() -> Iterator[str]:
    """An agent that asks name, then day, then time (tests/.../form_agent.py)."""
    yield from _form_agent("name-first")


@pytest.fixture(scope="module")
def natural_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The bundled pipeline agent with a natural voice (Piper) and Whisper STT: a
    listener on a phone line understands it, as callers understand production
    agents. Yields its URL and its tools' SQLite file."""
    db = tmp_path_factory.mktemp("natural") / "tools.db"
    argv = [sys.executable, "-m", "simulator.cli", "agent", "serve", "--kind", "pipeline"]
    flags = ["--voice", "piper", "--stt", "whisper", "--tools-db", str(db), "--port", "0"]
    for url in serve([*argv, *flags]):
        yield url, db


@pytest.fixture(scope="module")
def never_books_url() -> Iterator[str]:
    """An agent that never understands and never books."""
    yield from _form_agent("never")


def _rows(out: Path, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / name).read_text().splitlines()]


def _scenario(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "goal.yaml"
    path.write_text(body)
    return path


# Piper's natural voice: the bundled agent's domain LM hears eSpeak's "Wednesday"
# as "where is the" often enough that a booking test on eSpeak would measure
# luck (BENCHMARKS.md, "Goal-driven callers").
BOOKING = """
name: goal-book
seed: 3
caller: {engine: piper, voice: joe}
conversation:
  goal: book an appointment
  facts: {day: wednesday, time: ten am}
  persona: {patience: 4}
  end: {max_turns: 10, max_duration_s: 90}
expect:
  tools: [{name: book_appointment, args: {day: wednesday, time: ten am}}]
"""


async def test_rules_caller_books_with_the_bundled_pipeline_agent(
    tmp_path: Path, pipeline_agent_url: str
) -> None:
    out = tmp_path / "run"
    outcome = await run_files([str(_scenario(tmp_path, BOOKING))], out, agent=pipeline_agent_url)
    call = _rows(out, "calls.jsonl")[0]
    assert call["status"] == "ok", call["error"]
    assert call["task"]["passed"], call["task"]
    assert call["conversation"]["success"], call["conversation"]
    assert call["conversation"]["ended_by"] == "caller"
    turns = _rows(out, "turns.jsonl")
    lines = [t for t in turns if t["kind"] == "say"]
    # Every line the caller said came from a decision on what it heard, and the
    # agent's latency was measured from the true end of that line's speech.
    for t in lines:
        d = t["decision"]
        assert d["policy"] == "rules" and d["heard_source"] == "transcript"
        assert d["say"] == t["caller_text"]
        if t["latency_ms"] is not None:
            onset_ms = (t["agent_onset_s"] - t["speech_end_s"]) * 1000
            assert t["latency_ms"] == pytest.approx(onset_ms, abs=1)
    assert turns[-1]["kind"] == "hangup"
    assert outcome.exit_code == 0


async def test_an_agent_that_asks_in_another_order_still_gets_its_answers(
    tmp_path: Path, name_first_url: str
) -> None:
    scenario = _scenario(
        tmp_path,
        f"""
name: name-first
seed: 5
agent: {{kind: websocket, url: "{name_first_url}"}}
caller: {{engine: piper, voice: joe}}
conversation:
  goal: book an appointment
  facts: {{name: alex smith, day: wednesday, time: ten am}}
  persona: {{verbosity: terse, patience: 3}}
  end: {{max_turns: 8, max_duration_s: 90}}
expect:
  tools: [{{name: book_appointment, args: {{name: alex smith, day: wednesday}}}}]
""",
    )
    out = tmp_path / "run"
    await run_files([str(scenario)], out)
    call = _rows(out, "calls.jsonl")[0]
    assert call["task"]["passed"], (call["task"], call["conversation"])
    said = [t["caller_text"] for t in _rows(out, "turns.jsonl") if t["kind"] == "say"]
    # name first: the second line (after the opening) answers the agent's first question
    assert said[0].lower() == "alex smith.", said


async def test_a_caller_gives_up_on_an_agent_that_never_books(
    tmp_path: Path, never_books_url: str
) -> None:
    scenario = _scenario(
        tmp_path,
        f"""
name: never
agent: {{kind: websocket, url: "{never_books_url}"}}
caller: {{engine: piper, voice: joe}}
conversation:
  goal: book an appointment
  facts: {{day: wednesday, time: ten am}}
  persona: {{patience: 2}}
  end: {{max_turns: 10, max_duration_s: 90}}
""",
    )
    out = tmp_path / "run"
    outcome = await run_files([str(scenario)], out)
    call = _rows(out, "calls.jsonl")[0]
    conv = call["conversation"]
    assert not conv["success"]
    assert conv["reason"].startswith("gave up after 2 failed attempts"), conv
    assert call["task"]["passed"] is False
    said = [t for t in _rows(out, "turns.jsonl") if t["kind"] == "say"]
    assert len(said) == 3  # the opening, one retry, then goodbye
    assert said[-1]["decision"]["hang_up"]
    assert outcome.exit_code == 0  # no SLO asked; the call itself ran fine


async def test_a_caller_never_utters_a_value_it_does_not_know(
    tmp_path: Path, name_first_url: str
) -> None:
    scenario = _scenario(
        tmp_path,
        f"""
name: unknown-name
seed: 8
agent: {{kind: websocket, url: "{name_first_url}"}}
caller: {{engine: piper, voice: joe}}
conversation:
  goal: book an appointment
  facts: {{day: friday, time: three pm}}
  unknown: [name]
  end: {{max_turns: 8, max_duration_s: 90}}
""",
    )
    out = tmp_path / "run"
    await run_files([str(scenario)], out)
    said = [t["caller_text"] for t in _rows(out, "turns.jsonl") if t["kind"] == "say"]
    assert any("don't know my name" in s for s in said), said
    allowed = ["friday", "three pm", "book an appointment"]
    for line in said:
        assert invented_values(line, allowed) == [], line


async def test_over_twilio_the_caller_understands_the_agent_by_ear(
    tmp_path: Path, natural_agent: tuple[str, Path]
) -> None:
    url, db = natural_agent
    twilio = route_urls(url)["twilio"]
    # Media Streams carries no tool events: the booking is checked in the agent's database.
    # The claim is the caller's ears, not its turn-taking: it waits 1.5 s of agent silence
    # before answering, since on a busy box the agent's next sentence can come more than
    # the default 0.5 s after its "Sure." (synthesis is slower) and the caller, taking the
    # turn as over, heard only "sure" (seen on a 2-core CI box with a CPU hog).
    scenario = _scenario(
        tmp_path,
        f"""
name: goal-twilio
seed: 3
caller: {{engine: piper, voice: joe}}
conversation:
  goal: book an appointment
  facts: {{day: wednesday, time: ten am}}
  persona: {{patience: 4, end_of_turn_ms: 1500}}
  end: {{max_turns: 10, max_duration_s: 120}}
expect:
  state:
    - sqlite: "{db}"
      query: "SELECT day, time FROM appointments WHERE status = 'booked'"
      rows: [[wednesday, ten am]]
""",
    )
    out = tmp_path / "run"
    await run_files([str(scenario)], out, agent=twilio)
    call = _rows(out, "calls.jsonl")[0]
    assert call["task"]["passed"], (call["task"], call["conversation"])
    assert call["conversation"]["success"], call["conversation"]
    decisions = [t["decision"] for t in _rows(out, "turns.jsonl") if t.get("decision")]
    # Everything the caller understood, it heard: no transcript crosses the line.
    assert decisions and all(d["heard_source"] == "audio" for d in decisions)
    assert any("booked" in d["heard"] for d in decisions), decisions


async def test_an_impatient_caller_cuts_in_on_a_long_agent_turn(
    tmp_path: Path, pipeline_agent_url: str
) -> None:
    scenario = _scenario(
        tmp_path,
        """
name: cuts-in
seed: 4
caller: {engine: piper, voice: joe}
conversation:
  goal: book an appointment
  facts: {day: wednesday, time: ten am}
  persona: {interruption: 1.0, long_reply_ms: 1200, patience: 4}
  end: {max_turns: 8, max_duration_s: 90}
""",
    )
    out = tmp_path / "run"
    await run_files([str(scenario)], out, agent=pipeline_agent_url)
    turns = _rows(out, "turns.jsonl")
    cut = [t for t in turns if t.get("action") == "barge_in"]
    assert cut, [(t["kind"], t["caller_text"]) for t in turns]
    for t in cut:
        assert t["decision"]["why"].startswith("cut in on a long turn")
        assert t["decision"]["heard"]  # decided on what the agent had said so far
        # it spoke while the agent's turn was still going
        prev = next(p for p in turns if p["turn"] == t["turn"] - 1)
        assert prev["agent_onset_s"] is not None
        assert t["speech_start_s"] - prev["agent_onset_s"] >= 1.2


async def test_a_barge_in_rule_cuts_in_as_soon_as_the_agent_says_it(
    tmp_path: Path, name_first_url: str
) -> None:
    scenario = _scenario(
        tmp_path,
        f"""
name: rule-cuts-in
seed: 6
agent: {{kind: websocket, url: "{name_first_url}"}}
caller: {{engine: piper, voice: joe}}
conversation:
  goal: book an appointment
  facts: {{name: alex smith, day: wednesday, time: ten am}}
  persona: {{verbosity: terse}}
  when: [{{when: "which day", do: barge_in, say: "Wednesday."}}]
  end: {{max_turns: 8, max_duration_s: 90}}
""",
    )
    out = tmp_path / "run"
    await run_files([str(scenario)], out)
    turns = _rows(out, "turns.jsonl")
    cut = [t for t in turns if t.get("action") == "barge_in"]
    assert len(cut) == 1 and cut[0]["caller_text"] == "Wednesday.", turns
    assert cut[0]["decision"]["why"] == "a barge_in rule matched"


async def test_a_script_hands_over_to_the_goal_after_its_lines(
    tmp_path: Path, pipeline_agent_url: str
) -> None:
    scenario = _scenario(
        tmp_path,
        BOOKING.replace(
            "conversation:",
            'turns:\n  - wait: true\n  - say: "I would like to book an appointment"\nconversation:',
        ),
    )
    out = tmp_path / "run"
    await run_files([str(scenario)], out, agent=pipeline_agent_url)
    turns = _rows(out, "turns.jsonl")
    assert [t["kind"] for t in turns[:2]] == ["wait", "say"]
    assert "decision" not in turns[1]  # the scripted line
    first = next(t for t in turns if t.get("decision"))
    # the goal's first move answers the agent's reply to the script, not an opening
    assert "day" in first["decision"]["heard"].lower() and "ten am" in first["caller_text"].lower()
    call = _rows(out, "calls.jsonl")[0]
    assert call["task"]["passed"], (call["task"], call["conversation"])


async def test_over_realtime_the_caller_reads_the_agents_transcripts(tmp_path: Path) -> None:
    # The bundled e2e agent behind the OpenAI Realtime protocol (it sends no tool events:
    # the goal is judged by the caller, who must hear the booking confirmed).
    body = BOOKING[: BOOKING.index("expect:")].replace(
        "seed: 3", "seed: 3\nagent: {kind: e2e, stt: whisper}"
    )
    out = tmp_path / "run"
    await run_files([str(_scenario(tmp_path, body))], out)
    call = _rows(out, "calls.jsonl")[0]
    assert call["conversation"]["success"], call["conversation"]
    decisions = [t["decision"] for t in _rows(out, "turns.jsonl") if t.get("decision")]
    assert decisions and all(d["heard_source"] == "transcript" for d in decisions if d["heard"])
    heard = " ".join(d["heard"] for d in decisions).lower()
    assert "booked you for wednesday at ten am" in heard, heard


async def test_a_caller_backchannels_in_a_pause_of_a_long_agent_turn(
    tmp_path: Path, name_first_url: str
) -> None:
    scenario = _scenario(
        tmp_path,
        f"""
name: backchannels
seed: 12
agent: {{kind: websocket, url: "{name_first_url}"}}
caller: {{engine: piper, voice: joe}}
conversation:
  goal: book an appointment
  facts: {{name: alex smith, day: wednesday, time: ten am}}
  persona: {{verbosity: terse, backchannel_rate: 1.0, backchannel: "okay"}}
  end: {{max_turns: 8, max_duration_s: 90}}
""",
    )
    out = tmp_path / "run"
    await run_files([str(scenario)], out)
    turns = _rows(out, "turns.jsonl")
    said = [
        (t["turn"], s) for t in turns for s in (t.get("decision") or {}).get("backchannels_s", [])
    ]
    # The booking's two sentences have a pause between them: "okay" goes in there.
    assert said, [(t["caller_text"], t.get("decision")) for t in turns]
    for turn, at in said:
        prev = next(p for p in turns if p["turn"] == turn - 1)
        assert prev["agent_onset_s"] + 1.5 <= at <= prev["agent_end_s"] + 0.5, (prev, at)

"""Scenario files: valid ones load; bad ones fail with one line naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.errors import ScenarioError
from simulator.scenario import load_scenario, parse_scenario

VALID = """\
name: ok
seed: 1
caller:
  voice: en-US
  rate_wpm: 160
turns:
  - wait: true
  - say: hello
  - silence_ms: 500
slo:
  latency_p95_ms: 800
"""


def test_a_valid_file_loads_with_defaults() -> None:
    sc = parse_scenario(VALID)
    assert sc.name == "ok" and sc.caller.rate_wpm == 160
    assert [t.waits_for_reply for t in sc.turns] == [True, True, False]
    assert sc.agent.kind == "pipeline" and sc.agent.faults.llm.latency_ms == 0


def _error(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="f.yaml")
    msg = info.value.one_line()
    assert "\n" not in msg
    return msg


def test_unknown_key_names_its_line_and_the_allowed_fields() -> None:
    msg = _error(VALID.replace("  rate_wpm: 160", "  rate_wpn: 160"))
    assert msg.startswith("f.yaml:5 caller.rate_wpn: unknown field")
    assert "allowed: voice, rate_wpm, pitch" in msg


def test_wrong_type_names_the_line_and_the_value() -> None:
    msg = _error(VALID.replace("rate_wpm: 160", "rate_wpm: fast"))
    assert msg.startswith("f.yaml:5 caller.rate_wpm:") and "'fast'" in msg


def test_field_inside_a_list_is_located() -> None:
    msg = _error(VALID.replace("  - silence_ms: 500", "  - silence_ms: -5"))
    assert msg.startswith("f.yaml:9 turns[2].silence_ms:")


def test_bad_yaml_syntax_names_the_line() -> None:
    msg = _error("name: x\nturns:\n  - say: [unclosed\n")
    assert msg.startswith("f.yaml:4") and "invalid YAML" in msg


def test_unknown_agent_kind_lists_the_allowed_kinds() -> None:
    msg = _error(VALID + "agent:\n  kind: telepathy\n")
    assert "agent.kind" in msg and "'pipeline'" in msg


def test_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.yaml")


def test_a_turn_with_both_say_and_silence_is_rejected() -> None:
    msg = _error("name: x\nturns:\n  - say: hi\n    silence_ms: 3\n")
    assert "turns[0]" in msg and "either say or silence_ms" in msg


# -- limits and hostile values (issue 15) ----------------------------------


def test_too_many_turns_are_refused_naming_the_limit() -> None:
    from simulator.scenario import MAX_TURNS

    msg = _error("name: x\nturns:\n" + "  - say: hi\n" * (MAX_TURNS + 1))
    assert msg.startswith("f.yaml:2 turns:") and f"at most {MAX_TURNS}" in msg


def test_a_say_of_too_many_words_is_refused() -> None:
    from simulator.scenario import MAX_SAY_WORDS

    msg = _error("name: x\nturns:\n  - say: " + "word " * (MAX_SAY_WORDS + 1) + "\n")
    assert msg.startswith("f.yaml:3 turns[0]") and f"{MAX_SAY_WORDS} words" in msg
    long_word = _error("name: x\nturns:\n  - say: " + "a" * 200_000 + "\n")
    assert long_word.startswith("f.yaml:3 turns[0].say") and len(long_word) < 400


@pytest.mark.parametrize("url", ["sip://x", "http://127.0.0.1/ws", "ws://", "ws://[::1"])
def test_an_agent_url_transport_cannot_reach_is_refused_with_its_line(url: str) -> None:
    msg = _error(f"name: x\nagent:\n  kind: websocket\n  url: '{url}'\nturns:\n  - say: hi\n")
    assert msg.startswith("f.yaml:4 agent.url:"), msg
    assert "ws://" in msg


def test_an_agent_url_port_out_of_range_is_refused() -> None:
    msg = _error(
        "name: x\nagent: {kind: websocket, url: 'ws://127.0.0.1:99999/ws'}\nturns:\n  - say: hi\n"
    )
    assert "agent.url" in msg and "port" in msg.lower()


def test_every_transport_scheme_is_accepted() -> None:
    for kind, url in [
        ("websocket", "ws://127.0.0.1:8765/ws"),
        ("twilio", "twilio+ws://127.0.0.1:8765/twilio"),
        ("realtime", "realtime+ws://127.0.0.1:8765/v1"),
        ("webrtc", "webrtc+http://127.0.0.1:8765/offer"),
    ]:
        sc = parse_scenario(
            f"name: x\nagent: {{kind: {kind}, url: '{url}'}}\nturns:\n  - wait: true\n"
        )
        assert sc.agent.url == url


GOAL = "name: g\nconversation:\n  goal: book a table\n"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("  facts: {name: " + "x" * 1000 + "}\n", "conversation.facts.name"),
        ("  done_when: ['" + "x" * 1000 + "']\n", "conversation.done_when[0]"),
        ("  done_when: [" + ", ".join(["booked"] * 100) + "]\n", "conversation.done_when"),
        ("  when: [" + ", ".join(["{when: hi, do: done}"] * 100) + "]\n", "conversation.when"),
        ("  llm: {model: " + "m" * 1000 + "}\n", "conversation.llm.model"),
    ],
)
def test_a_conversation_s_free_text_is_bounded(extra: str, field: str) -> None:
    msg = _error(GOAL + extra)
    assert msg.startswith(f"f.yaml:4 {field}:") and len(msg) < 400, msg


def test_a_regex_python_cannot_compile_is_a_schema_error() -> None:
    msg = _error(GOAL + "  when: [{when: 'a{99999999999}', do: done}]\n")
    assert "conversation.when[0]" in msg and "not a valid pattern" in msg
    msg = _error(GOAL + "  done_when: ['a{99999999999}']\n")
    assert "conversation" in msg and "not a valid pattern" in msg


def test_a_noise_file_name_the_os_cannot_stat_is_a_schema_error() -> None:
    msg = _error(
        "name: x\ncaller:\n  noise: {kind: file, file: " + "a" * 5000 + ".wav}\n"
        "turns:\n  - say: hi\n"
    )
    assert msg.startswith("f.yaml:3 caller.noise") and len(msg) < 400, msg


def test_a_long_name_or_description_is_refused() -> None:
    assert _error(VALID.replace("name: ok", "name: " + "n" * 200)).startswith("f.yaml:1 name:")
    assert "description" in _error(VALID + "description: " + "d" * 20_000 + "\n")

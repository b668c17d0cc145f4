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

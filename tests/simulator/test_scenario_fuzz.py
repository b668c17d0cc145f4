"""Fuzzing the scenario loader (Hypothesis, seeded and bounded).

Whatever the bytes, whatever the YAML: the loader returns a valid Scenario
or raises ScenarioError with one line (exit 2), never another exception,
and each input is decided within a second (the settings' deadline).
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from simulator.configfile import unwrap
from simulator.errors import ScenarioError
from simulator.scenario import Scenario, load_scenario, parse_scenario

FUZZ = settings(
    derandomize=True,
    database=None,
    max_examples=150,
    deadline=1000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

VALID = """\
name: fuzz
seed: 3
agent: {kind: websocket, url: "ws://127.0.0.1:8765/ws"}
caller: {voice: en-us, rate_wpm: 160, noise: {kind: pink, snr_db: 10}}
turns:
  - wait: true
  - say: "I would like to book an appointment"
    barge_in_ms: 300
  - silence_ms: 500
matrix:
  caller.pitch: [40, 60]
repeat: 2
slo: {latency_p95_ms: 800}
"""

GOAL = """\
name: goal
conversation:
  goal: book a table for two on Friday
  facts: {name: Ada, day: Friday}
  unknown: [phone]
  when: [{when: "anything else", do: done}]
"""


def _field_names(model: type[BaseModel], seen: set[str]) -> set[str]:
    for name, info in model.model_fields.items():
        seen.add(name)
        for tp in (unwrap(info.annotation), *typing.get_args(unwrap(info.annotation))):
            inner = unwrap(tp)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                if inner.__name__ not in seen:
                    seen.add(inner.__name__)
                    _field_names(inner, seen)
    return seen


KEYS = sorted(k for k in _field_names(Scenario, set()) if k[0].islower())

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "en-us",
            "joe",
            "piper",
            "ws://127.0.0.1:1/ws",
            "sip://x",
            "ws://[::1",
            "a{9999999999}",
            "(",
            "file",
            "pink",
            "2001-13-14",
            "turns.0.say",
            "caller.pitch",
            "done",
            "say",
            "~",
        ]
    ),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=12))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)


def decided(text: str) -> Scenario | None:
    """The property: a Scenario, or a ScenarioError of one line."""
    try:
        return parse_scenario(text, source="fuzz.yaml")
    except ScenarioError as exc:
        line = exc.one_line()
        assert "\n" not in line and "\r" not in line, line
        assert line.startswith("fuzz.yaml"), line
        assert len(line) < 2000
        return None


# eSpeak's voice list is read once per process; do it before the deadlines apply.
parse_scenario(VALID)


@FUZZ
@given(st.binary(max_size=3000))
def test_any_bytes_in_a_file(tmp_path_factory: Any, data: bytes) -> None:
    f: Path = tmp_path_factory.mktemp("fuzz") / "f.yaml"
    f.write_bytes(data)
    try:
        load_scenario(f)
    except ScenarioError as exc:
        assert "\n" not in exc.one_line()


@FUZZ
@given(st.text(max_size=2000))
def test_any_text(text: str) -> None:
    decided(text)


@FUZZ
@given(documents)
def test_any_yaml_document(doc: Any) -> None:
    decided(yaml.safe_dump(doc, allow_unicode=True))
    if isinstance(doc, dict):
        decided(yaml.safe_dump({"name": "x", "turns": [{"say": "hi"}], **doc}))


TOKENS = [
    "name: x\n",
    "turns:\n",
    "  - say: hi\n",
    "  - ",
    "say: ",
    "wait: true",
    "\n",
    "  ",
    "{",
    "}",
    "[",
    "]",
    ", ",
    ": ",
    "- ",
    "? ",
    "&a ",
    "*a",
    "<<: ",
    "!!binary ",
    "!!int ",
    "!!float ",
    "!!python/object:os.system ",
    "!!set ",
    "!!omap ",
    "|\n",
    ">-\n",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "#",
    "'",
    '"',
    "\\x00",
    "2001-13-14",
    "2001-12-14 25:61:00",
    "0x" + "f" * 40,
    "1" * 5000,
    "1e999",
    ".nan",
    "~",
    "null",
    "seed",
    "caller",
    "matrix",
    "repeat",
    "caller.pitch",
    "turns.0.say",
    "conversation",
    "goal",
    "facts",
    "when",
    "agent",
    "url",
    "ws://",
    "sip://x",
    "\t",
    "\u2028",
    "\ufeff",
    "é",
]


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_yaml_made_of_tokens(tokens: list[str]) -> None:
    decided("".join(tokens))


@FUZZ
@given(
    st.sampled_from([VALID, GOAL]),
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=400), st.integers(0, 6), st.text(max_size=6)),
        min_size=1,
        max_size=4,
    ),
)
def test_a_valid_file_mutated(base: str, edits: list[tuple[int, int, str]]) -> None:
    text = base
    for at, cut, insert in edits:
        at = at % (len(text) + 1)
        text = text[:at] + insert + text[at + cut :]
    decided(text)


@FUZZ
@given(st.sampled_from([VALID, GOAL]), st.sampled_from(KEYS), documents)
def test_a_valid_file_with_one_field_replaced(base: str, key: str, value: Any) -> None:
    data = yaml.safe_load(base)
    for node in (data, data.get("caller"), data.get("conversation"), data.get("agent")):
        if isinstance(node, dict) and key in node:
            node[key] = value
            break
    else:
        data[key] = value
    decided(yaml.safe_dump(data, allow_unicode=True))

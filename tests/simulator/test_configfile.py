"""The one YAML reader of scenario and capacity files: hostile input gets one line, fast.

Deep nesting, alias bombs, duplicate keys, oversize files and values YAML
itself cannot construct (a 13th month) are refused with a ScenarioError
naming the file and, where there is one, the line (exit 2), never a
traceback, and in well under a second.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from simulator.capacity.config import parse_capacity
from simulator.configfile import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES
from simulator.errors import ScenarioError
from simulator.scenario import load_scenario, parse_scenario

HEAD = "name: x\nturns:\n  - say: hi\n"


def refused(text: str, source: str = "f.yaml") -> str:
    """The one line parse_scenario refuses `text` with, checked to come fast."""
    began = time.thread_time()  # CPU time: other work on the box cannot move it
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source=source)
    assert time.thread_time() - began < 1.0
    line = info.value.one_line()
    assert "\n" not in line and len(line) < 1000, line
    return line


def test_deeply_nested_flow_yaml_is_refused_at_its_line_not_a_recursion_error() -> None:
    line = refused(HEAD + "description: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert line.startswith("f.yaml:4") and f"deeper than {MAX_DEPTH}" in line


def test_deeply_nested_block_yaml_is_refused() -> None:
    deep = "".join(" " * i + "a:\n" for i in range(200))
    line = refused(HEAD + "description:\n" + "".join(" " + row for row in deep.splitlines(True)))
    assert f"deeper than {MAX_DEPTH}" in line


def test_an_alias_bomb_is_refused_before_anything_is_built() -> None:
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n"
    line = refused(
        HEAD
        + "expect:\n  tools:\n    - name: t\n      args:\n"
        + "".join("        " + row for row in bomb.splitlines(True))
    )
    assert f"{MAX_NODES:,}" in line and line.startswith("f.yaml")


def test_an_alias_that_contains_itself_is_refused() -> None:
    line = refused(HEAD + "expect:\n  tools:\n    - name: t\n      args: &a {loop: *a}\n")
    assert line.startswith("f.yaml:") and "deeper than" in line


def test_small_aliases_still_work() -> None:
    sc = parse_scenario("name: x\nturns:\n  - &hi {say: hello}\n  - *hi\n")
    assert [t.say for t in sc.turns] == ["hello", "hello"]


def test_a_duplicate_key_is_refused_naming_the_line_of_the_second() -> None:
    line = refused("name: x\nseed: 1\nturns:\n  - say: hi\nseed: 2\n")
    assert line.startswith("f.yaml:5") and "duplicate key 'seed'" in line and "line 2" in line


def test_a_duplicate_key_inside_a_list_item_is_refused() -> None:
    line = refused("name: x\nturns:\n  - say: hi\n    say: ho\n")
    assert line.startswith("f.yaml:4") and "duplicate key 'say'" in line


def test_a_merge_key_may_still_override() -> None:
    sc = parse_scenario(
        "name: x\nturns:\n  - &t {say: hello, wait: false}\n  - <<: *t\n    say: bye\n"
    )
    assert [(t.say, t.wait) for t in sc.turns] == [("hello", False), ("bye", False)]


def test_a_value_yaml_cannot_construct_is_one_line_with_its_line() -> None:
    line = refused(HEAD + "description: 2001-13-14\n")
    assert line.startswith("f.yaml:4") and "month must be in 1..12" in line


def test_an_oversize_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    f.write_text(HEAD + "description: " + "a" * (50 * 1024 * 1024) + "\n")
    began = time.thread_time()  # CPU time: other work on the box cannot move it
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    assert time.thread_time() - began < 0.5
    line = info.value.one_line()
    assert line.startswith(str(f)) and f"{MAX_FILE_BYTES // 1024} KiB" in line


def test_oversize_text_is_refused_too() -> None:
    assert f"{MAX_FILE_BYTES // 1024} KiB" in refused(HEAD + "#" * MAX_FILE_BYTES)


def test_a_long_value_is_shown_shortened_in_the_error() -> None:
    line = refused(HEAD + "seed: " + "x" * 100_000 + "\n")
    assert line.startswith("f.yaml:4 seed:") and "..." in line and len(line) < 400


def test_a_key_with_a_newline_does_not_break_the_line() -> None:
    line = refused(HEAD + '"a\\nb": 1\n')
    assert "unknown field" in line


def test_capacity_files_share_the_reader() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_capacity("name: c\nname: d\n", source="c.yaml")
    assert info.value.one_line().startswith("c.yaml:2") and "duplicate key" in str(info.value)


def test_a_file_at_the_size_limit_full_of_tiny_values_is_refused_fast() -> None:
    body = "  - say: hi\n" * ((MAX_FILE_BYTES - 100) // 12)
    line = refused("name: x\nturns:\n" + body)  # refused() asserts < 1 s
    assert f"more than {MAX_NODES:,} values" in line

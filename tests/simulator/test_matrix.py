"""`matrix:` expands to the cartesian product, `repeat:` multiplies it, seeds are per call."""

from __future__ import annotations

import pytest

from simulator.errors import ScenarioError
from simulator.matrix import call_seed, expand
from simulator.scenario import parse_scenario

MATRIX = """\
name: grid
seed: 5
repeat: 2
matrix:
  caller.voice: [en-us, en-gb-scotland, en-029]
  caller.noise.snr_db: [0, 20]
turns:
  - say: hello there
"""


def test_matrix_is_the_cartesian_product_times_repeat() -> None:
    calls = expand(parse_scenario(MATRIX))
    assert len(calls) == 3 * 2 * 2
    assert [c.call_id for c in calls[:3]] == ["grid-000", "grid-001", "grid-002"]
    assert calls[0].matrix == {"caller.voice": "en-us", "caller.noise.snr_db": 0}
    assert calls[2].matrix == {"caller.voice": "en-us", "caller.noise.snr_db": 20}
    last = calls[-1].scenario.caller
    assert last.voice == "en-029" and last.noise is not None and last.noise.snr_db == 20
    assert calls[0].scenario.matrix == {} and calls[0].scenario.repeat == 1


def test_each_call_has_its_own_stable_seed() -> None:
    calls = expand(parse_scenario(MATRIX))
    seeds = [c.seed for c in calls]
    assert len(set(seeds)) == len(seeds)  # repeats of one cell differ too
    assert seeds == [c.seed for c in expand(parse_scenario(MATRIX))]
    assert seeds[7] == call_seed(5, 7)
    assert expand(parse_scenario(MATRIX.replace("seed: 5", "seed: 6")))[0].seed != seeds[0]


def test_a_scenario_without_matrix_is_one_call() -> None:
    (call,) = expand(parse_scenario("name: one\nturns:\n  - say: hi\n"))
    assert call.call_id == "one-000" and call.matrix == {}


def test_a_bad_matrix_value_fails_at_load_time() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(MATRIX.replace("[0, 20]", "[0, loud]"), source="g.yaml")
    msg = info.value.one_line()
    # the line of the bad value itself, and which value of which key
    assert msg.startswith("g.yaml:6 matrix.caller.noise.snr_db[1]: caller.noise.snr_db"), msg
    assert "'loud'" in msg


def test_a_matrix_can_vary_a_turn() -> None:
    text = "name: t\nmatrix:\n  turns.0.say: [hello, goodbye]\nturns:\n  - say: hi\n"
    assert [c.scenario.turns[0].say for c in expand(parse_scenario(text))] == ["hello", "goodbye"]


def test_a_mapping_value_varies_settings_together_and_keeps_the_rest() -> None:
    text = (
        "name: m\ncaller: {rate_wpm: 150}\n"
        "matrix:\n  caller: [{voice: en-us}, {engine: piper, voice: joe}]\n"
        "turns:\n  - say: hi\n"
    )
    a, b = (c.scenario.caller for c in expand(parse_scenario(text)))
    assert (a.engine, a.voice, a.rate_wpm) == ("espeak", "en-us", 150)
    assert (b.engine, b.voice, b.rate_wpm) == ("piper", "joe", 150)


def test_a_matrix_too_large_is_refused_before_it_is_built() -> None:
    import time

    from simulator.matrix import MAX_CALLS

    keys = "".join(f"  caller.k{i}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n" for i in range(9))
    text = f"name: big\nmatrix:\n{keys}turns:\n  - say: hi\n"
    began = time.thread_time()  # CPU time: other work on the box cannot move it
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="b.yaml")
    assert time.thread_time() - began < 0.5
    msg = info.value.one_line()
    assert msg.startswith("b.yaml:2 matrix") and "1,000,000,000 calls" in msg
    assert f"{MAX_CALLS:,}" in msg


def test_matrix_cells_times_repeat_count_against_the_limit() -> None:
    from simulator.matrix import MAX_CALLS, count_calls

    text = "name: r\nrepeat: 10000\nmatrix:\n  caller.pitch: [1, 2]\nturns:\n  - say: hi\n"
    with pytest.raises(ScenarioError, match="20,000 calls"):
        parse_scenario(text)
    assert count_calls(parse_scenario(text.replace("10000", "5000"))) == MAX_CALLS


@pytest.mark.parametrize(
    ("key", "line", "hint"),
    [
        ("turns.7.say: [a]", 4, "no list item '7'"),
        ("seed.x: [1]", 4, "not a mapping or list"),
        ("name: [a]", 4, "cannot vary"),
    ],
)
def test_a_bad_matrix_key_names_file_and_line(key: str, line: int, hint: str) -> None:
    text = f"name: k\nseed: 1\nmatrix:\n  {key}\nturns:\n  - say: hi\n"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="k.yaml")
    msg = info.value.one_line()
    assert msg.startswith(f"k.yaml:{line} matrix.{key.split(':')[0]}"), msg
    assert hint in msg

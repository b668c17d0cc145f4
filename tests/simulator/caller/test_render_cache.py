"""Rendered calls are cached on disk by a hash of everything that determines them."""

from __future__ import annotations

import pytest

from simulator.caller import render
from simulator.scenario import parse_scenario

SC = "name: c\ncaller: {noise: {kind: white, snr_db: 10}}\nturns:\n  - say: hello there\n"


def test_a_second_render_comes_from_the_disk_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = parse_scenario(SC)
    first, first_bed = render.render_cached(list(sc.turns), sc.caller, 5)

    def no_render(*_: object) -> None:
        raise AssertionError("rendered again despite the cache")

    monkeypatch.setattr(render, "render_isolated", no_render)
    again, bed = render.render_cached(list(sc.turns), sc.caller, 5)
    assert again[0].pcm.tobytes() == first[0].pcm.tobytes()
    assert bed is not None and first_bed is not None and bed.tobytes() == first_bed.tobytes()


def test_the_cache_key_changes_with_every_input() -> None:
    sc = parse_scenario(SC)
    key = render.cache_key(list(sc.turns), sc.caller, 5)
    other = parse_scenario(SC.replace("snr_db: 10", "snr_db: 11"))
    assert render.cache_key(list(sc.turns), sc.caller, 6) != key
    assert render.cache_key(list(other.turns), other.caller, 5) != key
    assert render.cache_key(list(sc.turns), sc.caller, 5) == key

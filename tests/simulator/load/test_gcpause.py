"""A call engine freezes its set-up objects so full collections stop walking them."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from simulator.load.gcpause import GcPauses, freeze_setup


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_after_freezing_a_full_collection_walks_only_what_was_made_since(unfrozen: None) -> None:
    kept = [[i] for i in range(50_000)]  # long-lived set-up objects (lists are tracked)
    gc.collect()
    before = len(gc.get_objects(generation=2))
    assert before > len(kept)
    frozen = freeze_setup()
    assert frozen >= len(kept) and len(gc.get_objects(generation=2)) < before - len(kept)
    del kept


def test_every_collection_is_recorded_with_its_generation(unfrozen: None) -> None:
    with GcPauses() as pauses:
        gc.collect(0)
        gc.collect(2)
    gens = [g for g, _ in pauses.pauses]
    assert gens[-2:] == [0, 2] and all(ms >= 0 for _, ms in pauses.pauses)
    s = pauses.summary()
    assert s["gc_collections"][2] >= 1 and s["gc_full_max_ms"] >= 0
    assert pauses._on_gc not in gc.callbacks  # removed on exit

"""Shared caller-chain fixtures: one clean utterance with exact ground truth."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from simulator.caller.truth import Truth
from simulator.caller.tts import Speech, synthesize

PAD = 4800  # 300 ms of silence each side, so onsets are not trivially at sample 0


@pytest.fixture(scope="session")
def speech() -> Speech:
    # In a fresh process: eSpeak carries state between utterances inside one
    # process (simulator/caller/render.py), so an in-process render would
    # depend on which tests ran before.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        s = pool.submit(
            synthesize, "I would like to book a table for two tonight please", seed=3
        ).result()
    pad = np.zeros(PAD, np.int16)
    return Speech(np.concatenate([pad, s.pcm, pad]), s.start + PAD, s.end + PAD, s.text)


@pytest.fixture()
def truth(speech: Speech) -> Truth:
    return Truth(speech.start, speech.end, speech.text, speech.text)


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep RIR and render caches out of the user's home during tests."""
    monkeypatch.setenv("VOXSIM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "voxsim-cache"))

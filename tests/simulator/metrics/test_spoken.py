"""WER (b): the harness transcribes the bundled agent's real speech off a real call."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from simulator.audio import FRAME_SAMPLES, read_wav
from simulator.metrics.spoken import language_phrases, score_turns
from simulator.metrics.task import evaluate_call
from simulator.metrics.wer import aggregate
from simulator.runner import run_call
from simulator.scenario import Expect, parse_scenario
from simulator.store import RunStore
from simulator.transports.websocket import WebSocketTransport


def drop_frames(pcm: np.ndarray, loss: float, seed: int) -> np.ndarray:
    """Downlink loss without concealment: zero whole 20 ms frames with probability `loss`.

    A stand-in until the transports' network impairments land; seeded, so
    the same loss pattern every run.
    """
    out = pcm.copy()
    rng = np.random.default_rng(seed)
    lost = rng.random(len(out) // FRAME_SAMPLES) < loss
    for k in np.flatnonzero(lost):
        out[k * FRAME_SAMPLES : (k + 1) * FRAME_SAMPLES] = 0
    return out


def test_reply_phrases_keep_only_pronounceable_normalised_words() -> None:
    assert language_phrases(["Your order 12 ships at 3 pm, Zorblax!", "..."]) == [
        "your order twelve ships at three pm"
    ]


async def test_spoken_wer_is_near_zero_clean_rises_with_loss_and_feeds_task_success(
    pipeline_agent_url: str, tmp_path: Path
) -> None:
    scenario = parse_scenario(
        "name: spoken\nseed: 5\nturns:\n  - wait: true\n"
        "  - say: I would like to book an appointment for Tuesday at three pm\n"
        "  - say: Where is my order one two three four\n"
    )
    store = RunStore(tmp_path)
    call = await run_call(scenario, WebSocketTransport(pipeline_agent_url), "spoken-000", store)
    store.close()
    assert call["status"] == "ok", call["error"]
    clean = aggregate(call["turns"], "spoken_wer")
    assert clean["n"] == 3 and clean["ref_words"] >= 20  # greeting + two replies
    assert clean["wer"] is not None and clean["wer"] <= 0.05, [
        (t["agent_reply_text"], t["spoken_text"]) for t in call["turns"]
    ]
    agent = read_wav(tmp_path / "audio" / "spoken-000" / "agent.wav")
    # Mean over five seeded loss patterns: one pattern may miss every word.
    lossy_wer = []
    for loss in (0.3, 0.5):
        wers = []
        for seed in range(5):
            rows = copy.deepcopy(call["turns"])
            score_turns(rows, drop_frames(agent, loss, seed=seed))
            wers.append(aggregate(rows, "spoken_wer")["wer"])
        lossy_wer.append(float(np.mean(wers)))
    assert lossy_wer[0] > clean["wer"] + 0.03, lossy_wer
    assert lossy_wer[1] > lossy_wer[0], lossy_wer
    # Task success on the same real call: phrases are checked in what the harness heard.
    right = Expect(agent_says=["Tuesday at 3 pm"])
    wrong = Expect(agent_says=["Wednesday at 3 pm"])
    assert evaluate_call(right, "spoken-000", [], call["turns"])["passed"]
    assert not evaluate_call(wrong, "spoken-000", [], call["turns"])["passed"]

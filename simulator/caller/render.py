"""Turn a scenario's caller into planned turns with audio and ground truth.

eSpeak NG carries state from one utterance to the next inside a process (a
function-static pitch-flutter index that no API resets), so the same text
rendered twice in one process differs by a few samples. To give "same
scenario + seed -> same bytes", a call's turns are rendered in order in a
fresh worker process, which also keeps synthesis off the audio-pacing loop.
The result is cached on disk under a hash of everything that determines it,
so a repeated call (or `--only` re-run) skips rendering altogether.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from simulator.audio import Pcm
from simulator.caller.cache import cache_dir
from simulator.caller.chain import render_background, render_recorded, render_utterance
from simulator.caller.truth import Truth
from simulator.scenario import Caller, Scenario, Turn
from simulator.session import PlannedTurn

#: Bump when the chain's output for the same inputs changes.
CHAIN_VERSION = "caller-chain-v2"


def render_turns(turns: list[Turn], caller: Caller, seed: int) -> list[PlannedTurn]:
    """Render every turn in order, in this process (deterministic only in a fresh one)."""
    planned: list[PlannedTurn] = []
    for i, turn in enumerate(turns):
        text = turn.say if turn.say is not None else turn.backchannel
        common = {
            "index": i,
            "waits_for_reply": turn.waits_for_reply,
            "reply_timeout_ms": turn.reply_timeout_ms,
        }
        if turn.audio is not None:
            pcm, truth = render_recorded(turn.audio, turn.say, caller, seed, i)
            planned.append(_spoken("say", turn.say, pcm, truth, at_ms=turn.barge_in_ms, **common))
        elif text is not None:
            pcm, truth = render_utterance(
                text,
                caller,
                seed,
                i,
                pause_ms=turn.pause_ms,
                pause_after_word=turn.pause_after_word,
                disfluent=turn.backchannel is None,
            )
            said = turn.say is not None
            planned.append(
                _spoken(
                    "say" if said else "backchannel",
                    text,
                    pcm,
                    truth,
                    at_ms=turn.barge_in_ms if said else turn.at_ms,
                    fillers=tuple(caller.disfluency.fillers) if caller.disfluency else (),
                    **common,
                )
            )
        elif turn.hangup_ms is not None:
            planned.append(PlannedTurn(kind="hangup", at_ms=turn.hangup_ms, **common))  # type: ignore[arg-type]
        elif turn.silence_ms is not None:
            planned.append(PlannedTurn(kind="silence", silence_ms=turn.silence_ms, **common))  # type: ignore[arg-type]
        else:
            planned.append(
                PlannedTurn(
                    index=i,
                    kind="wait",
                    waits_for_reply=True,
                    reply_timeout_ms=turn.reply_timeout_ms,
                )
            )
    return planned


def _spoken(kind: str, text: str | None, pcm: Pcm, truth: Truth, **rest: Any) -> PlannedTurn:
    """A turn that speaks `pcm`, with the chain's ground truth (`text` None: words unknown)."""
    return PlannedTurn(
        kind=kind,  # type: ignore[arg-type]
        text=text,
        pcm=pcm,
        speech_start=truth.speech_start,
        speech_end=truth.speech_end,
        spoken_text=truth.spoken_text if text is not None else None,
        pauses=truth.pauses,
        notes=dict(truth.notes),
        **rest,
    )


Rendered = tuple[list[PlannedTurn], Pcm | None]
#: Sets the noise bed's level when a call has no scripted speech to measure it on.
CALIBRATION = "Hello, I would like some help with something, please."
CALIBRATION_INDEX = 9_999


def render_all(turns: list[Turn], caller: Caller, seed: int) -> Rendered:
    """The turns, then the background noise bed for the gaps (if the caller has noise)."""
    planned = render_turns(turns, caller, seed)
    levels = [t.notes["noise_rms"] for t in planned if "noise_rms" in t.notes]
    if not levels and caller.noise is not None:
        # A goal-driven caller with no scripted turn: its lines are rendered
        # mid-call, so the noise bed's level comes from a reference sentence.
        _, truth = render_utterance(CALIBRATION, caller, seed, CALIBRATION_INDEX)
        levels = [truth.notes["noise_rms"]] if "noise_rms" in truth.notes else []
    bed = render_background(caller, seed, float(np.median(levels))) if levels else None
    return planned, bed


def render_isolated_all(turns: list[Turn], caller: Caller, seed: int) -> Rendered:
    """Render in a fresh spawned process: byte-identical for the same inputs."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(render_all, turns, caller, seed).result()


def render_isolated(turns: list[Turn], caller: Caller, seed: int) -> list[PlannedTurn]:
    """The turns of `render_isolated_all`."""
    return render_isolated_all(turns, caller, seed)[0]


def cache_key(turns: list[Turn], caller: Caller, seed: int) -> str:
    """Hash of everything that determines a call's rendered audio."""
    noise_file = caller.noise.file if caller.noise is not None else None
    stamp = _stamp(noise_file) if noise_file else None
    # A user file changed in place renders again; keys without recorded lines are as before.
    recorded = [_stamp(t.audio) for t in turns if t.audio]
    blob = json.dumps(
        [
            CHAIN_VERSION,
            [t.model_dump() for t in turns],
            caller.model_dump(exclude={"reconnect"}),
            seed,
            stamp,
            *([recorded] if recorded else []),
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:40]


def _stamp(path: str) -> list[int]:
    st = Path(path).stat()
    return [st.st_size, st.st_mtime_ns]


def render_cached(turns: list[Turn], caller: Caller, seed: int) -> Rendered:
    """The call's turns and noise bed from the disk cache, or rendered fresh and stored."""
    path = cache_dir("render") / f"{cache_key(turns, caller, seed)}.pkl"
    if path.exists():
        try:
            with path.open("rb") as f:
                cached: Rendered = pickle.load(f)
            return cached
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            path.unlink(missing_ok=True)
    planned = render_isolated_all(turns, caller, seed)
    tmp = path.with_suffix(f".{multiprocessing.current_process().pid}.tmp")
    with tmp.open("wb") as f:
        pickle.dump(planned, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return planned


async def render_call(scenario: Scenario, seed: int | None = None) -> list[PlannedTurn]:
    """Render a scenario's call off the event loop, deterministically, through the cache."""
    return (await render_call_full(scenario, seed))[0]


async def render_call_full(scenario: Scenario, seed: int | None = None) -> Rendered:
    """`render_call` plus the background noise bed the session plays between turns."""
    return await asyncio.to_thread(
        render_cached,
        list(scenario.turns),
        scenario.caller,
        scenario.seed if seed is None else seed,
    )

"""Turn a scenario's caller into planned turns with audio and ground truth.

eSpeak NG carries state from one utterance to the next inside a process (a
function-static pitch-flutter index that no API resets), so the same text
rendered twice in one process differs by a few samples. To give "same
scenario + seed -> same bytes", a call's turns are rendered in order in a
fresh worker process, which also keeps synthesis off the audio-pacing loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from simulator.caller.tts import synthesize
from simulator.scenario import Caller, Scenario, Turn
from simulator.session import PlannedTurn


def render_turns(turns: list[Turn], caller: Caller, seed: int) -> list[PlannedTurn]:
    """Render every turn in order, in this process (deterministic only in a fresh one)."""
    planned: list[PlannedTurn] = []
    for i, turn in enumerate(turns):
        if turn.say is not None:
            speech = synthesize(
                turn.say, caller.voice, caller.rate_wpm, caller.pitch, seed=seed + i
            )
            planned.append(
                PlannedTurn(
                    index=i,
                    kind="say",
                    text=turn.say,
                    pcm=speech.pcm,
                    speech_start=speech.start,
                    speech_end=speech.end,
                    waits_for_reply=turn.waits_for_reply,
                    reply_timeout_ms=turn.reply_timeout_ms,
                )
            )
        elif turn.silence_ms is not None:
            planned.append(
                PlannedTurn(
                    index=i,
                    kind="silence",
                    silence_ms=turn.silence_ms,
                    waits_for_reply=turn.waits_for_reply,
                    reply_timeout_ms=turn.reply_timeout_ms,
                )
            )
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


def render_isolated(turns: list[Turn], caller: Caller, seed: int) -> list[PlannedTurn]:
    """Render in a fresh spawned process: byte-identical for the same inputs."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(render_turns, turns, caller, seed).result()


async def render_call(scenario: Scenario, seed: int | None = None) -> list[PlannedTurn]:
    """Render a scenario's call off the event loop, deterministically."""
    return await asyncio.to_thread(
        render_isolated,
        list(scenario.turns),
        scenario.caller,
        scenario.seed if seed is None else seed,
    )

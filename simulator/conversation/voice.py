"""The goal-driven caller's mouth: lines decided mid-call, rendered off the pacing loop.

A line is only known once the caller has heard the agent, so it is rendered
during the call. eSpeak NG carries state between utterances within a process
(render.py), so every call gets its own freshly spawned worker process that
renders that call's lines in order: the same lines in the same order give the
same bytes (the replay guarantee), and synthesis never blocks the loop that
paces audio. The worker is started when the call starts, while the agent is
still greeting, so its start-up cost is off the first answer's clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

from simulator.caller.chain import render_utterance
from simulator.scenario import Caller
from simulator.session import PlannedTurn

#: Seeding index of line k: after any scripted turn (so they never share a stream).
LINE_INDEX_BASE = 10_000


def render_line(
    text: str, caller: Caller, seed: int, index: int, kind: str, fillers: tuple[str, ...]
) -> PlannedTurn:
    """One caller line through the whole chain (voice, disfluency, room, noise, line)."""
    pcm, truth = render_utterance(text, caller, seed, index, disfluent=kind == "say")
    return PlannedTurn(
        index=index,
        kind="say" if kind == "say" else "backchannel",
        text=text,
        pcm=pcm,
        speech_start=truth.speech_start,
        speech_end=truth.speech_end,
        spoken_text=truth.spoken_text,
        pauses=truth.pauses,
        notes=dict(truth.notes),
        fillers=fillers,
        waits_for_reply=kind == "say",
    )


def _warm() -> bool:
    """Import the chain in the worker so the first real line does not pay for it."""
    return True


def shared_voice_pool(workers: int = 1) -> ProcessPoolExecutor:
    """A render pool many calls share (load runs); see `CallerVoice`."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def pcm_digest(turn: PlannedTurn) -> str:
    """sha256 of a rendered line's samples: equal digests, identical caller audio."""
    return hashlib.sha256(turn.pcm.tobytes()).hexdigest()


class CallerVoice:
    """One call's renderer process; `render` lines strictly in the order they are said.

    A load generator passes a `shared` pool instead (one process per call
    would not scale to hundreds of calls): lines of many calls then share a
    process, which keeps synthesis off the loop but gives up byte-identical
    audio across runs (eSpeak's state depends on what was rendered before).
    """

    def __init__(
        self, caller: Caller, seed: int, shared: ProcessPoolExecutor | None = None
    ) -> None:
        self.caller = caller
        self.seed = seed
        self._shared = shared
        self._pool: ProcessPoolExecutor | None = shared
        self._lock = asyncio.Lock()
        self._count = 0
        self._fillers = tuple(caller.disfluency.fillers) if caller.disfluency else ()

    async def start(self) -> None:
        """Spawn the worker and let it import the chain (a second or two, off the clock)."""
        if self._pool is not None:
            return
        ctx = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, _warm)

    async def render(self, text: str, kind: str = "say") -> tuple[PlannedTurn, float]:
        """The next line, rendered; and the wall time it took in ms."""
        if self._pool is None:
            await self.start()
        assert self._pool is not None
        async with self._lock:
            index = LINE_INDEX_BASE + self._count
            self._count += 1
            t = time.perf_counter()
            loop = asyncio.get_running_loop()
            turn = await loop.run_in_executor(
                self._pool,
                render_line,
                text,
                self.caller,
                self.seed,
                index,
                kind,
                self._fillers,
            )
            return turn, (time.perf_counter() - t) * 1000

    def close(self) -> None:
        """Stop the worker (never waits on a line still rendering)."""
        if self._pool is not None and self._shared is None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None

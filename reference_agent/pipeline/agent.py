"""The reference pipeline agent: VAD endpointing -> pocketsphinx -> LLM -> eSpeak.

One `PipelineAgent` serves many calls; each call gets its own recognizer,
endpointer, history and fault draws. Audio in is decoded as it arrives
(streaming partials, on a worker thread); the LLM starts at the endpoint and
its reply is spoken sentence by sentence while later sentences are still
streaming. Audio out is paced at real time, 20 ms per frame, like a phone line.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from reference_agent.domain import GREETING
from reference_agent.faults import FaultInjector, FaultPlan, InjectedFault
from reference_agent.pipeline.llm import LlmClient
from reference_agent.pipeline.stt import StreamingRecognizer
from reference_agent.pipeline.tts import speak
from reference_agent.pipeline.vad import Endpointer, VadEvent
from simulator.audio import FRAME_SAMPLES, FRAME_SECONDS, Pcm, frames
from simulator.transports.base import AgentLink

SYSTEM_PROMPT = (
    "You are the phone agent of a clinic and shop: book appointments, check orders, refunds."
)
RECOVERY = "Sorry, I had a problem there. Could you say that again?"


@dataclass(frozen=True)
class AgentSettings:
    """Process-wide settings of the pipeline agent (CLI flags of `voxsim agent serve`)."""

    llm_base_url: str
    llm_model: str = "voxsim-domain"
    hangover_ms: int = 240
    greeting: bool = True
    faults: FaultPlan = field(default_factory=FaultPlan)


class PipelineAgent:
    """Handles calls on any AgentLink (in-process queues or a WebSocket)."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self.llm = LlmClient(settings.llm_base_url, settings.llm_model)

    async def handle(self, link: AgentLink) -> None:
        """Run one call until the caller hangs up."""
        call = _Call(self, link)
        await call.run()

    async def close(self) -> None:
        """Release the LLM client."""
        await self.llm.close()


class _Call:
    def __init__(self, agent: PipelineAgent, link: AgentLink) -> None:
        self.agent = agent
        self.link = link
        self.settings = agent.settings
        self.history: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
        self.endpointer = Endpointer(hangover_ms=self.settings.hangover_ms)
        self.faults = FaultInjector(self.settings.faults)
        self.out: asyncio.Queue[tuple[Pcm, str] | None] = asyncio.Queue()
        self._stt_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stt")
        self._recognizer: StreamingRecognizer | None = None
        self._preroll: list[Pcm] = []
        self._reply_task: asyncio.Task[None] | None = None
        self._last_voiced_at = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        first = await self.link.recv()
        if isinstance(first, dict) and first.get("type") == "start":
            self._configure(first)
        self._recognizer = await loop.run_in_executor(self._stt_pool, StreamingRecognizer)
        player = asyncio.create_task(self._play(), name="agent-player")
        if self.settings.greeting:
            self.history.append({"role": "assistant", "content": GREETING})
            await self._say(GREETING)
        try:
            while True:
                item = await self.link.recv()
                if item is None or (isinstance(item, dict) and item.get("type") == "stop"):
                    break
                if isinstance(item, dict):
                    continue
                await self._on_frame(item)
        finally:
            for task in (self._reply_task, player):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            self._stt_pool.shutdown(wait=False, cancel_futures=True)

    def _configure(self, start: dict[str, Any]) -> None:
        config = start.get("config") or {}
        seed = int(config.get("seed", 0) or 0)
        plan = FaultPlan.from_config(config.get("faults"), seed=seed)
        self.faults = FaultInjector(plan.merged_over(self.settings.faults))
        if "greeting" in config:
            self.settings = replace(self.settings, greeting=bool(config["greeting"]))

    async def _on_frame(self, frame: Pcm) -> None:
        loop = asyncio.get_running_loop()
        assert self._recognizer is not None
        event = self.endpointer.process(frame[:FRAME_SAMPLES])
        if not self.endpointer.in_speech and event is not VadEvent.ENDPOINT:
            self._preroll = (self._preroll + [frame])[-10:]
            return
        if event is VadEvent.SPEECH_START:
            recognizer = self._recognizer
            preroll, self._preroll = self._preroll, []
            await loop.run_in_executor(self._stt_pool, recognizer.start)
            for f in preroll:
                loop.run_in_executor(self._stt_pool, recognizer.feed, f)
        loop.run_in_executor(self._stt_pool, self._recognizer.feed, frame)
        if self.endpointer.silent_ms == 0:
            self._last_voiced_at = time.perf_counter()
        if event is VadEvent.ENDPOINT:
            endpoint_ms = (time.perf_counter() - self._last_voiced_at) * 1000
            previous = self._reply_task
            self._reply_task = asyncio.create_task(
                self._respond_after(previous, endpoint_ms), name="agent-reply"
            )

    async def _respond_after(self, previous: asyncio.Task[None] | None, endpoint_ms: float) -> None:
        """Replies are spoken in order; input keeps flowing while one is generated."""
        if previous is not None and not previous.done():
            with contextlib.suppress(Exception):
                await previous
        await self._respond(endpoint_ms)

    async def _respond(self, endpoint_ms: float) -> None:
        loop = asyncio.get_running_loop()
        assert self._recognizer is not None
        stages: dict[str, float] = {"endpoint_ms": endpoint_ms}
        t = time.perf_counter()
        try:
            text = await loop.run_in_executor(self._stt_pool, self._recognizer.finish)
            await self.faults.apply("stt")
        except InjectedFault:
            await self._say(RECOVERY)
            return
        stages["stt_ms"] = (time.perf_counter() - t) * 1000
        await self.link.send_event(
            {"type": "transcript", "role": "user", "text": text, "final": True}
        )
        self.history.append({"role": "user", "content": text})
        t = time.perf_counter()
        spoken: list[str] = []
        try:
            await self.faults.apply("llm")

            def first_token() -> None:
                stages["llm_ttft_ms"] = (time.perf_counter() - t) * 1000

            async for sentence in self.agent.llm.sentences(self.history, first_token):
                if not spoken:
                    t_tts = time.perf_counter()
                    await self.faults.apply("tts")
                    await self._say(sentence)
                    stages["tts_ms"] = (time.perf_counter() - t_tts) * 1000
                    await self.link.send_event({"type": "metrics", "stages": stages})
                else:
                    await self._say(sentence)
                spoken.append(sentence)
        except InjectedFault:
            await self._say(RECOVERY)
            spoken.append(RECOVERY)
        self.history.append({"role": "assistant", "content": " ".join(spoken)})

    async def _say(self, sentence: str) -> None:
        pcm = await speak(sentence)
        await self.out.put((pcm, sentence))

    async def _play(self) -> None:
        """Send queued speech paced at real time; the clock restarts after idle gaps."""
        loop = asyncio.get_running_loop()
        while True:
            item = await self.out.get()
            if item is None:
                return
            pcm, sentence = item
            await self.link.send_event(
                {"type": "transcript", "role": "assistant", "text": sentence}
            )
            t0 = loop.time()
            for k, frame in enumerate(frames(pcm)):
                delay = t0 + k * FRAME_SECONDS - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self.link.send_audio(frame)

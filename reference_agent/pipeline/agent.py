"""The reference pipeline agent: VAD endpointing -> STT -> LLM (+ tools) -> eSpeak.

One `PipelineAgent` serves many calls; each call gets its own recognizer,
endpointer, history and fault draws. Audio in is decoded as it arrives
(pocketsphinx's streaming partials, on a worker thread; with `stt="whisper"`
Whisper then transcribes the whole utterance at the endpoint, on the same
thread, inside the `stt` stage); the LLM starts at the endpoint and
its reply is spoken sentence by sentence while later sentences are still
streaming. Tool calls the LLM streams are run against the SQLite tools store
and fed back before it answers. Audio out is paced at real time, 20 ms per
frame, like a phone line, by a `Player` that barge-in can pause and cut.

This module is the listening half of a call (VAD, STT, barge-in, silence, resuming
a moved call) and the state both halves share; the reply (LLM rounds, tools,
speech) is reply.py's `Replying`, the settings settings.py's `AgentSettings`.
Over 400 lines on purpose: `_Call`'s listening state (VAD, STT hand-off, barge-in,
watchdog) is one per-frame state machine; split, each part would reach into the other's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import Span

from reference_agent.domain import GREETING
from reference_agent.faults import FaultInjector, FaultPlan, InjectedFault
from reference_agent.pipeline.llm import LlmClient
from reference_agent.pipeline.player import Player
from reference_agent.pipeline.reply import RECOVERY, CallFailed, Replying
from reference_agent.pipeline.settings import AgentSettings
from reference_agent.pipeline.stt import (
    STT_CHOICES,
    StreamingRecognizer,
    make_recognizer,
)
from reference_agent.pipeline.tracing import Tracing
from reference_agent.pipeline.vad import Endpointer, VadEvent
from reference_agent.state.stores import MemoryStore, SessionStore, SqliteArchive
from reference_agent.tools.store import ToolStore
from simulator.audio import FRAME_MS, FRAME_SAMPLES, Pcm
from simulator.transports.base import AgentLink

SYSTEM_PROMPT = (
    "You are the phone agent of a clinic and shop: book appointments, check orders, refunds."
)
REPROMPT = "Are you still there?"
FAREWELL = "I have not heard from you, so I will end the call now. Goodbye."
T = TypeVar("T")
#: speech frames handed to the STT thread at once (100 ms): see Call._feed
STT_BATCH_FRAMES = 5


class PipelineAgent:
    """Handles calls on any AgentLink (in-process queues or a WebSocket)."""

    def __init__(
        self,
        settings: AgentSettings,
        sessions: SessionStore | None = None,
        archive: SqliteArchive | None = None,
        span_exporter: SpanExporter | None = None,
    ) -> None:
        self.settings = settings
        self.llm = LlmClient(settings.llm_base_url, settings.llm_model)
        self.tools = ToolStore(settings.tools_db) if settings.tools_db is not None else None
        self.sessions: SessionStore = sessions or MemoryStore()
        self.archive = archive
        self.tracing = Tracing(span_exporter, settings.otlp_url)
        n = settings.llm_concurrency
        self.llm_slots = asyncio.Semaphore(n) if n > 0 else None

    async def handle(self, link: AgentLink) -> None:
        """Run one call until the caller hangs up (or the agent ends it)."""
        call = _Call(self, link)
        await call.run()

    async def close(self) -> None:
        """Release the LLM client and flush spans."""
        await self.llm.close()
        await asyncio.to_thread(self.tracing.shutdown)


class _Call(Replying):
    """One call: listening, endpointing and turn-taking (the reply: reply.py)."""

    def __init__(self, agent: PipelineAgent, link: AgentLink) -> None:
        self.agent = agent
        self.link = link
        self.settings = agent.settings
        self.call_id = ""
        self.history: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
        self.endpointer = Endpointer(hangover_ms=self.settings.hangover_ms, vad=self.settings.vad)
        self.faults = FaultInjector(self.settings.faults)
        self.player = Player(link)
        self._stt_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stt")
        self._unfed: list[Pcm] = []  # speech frames not yet handed to the STT thread
        self._recognizer: StreamingRecognizer | None = None
        self._speculating = False  # a speculative final STT pass stands for this utterance
        self._preroll: list[Pcm] = []
        self._reply_task: asyncio.Task[None] | None = None
        self._last_voiced_at = 0.0
        self._overlap_ms: int | None = None  # caller speech over the agent so far, if any
        self._ended = asyncio.Event()
        self._failure: str | None = None
        self.tool_log: list[dict[str, Any]] = []
        self._started_at = time.perf_counter()
        self._prompted_at = 0.0
        self._deadline: asyncio.Timeout | None = None
        self.tracer = agent.tracing.for_call(None)
        self._span: Span | None = None  # the turn being answered
        self._listening: tuple[Span, Span] | None = None  # (turn, vad) while the caller talks
        self.player.tracer = self.tracer

    # -- the call ---------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        first = await self.link.recv()
        if isinstance(first, dict) and first.get("type") == "start":
            self._configure(first)
        self.player.tracer = self.tracer
        resumed = await self._resume()
        if self.settings.instance or resumed:
            heard = sum(1 for m in self.history if m["role"] == "user")
            await self.link.send_event(
                {
                    "type": "session",
                    "instance": self.settings.instance,
                    "resumed": resumed,
                    "caller_turns": heard,
                }
            )
        self._recognizer = await loop.run_in_executor(
            self._stt_pool, make_recognizer, self.settings.stt
        )
        self.player.start(stall=self._stall_plan())
        watchdog = asyncio.create_task(self._silence_watchdog(), name="agent-silence")
        if self.settings.greeting and not resumed:
            await self._say(GREETING, self._assistant_message())
        if resumed and self.history[-1]["role"] == "user":
            # The lost instance heard this turn but its answer never reached the caller.
            self._reply_task = asyncio.create_task(
                self._respond_after(None, 0.0, None, pending=True), name="agent-reply"
            )
        inbox = asyncio.create_task(self._read_input(), name="agent-input")
        ended = asyncio.create_task(self._ended.wait(), name="agent-ended")
        hung_up = False
        try:
            await asyncio.wait({inbox, ended}, return_when=asyncio.FIRST_COMPLETED)
            hung_up = ended.done() or (inbox.done() and inbox.result())
            if self._failure is not None:
                await self.link.send_event({"type": "error", "message": self._failure})
        finally:
            for task in (inbox, ended, self._reply_task, watchdog):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            await self.player.stop()
            self._stt_pool.shutdown(wait=False, cancel_futures=True)
            if hung_up:
                await self._save(ended=True)
            # Push this call's spans now, not on the batch timer, so the caller's
            # OTLP receiver has them when the call ends.
            with contextlib.suppress(Exception):
                await self.tracer.flush()
            # Otherwise the link dropped without a hang-up: the call may go on on
            # another instance from the state saved after its last turn.

    async def _resume(self) -> bool:
        """Pick up a live call another instance started (same call_id, state in the store)."""
        if not self.call_id:
            return False
        session = await self.agent.sessions.load(self.call_id)
        if session is None or session.get("ended"):
            return False
        self.history = list(session["history"])
        self.tool_log = list(session.get("tool_calls", []))
        return True

    def snapshot(self, ended: bool = False) -> dict[str, Any]:
        """The call's session as stored: history (what the caller heard), tool calls."""
        return {
            "call_id": self.call_id,
            "history": self.history,
            "tool_calls": self.tool_log,
            "ended": ended,
        }

    async def _save(self, ended: bool = False) -> None:
        session = self.snapshot(ended)
        await self.agent.sessions.save(self.call_id, session)
        if ended and self.agent.archive is not None:
            await self.agent.archive.save(self.call_id, session)

    async def _read_input(self) -> bool:
        """Feed caller audio until the caller hangs up (True) or the link drops (False)."""
        while True:
            item = await self.link.recv()
            if item is None:
                return False
            if isinstance(item, dict) and item.get("type") == "stop":
                return True
            if isinstance(item, dict):
                continue
            await self._on_frame(item)

    def _configure(self, start: dict[str, Any]) -> None:
        self.call_id = str(start.get("call_id") or "")
        config = start.get("config") or {}
        otlp = config.get("otlp_url")
        self.tracer = self.agent.tracing.for_call(
            start.get("traceparent"), otlp if isinstance(otlp, str) else None
        )
        seed = int(config.get("seed", 0) or 0)
        plan = FaultPlan.from_config(config.get("faults"), seed=seed)
        self.faults = FaultInjector(plan.merged_over(self.settings.faults))
        overrides: dict[str, Any] = {}
        if "greeting" in config:
            overrides["greeting"] = bool(config["greeting"])
        for key in ("hangover_ms", "backchannel_ms", "silence_reprompt_ms"):
            if isinstance(config.get(key), int | float):
                overrides[key] = int(config[key])
        if config.get("vad") in ("webrtc", "silero"):
            overrides["vad"] = config["vad"]
        if config.get("stt") in STT_CHOICES:
            overrides["stt"] = config["stt"]
        if overrides:
            self.settings = replace(self.settings, **overrides)
            self.endpointer = Endpointer(
                hangover_ms=self.settings.hangover_ms, vad=self.settings.vad
            )

    def _stall_plan(self) -> tuple[float, float] | None:
        plan = self.faults.plan
        return (plan.tts_stall_after_ms, plan.tts_stall_ms) if plan.tts_stall_ms > 0 else None

    # -- input: endpointing, barge-in --------------------------------------
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
            self._flush_feed()
            await loop.run_in_executor(self._stt_pool, recognizer.start)
            self._speculating = False
            for f in preroll:
                self._feed(f)
            onset_ns = time.time_ns() - self.endpointer.start_frames * FRAME_MS * 1_000_000
            turn = self.tracer.start("agent.turn", start_ns=onset_ns)
            vad = self.tracer.start(
                "vad",
                parent=turn,
                start_ns=onset_ns,
                attributes={"vad.hangover_ms": self.endpointer.hangover_ms},
            )
            self._listening = (turn, vad)
            if self.player.speaking:
                # Stop talking at once; whether it was a barge-in or a backchannel
                # is decided by how long the caller keeps talking.
                self.player.pause()
                self._overlap_ms = self.endpointer.start_frames * FRAME_MS
        self._feed(frame)
        if self._recognizer.speculative and event is not VadEvent.ENDPOINT:
            # Whisper's pass over the utterance runs during the hangover; a voiced
            # frame after it (a pause, not the end) makes the endpoint redo it.
            if self.endpointer.silent_ms == FRAME_MS:
                self._speculating = True
                self._stt_later(self._recognizer.speculate)
            elif self.endpointer.silent_ms == 0 and self._speculating:
                self._speculating = False
                self._stt_later(self._recognizer.retract)
        if self.endpointer.silent_ms == 0:
            self._last_voiced_at = time.perf_counter()
        if self._overlap_ms is not None and event is not VadEvent.ENDPOINT:
            self._overlap_ms += FRAME_MS if self.endpointer.silent_ms == 0 else 0
            if self._overlap_ms >= self.settings.backchannel_ms:
                self._overlap_ms = None
                await self._barge_in()
        if event is VadEvent.ENDPOINT:
            turn_span, vad_span = self._listening or (None, None)
            self._listening = None
            endpoint_ms = (time.perf_counter() - self._last_voiced_at) * 1000
            if vad_span is not None:
                vad_span.set_attribute("vad.endpoint_ms", endpoint_ms)
                vad_span.end()
            if self._overlap_ms is not None:
                # A backchannel ("uh-huh"): carry on speaking, do not answer it.
                self._overlap_ms = None
                if turn_span is not None:
                    turn_span.set_attribute("turn.backchannel", True)
                    turn_span.end()
                self._stt_later(self._recognizer.discard)
                self.player.resume()
                return
            previous = self._reply_task
            self._reply_task = asyncio.create_task(
                self._respond_after(previous, endpoint_ms, turn_span), name="agent-reply"
            )

    def _feed(self, frame: Pcm) -> None:
        """Speech for the recognizer, handed to the STT thread STT_BATCH_FRAMES at a
        time: one hand-off per frame per call (50 a second each) made the event
        loop and the calls' STT threads convoy on the GIL, and an agent with ~40
        calls got less done the more it was behind (BENCHMARKS.md, "An overloaded
        agent stays slow"). Any other STT work first hands over what is waiting, so
        the recognizer sees the audio in order and whole before it ends an utterance."""
        self._unfed.append(frame)
        if len(self._unfed) >= STT_BATCH_FRAMES:
            self._flush_feed()

    def _flush_feed(self) -> None:
        if not self._unfed:
            return
        chunk = np.concatenate(self._unfed) if len(self._unfed) > 1 else self._unfed[0]
        self._unfed = []
        assert self._recognizer is not None
        self._submit(self._recognizer.feed, chunk)

    def _stt_later(self, work: Callable[..., Any], *args: Any) -> None:
        """Queue `work` on the STT thread without waiting for it; its future is watched,
        so a failure ends the call with an error instead of vanishing."""
        self._flush_feed()
        self._submit(work, *args)

    def _submit(self, work: Callable[..., Any], *args: Any) -> None:
        future = asyncio.get_running_loop().run_in_executor(self._stt_pool, work, *args)
        future.add_done_callback(self._stt_done)

    def _stt_done(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is None:
            return
        if self._failure is None:
            self._failure = f"stt failed: {future.exception()!r}"
        self._ended.set()

    async def _stt_now(self, work: Callable[[], T]) -> T:
        """Run `work` on the STT thread and wait; a failure ends the call (CallFailed)."""
        self._flush_feed()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._stt_pool, work)
        except Exception as exc:  # noqa: BLE001 - a broken recognizer, surfaced to the caller
            raise CallFailed(f"stt failed: {exc!r}") from exc

    async def _barge_in(self) -> None:
        """The caller took the turn: drop the reply and the audio the caller has not heard."""
        if self._reply_task is not None and not self._reply_task.done():
            self._reply_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reply_task
        self._reply_task = None
        await self.player.cut()
        await self.link.send_event({"type": "clear"})
        await self._save()

    # -- replies ------------------------------------------------------------
    async def _respond_after(
        self,
        previous: asyncio.Task[None] | None,
        endpoint_ms: float,
        turn: Span | None,
        pending: bool = False,
    ) -> None:
        """Replies are spoken in order; input keeps flowing while one is generated.

        `pending`: answer the caller turn already in the history (a resumed call)."""
        if previous is not None and not previous.done():
            with contextlib.suppress(Exception):
                await previous
        self._span = turn
        try:
            if pending:
                self.faults.take_latency()
                await self._answer({"resumed": 1.0})
            else:
                await self._respond(endpoint_ms)
            await self.player.drain()
            await self._save()
        except CallFailed as exc:
            self._failure = str(exc)
            self._ended.set()
        except asyncio.CancelledError:
            if turn is not None:
                turn.set_attribute("turn.interrupted", True)
            raise
        finally:
            if turn is not None:
                turn.end()

    async def _respond(self, endpoint_ms: float) -> None:
        assert self._recognizer is not None
        stages: dict[str, float] = {"endpoint_ms": endpoint_ms}
        self.faults.take_latency()  # a fresh account for this reply
        t = time.perf_counter()
        # *_cpu_ms: CPU of this whole process (all threads; the bundled LLM server
        # runs on its loop) while the stage ran - the stage's CPU demand at one call
        # (voxsim capacity --from-run); with more calls at once it counts theirs too.
        cpu = time.process_time()
        stt = self.tracer.start(
            "stt", parent=self._span, attributes={"stt.engine": self.settings.stt}
        )
        try:
            recognizer = self._recognizer
            text = await self._guard("stt", lambda: self._stt_now(recognizer.finish))
            stt.set_attribute("stt.text", str(text))
            if recognizer.speculative:
                # The whole Whisper pass, part of which may have run in the hangover.
                stt.set_attribute("stt.whisper_ms", getattr(recognizer, "last_pass_ms", 0.0))
        except InjectedFault:
            stt.set_attribute("error", True)
            stt.end()
            await self._say(RECOVERY, self._assistant_message())
            return
        stages["stt_ms"] = (time.perf_counter() - t) * 1000
        stages["stt_cpu_ms"] = (time.process_time() - cpu) * 1000
        stt.end()
        await self.link.send_event(
            {"type": "transcript", "role": "user", "text": text, "final": True}
        )
        self.history.append({"role": "user", "content": text})
        await self._save()  # another instance answers this turn if this one dies now
        await self._answer(stages)

    async def _silence_watchdog(self) -> None:
        """Re-prompt after `silence_reprompt_ms` of mutual silence; end the call after two."""
        limit = self.settings.silence_reprompt_ms / 1000
        if limit <= 0:
            return
        prompts = 0
        while True:
            await asyncio.sleep(0.1)
            busy = (
                self.player.speaking
                or self.endpointer.in_speech
                or (self._reply_task is not None and not self._reply_task.done())
            )
            if busy:
                continue
            quiet_since = max(self.player.last_audio_at, self._last_voiced_at, self._started_at)
            if time.perf_counter() - quiet_since < limit:
                continue
            if prompts == 0 or self._last_voiced_at > self._prompted_at:
                prompts = 0
            prompts += 1
            self._prompted_at = time.perf_counter()
            if prompts == 1:
                await self._say(REPROMPT, self._assistant_message())
                continue
            await self._say(FAREWELL, self._assistant_message())
            await self.player.drain()
            self._ended.set()
            return

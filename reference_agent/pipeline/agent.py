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
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import Span

from reference_agent.domain import GREETING
from reference_agent.faults import FaultInjector, FaultPlan, InjectedFault
from reference_agent.pipeline.llm import LlmClient, ToolCallRequest
from reference_agent.pipeline.player import Player
from reference_agent.pipeline.stt import (
    DEFAULT_STT,
    STT_CHOICES,
    StreamingRecognizer,
    make_recognizer,
)
from reference_agent.pipeline.tracing import Tracing
from reference_agent.pipeline.tts import DEFAULT_VOICE, speak
from reference_agent.pipeline.vad import DEFAULT_HANGOVER_MS, DEFAULT_VAD, Endpointer, VadEvent
from reference_agent.state.context import ContextPolicy, build_context, count_tokens
from reference_agent.state.stores import MemoryStore, SessionStore, SqliteArchive
from reference_agent.tools.specs import TOOLS
from reference_agent.tools.store import ToolError, ToolStore
from simulator.audio import FRAME_MS, FRAME_SAMPLES, Pcm
from simulator.transports.base import AgentLink

SYSTEM_PROMPT = (
    "You are the phone agent of a clinic and shop: book appointments, check orders, refunds."
)
RECOVERY = "Sorry, I had a problem there. Could you say that again?"
REPROMPT = "Are you still there?"
FAREWELL = "I have not heard from you, so I will end the call now. Goodbye."
MAX_TOOL_ROUNDS = 3
T = TypeVar("T")


@dataclass(frozen=True)
class AgentSettings:
    """Process-wide settings of the pipeline agent (CLI flags of `voxsim agent serve`).

    `backchannel_ms`: caller speech over the agent shorter than this ("uh-huh")
    only pauses the agent, which then carries on; longer speech is a barge-in.
    `silence_reprompt_ms`: caller silence before "Are you still there?"; the
    same silence again ends the call. 0 turns it off.
    `stt`: "domain" (pocketsphinx + the domain LM) or "whisper" (pocketsphinx
    partials, Whisper on the whole utterance at the endpoint).
    """

    llm_base_url: str
    llm_model: str = "voxsim-domain"
    hangover_ms: int = DEFAULT_HANGOVER_MS
    greeting: bool = True
    faults: FaultPlan = field(default_factory=FaultPlan)
    tools_db: Path | None = None
    backchannel_ms: int = 600
    silence_reprompt_ms: int = 8000
    context: ContextPolicy = field(default_factory=ContextPolicy)
    otlp_url: str | None = None
    vad: str = DEFAULT_VAD
    stt: str = DEFAULT_STT
    #: The agent's voice: "espeak" (default) or "piper" (pipeline/tts.py).
    voice: str = DEFAULT_VOICE
    #: This process's name in a fleet (docs/fleet.md): told to the caller in a
    #: `session` event at the start of every call, so a moved call is visible.
    instance: str = ""
    #: At most this many LLM requests of this process at once (an inference
    #: server with N slots; the injected llm latency is spent inside a slot);
    #: the others wait in arrival order. 0: no limit.
    llm_concurrency: int = 0


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


class _CallFailed(Exception):
    """The call must end with an error (an injected fatal fault)."""


class _Call:
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
            await loop.run_in_executor(self._stt_pool, recognizer.start)
            self._speculating = False
            for f in preroll:
                self._stt_later(recognizer.feed, f)
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
        self._stt_later(self._recognizer.feed, frame)
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

    def _stt_later(self, work: Callable[..., Any], *args: Any) -> None:
        """Queue `work` on the STT thread without waiting for it; its future is watched,
        so a failure ends the call with an error instead of vanishing."""
        future = asyncio.get_running_loop().run_in_executor(self._stt_pool, work, *args)
        future.add_done_callback(self._stt_done)

    def _stt_done(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is None:
            return
        if self._failure is None:
            self._failure = f"stt failed: {future.exception()!r}"
        self._ended.set()

    async def _stt_now(self, work: Callable[[], T]) -> T:
        """Run `work` on the STT thread and wait; a failure ends the call (_CallFailed)."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._stt_pool, work)
        except Exception as exc:  # noqa: BLE001 - a broken recognizer, surfaced to the caller
            raise _CallFailed(f"stt failed: {exc!r}") from exc

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
        except _CallFailed as exc:
            self._failure = str(exc)
            self._ended.set()
        except asyncio.CancelledError:
            if turn is not None:
                turn.set_attribute("turn.interrupted", True)
            raise
        finally:
            if turn is not None:
                turn.end()

    async def _guard(self, stage: str, work: Callable[[], Awaitable[T]] | None = None) -> T | None:
        """Apply one stage's injected faults, then run `work`; a fatal fault fails the call."""
        try:
            await self.faults.apply(stage)
        except InjectedFault as exc:
            if exc.fatal:
                raise _CallFailed(f"injected {stage} error") from None
            raise
        return await work() if work is not None else None

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

    async def _answer(self, stages: dict[str, float]) -> None:
        """The LLM's reply (with tools) to the history, spoken; a slot of the instance's
        LLM first, when `llm_concurrency` limits them (its wait is `llm_queue_ms`)."""
        message: dict[str, Any] | None = None
        try:
            async with self._llm_slot(stages), self._llm_deadline():
                message = await self._generate(stages)
        except (InjectedFault, TimeoutError):
            message = message or self._assistant_message()
            await self._say(RECOVERY, message)

    @contextlib.asynccontextmanager
    async def _llm_slot(self, stages: dict[str, float]) -> AsyncIterator[None]:
        slots = self.agent.llm_slots
        if slots is None:
            yield
            return
        t = time.perf_counter()
        async with slots:
            stages["llm_queue_ms"] = (time.perf_counter() - t) * 1000
            yield

    @contextlib.asynccontextmanager
    async def _llm_deadline(self) -> AsyncIterator[None]:
        """A deadline that `_arm_deadline` starts per LLM request and its first token stops."""
        async with asyncio.timeout(None) as deadline:
            self._deadline = deadline
            try:
                yield
            finally:
                self._deadline = None

    def _arm_deadline(self) -> None:
        """`llm_timeout_ms` bounds each LLM request's wait for its first token."""
        timeout = self.faults.plan.llm_timeout_ms
        if timeout > 0 and self._deadline is not None:
            self._deadline.reschedule(asyncio.get_running_loop().time() + timeout / 1000)

    async def _generate(self, stages: dict[str, float]) -> dict[str, Any]:
        """LLM rounds until it answers in words; tool calls in between are executed."""
        message: dict[str, Any] | None = None
        t, cpu = time.perf_counter(), time.process_time()
        tools = TOOLS if self.agent.tools is not None else None
        for round_ in range(MAX_TOOL_ROUNDS):
            calls: list[ToolCallRequest] = []

            llm = self.tracer.start("llm", parent=self._span, attributes={"llm.round": round_})
            t_round = time.perf_counter()

            def first_token(llm: Span = llm, t_round: float = t_round) -> None:
                stages.setdefault("llm_ttft_ms", (time.perf_counter() - t) * 1000)
                stages.setdefault("llm_cpu_ms", (time.process_time() - cpu) * 1000)
                llm.set_attribute("llm.ttft_ms", (time.perf_counter() - t_round) * 1000)
                llm.add_event("first_token")
                self._disarm_deadline()

            self._arm_deadline()
            if round_ == 0:  # the knob delays the turn's LLM stage once, tools or not
                await self._guard("llm")
            context = build_context(self.history, self.settings.context)
            stages["context_tokens"] = float(count_tokens(context))
            try:
                async for item in self.agent.llm.stream(context, tools, first_token):
                    if isinstance(item, ToolCallRequest):
                        calls.append(item)
                        continue
                    if message is None:
                        message = self._assistant_message()
                        t_tts, cpu_tts = time.perf_counter(), time.process_time()
                        # TTS waits for a whole sentence: with a real model that is
                        # TTFT plus the sentence's sampling time.
                        stages["llm_sentence_ms"] = (t_tts - t) * 1000
                        llm.set_attribute("llm.first_sentence_ms", (t_tts - t_round) * 1000)
                        await self._guard("tts", partial(self._say, item, message))
                        stages["tts_ms"] = (time.perf_counter() - t_tts) * 1000
                        stages["tts_cpu_ms"] = (time.process_time() - cpu_tts) * 1000
                        stages.update(self.faults.take_latency())
                        await self.link.send_event({"type": "metrics", "stages": stages})
                    else:
                        await self._say(item, message)
            finally:
                llm.end()
            if not calls:
                break
            t_tool, cpu_tool = time.perf_counter(), time.process_time()
            await self._run_tools(calls)
            stages["tool_ms"] = stages.get("tool_ms", 0.0) + (time.perf_counter() - t_tool) * 1000
            used = (time.process_time() - cpu_tool) * 1000
            stages["tool_cpu_ms"] = stages.get("tool_cpu_ms", 0.0) + used
        return message or self._assistant_message()

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.reschedule(None)

    async def _run_tools(self, calls: list[ToolCallRequest]) -> None:
        store = self.agent.tools
        assert store is not None
        self.history.append(
            {"role": "assistant", "content": None, "tool_calls": [c.message() for c in calls]}
        )
        for call in calls:
            args = call.parsed()
            t = time.perf_counter()
            span = self.tracer.start("tool", parent=self._span, attributes={"tool.name": call.name})
            try:
                result = await self._guard(
                    "tool", partial(store.execute, call.name, args, self.call_id)
                ) or {"ok": False}
            except ToolError as exc:
                result = {"ok": False, "error": str(exc)}
            except InjectedFault:
                result = {"ok": False, "error": "injected tool error"}
            record = {
                "type": "tool_call",
                "id": call.id,
                "name": call.name,
                "arguments": args,
                "result": result,
                "duration_ms": round((time.perf_counter() - t) * 1000, 3),
            }
            span.set_attribute("tool.ok", bool(result.get("ok")))
            span.end()
            self.tool_log.append(record)
            await self.link.send_event(record)
            self.history.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
            )

    # -- output -------------------------------------------------------------
    def _assistant_message(self) -> dict[str, Any]:
        """A new assistant turn in the history; the player fills in what gets heard."""
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        self.history.append(message)
        return message

    async def _say(self, sentence: str, message: dict[str, Any]) -> None:
        span = self.tracer.start("tts", parent=self._span, attributes={"tts.chars": len(sentence)})
        try:
            pcm = await speak(sentence, self.settings.voice)
            span.set_attribute(
                "tts.time_to_first_audio_ms", (time.time_ns() - _start_ns(span)) / 1e6
            )
        finally:
            span.end()
        await self.player.enqueue(pcm, sentence, message, parent=self._span)

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


def _start_ns(span: Span) -> int:
    """When a span started (now for a no-op span)."""
    start = getattr(span, "start_time", None)
    return int(start) if start else time.time_ns()

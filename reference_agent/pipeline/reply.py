"""The pipeline agent's reply: LLM rounds with tools, spoken sentence by sentence.

`Replying` is the half of a call (agent.py `_Call`) that answers once the caller's
turn has ended: a slot of the instance's LLM when they are limited, the LLM's
first-token deadline, tool calls run against the SQLite store and fed back, each
sentence synthesised and queued on the player while later ones still stream, every
stage's time and CPU reported in the `metrics` event. Injected faults apply per stage
(`_guard`); a fatal one fails the call (`CallFailed`). The listening half (VAD,
STT, barge-in, silence) stays in agent.py, which owns the state both halves share.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.trace import Span

from reference_agent.faults import FaultInjector, InjectedFault
from reference_agent.pipeline.llm import ToolCallRequest
from reference_agent.pipeline.player import Player
from reference_agent.pipeline.tts import speak
from reference_agent.state.context import build_context, count_tokens
from reference_agent.tools.specs import TOOLS
from reference_agent.tools.store import ToolError
from simulator.transports.base import AgentLink

if TYPE_CHECKING:
    from reference_agent.pipeline.agent import PipelineAgent
    from reference_agent.pipeline.settings import AgentSettings
    from reference_agent.pipeline.tracing import CallTracer

RECOVERY = "Sorry, I had a problem there. Could you say that again?"
MAX_TOOL_ROUNDS = 3
T = TypeVar("T")


class CallFailed(Exception):
    """The call must end with an error (an injected fatal fault)."""


class Replying:
    """Reply generation for one call; the call (agent.py `_Call`) sets these fields."""

    agent: PipelineAgent
    link: AgentLink
    settings: AgentSettings
    call_id: str
    history: list[dict[str, Any]]
    faults: FaultInjector
    player: Player
    tool_log: list[dict[str, Any]]
    tracer: CallTracer
    _span: Span | None
    _deadline: asyncio.Timeout | None

    async def _guard(self, stage: str, work: Callable[[], Awaitable[T]] | None = None) -> T | None:
        """Apply one stage's injected faults, then run `work`; a fatal fault fails the call."""
        try:
            await self.faults.apply(stage)
        except InjectedFault as exc:
            if exc.fatal:
                raise CallFailed(f"injected {stage} error") from None
            raise
        return await work() if work is not None else None

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


def _start_ns(span: Span) -> int:
    """When a span started (now for a no-op span)."""
    start = getattr(span, "start_time", None)
    return int(start) if start else time.time_ns()

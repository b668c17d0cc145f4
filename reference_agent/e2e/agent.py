"""The reference end-to-end agent: one full-duplex speech-to-speech loop.

To voxsim it is a black box behind the OpenAI Realtime protocol (server VAD,
audio out while audio comes in, interruption handled in the model loop).
Inside, it reuses the bundled engines, said plainly: webrtcvad for server
VAD (`reference_agent.pipeline.vad`), pocketsphinx as a streaming acoustic
front end whose running hypothesis *is* the model's input
(`reference_agent.pipeline.stt`), the domain policy as the "model"
(`reference_agent.domain.reply`, called in process), and eSpeak NG as its
voice (`simulator.caller.tts`). What makes it faster than the pipeline agent
is what a speech-to-speech model removes: no STT finalisation pass (the
streaming state is used as is), no network hop to an LLM server, no
sentence-by-sentence TTS handoff, and no idle endpoint wait: the model keeps
running while the caller is silent, so the reply to the running hypothesis
is already generated and voiced when the hangover ends (speculation; thrown
away if the caller speaks again or the hypothesis changes).

With `stt="whisper"` the acoustic front end keeps streaming pocketsphinx,
and the speculation transcribes the utterance so far with Whisper at the
same moment (the first unvoiced frame), inside the hangover: that transcript
is what the model heard, so the endpoint adds no Whisper pass unless the
speculation was dropped (`reference_agent.pipeline.stt.UtteranceRecognizer`).
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from reference_agent.domain import GREETING, reply
from reference_agent.faults import FaultInjector, FaultPlan, InjectedFault
from reference_agent.pipeline.stt import DEFAULT_STT, StreamingRecognizer, make_recognizer
from reference_agent.pipeline.tts import DEFAULT_VOICE, synthesize_sentence
from reference_agent.pipeline.vad import DEFAULT_HANGOVER_MS, Endpointer, VadEvent
from simulator.audio import FRAME_MS, FRAME_SAMPLES, FRAME_SECONDS, Pcm, frames
from simulator.caller.tts import Speech
from simulator.transports.base import AgentLink

VOICE = "en-US+f3"


class _Prepared(NamedTuple):
    """A reply worked out during the hangover for the hypothesis `heard`."""

    heard: str
    text: str
    speech: Speech


@dataclass(frozen=True)
class E2ESettings:
    """Knobs of the e2e agent (`voxsim agent serve --kind e2e`)."""

    hangover_ms: int = DEFAULT_HANGOVER_MS
    greeting: bool = True
    rate_wpm: int = 185
    faults: FaultPlan = field(default_factory=FaultPlan)
    stt: str = DEFAULT_STT  # "domain" or "whisper", as for the pipeline agent
    #: "espeak" (its own eSpeak voice, VOICE) or "piper", as for the pipeline agent.
    voice: str = DEFAULT_VOICE


class E2EAgent:
    """Serves calls on any AgentLink; the bundled server puts it behind Realtime."""

    def __init__(self, settings: E2ESettings | None = None) -> None:
        self.settings = settings or E2ESettings()

    async def handle(self, link: AgentLink) -> None:
        """Run one call until the caller hangs up."""
        await _Conversation(self.settings, link).run()

    async def close(self) -> None:
        """Nothing to release: every call owns its engines."""


class _Conversation:
    def __init__(self, settings: E2ESettings, link: AgentLink) -> None:
        self.settings = settings
        self.link = link
        self.vad = Endpointer(hangover_ms=settings.hangover_ms)
        self.faults = FaultInjector(settings.faults)
        self.history: list[dict[str, Any]] = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="e2e")
        self._asr: StreamingRecognizer | None = None
        self._hyp = ""
        self._preroll: list[Pcm] = []
        self._speaking: asyncio.Task[None] | None = None
        self._heard_ms = 0  # caller audio received, for the VAD events' offsets
        self._prepared: asyncio.Task[_Prepared] | None = None
        self._speculation = object()  # replaced whenever a speculation is dropped

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        first = await self.link.recv()
        if isinstance(first, dict) and first.get("type") == "start":
            config = first.get("config") or {}
            plan = FaultPlan.from_config(config.get("faults"), seed=int(config.get("seed") or 0))
            self.faults = FaultInjector(plan.merged_over(self.settings.faults))
        self._asr = await loop.run_in_executor(self._pool, make_recognizer, self.settings.stt)
        if self.settings.greeting:
            self.history.append({"role": "assistant", "content": GREETING})
            self._speak(GREETING)
        try:
            while True:
                item = await self.link.recv()
                if item is None or (isinstance(item, dict) and item.get("type") == "stop"):
                    break
                if isinstance(item, dict):
                    if item.get("type") in {"truncate", "cancel"}:
                        await self._interrupt(notify=False)
                    continue
                await self._on_frame(item)
        finally:
            self._drop_prepared()
            await self._interrupt(notify=False)
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def _on_frame(self, frame: Pcm) -> None:
        loop = asyncio.get_running_loop()
        assert self._asr is not None
        self._heard_ms += FRAME_MS
        event = self.vad.process(frame[:FRAME_SAMPLES])
        if not self.vad.in_speech and event is not VadEvent.ENDPOINT:
            self._preroll = (self._preroll + [frame])[-10:]
            return
        if event is VadEvent.SPEECH_START:
            # The caller took the floor: the model stops talking at once (barge-in).
            await self._interrupt(notify=True)
            start_ms = self._heard_ms - FRAME_MS * (len(self._preroll) + 1)
            await self.link.send_event({"type": "speech_started", "audio_start_ms": start_ms})
            preroll, self._preroll = self._preroll, []
            await loop.run_in_executor(self._pool, self._asr.start)
            for f in preroll:
                loop.run_in_executor(self._pool, self._asr.feed, f)
        future = loop.run_in_executor(self._pool, self._asr.feed, frame)
        future.add_done_callback(self._keep_hypothesis)
        if event is VadEvent.ENDPOINT:
            await future
            text, self._hyp = self._hyp, ""
            await self.link.send_event({"type": "speech_stopped", "audio_end_ms": self._heard_ms})
            await self._answer(text if self.settings.stt == "domain" else None)
        elif self.vad.silent_ms == FRAME_MS:
            # First unvoiced frame: work the reply out while the hangover runs.
            self._drop_prepared()
            self._prepared = asyncio.create_task(self._prepare(future), name="e2e-prepare")
        elif self.vad.silent_ms == 0:
            self._drop_prepared()

    async def _prepare(self, fed: asyncio.Future[str]) -> _Prepared:
        heard = await fed
        if self.settings.stt != "domain":
            token = self._speculation
            settled = await asyncio.get_running_loop().run_in_executor(
                self._pool, self._settled, token
            )
            if settled is None:
                raise asyncio.CancelledError
            heard = settled
        text = reply([*self.history, {"role": "user", "content": heard}])
        speech = await asyncio.to_thread(self._synthesize, text)
        return _Prepared(heard, text, speech)

    def _settled(self, token: object) -> str | None:
        """On the ASR thread: the transcript so far, unless the speculation was dropped."""
        assert self._asr is not None
        return self._asr.settled() if token is self._speculation else None

    def _drop_prepared(self) -> None:
        self._speculation = object()  # a queued Whisper pass for it will not run
        if self._prepared is not None:
            self._prepared.cancel()
            self._prepared = None

    async def _take_prepared(self, heard: str | None) -> _Prepared | None:
        """The speculative reply if it answered exactly what was finally heard.

        `heard` None (Whisper): the speculation's own transcript is what was
        heard; only unvoiced audio came after it.
        """
        task, self._prepared = self._prepared, None
        if task is None:
            return None
        try:
            prepared = await task
        except (asyncio.CancelledError, Exception):
            return None
        return prepared if heard is None or prepared.heard == heard else None

    def _keep_hypothesis(self, future: asyncio.Future[str]) -> None:
        if not future.cancelled() and future.exception() is None:
            self._hyp = future.result()

    async def _answer(self, partial: str | None) -> None:
        """Answer the turn: `partial` is pocketsphinx's final hypothesis, None for Whisper."""
        if partial is not None:
            heard = partial
            await self._send_heard(heard)
            prepared = await self._take_prepared(heard)
        else:
            prepared = await self._take_prepared(None)
            if prepared is not None:
                heard = prepared.heard
            else:
                assert self._asr is not None
                loop = asyncio.get_running_loop()
                heard = await loop.run_in_executor(self._pool, self._asr.settled)
            await self._send_heard(heard)
        self.history.append({"role": "user", "content": heard})
        try:
            await self.faults.apply("llm")
            text = prepared.text if prepared else reply(self.history)
        except InjectedFault:
            text, prepared = "Sorry, could you say that again?", None
        self.history.append({"role": "assistant", "content": text})
        self._speak(text, prepared.speech if prepared else None)

    async def _send_heard(self, heard: str) -> None:
        await self.link.send_event(
            {"type": "transcript", "role": "user", "text": heard, "final": True}
        )

    def _synthesize(self, text: str) -> Speech:
        """`text` in the agent's voice (eSpeak's VOICE unless `voice` is piper)."""
        voice = VOICE if self.settings.voice == "espeak" else self.settings.voice
        return synthesize_sentence(text, voice, self.settings.rate_wpm)

    def _speak(self, text: str, speech: Speech | None = None) -> None:
        self._speaking = asyncio.create_task(self._stream(text, speech), name="e2e-speak")

    async def _stream(self, text: str, speech: Speech | None = None) -> None:
        loop = asyncio.get_running_loop()
        if speech is None:
            speech = await asyncio.to_thread(self._synthesize, text)
        pcm = speech.pcm[speech.start :]
        await self.link.send_event({"type": "transcript", "role": "assistant", "text": text})
        t0 = loop.time()
        for k, frame in enumerate(frames(pcm)):
            delay = t0 + k * FRAME_SECONDS - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.link.send_audio(frame)
        await self.link.send_event({"type": "response_done"})

    async def _interrupt(self, notify: bool) -> None:
        task, self._speaking = self._speaking, None
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if notify:
            await self.link.send_event({"type": "clear"})
            if self.history and self.history[-1]["role"] == "assistant":
                self.history[-1]["content"] += " ..."

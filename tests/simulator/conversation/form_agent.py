"""A small agent that fills a form in its own order, for goal-driven caller tests.

Run as its own process: `python form_agent.py MODE`, prints {"url": ...}.
It greets by asking its first question, endpoints the caller on 600 ms of
silence, transcribes the utterance with Whisper (voxsim's general recognizer)
and asks the next question. MODE:
- `name-first`: name, then day, then time; then it books (a `tool_call` event
  `book_appointment` with the three answers as heard), asks "anything else?",
  and says goodbye to whatever comes next;
- `name-first-v2`: the same, but it asks for the time in other words (a
  changed agent that a replayed recording must notice);
- `never`: answers every utterance with "Sorry, I did not catch that." and
  never books (a broken agent the caller must give up on).
It speaks eSpeak NG and sends native transcript events, so it serves every
transport of reference_agent/server.py (native, Twilio, Realtime, WebRTC).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from typing import Any

import numpy as np

from reference_agent.server import serve
from simulator.audio import FRAME_SECONDS, SPEECH_THRESHOLD, Pcm, frames
from simulator.caller.tts import synthesize
from simulator.conversation.whisper import WhisperRecognizer
from simulator.transports.base import AgentLink

QUESTIONS = [
    ("name", "Hello. Can I have your name first, please?"),
    ("day", "Thank you. Which day would you like?"),
    ("time", "And at what time?"),
]
QUESTIONS_V2 = [*QUESTIONS[:2], ("time", "And what time would suit you best?")]
SORRY = "Sorry, I did not catch that. Could you say it again?"
HANGOVER_FRAMES = 30  # 600 ms: a comma's pause does not split an answer in two


def _value(key: str, heard: str) -> str:
    """The answer's value as heard, without the politeness around it."""
    text = re.sub(r"\b(my name is|it is|its|please|at|on|um|uh)\b", " ", heard)
    return " ".join(text.split())


async def _say(link: AgentLink, text: str) -> None:
    speech = synthesize(text, "en-us", 185, 50)
    await link.send_event({"type": "transcript", "role": "assistant", "text": text})
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for k, frame in enumerate(frames(speech.pcm[speech.start :])):
        delay = t0 + k * FRAME_SECONDS - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await link.send_audio(frame)


async def _utterances(link: AgentLink) -> Any:
    """Yield each caller utterance (audio) once 300 ms of silence ends it."""
    buf: list[Pcm] = []
    silent = 0
    while True:
        item = await link.recv()
        if item is None:
            return
        if isinstance(item, dict):
            if item.get("type") == "stop":
                return
            continue
        loud = int(np.abs(item.astype(np.int32)).max(initial=0)) > SPEECH_THRESHOLD
        if loud:
            buf.append(item)
            silent = 0
        elif buf:
            buf.append(item)
            silent += 1
            if silent >= HANGOVER_FRAMES:
                yield np.concatenate(buf)
                buf, silent = [], 0


def handler(mode: str) -> Any:
    recognizer = WhisperRecognizer.shared()
    questions = QUESTIONS_V2 if mode == "name-first-v2" else QUESTIONS

    async def call(link: AgentLink) -> None:
        answers: dict[str, str] = {}
        step = 0
        booked = False
        said_goodbye = False
        speaking: asyncio.Task[None] | None = asyncio.create_task(
            _say(link, questions[0][1] if mode != "never" else "Hello. How can I help?")
        )
        async for pcm in _utterances(link):
            heard = await asyncio.to_thread(recognizer.transcribe, pcm)
            await link.send_event({"type": "transcript", "role": "user", "text": heard})
            if speaking is not None:
                await speaking
            if mode == "never":
                reply = SORRY
            elif booked:
                if said_goodbye:
                    continue  # it has said goodbye once; it waits for the caller to hang up
                said_goodbye = True
                reply = "Thank you for calling. Goodbye."
            elif step < len(questions):
                answers[questions[step][0]] = _value(questions[step][0], heard)
                step += 1
                if step < len(questions):
                    reply = questions[step][1]
                else:
                    booked = True
                    await link.send_event(
                        {
                            "type": "tool_call",
                            "name": "book_appointment",
                            "arguments": dict(answers),
                            "result": {"ok": True},
                        }
                    )
                    # Not read back: what the agent says must not depend on how its
                    # recognizer heard the caller, or a replayed call could diverge
                    # on a word Whisper hears differently in another frame alignment.
                    reply = "I have booked you in. Is there anything else?"
            speaking = asyncio.create_task(_say(link, reply))
        if speaking is not None:
            speaking.cancel()

    return call


async def main(mode: str) -> None:
    server = await serve(handler(mode))
    print(json.dumps({"url": server.url}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "name-first"))
